"""From a feed entry (and its fetched page) to the article data that storage takes."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime, timedelta

from tidings.ingest.extract import ExtractedArticle
from tidings.ingest.feeds import FeedEntry
from tidings.ingest.http import FetchResult
from tidings.ingest.store import ArticleData
from tidings.ingest.text import html_to_text
from tidings.ingest.urls import canonicalize_url, same_site

# Dates further ahead than this are a publisher's clock or time-zone error: we clamp them.
FUTURE_TOLERANCE = timedelta(minutes=15)


def unique_entries(entries: list[FeedEntry]) -> list[FeedEntry]:
    """Entries with repeated links dropped, and GUIDs that the feed repeats cleared.

    A GUID shared by entries with different links identifies nothing: those entries are
    matched by URL only, so one cannot overwrite another.
    """
    seen: set[str] = set()
    unique: list[FeedEntry] = []
    for entry in entries:
        key = canonicalize_url(entry.link)
        if key not in seen:
            seen.add(key)
            unique.append(entry)
    repeated = {guid for guid, count in Counter(e.guid for e in unique).items() if count > 1}
    for entry in unique:
        if entry.guid in repeated:
            entry.guid = ""
    return unique


def entry_hash(entry: FeedEntry) -> str:
    """What the feed says about an entry; when it changes, the page is fetched again."""
    parts = [
        entry.guid,
        entry.link,
        entry.title,
        entry.summary or "",
        entry.content_html or "",
        entry.published_at.isoformat() if entry.published_at else "",
        entry.updated_at.isoformat() if entry.updated_at else "",
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def article_data(
    entry: FeedEntry,
    fingerprint: str,
    page: FetchResult | None,
    extracted: ExtractedArticle | None,
    feed_language: str | None,
) -> ArticleData:
    """The article to store: the page's extraction, with the feed's own text as fallback."""
    now = datetime.now(UTC)
    page_url = page.url if page is not None else entry.link
    canonical = page_url
    if extracted and extracted.canonical_url and same_site(extracted.canonical_url, page_url):
        canonical = extracted.canonical_url
    feed_text = html_to_text(entry.content_html or "")
    body = extracted.body if extracted else ""
    extracted_from = "page"
    if len(body) < 0.5 * len(feed_text):
        # The page gave nothing usable (or a teaser): the feed's own full text is better.
        body, extracted_from = feed_text, "feed"
    if not body:
        body, extracted_from = html_to_text(entry.summary or ""), "summary"
    published = entry.published_at or (extracted.published_at if extracted else None)
    return ArticleData(
        url=canonicalize_url(canonical),
        original_url=entry.link,
        guid=entry.guid or None,
        title=entry.title or (extracted.title if extracted else None) or entry.link,
        byline=extracted.byline if extracted else None,
        authors=(extracted.authors if extracted and extracted.authors else entry.authors),
        section=extracted.section if extracted else None,
        language=(extracted.language if extracted else None) or feed_language,
        lead_image=(extracted.lead_image if extracted else None) or entry.image,
        captions=extracted.captions if extracted else [],
        summary=html_to_text(entry.summary or "") or (extracted.standfirst if extracted else None),
        body=body,
        extracted_from=extracted_from,
        published_at=min(published, now + FUTURE_TOLERANCE) if published else None,
        updated_at=entry.updated_at or (extracted.updated_at if extracted else None),
        enclosures=list(entry.enclosures),
        entry_hash=fingerprint,
    )
