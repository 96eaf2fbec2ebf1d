"""HTML fragments (feed content, summaries) to plain text paragraphs."""

from __future__ import annotations

import lxml.html
from lxml import etree

from tidings.ingest.clean import clean_paragraphs, normalize_space

_BLOCK_TAGS = {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr"}


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
    for bad in root.xpath("//script | //style | //noscript | //iframe"):
        bad.drop_tree()
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")
    blocks: list[str] = []
    current: list[str] = []

    def flush() -> None:
        text = normalize_space(" ".join(current))
        if text:
            blocks.append(text)
        current.clear()

    def walk(element: etree._Element) -> None:
        is_block = element.tag in _BLOCK_TAGS
        if is_block:
            flush()
        if element.text:
            current.append(element.text)
        for child in element:
            if isinstance(child.tag, str):
                walk(child)
            if child.tail:
                current.append(child.tail)
        if is_block:
            flush()

    walk(root)
    flush()
    paragraphs, _captions = clean_paragraphs(blocks)
    return "\n\n".join(paragraphs)
