"""Following sources: add by feed or site URL (discovery), register, set extraction rules."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from tidings.config import Settings
from tidings.db import repository
from tidings.db.models import Source
from tidings.db.session import Database
from tidings.errors import DiscoveryError, FeedParseError, TidingsError
from tidings.ingest.discover import common_feed_urls, discover_feed_links
from tidings.ingest.feeds import ParsedFeed, parse_feed
from tidings.ingest.http import ACCEPT_FEED, Fetcher, FetchResult
from tidings.ingest.metadata import normalize_language
from tidings.ingest.rules import ExtractionRules, make_rules


@dataclass
class AddSourceResult:
    source: Source
    created: bool


@contextmanager
def fetcher_for(
    settings: Settings, fetcher: Fetcher | None, proxy: str | None = None
) -> Iterator[Fetcher]:
    """The caller's fetcher, or a new one (through `proxy`, if given) closed afterwards."""
    if fetcher is not None and proxy is None:
        yield fetcher
        return
    with Fetcher(settings, proxy=proxy) as own:
        yield own


def add_source(
    database: Database, settings: Settings, url: str, *, fetcher: Fetcher | None = None
) -> AddSourceResult:
    """Follow a feed URL, or a site URL whose feed is found by discovery; idempotent."""
    url = url.strip()
    with database.session() as session:
        existing = repository.source_by_feed_url(session, url)
        if existing is not None:
            return AddSourceResult(existing, created=False)
    with fetcher_for(settings, fetcher) as client:
        feed_url, feed = _find_feed(client, url)
    with database.session() as session:
        existing = repository.source_by_feed_url(session, feed_url)
        if existing is not None:
            return AddSourceResult(existing, created=False)
        source = Source(
            name=feed.title or urlsplit(feed_url).hostname or feed_url,
            feed_url=feed_url,
            site_url=feed.site_url or (url if url != feed_url else None),
            feed_format=feed.format,
            language=normalize_language(feed.language),
            status="new",
        )
        session.add(source)
        session.flush()
        return AddSourceResult(source, created=True)


def register_source(
    database: Database, feed_url: str, *, name: str | None = None, site_url: str | None = None
) -> AddSourceResult:
    """Follow a feed URL without fetching it first (OPML import, the demo's broken feed)."""
    with database.session() as session:
        existing = repository.source_by_feed_url(session, feed_url)
        if existing is not None:
            return AddSourceResult(existing, created=False)
        source = Source(
            name=name or urlsplit(feed_url).hostname or feed_url,
            feed_url=feed_url,
            site_url=site_url,
            status="new",
        )
        session.add(source)
        session.flush()
        return AddSourceResult(source, created=True)


def _find_feed(fetcher: Fetcher, url: str) -> tuple[str, ParsedFeed]:
    response = fetcher.fetch(url, accept=ACCEPT_FEED)
    try:
        return url, parse_response(response)
    except FeedParseError as not_a_feed:
        if "html" not in response.content_type and b"<html" not in response.content[:2048].lower():
            raise not_a_feed
    candidates = discover_feed_links(response.text, response.url) or common_feed_urls(response.url)
    for candidate in candidates:
        try:
            return candidate, parse_response(fetcher.fetch(candidate, accept=ACCEPT_FEED))
        except TidingsError:
            continue
    raise DiscoveryError(f"no feed found at {url}: the page links no RSS, Atom or JSON feed")


def parse_response(response: FetchResult) -> ParsedFeed:
    """The feed in a response, parsed with the response's content type."""
    return parse_feed(response.content, response.url, response.headers.get("content-type", ""))


def set_extraction_rules(
    database: Database,
    source_id: int,
    body_selector: str | None,
    remove_selectors: list[str] | tuple[str, ...],
) -> ExtractionRules:
    """Validate and store a source's extraction rules; blank values clear them."""
    rules = make_rules(body_selector, remove_selectors)
    with database.session() as session:
        source = repository.get_source(session, source_id)
        source.extract_body_selector = rules.body_selector
        source.extract_remove_selectors = list(rules.remove_selectors)
    return rules


def rules_of(source: Source) -> ExtractionRules:
    return ExtractionRules(
        source.extract_body_selector, tuple(source.extract_remove_selectors or ())
    )
