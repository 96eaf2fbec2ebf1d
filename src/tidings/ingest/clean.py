"""News-specific cleanup on top of trafilatura: ad markers, captions, share/newsletter lines.

This is the product's edge (the reader sees it first), so it is our own code: generic
extractors keep "Advertisement" markers, photo credits and "Read more" lines in the body.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from lxml import etree
from lxml.html import HtmlElement

from tidings.ingest.dom import text_of

# A whole block that is only an ad/sponsor marker.
_AD_MARKER = re.compile(
    r"^[\s\-–—·|()\[\]]*(advertisement|advertisements|advertising|advert|ad|ads|sponsored|"
    r"sponsored content|paid content|paid post|promoted content|partner content|"
    r"story continues below(?: this)? advertisement|article continues below(?: this)? advertisement|"
    r"continue reading below|scroll to continue(?: with content)?|"
    r"廣告|广告|贊助內容|赞助内容)[\s\-–—·|()\[\]:.]*$",
    re.IGNORECASE,
)
# A marker stuck between two sentences of a paragraph: "… on Monday. ADVERTISEMENT The …".
# Capitalised forms only, at a sentence boundary, so "the advertisement campaign" survives.
_INLINE_AD = re.compile(
    r"(?:(?<=^)|(?<=[.!?\"”’)]))\s*(?:ADVERTISEMENT|Advertisement|SPONSORED CONTENT|"
    r"Sponsored content|Sponsored Content|Story continues below advertisement)"
    r"\s*(?=[A-Z“\"‘(]|$)"
)
_CREDIT_WORDS = (
    r"(?:photos?|photograph(?:y|s)?|pictures?|image|images|video|footage|illustration|graphic|"
    r"credit|courtesy|file photo|handout photo)"
)
# "Commuters cross the bridge on Monday. Photo: Handout" / "(Photo: Reuters)" / "Photo by Jo".
_CAPTION_CREDIT = re.compile(
    rf"(?:^|[\s.(\[|–—-])\(?{_CREDIT_WORDS}\s*(?::|by|/|courtesy of)\s*"
    r"(?P<credit>[^.!?,;:]{1,60})\)?\.?\s*$",
    re.IGNORECASE,
)
# A credit names an agency or a person: a few words, starting with a capital or a digit.
_MAX_CREDIT_WORDS = 6
_CHINESE_CREDIT = re.compile(
    r"[（(]?\s*(?:圖|圖片|图|图片|相片|照片|攝|摄|攝影|摄影|影像)(?:來源|来源|提供)?\s*[:：/／]\s*"
    r"[^。！？]{1,40}[)）]?\s*$"
)
_BOILERPLATE_LINES = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"^(share|share this( article| story| page)?|share on \w+|tweet|email|print|copy link|"
        r"save|comments?|facebook|twitter|whatsapp|linkedin|x|reddit|telegram)"
        r"(\s*[|·/,]\s*(share on )?\w+)*\s*:?$",
        r"^(read more|read next|more on this|related( stories| articles| coverage)?|see also|"
        r"also read|recommended|most read|trending|you may also like|more from [\w ]+)\b.{0,140}$",
        r"^.{0,120}\b(sign up|subscribe|register)\b.{0,60}\b(newsletter|briefing|our emails|"
        r"daily email|alerts)\b.{0,120}$",
        r"^.{0,80}\bnewsletter\b.{0,80}\b(sign up|subscribe|inbox)\b.{0,80}$",
        r"^(follow us|follow (the )?[\w ]{1,40} on (facebook|twitter|x|instagram|whatsapp))\b.{0,100}$",
        r"^(click here|tap here|download (our|the) app|get the app)\b.{0,120}$",
        r"^(this (site|website) uses cookies|we use cookies)\b.{0,300}$",
        r"^(延伸閱讀|延伸阅读|相關新聞|相关新闻|更多新聞|更多新闻|分享|訂閱|订阅|追蹤我們|关注我们).{0,80}$",
    )
]
_BYLINE_LINE = re.compile(
    r"^(by|by:|von|par)\s+[\w.'’\- ]{2,60}(,[\w.'’\- ]{2,40})?$", re.IGNORECASE
)
_CHINESE_BYLINE_LINE = re.compile(r"^(記者|记者|撰文|文)\s*[:：]?\s*\S{2,12}$")
_PAGE_CHROME_CLASSES = re.compile(
    r"\b(share|sharing|social|newsletter|subscribe|signup|related|recommend|cookie|consent|"
    r"promo|advert|ad-slot|ad-unit|sponsor|outbrain|taboola|paywall|breadcrumb)\b",
    re.IGNORECASE,
)

_MAX_WIDGET_TEXT = 1200


@dataclass
class PageParts:
    """What cleanup takes out of the page before the body is extracted."""

    captions: list[str] = field(default_factory=list)
    byline: str | None = None


_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0\u200b]+")


def normalize_space(text: str) -> str:
    """Collapse runs of Latin whitespace; keep the ideographic space CJK titles use."""
    return _SPACES.sub(" ", text).strip()


def is_ad_marker(text: str) -> bool:
    return bool(_AD_MARKER.match(text.strip()))


def strip_inline_ads(text: str) -> str:
    return normalize_space(_INLINE_AD.sub(" ", text))


def is_caption(text: str) -> bool:
    """Whether a short block reads like a photo caption with its credit."""
    stripped = text.strip()
    if not stripped or len(stripped) > 320:
        return False
    if _CHINESE_CREDIT.search(stripped):
        return True
    match = _CAPTION_CREDIT.search(stripped)
    if match is None:
        return False
    credit = match.group("credit").strip()
    return bool(credit) and credit[0].isupper() and len(credit.split()) <= _MAX_CREDIT_WORDS


def is_boilerplate_line(text: str) -> bool:
    stripped = text.strip()
    if len(stripped) > 400:
        return False
    return any(pattern.match(stripped) for pattern in _BOILERPLATE_LINES)


def take_page_parts(tree: HtmlElement) -> PageParts:
    """Remove captions, ad markers, bylines and chrome widgets from `tree`; return captions/byline."""
    parts = PageParts()
    for caption in tree.xpath(
        "//figcaption | //*[contains(concat(' ', normalize-space(@class), ' '), ' caption ')]"
        " | //*[contains(@class, 'wp-caption-text')]"
    ):
        text = normalize_space(caption.text_content())
        if text and text not in parts.captions:
            parts.captions.append(text)
        _drop(caption)
    for element in tree.xpath(
        "//*[contains(@class, 'byline') or @rel='author' or contains(@class, 'author-name')]"
    ):
        text = normalize_space(element.text_content())
        if parts.byline is None and 2 < len(text) < 120:
            parts.byline = text
        _drop(element)
    for element in tree.xpath("//body//*"):
        if element.getparent() is None:
            continue
        classes = " ".join(filter(None, [element.get("class"), element.get("id")]))
        if (
            classes
            and _PAGE_CHROME_CLASSES.search(classes)
            # a widget is small; a container with the whole story in it only has an odd class
            and len(element.text_content()) < _MAX_WIDGET_TEXT
        ):
            _drop(element)
            continue
        is_leaf_block = (
            element.tag in ("div", "p", "span", "aside", "section") and len(element) == 0
        )
        if is_leaf_block and is_ad_marker(element.text_content()):
            _drop(element)
    return parts


def clean_paragraphs(
    paragraphs: Iterable[str], title: str | None = None
) -> tuple[list[str], list[str]]:
    """Body paragraphs without markers, chrome lines and the headline; captions found on the way."""
    body: list[str] = []
    captions: list[str] = []
    headline = normalize_space(title or "").casefold()
    for raw in paragraphs:
        text = strip_inline_ads(raw)
        if not text or is_ad_marker(text) or is_boilerplate_line(text):
            continue
        if headline and not body and text.casefold() == headline:
            continue  # the headline repeated as the first line of the body
        if not body and (_BYLINE_LINE.match(text) or _CHINESE_BYLINE_LINE.match(text)):
            continue
        if is_caption(text):
            captions.append(text)
            continue
        if body and text == body[-1]:
            continue
        body.append(text)
    return body, captions


def block_texts(body: etree._Element) -> list[str]:
    """Plain-text blocks of trafilatura's output tree: paragraphs, headings, list items, quotes."""
    blocks: list[str] = []
    for element in body:
        if element.tag == "list":
            items = [normalize_space(text_of(item)) for item in element.iter("item")]
            blocks.extend(item for item in items if item)
            continue
        if element.tag == "table":
            rows = [
                " | ".join(normalize_space(text_of(cell)) for cell in row)
                for row in element.iter("row")
            ]
            blocks.extend(row for row in rows if row.strip(" |"))
            continue
        # trafilatura marks line breaks inside a paragraph with <lb/>; captions often sit behind one.
        for piece in _split_on_line_breaks(element):
            if piece:
                blocks.append(piece)
    return blocks


def _split_on_line_breaks(element: etree._Element) -> list[str]:
    pieces: list[str] = [element.text or ""]
    for child in element:
        if child.tag == "lb":
            pieces.append(child.tail or "")
        else:
            pieces[-1] += text_of(child) + (child.tail or "")
    return [normalize_space(piece) for piece in pieces]


def _drop(element: HtmlElement) -> None:
    """Remove an element but keep its tail text in the document."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail
    if tail and tail.strip():
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)
