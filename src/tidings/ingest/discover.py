"""Feed auto-discovery: <link rel="alternate"> on a site's page, then the usual paths."""

from __future__ import annotations

from urllib.parse import urljoin

import lxml.html
from lxml import etree

from tidings.ingest.dom import select

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/rdf+xml",
)
# Generic types are feeds only sometimes (WordPress links its REST API as application/json).
GENERIC_TYPES = ("application/xml", "text/xml", "application/json")
_BASES = etree.XPath("//base[@href]")
_LINKS = etree.XPath("//link[@href]")
# Tried, in order, when a page links no feed (as Miniflux and FreshRSS do).
COMMON_FEED_PATHS = (
    "/feed",
    "/rss",
    "/rss.xml",
    "/atom.xml",
    "/feed.xml",
    "/index.xml",
    "/feed.json",
)


def discover_feed_links(html: str, base_url: str) -> list[str]:
    """Absolute URLs of the feeds a page announces, most specific type first, no repeats."""
    if not html.strip():
        return []
    try:
        document = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    base = base_url
    base_elements = select(_BASES, document)
    if base_elements:
        base = urljoin(base_url, base_elements[0].get("href", ""))
    found: list[tuple[int, str]] = []
    for link in select(_LINKS, document):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        if ("alternate" in rel or "feed" in rel) and kind in FEED_TYPES + GENERIC_TYPES:
            rank = 0 if kind in FEED_TYPES else 1
            found.append((rank, urljoin(base, link.get("href", "").strip())))
    urls: list[str] = []
    for _rank, url in sorted(found, key=lambda pair: pair[0]):
        if url not in urls:
            urls.append(url)
    return urls


def common_feed_urls(site_url: str) -> list[str]:
    return [urljoin(site_url, path) for path in COMMON_FEED_PATHS]
