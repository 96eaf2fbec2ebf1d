"""Property tests (hypothesis): hostile input never raises unexpectedly and invariants hold."""

from __future__ import annotations

import os
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidings.errors import TidingsError
from tidings.ingest.clean import clean_paragraphs, is_caption, strip_inline_ads
from tidings.ingest.extract import extract_article
from tidings.ingest.feeds import parse_feed
from tidings.ingest.sitemaps import parse_sitemap
from tidings.ingest.text import html_to_text
from tidings.ingest.urls import canonicalize_url

# `make soak` runs these longer (TIDINGS_FUZZ_EXAMPLES) and drives them with atheris too
# (bench/fuzz.py calls each test's inner function).
FUZZ = settings(
    max_examples=int(os.environ.get("TIDINGS_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Control characters and spaces too: atheris found that a path ending in "\x0c" before a
# fragment lost it only on the second pass.
url_part = st.text(
    alphabet=string.ascii_letters + string.digits + "-._~%/?=&#:@+ \x0c\x1f\x7f", max_size=40
)


@FUZZ
@given(
    scheme=st.sampled_from(["http", "https", "HTTP", "HtTpS"]),
    host=st.from_regex(r"[A-Za-z0-9]{1,12}(\.[A-Za-z]{2,6}){1,2}", fullmatch=True),
    port=st.one_of(st.none(), st.integers(min_value=1, max_value=65535)),
    rest=url_part,
)
def test_canonicalisation_is_idempotent(
    scheme: str, host: str, port: int | None, rest: str
) -> None:
    url = f"{scheme}://{host}{f':{port}' if port else ''}/{rest}"
    once = canonicalize_url(url)
    assert canonicalize_url(once) == once
    assert "#" not in once
    assert once.startswith(("http://", "https://"))
    assert "utm_" not in once.split("?", 1)[-1] or "?" not in once


XMLISH = st.text(
    alphabet=st.sampled_from(list("<>/=\"' &;abcdefghijklmnopqrstuvwxyz?!-:[]{}0123456789")),
    max_size=300,
)


@FUZZ
@given(
    head=st.sampled_from(
        [
            "",
            '<?xml version="1.0"?>',
            '<rss version="2.0"><channel>',
            '<feed xmlns="http://www.w3.org/2005/Atom">',
            '{"version": "https://jsonfeed.org/version/1.1", "items": [',
        ]
    ),
    body=XMLISH,
)
def test_feed_parsing_either_parses_or_says_why(head: str, body: str) -> None:
    try:
        feed = parse_feed((head + body).encode(), "https://fuzz.example/feed")
    except TidingsError as error:
        problem = str(error)
    else:
        problem = ""
    if problem:
        assert "fuzz.example" in problem  # a clear message naming the feed
        return
    for entry in feed.entries:
        assert entry.link.startswith("https://") or entry.link.startswith("http")


@FUZZ
@given(body=XMLISH)
def test_sitemap_parsing_either_parses_or_says_why(body: str) -> None:
    document = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + body
    )
    try:
        sitemap = parse_sitemap(document.encode(), "https://fuzz.example/sitemap.xml")
    except TidingsError:
        return
    assert all(entry.link for entry in sitemap.entries)


HTMLISH = st.text(
    alphabet=st.sampled_from(
        list("<>/=\"' &;#pdivspanfigcaptionarticle\n ADVERTISEMENTPhoto:廣告圖：")
    ),
    max_size=400,
)


@FUZZ
@given(html=HTMLISH)
def test_extraction_never_crashes_and_never_keeps_markup(html: str) -> None:
    try:
        article = extract_article(
            "<html><body>" + html + "</body></html>", "https://fuzz.example/a"
        )
    except TidingsError:
        return
    for paragraph in article.body.split("\n\n"):
        assert paragraph == paragraph.strip()
        assert paragraph.upper() != "ADVERTISEMENT"
    assert "<script" not in article.body.lower()


@FUZZ
@given(blocks=st.lists(st.text(max_size=120), max_size=12), title=st.text(max_size=40))
def test_cleanup_invariants(blocks: list[str], title: str) -> None:
    body, captions = clean_paragraphs(blocks, title=title)
    assert all(text and text == text.strip() for text in body)
    assert all(is_caption(caption) for caption in captions)
    assert all(strip_inline_ads(text) == text for text in body)  # stable: nothing left to strip


@FUZZ
@given(fragment=HTMLISH)
def test_html_to_text_is_plain(fragment: str) -> None:
    text = html_to_text(fragment)
    assert "\n\n\n" not in text
    assert text == text.strip()


QUERYISH = st.lists(
    st.sampled_from([*"abc XYZ 海港\"#*:()&|!<->'-^+_.,;\\\té", " NEAR ", " OR ", "title:"]),
    max_size=30,
).map("".join)


@FUZZ
@given(query=QUERYISH)
def test_search_queries_are_never_interpreted(query: str) -> None:
    """Whatever a reader types, either a clear error or a query whose every term is quoted:
    no FTS5 or tsquery operator, column filter or unbalanced quote gets through."""
    import re

    from tidings.errors import InvalidInputError
    from tidings.search.query import fts5_match, parse_query, tsquery

    try:
        parsed = parse_query(query)
    except InvalidInputError:
        return
    if not parsed.terms:
        assert parsed.hashtags
        return
    match = fts5_match(parsed)
    # "word word" terms separated by spaces, the last one maybe a prefix: nothing else.
    assert re.fullmatch(r'"\w+( \w+)*"( "\w+( \w+)*")*\*?', match), match
    ts = tsquery(parsed)
    assert re.fullmatch(r"\('\w+'( <-> '\w+')*(:\*)?\)( & \('\w+'( <-> '\w+')*(:\*)?\))*", ts), ts


@FUZZ
@given(
    text=st.text(
        alphabet=st.sampled_from(list("Ferry fares rise 渡輪加價 .,\n\x02<>&")), max_size=400
    ),
    query=st.sampled_from(["ferry", "fares rise", '"fare rise"', "渡輪", "fer", "加價 ferry"]),
)
def test_snippets_keep_the_text_and_mark_only_matches(text: str, query: str) -> None:
    """A snippet is a piece of the text with marks added: remove the marks and it is found in
    the text (apart from the ellipses), and every marked piece matches a query word."""
    from tidings.search.query import parse_query
    from tidings.search.snippets import MARK_CLOSE, MARK_OPEN, snippet

    passage = snippet(text.replace(MARK_OPEN, " "), parse_query(query), "en")
    if passage is None:
        return
    plain = passage.replace(MARK_OPEN, "").replace(MARK_CLOSE, "").strip("… ")
    assert plain in text.replace(MARK_OPEN, " ")
    for marked in passage.split(MARK_OPEN)[1:]:
        word = marked.split(MARK_CLOSE)[0].lower()
        assert word
        assert any(part in word or word in part for part in ("fer", "fare", "rise", "渡輪", "加價"))


MARKDOWNISH = st.lists(
    st.sampled_from(
        [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "![i](data:text/html;base64,PHNjcmlwdD4=)",
            '<a href="vbscript:x">v</a>',
            "<svg onload=alert(1)>",
            "<iframe src=//evil>",
            '<div style="background:url(javascript:x)">',
            "**bold**",
            "`code`",
            "> quote",
            "\n\n",
            "- item",
            "<",
            ">",
            '"',
            "&#106;avascript:",
            "[a]: javascript:alert(1)\n[b][a]",
            "http://example.org/?q=<x>",
            "text",
        ]
    ),
    max_size=12,
).map("".join)


@FUZZ
@given(markdown=MARKDOWNISH)
def test_rendered_comments_never_carry_anything_executable(markdown: str) -> None:
    """Whatever is typed, the HTML has only harmless elements, no event handlers or styles,
    and no link or image address that runs or embeds code (text that merely looks like a
    tag is escaped, so it is not an element)."""
    from lxml import html as lxml_html

    from tidings.comments.render import render_comment

    rendered = render_comment(markdown)
    if not rendered.strip():
        return
    root = lxml_html.fragment_fromstring(rendered, create_parent="div")
    for element in root.iter():
        assert element.tag in SAFE_TAGS, rendered
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), rendered
            assert name.lower() != "style", rendered
            address = "".join(value.split()).lower()
            assert not address.startswith(("javascript:", "vbscript:", "data:")), rendered


SAFE_TAGS = {"div", "p", "a", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "br"}
