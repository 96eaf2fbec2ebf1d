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

from tidings.ingest.dom import select, text_of

# A whole block that is only an ad/sponsor marker.
_AD_MARKER = re.compile(
    r"^[\s\-–—·|()\[\]]*(advertisement|advertisements|advertising|advert|ad|ads|sponsored|"
    r"sponsored content|paid content|paid post|promoted content|partner content|"
    r"story continues below(?: this)? advertisement|article continues below(?: this)? advertisement|"
    r"continue reading below|scroll to continue(?: with content)?|"
    r"廣告|广告|贊助內容|赞助内容|広告|スポンサーリンク|광고)[\s\-–—·|()\[\]:.]*$",
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
    r"[（(]?\s*(?:圖|圖片|图|图片|相片|照片|攝|摄|攝影|摄影|影像|写真|사진)(?:來源|来源|提供)?\s*[:：/／]\s*"
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
        r"^.{0,120}\b(sign up|subscribe|register)\b.{0,60}\b(newsletters?|briefing|our emails|"
        r"daily email|alerts)\b.{0,120}$",
        r"^.{0,80}\bnewsletter\b.{0,80}\b(sign up|subscribe|inbox)\b.{0,80}$",
        r"^(follow us|follow (the )?[\w ]{1,40} on (facebook|twitter|x|instagram|whatsapp))\b.{0,100}$",
        r"^(click here|tap here|download (our|the) app|get the app)\b.{0,120}$",
        r"^(this (site|website) uses cookies|we use cookies)\b.{0,300}$",
        r"^(print|print (this )?(article|page|story)|order reprints|reprints?( & permissions)?|"
        r"permalink|email (this )?(article|story)|tell us what you think|join the conversation|"
        r"leave a comment|comments?( \(\d+\))?)\W{0,5}$",
        r"^this (copy|article) is for your personal,? non-commercial use only\b.*$",
        r"^\[\w+[^\]]*\](.*\[/\w+\])?$",  # an unrendered CMS shortcode: [button link=…]…[/button]
        r"^(延伸閱讀|延伸阅读|相關新聞|相关新闻|更多新聞|更多新闻|分享|訂閱|订阅|追蹤我們|关注我们).{0,80}$",
    )
]
_BYLINE_LINE = re.compile(
    r"^(by|by:|von|par)\s+[\w.'’\- ]{2,60}(,[\w.'’\- ]{2,40})?$", re.IGNORECASE
)
_CHINESE_BYLINE_LINE = re.compile(r"^(記者|记者|撰文|文)\s*[:：]?\s*\S{2,12}$")
# Words in a class or id that mark page furniture (a set lookup per word: this runs for
# hundreds of elements on every page, where a regex alternation is ten times slower).
_CHROME_WORDS = frozenset(
    {
        "share",
        "sharing",
        "social",
        "newsletter",
        "subscribe",
        "signup",
        "related",
        "recommend",
        "cookie",
        "consent",
        "promo",
        "advert",
        "sponsor",
        "outbrain",
        "taboola",
        "breadcrumb",
        "rollover",
        "tooltip",
        "popover",
        "hovercard",
        "popup",
    }
)
_WORD_SPLIT = re.compile(r"[^a-z0-9_]+")

_MAX_WIDGET_TEXT = 1200
_LINK_LIST_MAX_CHARS = 200
_LINK_LIST_MIN_RUN = 3


@dataclass
class PageParts:
    """What cleanup takes out of the page before the body is extracted."""

    captions: list[str] = field(default_factory=list)
    byline: str | None = None
    standfirst: str | None = None


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


# One XPath (in C) picks every element that attributes could mark as page furniture; the
# rest of the page is never touched from Python.
_MARKED = etree.XPath(
    "//figcaption | //header//h2 | //header//h3"
    " | //body//*[@class or @id or @rel or @style or @hidden]"
)
_SHORT_LEAF_BLOCKS = etree.XPath(
    "//body//*[self::div or self::p or self::span or self::aside or self::section]"
    "[not(*)][string-length(normalize-space()) < 60]"
)
# The standfirst (dek, subtitle) under the headline: a summary, not part of the story.
_STANDFIRST_CLASS = re.compile(r"dek|standfirst|sub-?head|subline|strapline|subtitle")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


def take_page_parts(tree: HtmlElement) -> PageParts:
    """Remove captions, bylines, the standfirst, hidden copies, widgets and ad markers."""
    parts = PageParts()
    root = tree.getroottree().getroot()
    page_text = len(root.text_content())
    for element in select(_MARKED, tree):
        if element.getroottree().getroot() is not root:
            continue  # inside something already removed
        if _take_part(element, parts, page_text):
            _drop(element)
    for element in select(_SHORT_LEAF_BLOCKS, tree):
        if is_ad_marker(element.text_content()):
            _drop(element)
    return parts


