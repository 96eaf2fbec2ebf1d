"""Feed parsing: every supported format, and clear errors for what is not a feed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import DATA
from tidings.errors import FeedParseError
from tidings.ingest.feeds import parse_feed

FEEDS = DATA / "feeds"

CASES = [
    # file, content type, format, title, entries, first link, first published (UTC), first author
    (
        "rss2.xml",
        "application/rss+xml",
        "rss",
        "Lantern Street Journal",
        2,
        "https://feeds.example/news/night-market-reopens?utm_source=rss",
        datetime(2026, 11, 24, 10, 30, tzinfo=UTC),
        ["Iris Tam"],
    ),
    (
        "rss1.rdf",
        "application/rdf+xml",
        "rdf",
        "Tidepool Notes",
        2,
        "https://tidepool.example/a",
        datetime(2026, 11, 22, 8, 0, tzinfo=UTC),
        [],
    ),
    (
        "atom.xml",
        "application/atom+xml",
        "atom",
        "Quarry Gazette",
        2,
        "https://quarry.example/blog/posts/quarry-park",
        datetime(2026, 11, 24, 7, 0, tzinfo=UTC),
        ["Noor Haddad"],
    ),
    (
        "jsonfeed.json",
        "application/feed+json",
        "jsonfeed",
        "Orchard Weekly",
        2,
        "https://orchard.example/2026/apple-harvest",
        datetime(2026, 11, 24, 12, 15, tzinfo=UTC),
        ["Pia Lindqvist"],
    ),
]


@pytest.mark.parametrize(
    ("name", "content_type", "fmt", "title", "count", "link", "published", "authors"), CASES
)
def test_parses_each_format(
    name: str,
    content_type: str,
    fmt: str,
    title: str,
    count: int,
    link: str,
    published: datetime,
    authors: list[str],
) -> None:
    feed = parse_feed((FEEDS / name).read_bytes(), f"https://feeds.example/{name}", content_type)
    assert feed.format == fmt
    assert feed.title == title
    assert len(feed.entries) == count
    first = feed.entries[0]
    assert first.link == link
    assert first.published_at == published
    assert first.authors == authors
    assert all(entry.guid and entry.title for entry in feed.entries)


def test_relative_links_resolve_against_the_feed_url() -> None:
    feed = parse_feed((FEEDS / "rss2.xml").read_bytes(), "https://lantern.example/feed.xml")
    assert feed.entries[0].link.startswith("https://lantern.example/news/")


def test_json_feed_details() -> None:
    feed = parse_feed((FEEDS / "jsonfeed.json").read_bytes(), "https://orchard.example/feed.json")
    apple, cider = feed.entries
    assert apple.image == "https://orchard.example/img/apples.jpg"
    assert apple.guid == "ow-7"
    assert cider.content_html == "<p>The fair is back.</p><p>Tickets are free.</p>"
    assert cider.authors == ["Orchard Desk"]  # the feed's authors stand in for the item's


def test_atom_entry_with_only_updated_date_uses_it_as_published() -> None:
    feed = parse_feed((FEEDS / "atom.xml").read_bytes(), "https://quarry.example/feed")
    assert feed.entries[1].published_at == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert feed.entries[0].updated_at == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "content_type", "message"),
    [
        ("broken.xml", "application/rss+xml", "not a valid RSS, Atom or JSON feed"),
        ("not-a-feed.html", "text/html", "not a valid RSS, Atom or JSON feed"),
        ("json-not-feed.json", "application/json", "not a JSON Feed"),
        ("truncated.json", "application/feed+json", "not a valid JSON feed"),
    ],
)
def test_bad_feeds_raise_a_clear_error(name: str, content_type: str, message: str) -> None:
    with pytest.raises(FeedParseError, match=message) as caught:
        parse_feed((FEEDS / name).read_bytes(), f"https://bad.example/{name}", content_type)
    assert f"https://bad.example/{name}" in str(caught.value)


RSS_ITEM = '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>http://x/</link><item><title>{}</title><link>http://x/a</link></item></channel></rss>'
ATOM_ENTRY = '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>t</id><updated>2026-01-01T00:00:00Z</updated><entry><title type="{}">{}</title><link href="http://x/a"/><id>a</id><updated>2026-01-01T00:00:00Z</updated></entry></feed>'


@pytest.mark.parametrize(
    ("document", "title"),
    [
        (RSS_ITEM.format("&lt;b&gt;Bold&lt;/b&gt; move &amp;amp; more"), "Bold move & more"),
        (RSS_ITEM.format("Plan &lt;script&gt;alert(1)&lt;/script&gt;B"), "Plan B"),
        (RSS_ITEM.format("<![CDATA[<i>Italic</i> & more]]>"), "Italic & more"),
        (RSS_ITEM.format("Why 3 &lt; 5 matters"), "Why 3 < 5 matters"),
        (RSS_ITEM.format("AT&amp;T profits"), "AT&T profits"),
        (ATOM_ENTRY.format("html", "&lt;em&gt;Emph&lt;/em&gt; &amp;amp; co"), "Emph & co"),
        (
            ATOM_ENTRY.format(
                "xhtml", '<div xmlns="http://www.w3.org/1999/xhtml"><b>X</b>ML</div>'
            ),
            "XML",
        ),
        (ATOM_ENTRY.format("text", "Fish &amp; chips"), "Fish & chips"),
    ],
)
def test_html_in_titles_becomes_plain_text(document: str, title: str) -> None:
    [entry] = parse_feed(document.encode(), "http://x/feed").entries
    assert entry.title == title
