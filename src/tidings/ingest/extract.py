"""Article extraction: page metadata plus trafilatura's body, cleaned for news."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import lxml.html
import trafilatura
from dateutil import parser as dateparser
from lxml import etree
from lxml.html import HtmlElement

from tidings.errors import ExtractionError
from tidings.ingest.clean import (
    block_texts,
    clean_paragraphs,
    normalize_space,
    take_page_parts,
)

_NEWS_TYPES = {
    "NewsArticle",
    "Article",
    "ReportageNewsArticle",
    "BlogPosting",
    "AnalysisNewsArticle",
}


@dataclass
class ExtractedArticle:
    """What extraction finds on one page; fields it cannot find stay None (or empty)."""

    title: str | None = None
    authors: list[str] = field(default_factory=list)
    byline: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    language: str | None = None
    publisher: str | None = None
    canonical_url: str | None = None
    lead_image: str | None = None
    captions: list[str] = field(default_factory=list)
    section: str | None = None
    body: str = ""

    def as_json(self) -> dict[str, Any]:
        """The `tidings extract` object (docs/contracts.md): dates as ISO 8601, missing as null."""
        data = asdict(self)
        for key in ("published_at", "updated_at"):
            value = data[key]
            data[key] = value.isoformat() if value else None
        data["authors"] = data["authors"] or None
        data["captions"] = data["captions"] or None
        data["body"] = data["body"] or None
        return data


def parse_html(html: str) -> HtmlElement:
    if not html or not html.strip():
        raise ExtractionError("the page is empty")
    # lxml refuses str input that declares an encoding; drop the declaration.
    html = re.sub(r"^\s*<\?xml[^>]*\?>", "", html)
    try:
        return lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError) as error:
        raise ExtractionError(f"cannot parse the page as HTML: {error}") from error


def extract_article(html: str, url: str | None = None) -> ExtractedArticle:
    """Extract the article on `html` (fetched from `url`, which resolves relative links)."""
    tree = parse_html(html)
    meta = _page_metadata(tree, url)
    parts = take_page_parts(tree)
    try:
        document = trafilatura.bare_extraction(
            tree,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            deduplicate=False,
        )
    except (ValueError, TypeError, AttributeError, IndexError, etree.LxmlError) as error:
        raise ExtractionError(f"the extractor failed on this page: {error}") from error
    if isinstance(document, dict) or document is None:
        trafilatura_meta: dict[str, Any] = dict(document or {})
        blocks: list[str] = []
    else:
        trafilatura_meta = {
            key: getattr(document, key, None)
            for key in ("title", "author", "date", "sitename", "image", "categories", "url")
        }
        body_tree = getattr(document, "body", None)
        blocks = block_texts(body_tree) if body_tree is not None else []
    title = meta.get("title") or _text(trafilatura_meta.get("title"))
    publisher = meta.get("publisher") or _text(trafilatura_meta.get("sitename"))
    if title and publisher:
        title = _strip_site_suffix(title, publisher)
    paragraphs, inline_captions = clean_paragraphs(blocks, title=title)
    authors = meta.get("authors") or _split_authors(trafilatura_meta.get("author"))
    byline = parts.byline or (f"By {', '.join(authors)}" if authors else None)
    categories = trafilatura_meta.get("categories") or []
    return ExtractedArticle(
        title=title,
        authors=authors,
        byline=byline,
        published_at=meta.get("published_at") or _date(trafilatura_meta.get("date")),
        updated_at=meta.get("updated_at"),
        language=meta.get("language"),
        publisher=publisher,
        canonical_url=meta.get("canonical_url") or url,
        lead_image=meta.get("lead_image") or _absolute(url, trafilatura_meta.get("image")),
        captions=parts.captions + [c for c in inline_captions if c not in parts.captions],
        section=meta.get("section") or (categories[0] if categories else None),
        body="\n\n".join(paragraphs),
    )


def normalize_language(tag: str | None) -> str | None:
    """BCP 47 as the contracts use it: `en`, `zh-Hant`, `zh-Hans`, `fr`, …"""
    if not tag:
        return None
    parts = tag.replace("_", "-").strip().split("-")
    primary = parts[0].lower()
    if not primary.isalpha() or not 2 <= len(primary) <= 3:
        return None
    if primary == "zh":
        rest = {part.lower() for part in parts[1:]}
        if rest & {"hant", "tw", "hk", "mo"}:
            return "zh-Hant"
        if rest & {"hans", "cn", "sg", "my"}:
            return "zh-Hans"
    return primary


def _page_metadata(tree: HtmlElement, url: str | None) -> dict[str, Any]:
    """Metadata from <meta>, <link rel=canonical> and JSON-LD, most explicit first."""
    metas: dict[str, str] = {}
    for element in tree.xpath("//meta[@content]"):
        key = element.get("property") or element.get("name") or element.get("itemprop") or ""
        key = key.strip().lower()
        if key and key not in metas:
            metas[key] = element.get("content").strip()
    ld = _json_ld_article(tree)
    canonical = tree.xpath("//link[@rel='canonical']/@href")
    authors = _split_authors(metas.get("author")) or _ld_names(ld.get("author"))
    publishers = _ld_names(ld.get("publisher"))
    publisher = metas.get("og:site_name") or (publishers[0] if publishers else None)
    html_lang = tree.get("lang") or tree.get("xml:lang") or metas.get("content-language")
    figure_images = tree.xpath("//figure//img/@src")
    image = (
        metas.get("og:image")
        or _ld_image(ld.get("image"))
        or metas.get("twitter:image")
        or (str(figure_images[0]) if figure_images else None)
    )
    return {
        "title": _text(ld.get("headline")) or _text(metas.get("og:title")),
        "authors": authors,
        "publisher": publisher,
        "published_at": _date(metas.get("article:published_time"))
        or _date(ld.get("datePublished"))
        or _date(metas.get("datepublished"))
        or _date(next(iter(tree.xpath("//article//time/@datetime | //time/@datetime")), None)),
        "updated_at": _date(metas.get("article:modified_time")) or _date(ld.get("dateModified")),
        "language": normalize_language(html_lang or metas.get("og:locale")),
        "canonical_url": _absolute(url, canonical[0] if canonical else metas.get("og:url")),
        "lead_image": _absolute(url, image),
        "section": _text(metas.get("article:section")) or _text(ld.get("articleSection")),
    }


def _json_ld_article(tree: HtmlElement) -> dict[str, Any]:
    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text_content())
        except ValueError:
            continue
        candidates = data if isinstance(data, list) else [data]
        if isinstance(data, dict) and isinstance(data.get("@graph"), list):
            candidates = data["@graph"]
        for item in candidates:
            if not isinstance(item, dict):
                continue
            kinds = item.get("@type")
            kinds = kinds if isinstance(kinds, list) else [kinds]
            if any(kind in _NEWS_TYPES for kind in kinds):
                return item
    return {}


def _ld_names(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    names: list[str] = []
    for item in values:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            names.append(normalize_space(item["name"]))
        elif isinstance(item, str) and not item.startswith("http"):
            names.append(normalize_space(item))
    return [name for name in names if name]


def _ld_image(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url")
    return value if isinstance(value, str) else None


def _split_authors(value: Any) -> list[str]:
    if not isinstance(value, str) or not value.strip() or value.startswith("http"):
        return []
    names = re.split(r"\s*(?:;|,|\band\b|&)\s*", value.strip())
    return [normalize_space(name) for name in names if name.strip()]


def _strip_site_suffix(title: str, publisher: str) -> str:
    for separator in (" | ", " - ", " – ", " — ", " :: "):
        suffix = f"{separator}{publisher}"
        if title.endswith(suffix):
            return title[: -len(suffix)].strip()
    return title


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = dateparser.parse(value.strip())
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(value: Any) -> str | None:
    return normalize_space(value) or None if isinstance(value, str) else None


def _absolute(base: str | None, value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return urljoin(base, value.strip()) if base else value.strip()