def _take_part(element: HtmlElement, parts: PageParts, page_text: int) -> bool:
    """Whether `element` is furniture; captions, byline and standfirst are kept in `parts`.

    Plain string and set tests first: this runs for hundreds of elements on every page.
    """
    tag = element.tag
    classes = element.get("class", "")
    lowered = classes.lower()
    class_names = lowered.split()
    if tag == "figcaption" or "caption" in class_names or "wp-caption-text" in class_names:
        text = normalize_space(element.text_content())
        if text and text not in parts.captions:
            parts.captions.append(text)
        return True
    if element.get("rel") == "author" or "byline" in lowered or "author-name" in lowered:
        text = normalize_space(element.text_content())
        if parts.byline is None and 2 < len(text) < 120:
            parts.byline = text
        return True
    if tag in ("h2", "h3", "p", "div") and (
        _STANDFIRST_CLASS.search(lowered) or (tag in ("h2", "h3") and _in_header(element))
    ):
        text = normalize_space(element.text_content())
        # A sentence-like line, not a section label or a second headline of a listing.
        if parts.standfirst is None and 30 <= len(text) <= 400 and len(element) <= 3:
            parts.standfirst = text
            return True
        return False
    style = element.get("style")
    if element.get("hidden") is not None or (style and _HIDDEN_STYLE.search(style)):
        # Hidden copies (microdata, teasers) go; a hidden block holding most of the page is
        # the article itself, revealed by a script, and stays.
        return len(element.text_content()) < page_text / 3
    return _is_chrome(lowered, class_names, element.get("id", "")) and (
        # a widget is small; a container with the whole story in it only has an odd class
        len(element.text_content()) < _MAX_WIDGET_TEXT
    )


def _is_chrome(lowered: str, class_names: list[str], identifier: str) -> bool:
    if "ad" in class_names or "ads" in class_names:
        return True
    words = set(_WORD_SPLIT.split(f"{lowered} {identifier.lower()}"))
    return bool(words & _CHROME_WORDS) or ("ad" in words and bool(words & {"slot", "unit"}))


def _in_header(element: HtmlElement) -> bool:
    return any(ancestor.tag == "header" for ancestor in element.iterancestors())


def clean_paragraphs(
    paragraphs: Iterable[str], title: str | None = None
) -> tuple[list[str], list[str]]:
    """Body paragraphs without markers, chrome lines and the headline; captions found on the way."""
    body: list[str] = []
    captions: list[str] = []
    # Compared loosely: extractors turn the ideographic spaces of CJK headlines into spaces.
    headline = " ".join((title or "").split()).casefold()
    for raw in paragraphs:
        text = strip_inline_ads(raw)
        if not text or is_ad_marker(text) or is_boilerplate_line(text):
            continue
        if headline and " ".join(text.split()).casefold() == headline:
            continue  # the headline repeated in the body (above it, or in a print footer)
        if not body and (_BYLINE_LINE.match(text) or _CHINESE_BYLINE_LINE.match(text)):
            continue
        if is_caption(text):
            captions.append(text)
            continue
        if body and text == body[-1]:
            continue
        body.append(text)
    return body, captions


# Tags of trafilatura's output that hold blocks of their own rather than running text.
_BLOCK_TAGS = frozenset(
    {"p", "head", "list", "item", "quote", "table", "row", "code", "div", "section", "blockquote"}
)


@dataclass
class Block:
    """One paragraph-like block of extracted text and how much of it is link text."""

    text: str
    link_chars: int = 0

    @property
    def link_dense(self) -> bool:
        return len(self.text) < _LINK_LIST_MAX_CHARS and self.link_chars > len(self.text) / 2


def block_texts(body: etree._Element) -> list[Block]:
    """Plain-text blocks of trafilatura's output tree: paragraphs, headings, list items, quotes.

    Nested blocks (a <div> of <p>s, an item holding a list) become blocks of their own, and
    trafilatura's <lb/> line breaks split blocks: captions often sit behind one.
    """
    blocks: list[Block] = []
    _collect_blocks(body, blocks)  # text may also sit directly in <body>, between blocks
    return blocks


def _collect_blocks(element: etree._Element, blocks: list[Block]) -> None:
    if not isinstance(element.tag, str):
        return
    if element.tag == "row":
        cells = " | ".join(normalize_space(text_of(cell)) for cell in element).strip(" |")
        _add(blocks, Block(cells))
        return
    # Running text between nested blocks (and between <lb/> breaks) forms blocks of its own.
    piece = Block(element.text or "")
    for child in element:
        if isinstance(child.tag, str) and child.tag in _BLOCK_TAGS:
            _add(blocks, piece)
            _collect_blocks(child, blocks)
            piece = Block(child.tail or "")
        elif child.tag == "lb":
            _add(blocks, piece)
            piece = Block(child.tail or "")
        else:
            text = text_of(child)
            if child.tag == "ref" or any(True for _ in child.iter("ref")):
                piece.link_chars += len(text.strip())
            piece.text += text + (child.tail or "")
    _add(blocks, piece)


def _add(blocks: list[Block], block: Block) -> None:
    block.text = normalize_space(block.text)
    if block.text:
        blocks.append(block)


def drop_link_lists(blocks: list[Block]) -> list[str]:
    """Texts of the blocks, without runs of short link-only blocks (teaser and nav lists)."""
    kept: list[str] = []
    index = 0
    while index < len(blocks):
        end, links = _link_list_end(blocks, index)
        if links >= _LINK_LIST_MIN_RUN:
            index = end  # headlines linking elsewhere: "More stories", "Trending", teasers
            continue
        kept.append(blocks[index].text)
        index += 1
    return kept


def _link_list_end(blocks: list[Block], start: int) -> tuple[int, int]:
    """End of the run of link-only blocks starting at `start`, and its length."""
    index = start
    while index < len(blocks) and blocks[index].link_dense:
        index += 1
    return index, index - start


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
