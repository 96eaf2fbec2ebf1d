"""Feed parsing: RSS 2.0, RSS 1.0 and Atom with feedparser; JSON Feed 1.x by hand."""

from __future__ import annotations

import calendar
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import urljoin

import feedparser
import lxml.html
from dateutil import parser as dateparser
from lxml import etree

from tidings.errors import FeedParseError
from tidings.ingest.clean import normalize_space

_FORMATS = {
    "rss20": "rss",
    "rss092": "rss",
    "rss091u": "rss",
    "rss091n": "rss",
    "rss093": "rss",
    "rss094": "rss",
    "rss": "rss",
    "rss10": "rdf",
    "rss090": "rdf",
    "atom10": "atom",
    "atom03": "atom",
    "atom02": "atom",
    "atom01": "atom",
    "atom": "atom",
}
_JSON_CONTENT_TYPES = ("application/feed+json", "application/json")


@dataclass
class FeedEntry:
    """One item of a feed, normalised across formats."""

    link: str
    guid: str
    title: str
    summary: str | None = None
    content_html: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    authors: list[str] = field(default_factory=list)
    image: str | None = None
    enclosures: list[dict[str, object]] = field(default_factory=list)  # url, type, length


@dataclass
class ParsedFeed:
    """A feed's own metadata and its entries."""

    format: str
    title: str | None
    site_url: str | None
    language: str | None
    entries: list[FeedEntry]
    warning: str | None = None
    ttl_s: int | None = None  # how often the feed says it changes (<ttl>, sy:updatePeriod)
    # WebSub: the hubs the feed advertises and the URL it calls itself (the topic).
    hubs: list[str] = field(default_factory=list)
    self_url: str | None = None


def looks_like_json_feed(content: bytes, content_type: str = "") -> bool:
    if content_type.split(";")[0].strip().lower() in _JSON_CONTENT_TYPES:
        return True
    return content.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def parse_feed(content: bytes, url: str, content_type: str = "") -> ParsedFeed:
    """Parse a feed document; raises FeedParseError with the reason when it is not one."""
    if looks_like_json_feed(content, content_type):
        return parse_json_feed(content, url)
    parsed = feedparser.parse(
        content,
        response_headers={
            "content-type": content_type or "application/xml",
            "content-location": url,
        },
    )
    version = parsed.get("version") or ""
    if not version or (parsed.get("bozo") and not parsed.entries):
        reason = parsed.get("bozo_exception")
        detail = f": {reason}" if reason else ""
        raise FeedParseError(f"{url} is not a valid RSS, Atom or JSON feed{detail}")
    feed = parsed.feed
    warning = None
    if parsed.get("bozo"):
        warning = f"feed had errors that were recovered: {parsed.get('bozo_exception')}"
    entries = [entry for entry in (_feedparser_entry(raw, url) for raw in parsed.entries) if entry]
    links = [
        (str(link.get("rel")), str(link["href"]))
        for link in feed.get("links", [])
        if link.get("href")
    ]
    return ParsedFeed(
        format=_FORMATS.get(version, version),
        title=_clean(feed.get("title")),
        site_url=feed.get("link"),
        language=feed.get("language"),
        entries=entries,
        warning=warning,
        ttl_s=_feed_ttl(feed),
        hubs=[urljoin(url, href) for rel, href in links if rel == "hub"],
        self_url=next((urljoin(url, href) for rel, href in links if rel == "self"), None),
    )


_UPDATE_PERIODS = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 604800,
    "monthly": 2592000,
    "yearly": 31536000,
}


def _feed_ttl(feed: Any) -> int | None:
    """RSS <ttl> (minutes) or sy:updatePeriod / sy:updateFrequency, in seconds."""
    ttl = str(feed.get("ttl") or "").strip()
    if ttl.isdigit() and int(ttl) > 0:
        return int(ttl) * 60
    period = _UPDATE_PERIODS.get(str(feed.get("sy_updateperiod") or "").strip().lower())
    if period is None:
        return None
    frequency = str(feed.get("sy_updatefrequency") or "1").strip()
    return period // max(1, int(frequency)) if frequency.isdigit() else period


