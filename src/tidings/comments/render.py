"""Comment Markdown → safe HTML: markdown-it (raw HTML off) then nh3's allowlist.

Two layers on purpose: the parser never passes raw HTML through, and whatever it emits is
cleaned by Ammonia (nh3) to a handful of tags, http(s)/mailto links only, every link
rel="nofollow ugc noopener". Images are not allowed (they would leak readers' addresses).
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

TAGS = {"p", "br", "em", "strong", "a", "ul", "ol", "li", "blockquote", "code", "pre"}
ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = {"http", "https", "mailto"}
MAX_CHARS = 5000

_markdown = (
    MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True})
    .disable(["image", "heading", "lheading", "hr", "html_block", "html_inline", "table"],
             ignoreInvalid=True)
)  # fmt: skip


def render_comment(markdown: str) -> str:
    """Sanitised HTML for a comment's Markdown."""
    html = _markdown.render(markdown)
    cleaned: str = nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow ugc noopener",
        strip_comments=True,
    )
    return cleaned.strip()
