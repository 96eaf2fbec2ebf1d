"""XML sitemaps and Google News sitemaps, for sites that publish no feed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from tidings.errors import FeedParseError
from tidings.ingest.feeds import FeedEntry, ParsedFeed
from tidings.ingest.metadata import parse_date

_NS = {
    "sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
    "news": "http://www.google.com/schemas/sitemap-news/0.9",
    "image": "http://www.google.com/schemas/sitemap-image/1.1",
}
# No DTDs, no entities, no network: a sitemap is data from a stranger.
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, recover=True, huge_tree=False
)
DEFAULT_PAGE_LIMIT = 50
MAX_CHILD_SITEMAPS = 3


@dataclass
class Sitemap:
    entries: list[FeedEntry] = field(default_factory=list)
    children: list[str] = field(default_factory=list)  # a sitemap index's sitemaps, newest first


def looks_like_sitemap(content: bytes) -> bool:
    head = content[:2048]
    return b"<urlset" in head or b"<sitemapindex" in head


def parse_sitemap(content: bytes, url: str) -> Sitemap:
    """Pages (or child sitemaps) of a sitemap; FeedParseError if it is not one."""
    try:
        root = etree.fromstring(content, parser=_PARSER)
    except etree.XMLSyntaxError as error:
        raise FeedParseError(f"{url} is not a valid sitemap: {error}") from error
    if root is None:
        raise FeedParseError(f"{url} is not a valid sitemap: the document is empty")
    tag = etree.QName(root).localname
    if tag == "sitemapindex":
        children = [
            (_text(node, "sm:loc"), parse_date(_text(node, "sm:lastmod")))
            for node in root.findall("sm:sitemap", _NS)
        ]
        ordered = sorted((c for c in children if c[0]), key=lambda c: _sort_key(c[1]), reverse=True)
        return Sitemap(children=[loc for loc, _ in ordered if loc])
    if tag != "urlset":
        raise FeedParseError(f"{url} is not a sitemap (its root element is <{tag}>)")
    entries = []
    for node in root.findall("sm:url", _NS):
        loc = _text(node, "sm:loc")
        if not loc:
            continue
        published = parse_date(_text(node, "news:news/news:publication_date"))
        modified = parse_date(_text(node, "sm:lastmod"))
        entries.append(
            FeedEntry(
                link=loc,
                guid=loc,
                title=_text(node, "news:news/news:title") or "",
                published_at=published or modified,
                updated_at=modified if published and modified and modified > published else None,
                image=_text(node, "image:image/image:loc"),
            )
        )
    entries.sort(key=lambda e: _sort_key(e.published_at), reverse=True)
    return Sitemap(entries=entries)


def as_feed(entries: list[FeedEntry], limit: int | None) -> ParsedFeed:
    """The newest `limit` sitemap pages as a feed (sitemaps list a whole site's history)."""
    return ParsedFeed(
        format="sitemap",
        title=None,
        site_url=None,
        language=None,
        entries=entries[: limit or DEFAULT_PAGE_LIMIT],
    )


def _text(node: etree._Element, path: str) -> str | None:
    found = node.find(path, _NS)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _sort_key(moment: datetime | None) -> float:
    return moment.timestamp() if moment else 0.0
