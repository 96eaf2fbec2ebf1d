"""Typed helpers over lxml's XPath results (whose declared type is a wide union)."""

from __future__ import annotations

from lxml import etree
from lxml.html import HtmlElement


def elements(node: etree._Element, xpath: str) -> list[etree._Element]:
    result = node.xpath(xpath)
    return (
        [item for item in result if isinstance(item, etree._Element)]
        if isinstance(result, list)
        else []
    )


def strings(node: etree._Element, xpath: str) -> list[str]:
    result = node.xpath(xpath)
    if not isinstance(result, list):
        return []
    return [
        str(item)
        for item in result
        if isinstance(item, str | bytes) and not isinstance(item, bytes)
    ]


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
