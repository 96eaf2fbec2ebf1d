"""Serve: server-rendered pages, the JSON API and static assets."""
