"""Following sources: add by feed or site URL (discovery), register, set extraction rules."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from tidings.config import Settings
from tidings.db import repository
from tidings.db.models import Source
from tidings.db.session import Database
from tidings.errors import DiscoveryError, FeedParseError, InvalidInputError, TidingsError
from tidings.ingest.discover import common_feed_urls, discover_feed_links
from tidings.ingest.feeds import ParsedFeed, parse_feed
from tidings.ingest.http import ACCEPT_FEED, Fetcher, FetchResult
from tidings.ingest.metadata import normalize_language
from tidings.ingest.rules import ExtractionRules, make_rules
from tidings.ingest.sitemaps import as_feed, looks_like_sitemap, parse_sitemap


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
        feed_url, feed, kind = _find_feed(client, url)
    with database.session() as session:
        existing = repository.source_by_feed_url(session, feed_url)
        if existing is not None:
            return AddSourceResult(existing, created=False)
        source = Source(
            name=feed.title or urlsplit(url).hostname or feed_url,
            feed_url=feed_url,
            site_url=feed.site_url or (url if url != feed_url else None),
            feed_format=feed.format,
            kind=kind,
            language=normalize_language(feed.language),
            status="new",
        )
        session.add(source)
        session.flush()
        return AddSourceResult(source, created=True)


def register_source(
    database: Database,
    feed_url: str,
    *,
    name: str | None = None,
    site_url: str | None = None,
    category: str | None = None,
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
            category=category,
            status="new",
        )
        session.add(source)
        session.flush()
        return AddSourceResult(source, created=True)


def _find_feed(fetcher: Fetcher, url: str) -> tuple[str, ParsedFeed, str]:
    """(feed URL, parsed feed, kind) for a feed URL or a site URL; kind is feed or sitemap."""
    response = fetcher.fetch(url, accept=ACCEPT_FEED)
    if looks_like_sitemap(response.content):
        return url, as_feed(parse_sitemap(response.content, url).entries, None), "sitemap"
    try:
        return url, parse_response(response), "feed"
    except FeedParseError as not_a_feed:
        if "html" not in response.content_type and b"<html" not in response.content[:2048].lower():
            raise not_a_feed
    candidates = discover_feed_links(response.text, response.url) or common_feed_urls(response.url)
    for candidate in candidates:
        try:
            return candidate, parse_response(fetcher.fetch(candidate, accept=ACCEPT_FEED)), "feed"
        except TidingsError:
            continue
    # No feed at all: a sitemap (named in robots.txt, or at the usual places) will do.
    for candidate in _sitemap_candidates(fetcher, response.url):
        try:
            page = fetcher.fetch(candidate, accept=ACCEPT_FEED)
            if looks_like_sitemap(page.content):
                feed = as_feed(parse_sitemap(page.content, candidate).entries, None)
                feed.title = _html_title(response.text)  # the site's name, from its homepage
                return candidate, feed, "sitemap"
        except TidingsError:
            continue
    raise DiscoveryError(
        f"no feed found at {url}: the page links no RSS, Atom or JSON feed and no sitemap was found"
    )


def _sitemap_candidates(fetcher: Fetcher, site_url: str) -> list[str]:
    """Sitemaps robots.txt names, then the usual places."""
    # Only sitemaps under the site's own path: one host may serve several sites.
    prefix = urlsplit(site_url).path.rsplit("/", 1)[0] + "/"
    named = [
        u for u in fetcher.robots_for(site_url).sitemaps if urlsplit(u).path.startswith(prefix)
    ]
    usual = [
        urljoin(site_url, name) for name in ("news-sitemap.xml", "sitemap.xml", "/sitemap.xml")
    ]
    return list(dict.fromkeys([*named, *usual]))


def parse_response(response: FetchResult) -> ParsedFeed:
    """The feed in a response, parsed with the response's content type.

    A server that declares a single-byte charset (Latin-1, Windows-1252) for a document that
    is valid UTF-8 is wrong far more often than the document: we read it as UTF-8 and say so.
    """
    content_type = response.headers.get("content-type", "")
    declared = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
    warning = None
    if (
        declared
        and declared.group(1).lower() in _SINGLE_BYTE
        and _is_utf8_beyond_ascii(response.content)
    ):
        content_type = content_type[: declared.start()] + "charset=utf-8"
        warning = (
            f"the server declares charset {declared.group(1)}, but the feed is UTF-8; read as UTF-8"
        )
    feed = parse_feed(response.content, response.url, content_type)
    if warning:
        feed.warning = f"{warning}; {feed.warning}" if feed.warning else warning
    return feed


_SINGLE_BYTE = {"iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii", "windows-1252", "cp1252"}


def _is_utf8_beyond_ascii(content: bytes) -> bool:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return any(byte >= 0x80 for byte in content)


def _html_title(html: str) -> str | None:
    found = re.search(r"<title[^>]*>([^<]{1,300})</title>", html, re.IGNORECASE)
    return " ".join(found.group(1).split()) or None if found else None


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


@dataclass
class SourceSettings:
    """Owner-set fetching settings of one source; None leaves a field as it is."""

    paused: bool | None = None
    fetch_pages: bool | None = None
    category: str | None = None
    user_agent: str | None = None
    auth_username: str | None = None
    auth_password: str | None = None
    cookies: str | None = None
    proxy_url: str | None = None
    page_limit: int | None = None
    poll_interval_s: int | None = None
    retention_days: int | None = None


_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def update_source_settings(database: Database, source_id: int, changes: SourceSettings) -> Source:
    """Validate and apply `changes`; an empty string clears a text field, 0 clears a number."""
    if changes.proxy_url and urlsplit(changes.proxy_url).scheme not in _PROXY_SCHEMES:
        raise InvalidInputError(
            f"proxy URL must start with one of {', '.join(s + '://' for s in _PROXY_SCHEMES)}"
        )
    if changes.page_limit is not None and not 0 <= changes.page_limit <= 1000:
        raise InvalidInputError("page limit must be between 1 and 1000 (0 for the default)")
    if changes.poll_interval_s is not None and 0 < changes.poll_interval_s < 60:
        raise InvalidInputError("poll interval must be at least 60 seconds (0 for adaptive)")
    if changes.retention_days is not None and changes.retention_days < 0:
        raise InvalidInputError("retention must be a number of days (0 for the global setting)")
    for name, value in (("user agent", changes.user_agent), ("cookies", changes.cookies)):
        if value is not None and ("\n" in value or "\r" in value or len(value) > 4000):
            raise InvalidInputError(f"{name} must be one line of at most 4000 characters")
    with database.session() as session:
        source = repository.get_source(session, source_id)
        if changes.paused is not None:
            source.paused = changes.paused
        if changes.fetch_pages is not None:
            source.fetch_pages = changes.fetch_pages
        for field_name in (
            "category",
            "user_agent",
            "auth_username",
            "auth_password",
            "cookies",
            "proxy_url",
        ):
            value = getattr(changes, field_name)
            if value is not None:
                setattr(source, field_name, value.strip() or None)
        for field_name in ("page_limit", "poll_interval_s", "retention_days"):
            value = getattr(changes, field_name)
            if value is not None:
                setattr(source, field_name, value or None)
        session.flush()
        return source
