"""Recover article text split across sibling containers ("chunks") between ads.

Many sites (Condé Nast, The New York Times, …) cut the story body into several containers
of the same class with ads or pull quotes between them; a content extractor tends to keep
only the first. We note those groups before extraction and, when the extracted text holds
part of a group but misses whole chunks of it, put the missing chunks back in order. This
is a recall pass that costs one XPath when a page has no such groups.
"""

from __future__ import annotations

from collections import defaultdict

from lxml import etree
from lxml.html import HtmlElement

from tidings.ingest.clean import normalize_space
from tidings.ingest.dom import select

_CONTAINERS = etree.XPath("//body//*[@class][count(p) >= 2]")
_TEXT_CHILDREN = frozenset({"p", "h2", "h3", "h4", "blockquote", "ul", "ol"})
_MIN_CHUNK_CHARS = 150

Chunk = list[str]


def chunk_groups(tree: HtmlElement) -> list[list[Chunk]]:
    """Groups of two or more same-class, non-nested containers of paragraphs, in page order."""
    by_signature: dict[tuple[str, str], list[HtmlElement]] = defaultdict(list)
    for element in select(_CONTAINERS, tree):
        by_signature[(str(element.tag), element.get("class", ""))].append(element)
    groups: list[list[Chunk]] = []
    for members in by_signature.values():
        if len(members) < 2:
            continue
        outermost = [m for m in members if not any(a in members for a in m.iterancestors())]
        if len(outermost) < 2:
            continue
        groups.append([_paragraphs(member) for member in outermost])
    return groups


def _paragraphs(container: HtmlElement) -> Chunk:
    texts: Chunk = []
    for child in container:
        if isinstance(child.tag, str) and child.tag in _TEXT_CHILDREN:
            if child.tag in ("ul", "ol"):
                texts.extend(normalize_space(item.text_content()) for item in child.iter("li"))
            else:
                texts.append(normalize_space(child.text_content()))
    return [text for text in texts if text]


def restore_chunks(blocks: list[str], groups: list[list[Chunk]]) -> list[str]:
    """`blocks` with the missing chunks of any partly extracted group put back in order."""
    for group in groups:
        present = set(blocks)
        found = [any(text in present for text in chunk) for chunk in group]
        if not any(found) or all(found):
            continue
        result = list(blocks)
        insert_at = 0
        for chunk, was_found in zip(group, found, strict=True):
            if was_found:
                positions = [i for i, block in enumerate(result) if block in chunk]
                insert_at = max(positions) + 1 if positions else insert_at
            elif sum(len(text) for text in chunk) >= _MIN_CHUNK_CHARS:
                result[insert_at:insert_at] = chunk
                insert_at += len(chunk)
        blocks = result
    return blocks
