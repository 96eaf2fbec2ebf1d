"""Article extraction: page metadata plus trafilatura's body, cleaned for news."""

from __future__ import annotations

import copy
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import lxml.html
import trafilatura
from lxml import etree
from lxml.html import HtmlElement

from tidings.errors import ExtractionError
from tidings.ingest.chunks import chunk_groups, restore_chunks
from tidings.ingest.clean import block_texts, clean_paragraphs, drop_link_lists, take_page_parts
from tidings.ingest.metadata import (
    authors_from_byline,
    date_from_page,
    normalize_language,
    page_metadata,
)
from tidings.ingest.rules import ExtractionRules, body_elements, remove_matching
from tidings.ingest.text import element_blocks

# trafilatura logs a warning for every link without a target; with include_links that is noise.
logging.getLogger("trafilatura").setLevel(logging.ERROR)

__all__ = ["ExtractedArticle", "extract_article", "normalize_language", "parse_html"]

# Comments and processing instructions go at parse time: left in, a comment in the middle of a
# paragraph makes trafilatura drop whole paragraphs. Same settings as trafilatura's own parser.
_HTML_PARSER = lxml.html.HTMLParser(
    collect_ids=False,
    default_doctype=False,  # type: ignore[call-arg]  # the stubs lack this argument
    encoding="utf-8",
    remove_comments=True,
    remove_pis=True,
)
# Every element is a plain HtmlElement, chosen in C: lxml.html's per-tag class lookup is a
# Python call for each element touched, and extraction touches them all many times.
_HTML_PARSER.set_element_class_lookup(etree.ElementDefaultClassLookup(element=HtmlElement))


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
    standfirst: str | None = None
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
    try:
        return lxml.html.document_fromstring(
            html.encode("utf-8", "surrogatepass"), parser=_HTML_PARSER
        )
    except (etree.ParserError, ValueError) as error:
        raise ExtractionError(f"cannot parse the page as HTML: {error}") from error


def extract_article(
    html: str, url: str | None = None, rules: ExtractionRules | None = None
) -> ExtractedArticle:
    """Extract the article on `html` (fetched from `url`, which resolves relative links).

    `rules` are the owner's per-site selectors: elements to remove, and where the body is.
    """
    tree = parse_html(html)
    meta = page_metadata(tree, url)
    # Only pages whose metadata has no date pay for a search of the page (on a copy: the
    # date finder prunes the tree it is given).
    published = meta.published_at or date_from_page(copy.deepcopy(tree))
    rules = rules or ExtractionRules()
    remove_matching(tree, rules)
    parts = take_page_parts(tree)
    chosen = body_elements(tree, rules)
    if chosen:
        blocks = [block for element in chosen for block in element_blocks(element)]
    else:
        groups = chunk_groups(tree)  # before trafilatura, which prunes the tree it is given
        blocks = restore_chunks(_body_blocks(tree, url), groups)
    paragraphs, inline_captions = clean_paragraphs(blocks, title=meta.title)
    authors = meta.authors or authors_from_byline(parts.byline)
    byline = parts.byline or (f"By {', '.join(authors)}" if authors else None)
    return ExtractedArticle(
        title=meta.title,
        authors=authors,
        byline=byline,
        published_at=published,
        updated_at=meta.updated_at,
        language=meta.language,
        publisher=meta.publisher,
        canonical_url=meta.canonical_url or url,
        lead_image=meta.lead_image,
        captions=parts.captions + [c for c in inline_captions if c not in parts.captions],
        section=meta.section,
        standfirst=parts.standfirst,
        body="\n\n".join(paragraphs),
    )


def _body_blocks(tree: HtmlElement, url: str | None) -> list[str]:
    """trafilatura's main-content pass over the cleaned tree, as plain-text blocks."""
    try:
        document = trafilatura.bare_extraction(
            tree,
            url=url,
            with_metadata=False,
            include_comments=False,
            include_tables=True,
            include_links=True,  # only to measure link density; the text keeps no links
            deduplicate=False,
        )
    except (ValueError, TypeError, AttributeError, IndexError, etree.LxmlError) as error:
        raise ExtractionError(f"the extractor failed on this page: {error}") from error
    body = getattr(document, "body", None)
    return drop_link_lists(block_texts(body)) if body is not None else []
