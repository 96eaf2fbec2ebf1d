"""Typed helpers over lxml's XPath results (whose declared type is a wide union)."""

from __future__ import annotations

from lxml import etree
from lxml.html import HtmlElement


def text_of(node: etree._Element) -> str:
    """All text inside `node` (itertext), as one string; comments and PIs have none."""
    if not isinstance(node.tag, str):
        return ""
    return "".join(str(piece) for piece in node.itertext())


def select(xpath: etree.XPath, node: etree._Element) -> list[HtmlElement]:
    """The HTML elements a compiled XPath finds under `node`."""
    result = xpath(node)
    if not isinstance(result, list):
        return []
    return [item for item in result if isinstance(item, HtmlElement)]
