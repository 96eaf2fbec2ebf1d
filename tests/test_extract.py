"""Extraction and news cleanup: small written pages, then every page of the demo corpus."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import ANCHOR, DATA
from tidings.demo.corpus import load_corpus
from tidings.demo.server import PublisherServer
from tidings.demo.site import article_path, render_article_page
from tidings.ingest.clean import is_caption, strip_inline_ads
from tidings.ingest.extract import extract_article, normalize_language
from tidings.ingest.metadata import authors_from_byline

PAGES = DATA / "pages"

CASES = [
    # page, title, byline, captions, body must contain, body must not contain
    (
        "inline-clutter.html",
        "Tram depot to become housing",
        "By Ada Brennan",
        ["The old depot on Quay Road, seen from the river on Monday. Photo: Handout"],
        ["240 homes", "clock tower. A third of the flats", "The advertisement campaign"],
        [
            "ADVERTISEMENT",
            "\nAdvertisement",
            "Share this article",
            "newsletter",
            "Read more",
            "Photo:",
        ],
    ),
    (
        "chinese.html",
        "山頂纜車延長服務時間",
        "記者 陳志明",
        ["遊客在山頂纜車站排隊。圖：北角晨報"],
        ["最後一班車改為晚上十一時正開出", "加強管理"],
        ["廣告", "延伸閱讀", "分享", "圖："],
    ),
    (
        "json-ld.html",
        "Glacier retreat measured at record pace",
        "By Lena Vogt, Marco Rossi",
        [],
        ["70 metres", "two decades"],
        ["Alpine Post"],
    ),
    (
        "broken-markup.html",
        "Broken",
        None,
        [],
        ["never closes", "real body of text"],
        ["Advertisement"],
    ),
]


@pytest.mark.parametrize(("page", "title", "byline", "captions", "present", "absent"), CASES)
def test_extracts_clean_news_text(
    page: str,
    title: str,
    byline: str | None,
    captions: list[str],
    present: list[str],
    absent: list[str],
) -> None:
    article = extract_article(
        (PAGES / page).read_text(encoding="utf-8"), f"https://x.example/{page}"
    )
    assert article.title == title
    assert article.byline == byline
    assert article.captions == captions
    for text in present:
        assert text in article.body
    for text in absent:
        assert text not in article.body
    assert not article.body.startswith(title)  # the headline is not repeated in the body


def test_metadata_from_meta_tags_and_json_ld() -> None:
    clutter = extract_article(
        (PAGES / "inline-clutter.html").read_text(), "https://kestrel.example/x"
    )
    assert clutter.publisher == "Kestrel Courier"
    assert clutter.published_at == datetime(2026, 11, 24, 8, 15, tzinfo=UTC)
    assert clutter.canonical_url == "https://kestrel.example/news/tram-depot-housing"
    assert clutter.lead_image == "https://kestrel.example/media/depot.jpg"
    assert clutter.language == "en"
    ld = extract_article((PAGES / "json-ld.html").read_text(), "https://alpine.example/g")
    assert ld.authors == ["Lena Vogt", "Marco Rossi"]
    assert ld.section == "Science"
    assert ld.updated_at == datetime(2026, 11, 22, 8, 30, tzinfo=UTC)
    assert ld.lead_image == "https://alpine.example/img/glacier.jpg"
    chinese = extract_article((PAGES / "chinese.html").read_text(), "https://hk.example/a")
    assert chinese.language == "zh-Hant"
    assert chinese.lead_image == "https://hk.example/img/tram.jpg"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Crowds gathered on Monday. ADVERTISEMENT The mayor spoke.",
            "Crowds gathered on Monday. The mayor spoke.",
        ),
        ("It ended. Advertisement", "It ended."),
        ("Sponsored content The show begins.", "The show begins."),
        (
            "The Advertisement Standards Authority ruled.",
            "The Advertisement Standards Authority ruled.",
        ),
        ("an advertisement for soap", "an advertisement for soap"),
    ],
)
def test_inline_ad_markers(text: str, expected: str) -> None:
    assert strip_inline_ads(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fans in the stadium on Sunday. Photo: Reuters", True),
        ("The new bridge at dusk (Photo: Aurelia Press Agency)", True),
        ("乘客在中環碼頭登上渡輪。圖：港灣日報", True),
        ("珊瑚樣本。圖片來源：奧雷利亞港大學", True),
        ("The photo: a story of the city's past, told by those who lived it, was a hit.", False),
        ("He said the photos showed damage to the roof and walls of the building.", False),
    ],
)
def test_caption_detection(text: str, expected: bool) -> None:
    assert is_caption(text) is expected


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("en-GB", "en"),
        ("zh-TW", "zh-Hant"),
        ("zh_HK", "zh-Hant"),
        ("zh-Hans-CN", "zh-Hans"),
        ("zh", "zh"),
        ("", None),
        ("x1", None),
    ],
)
def test_language_tags(tag: str, expected: str | None) -> None:
    assert normalize_language(tag) == expected


def test_every_demo_page_extracts_to_its_written_text() -> None:
    """All demo pages: every written paragraph kept, no chrome, caption apart from the body."""
    corpus = load_corpus()
    chrome = [
        "Advertisement",
        "ADVERTISEMENT",
        "廣告",
        "Share this article",
        "newsletter",
        "Read more",
        "延伸閱讀",
        "cookies",
        "All rights reserved",
        "Related stories",
    ]
    for publisher in corpus.publishers:
        for article in corpus.articles_of(publisher.slug):
            base = "http://publisher.example"
            html = render_article_page(corpus, publisher, article, ANCHOR, base)
            extracted = extract_article(html, base + article_path(publisher, article))
            where = f"{publisher.slug}/{article.slug}"
            assert extracted.title == article.title, where
            assert extracted.captions == [article.caption], where
            for paragraph in article.text:
                assert paragraph in extracted.body, where
            for text in chrome:
                assert text not in extracted.body, (where, text)
            assert article.caption not in extracted.body, where
            if article.author:
                assert article.author in (extracted.byline or ""), where


def test_extracting_from_the_live_demo_server(publishers: PublisherServer) -> None:
    import httpx

    corpus = load_corpus()
    publisher = corpus.publishers[0]
    article = corpus.articles_of(publisher.slug)[0]
    url = publishers.url(article_path(publisher, article))
    extracted = extract_article(httpx.get(url).text, url)
    assert extracted.canonical_url == url
    assert extracted.published_at == article.published_at(ANCHOR)


@pytest.mark.parametrize(
    ("byline", "authors"),
    [
        ("By Ada Brennan", ["Ada Brennan"]),
        ("By Ada Brennan and Li Wei | 3 hours ago", ["Ada Brennan", "Li Wei"]),
        ("Written by: Noor Haddad, Pia Lindqvist", ["Noor Haddad", "Pia Lindqvist"]),
        ("Staff reporter", []),
        (None, []),
    ],
)
def test_authors_from_bylines(byline: str | None, authors: list[str]) -> None:
    assert authors_from_byline(byline) == authors


def test_a_page_without_date_metadata_gets_its_date_from_the_page() -> None:
    html = (
        "<html><head><title>Dated</title></head><body><article><h1>Dated</h1>"
        "<p class='date'>Published 2026-11-18</p>"
        "<p>A paragraph long enough to count as the body of an article for the extractor.</p>"
        "</article></body></html>"
    )
    article = extract_article(html, "https://x.example/2026/11/18/dated")
    assert article.published_at is not None
    assert article.published_at.date().isoformat() == "2026-11-18"
