"""Tidings' own feeds: RSS, Atom and JSON Feed, read back with feedparser and our own reader."""

from __future__ import annotations

import json

import feedparser
import httpx
import pytest

from tidings.ingest.feeds import parse_feed


@pytest.mark.parametrize(("kind", "version"), [("rss", "rss20"), ("atom", "atom10")])
def test_xml_feeds_parse_with_full_text(client: httpx.Client, kind: str, version: str) -> None:
    response = client.get(f"/feeds/latest.{kind}")
    assert response.status_code == 200
    assert "max-age" in response.headers["cache-control"]
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == version
    assert len(parsed.entries) == 50
    assert parsed.feed.link.endswith("/")  # the page the feed follows, not the feed itself
    newest = client.get("/api/v1/articles", params={"limit": 1}).json()["items"][0]
    first = parsed.entries[0]
    assert first.title == newest["title"]
    assert first.link == newest["url"]
    content = first.content[0].value
    assert newest["body"].split("\n\n")[-1][:60].replace('"', "&quot;")[:20] in content.replace(
        '"', "&quot;"
    )
    ours = parse_feed(
        response.content, f"http://test/feeds/latest.{kind}", response.headers["content-type"]
    )
    assert len(ours.entries) == 50


def test_json_feed(client: httpx.Client) -> None:
    response = client.get("/feeds/latest.json")
    assert response.headers["content-type"].startswith("application/feed+json")
    document = json.loads(response.content)
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    item = document["items"][0]
    assert {"id", "url", "title", "content_html", "content_text", "date_published"} <= set(item)
    assert len(parse_feed(response.content, "http://test/feeds/latest.json").entries) == 50


def test_source_feeds_and_errors(client: httpx.Client) -> None:
    source = next(s for s in client.get("/api/v1/sources").json()["items"] if s["article_count"])
    parsed = feedparser.parse(client.get(f"/feeds/sources/{source['id']}.atom").content)
    assert len(parsed.entries) == min(50, source["article_count"])
    assert source["name"] in parsed.feed.title
    assert client.get("/feeds/latest.xml").status_code == 404
    assert client.get("/feeds/sources/99999.rss").status_code == 404
    front = client.get("/").text
    assert (
        'type="application/rss+xml" title="Tidings — latest news" href="/feeds/latest.rss"' in front
    )
    assert f"/feeds/sources/{source['id']}.json" in client.get(f"/sources/{source['id']}").text
