"""How articles look to Google Reader clients: JSON items and the Atom stream view."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import escape
from typing import Any

from lxml import etree

from tidings.db.models import Article
from tidings.readers.greader import (
    LABEL_PREFIX,
    READ,
    READING_LIST,
    STARRED,
    STATE_PREFIX,
    ItemStates,
    item_id,
)

ATOM = "http://www.w3.org/2005/Atom"
GR = "http://www.google.com/schemas/reader/atom/"
GOOGLE_SCHEME = "http://www.google.com/reader/"
_NAMESPACES: Any = {None: ATOM, "gr": GR}  # lxml-stubs do not allow the default (None) prefix
_PARAGRAPHS = re.compile(r"\n\s*\n")
# Characters XML 1.0 cannot carry (lxml refuses them): publishers' text sometimes has them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def article_html(article: Article) -> str:
    """The article's text as simple HTML paragraphs (the text escaped: it is not markup)."""
    text = article.body or article.summary or ""
    paragraphs = [part.strip() for part in _PARAGRAPHS.split(text) if part.strip()]
    return "".join(f"<p>{escape(part).replace(chr(10), '<br>')}</p>" for part in paragraphs)


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def microseconds(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def _author(article: Article) -> str:
    return article.byline or ", ".join(article.authors or []) or ""


def categories(article: Article, states: ItemStates) -> list[str]:
    """The stream ids an item belongs to: reading list, read, starred, its folder's label."""
    found = [READING_LIST]
    if article.id in states.read:
        found.append(READ)
    if article.id in states.saved:
        found.append(STARRED)
    folder = states.folders.get(article.source_id)
    if folder:
        found.append(LABEL_PREFIX + folder)
    return found


def json_item(article: Article, states: ItemStates) -> dict[str, Any]:
    """One item as FreshRSS and Miniflux send it (`summary.content` carries the text)."""
    source = article.source
    html = article_html(article)
    return {
        "id": item_id(article.id),
        "crawlTimeMsec": str(microseconds(article.created_at) // 1000),
        "timestampUsec": str(microseconds(article.published_at)),
        "published": _seconds(article.published_at),
        "updated": _seconds(article.updated_at or article.published_at),
        "title": article.title,
        "author": _author(article),
        "canonical": [{"href": article.url}],
        "alternate": [{"href": article.url, "type": "text/html"}],
        "summary": {"content": html},
        "content": {"content": html},
        "categories": categories(article, states),
        "origin": {
            "streamId": f"feed/{source.id}",
            "title": source.name,
            "htmlUrl": source.site_url or source.feed_url,
        },
        "enclosure": [
            {"href": item["url"], "type": item.get("type") or "", "length": item.get("length")}
            for item in article.enclosures or []
            if item.get("url")
        ],
    }


def item_ref(article: Article) -> dict[str, Any]:
    """An item in stream/items/ids: the short (decimal) id."""
    return {
        "id": str(article.id),
        "directStreamIds": [],
        "timestampUsec": str(microseconds(article.published_at)),
    }


def _w3c(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(
    parent: etree._Element, tag: str, text: str | None = None, **attributes: str
) -> etree._Element:
    clean = {name: _NOT_XML.sub("", value) for name, value in attributes.items()}
    element = etree.SubElement(parent, f"{{{ATOM}}}{tag}", clean)
    if text is not None:
        element.text = _NOT_XML.sub("", text)
    return element


def _state_category(entry: etree._Element, state: str) -> None:
    """A Google Reader state as newsboat's Atom parser reads it (scheme and label)."""
    _sub(entry, "category", term=STATE_PREFIX + state, scheme=GOOGLE_SCHEME, label=state)


def atom_feed(
    stream_id: str,
    title: str,
    articles: list[Article],
    states: ItemStates,
    continuation: str | None,
) -> bytes:
    """A stream as Google Reader's Atom view (`/reader/atom/STREAM`): unread items carry the
    `fresh` state and read ones `read`, so a client's cache follows Tidings' read marks."""
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap=_NAMESPACES)
    _sub(feed, "id", f"tag:google.com,2005:reader/{stream_id}")
    _sub(feed, "title", title, type="text")
    _sub(feed, "updated", _w3c(datetime.now(UTC)))
    if continuation:
        etree.SubElement(feed, f"{{{GR}}}continuation").text = continuation
    for article in articles:
        source = article.source
        entry = _sub(feed, "entry")
        entry.set(f"{{{GR}}}crawl-timestamp-msec", str(microseconds(article.created_at) // 1000))
        _sub(entry, "id", item_id(article.id))
        _state_category(entry, "reading-list")
        _state_category(entry, "read" if article.id in states.read else "fresh")
        if article.id in states.saved:
            _state_category(entry, "starred")
        _sub(entry, "title", article.title, type="text")
        _sub(entry, "published", _w3c(article.published_at))
        _sub(entry, "updated", _w3c(article.updated_at or article.published_at))
        _sub(entry, "link", rel="alternate", href=article.url, type="text/html")
        for enclosure in article.enclosures or []:
            if enclosure.get("url") and enclosure.get("type"):
                _sub(entry, "link", rel="enclosure", href=enclosure["url"], type=enclosure["type"])
        _sub(entry, "content", article_html(article), type="html")
        if _author(article):
            _sub(_sub(entry, "author"), "name", _author(article))
        origin = _sub(entry, "source")
        origin.set(f"{{{GR}}}stream-id", f"feed/{source.id}")
        _sub(origin, "id", f"tag:google.com,2005:reader/feed/{source.id}")
        _sub(origin, "title", source.name, type="text")
        _sub(origin, "link", rel="alternate", href=source.site_url or source.feed_url)
    return bytes(etree.tostring(feed, xml_declaration=True, encoding="utf-8"))
