"""HTML to plain-text paragraphs: feed content, summaries and elements picked by site rules."""

from __future__ import annotations

import lxml.html
from lxml import etree

from tidings.ingest.clean import clean_paragraphs, normalize_space

_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "tr",
        "section",
        "article",
        "figure",
        "ul",
        "ol",
        "table",
        "header",
        "footer",
    }
)
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "iframe", "template", "svg", "form"})


def element_blocks(root: etree._Element) -> list[str]:
    """The text of `root` as blocks: one per paragraph-like element, <br> breaking lines."""
    blocks: list[str] = []
    current: list[str] = []

    def flush() -> None:
        text = normalize_space("".join(current))
        if text:
            blocks.append(text)
        current.clear()

    def walk(element: etree._Element) -> None:
        if not isinstance(element.tag, str) or element.tag in _SKIPPED_TAGS:
            return
        is_block = element.tag in _BLOCK_TAGS
        if is_block or element.tag == "br":
            flush()
        if element.text:
            current.append(element.text)
        for child in element:
            walk(child)
            if child.tail:
                current.append(child.tail)
        if is_block:
            flush()

    walk(root)
    flush()
    return blocks


def html_to_text(fragment: str) -> str:
    """Paragraphs of an HTML fragment, cleaned like a page body, separated by blank lines."""
    if not fragment or not fragment.strip():
        return ""
    if "<" not in fragment:
        return normalize_space(fragment)
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return normalize_space(fragment)
    paragraphs, _captions = clean_paragraphs(element_blocks(root))
    return "\n\n".join(paragraphs)
