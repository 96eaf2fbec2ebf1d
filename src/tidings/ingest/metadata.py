"""Page metadata: title, authors, dates, publisher, canonical URL, image, section, language.

Read from the most explicit source first: OpenGraph/article meta tags, JSON-LD NewsArticle,
then the page itself (<time>, <h1>, <title>, <figure>).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from dateutil import parser as dateparser
from lxml.html import HtmlElement

from tidings.ingest.clean import normalize_space

_NEWS_TYPES = {
    "NewsArticle",
    "Article",
    "ReportageNewsArticle",
    "BlogPosting",
    "AnalysisNewsArticle",
}


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


@dataclass
class PageMetadata:
    """What the page says about itself; None where it says nothing."""

    title: str | None = None
    authors: list[str] = field(default_factory=list)
    publisher: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    language: str | None = None
    canonical_url: str | None = None
    lead_image: str | None = None
    section: str | None = None


def page_metadata(tree: HtmlElement, url: str | None) -> PageMetadata:
    """Metadata from <meta>, <link rel=canonical>, JSON-LD and the page, most explicit first."""
    metas: dict[str, str] = {}
    for element in tree.iterfind(".//meta[@content]"):
        key = element.get("property") or element.get("name") or element.get("itemprop") or ""
        key = key.strip().lower()
        if key and key not in metas:
            metas[key] = (element.get("content") or "").strip()
    ld = _json_ld_article(tree)
    publishers = _ld_names(ld.get("publisher"))
    publisher = _text(metas.get("og:site_name")) or (publishers[0] if publishers else None)
    title = (
        _text(ld.get("headline"))
        or _text(metas.get("og:title"))
        or _text(metas.get("twitter:title"))
        or _first_text(tree, ".//h1")
        or _first_text(tree, ".//title")
    )
    if title and publisher:
        title = _strip_site_suffix(title, publisher)
    canonical = tree.xpath("//link[@rel='canonical']/@href")
    figure_images = tree.xpath("//figure//img/@src")
    image = (
        metas.get("og:image")
        or _ld_image(ld.get("image"))
        or metas.get("twitter:image")
        or (str(figure_images[0]) if figure_images else None)
    )
    time_attributes = tree.xpath("//article//time/@datetime | //time/@datetime")
    html_lang = tree.get("lang") or tree.get("xml:lang") or metas.get("content-language")
    return PageMetadata(
        title=title,
        authors=_split_authors(metas.get("author"))
        or _ld_names(ld.get("author"))
        or _split_authors(metas.get("article:author"))
        or _split_authors(metas.get("sailthru.author")),
        publisher=publisher,
        published_at=parse_date(metas.get("article:published_time"))
        or parse_date(ld.get("datePublished"))
        or parse_date(metas.get("datepublished"))
        or parse_date(metas.get("date"))
        or parse_date(metas.get("pubdate"))
        or parse_date(metas.get("parsely-pub-date"))
        or parse_date(str(time_attributes[0]) if time_attributes else None),
        updated_at=parse_date(metas.get("article:modified_time"))
        or parse_date(ld.get("dateModified"))
        or parse_date(metas.get("og:updated_time")),
        language=normalize_language(html_lang or metas.get("og:locale")),
        canonical_url=_absolute(url, str(canonical[0]) if canonical else metas.get("og:url")),
        lead_image=_absolute(url, image),
        section=_text(metas.get("article:section")) or _section(ld.get("articleSection")),
    )


def _first_text(tree: HtmlElement, path: str) -> str | None:
    element = tree.find(path)
    return _text(element.text_content()) if element is not None else None


def _section(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return _text(value)


def _json_ld_article(tree: HtmlElement) -> dict[str, Any]:
    for script in tree.iterfind(".//script[@type='application/ld+json']"):
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


# Zone abbreviations dateutil does not know; enough for the dates news pages print.
_ZONES = {
    name: int(hours * 3600)
    for name, hours in {
        "UTC": 0,
        "GMT": 0,
        "Z": 0,
        "BST": 1,
        "CET": 1,
        "CEST": 2,
        "EET": 2,
        "EEST": 3,
        "EST": -5,
        "EDT": -4,
        "CST": -6,
        "CDT": -5,
        "MST": -7,
        "MDT": -6,
        "PST": -8,
        "PDT": -7,
        "IST": 5.5,
        "HKT": 8,
        "SGT": 8,
        "AWST": 8,
        "JST": 9,
        "KST": 9,
        "AEST": 10,
        "AEDT": 11,
    }.items()
}


def parse_date(value: Any) -> datetime | None:
    """A timezone-aware datetime from an ISO 8601 or free-form date; naive ones are UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = dateparser.isoparse(text)
    except (ValueError, OverflowError):
        try:
            parsed = dateparser.parse(text, tzinfos=_ZONES)
        except (ValueError, OverflowError, TypeError):
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(value: Any) -> str | None:
    return normalize_space(value) or None if isinstance(value, str) else None


def _absolute(base: str | None, value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return urljoin(base, value.strip()) if base else value.strip()


_BYLINE_PREFIX = re.compile(r"^\s*(?:by|written by|words by|von|par|por)\s*:?\s+", re.IGNORECASE)
_BYLINE_TAIL = re.compile(
    r"\s*(?:[|•·]|\b(?:updated|published|posted)\b|\d{1,2}\s*(?:hours?|minutes?)\b).*$",
    re.IGNORECASE,
)
_ROLE_WORDS = re.compile(
    r"\b(reporter|correspondent|editor|staff|writer|contributor|columnist)\b", re.IGNORECASE
)


def authors_from_byline(byline: str | None) -> list[str]:
    """Names from a byline such as "By Ada Brennan and Li Wei | 3 hours ago"."""
    if not byline or not _BYLINE_PREFIX.match(byline):
        return []
    names = _BYLINE_TAIL.sub("", _BYLINE_PREFIX.sub("", byline))
    parts = [part.strip() for part in re.split(r"\s*(?:,|\band\b|&)\s*", names)]
    return [
        part
        for part in parts
        if 2 <= len(part) <= 60 and part[0].isupper() and not _ROLE_WORDS.search(part)
    ]


def date_from_page(tree: HtmlElement) -> datetime | None:
    """A publication date from the page's text and URLs (htmldate), when no metadata says."""
    from htmldate import find_date  # trafilatura's own date finder, used only as a fallback

    try:
        found = find_date(tree, extensive_search=False, original_date=True)
    except (ValueError, TypeError):
        return None
    return parse_date(found) if isinstance(found, str) else None