def _feedparser_entry(raw: Any, feed_url: str) -> FeedEntry | None:
    link = raw.get("link") or ""
    if not link:
        links = [item.get("href") for item in raw.get("links", []) if item.get("href")]
        link = links[0] if links else ""
    if not link:
        return None
    link = urljoin(feed_url, link)
    content = raw.get("content") or []
    content_html = max((part.get("value", "") for part in content), key=len, default=None)
    authors = [a.get("name") for a in raw.get("authors", []) if a.get("name")]
    if not authors and raw.get("author"):
        authors = [raw.get("author")]
    image = None
    for key in ("media_content", "media_thumbnail"):
        for media in raw.get(key, []) or []:
            if media.get("url"):
                image = urljoin(feed_url, media["url"])
                break
        if image:
            break
    if image is None:
        for enclosure in raw.get("enclosures", []) or []:
            if str(enclosure.get("type", "")).startswith("image/") and enclosure.get("href"):
                image = urljoin(feed_url, enclosure["href"])
                break
    # dict.get: FeedParserDict's own lookup maps the two dates onto each other (with a warning)
    published = _struct_time(dict.get(raw, "published_parsed"))
    updated = _struct_time(dict.get(raw, "updated_parsed"))
    enclosures = [
        _enclosure(urljoin(feed_url, str(item["href"])), item.get("type"), item.get("length"))
        for item in raw.get("enclosures", []) or []
        if item.get("href") and not str(item.get("type", "")).startswith("image/")
    ]
    return FeedEntry(
        link=link,
        guid=str(raw.get("id") or link),
        title=_title(raw.get("title")) or "",
        summary=raw.get("summary"),
        content_html=content_html or None,
        published_at=published or updated,
        updated_at=updated if updated != published else None,
        authors=[str(a) for a in authors],
        image=image,
        enclosures=enclosures,
    )


def parse_json_feed(content: bytes, url: str) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (https://www.jsonfeed.org/version/1.1/)."""
    try:
        document = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FeedParseError(f"{url} is not a valid JSON feed: {error}") from error
    if not isinstance(document, dict) or not str(document.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        raise FeedParseError(f"{url} is JSON but not a JSON Feed (no jsonfeed.org version)")
    items = document.get("items")
    if not isinstance(items, list):
        raise FeedParseError(f"{url} is a JSON Feed without an items list")
    feed_authors = _json_authors(document)
    self_url = document.get("feed_url")
    entries: list[FeedEntry] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        link = item.get("url") or item.get("external_url")
        if not isinstance(link, str) or not link:
            continue
        link = urljoin(url, link)
        image = item.get("image") or item.get("banner_image")
        entries.append(
            FeedEntry(
                link=link,
                guid=str(item.get("id") or link),
                title=_title(item.get("title")) or "",
                summary=item.get("summary") if isinstance(item.get("summary"), str) else None,
                content_html=item.get("content_html") or _text_as_html(item.get("content_text")),
                published_at=_iso_date(item.get("date_published")),
                updated_at=_iso_date(item.get("date_modified")),
                authors=_json_authors(item) or feed_authors,
                image=urljoin(url, image) if isinstance(image, str) else None,
                enclosures=[
                    _enclosure(
                        urljoin(url, str(a["url"])), a.get("mime_type"), a.get("size_in_bytes")
                    )
                    for a in item.get("attachments") or []
                    if isinstance(a, dict) and a.get("url")
                ],
            )
        )
    return ParsedFeed(
        format="jsonfeed",
        title=_clean(document.get("title")),
        site_url=document.get("home_page_url"),
        language=document.get("language"),
        entries=entries,
        hubs=[
            urljoin(url, hub["url"])
            for hub in document.get("hubs") or []
            if isinstance(hub, dict) and isinstance(hub.get("url"), str)
        ],
        self_url=urljoin(url, self_url) if isinstance(self_url, str) and self_url else None,
    )


def _json_authors(obj: dict[str, Any]) -> list[str]:
    authors = obj.get("authors")
    if not isinstance(authors, list):
        author = obj.get("author")
        authors = [author] if isinstance(author, dict) else []
    return [str(a["name"]) for a in authors if isinstance(a, dict) and a.get("name")]


def _text_as_html(text: object) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return None
    return "".join(f"<p>{escape(p.strip())}</p>" for p in text.split("\n\n") if p.strip())


def _struct_time(value: time.struct_time | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(calendar.timegm(value), UTC)


def _iso_date(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dateparser.isoparse(value)
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _enclosure(url: str, kind: object, length: object) -> dict[str, object]:
    return {"url": url, "type": str(kind or ""), "length": _int(length)}


def _int(value: object) -> int | None:
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number >= 0 else None


def _title(value: object) -> str | None:
    """A headline as plain text. Publishers put markup and entities in titles (<b>, &amp;amp;,
    even <script>): tags go and their text stays; scripts and styles go entirely."""
    if not isinstance(value, str):
        return None
    if "<" in value or "&" in value:
        try:
            root = lxml.html.fragment_fromstring(value, create_parent="div")
        except (etree.ParserError, ValueError):
            return _clean(value)
        for element in root.xpath(".//script|.//style"):
            element.drop_tree()
        value = root.text_content()
    return _clean(value)


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return normalize_space(value) or None
