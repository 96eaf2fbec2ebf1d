"""Enrichment: language, hashtags, embeddings, duplicates, stories, related articles."""
