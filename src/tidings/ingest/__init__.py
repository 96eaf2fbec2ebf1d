"""Ingest: fetch, parse, discover, extract, clean and store articles from publishers."""
