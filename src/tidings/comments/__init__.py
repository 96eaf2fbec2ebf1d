"""Readers' comments: Markdown rendered through an allowlist, threads, reports, moderation."""
