"""OPML import and export: how people move their subscriptions between feed readers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import BinaryIO
from urllib.parse import urlsplit

from lxml import etree
from sqlalchemy import select

from tidings.db.models import Source
from tidings.db.session import Database
from tidings.errors import InvalidInputError
from tidings.ingest.sources import register_source


@dataclass
class OpmlFeed:
    title: str | None
    xml_url: str
    html_url: str | None
    category: str | None


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already followed, or twice in the file
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.skipped)} already followed, "
            f"{len(self.invalid)} invalid"
        )


def read_opml(stream: BinaryIO) -> list[OpmlFeed]:
    """Feeds of an OPML file, streamed (big files are fine); nested outlines become categories."""
    feeds: list[OpmlFeed] = []
    folders: list[str | None] = []
    root_checked = False
    try:
        for event, element in etree.iterparse(
            stream,
            events=("start", "end"),
            resolve_entities=False,
            no_network=True,
            huge_tree=False,
            load_dtd=False,
        ):
            if not root_checked:
                root_checked = True
                if element.tag != "opml":
                    raise InvalidInputError(
                        f"this is not an OPML file (its root element is <{element.tag}>)"
                    )
            if element.tag != "outline":
                continue
            url = (element.get("xmlUrl") or element.get("xmlurl") or "").strip()
            if event == "start":
                if url:
                    feeds.append(
                        OpmlFeed(
                            title=(element.get("title") or element.get("text") or "").strip()
                            or None,
                            xml_url=url,
                            html_url=(element.get("htmlUrl") or "").strip() or None,
                            category=next((f for f in reversed(folders) if f), None)
                            or (element.get("category") or "").split(",")[0].strip().strip("/")
                            or None,
                        )
                    )
                    folders.append(None)
                else:
                    folders.append(
                        (element.get("title") or element.get("text") or "").strip() or None
                    )
            else:
                folders.pop()
                element.clear(keep_tail=False)
    except etree.XMLSyntaxError as error:
        raise InvalidInputError(f"this is not a valid OPML file: {error}") from error
    return feeds


def import_opml(database: Database, stream: BinaryIO) -> ImportReport:
    """Follow every feed of an OPML file without fetching it; duplicates are skipped."""
    report = ImportReport()
    seen: set[str] = set()
    for feed in read_opml(stream):
        parts = urlsplit(feed.xml_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            report.invalid.append((feed.xml_url, "not an http(s) URL"))
            continue
        if feed.xml_url in seen:
            report.skipped.append(feed.xml_url)
            continue
        seen.add(feed.xml_url)
        result = register_source(
            database, feed.xml_url, name=feed.title, site_url=feed.html_url, category=feed.category
        )
        (report.added if result.created else report.skipped).append(feed.xml_url)
    return report


def export_opml(database: Database, folders: dict[int, str] | None = None) -> bytes:
    """All sources as OPML 2.0, grouped in folders by category; or, given `folders` (source
    id → folder), only those sources, filed in those folders (a reader's follows)."""
    with database.session() as session:
        sources = list(session.scalars(select(Source).order_by(Source.category, Source.name)))
    if folders is not None:
        sources = [source for source in sources if source.id in folders]
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = "Tidings subscriptions"
    etree.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC))
    body = etree.SubElement(root, "body")
    outlines: dict[str, etree._Element] = {}
    for source in sources:
        parent = body
        category = folders.get(source.id) if folders is not None else source.category
        if category:
            if category not in outlines:
                outlines[category] = etree.SubElement(
                    body, "outline", text=category, title=category
                )
            parent = outlines[category]
        attributes = {
            "type": "rss",
            "text": source.name,
            "title": source.name,
            "xmlUrl": source.feed_url,
        }
        if source.site_url:
            attributes["htmlUrl"] = source.site_url
        etree.SubElement(parent, "outline", attributes)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
