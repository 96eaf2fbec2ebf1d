"""Enrichment on the demo: languages, copies shown once, one story per event, related, API."""

from __future__ import annotations

import html
import re
from collections import defaultdict
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import make_settings
from tidings.db.models import Article, Story
from tidings.db.session import Database
from tidings.demo.corpus import DemoArticle, load_corpus
from tidings.enrich.dedupe import url_key
from tidings.enrich.lang import detect_language
from tidings.enrich.related import related_articles
from tidings.enrich.service import Enricher


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("https://example.com/a/story?utm_source=x&utm_medium=y", "https://example.com/a/story"),
        ("http://example.com/a/story/", "https://example.com/a/story"),
        ("https://www.example.com/a/story?fbclid=abc", "https://example.com/a/story"),
        ("https://example.com/a/story/amp", "https://example.com/a/story"),
        ("https://amp.example.com/a/story?amp=1", "https://example.com/a/story"),
        ("https://example.com/a/story.amp.html", "https://example.com/a/story.html"),
        ("https://EXAMPLE.com:443/a/story#comments", "https://example.com/a/story"),
    ],
)
def test_url_key_merges_spellings_of_one_page(first: str, second: str) -> None:
    assert url_key(first) == url_key(second)
    assert url_key(url_key("https:" + url_key(first))) == url_key(first)


def test_url_key_keeps_different_pages_apart() -> None:
    assert url_key("https://example.com/a/story?id=1") != url_key(
        "https://example.com/a/story?id=2"
    )
    assert url_key("https://example.com/a/story") != url_key("https://example.org/a/story")


@pytest.mark.parametrize(
    ("text", "declared", "expected"),
    [
        ("The harbour tunnel opened on Monday after six years of construction work.", None, "en"),
        ("Les élections municipales auront lieu dimanche dans toute la France.", "en", "fr"),
        (
            "Die Regierung hat am Dienstag neue Regeln für den Wohnungsmarkt beschlossen.",
            None,
            "de",
        ),
        ("El gobierno aprobó el martes un nuevo plan para la vivienda pública.", None, "es"),
        ("颱風米琳逼近，天文台改發八號風球，全港學校明日停課。", None, "zh-Hant"),
        ("台风米琳逼近，天文台改发八号风球，全市学校明日停课。", None, "zh-Hans"),
        ("颱風米琳逼近", "zh", "zh-Hant"),
        ("", "en", "en"),
    ],
)
def test_detect_language(text: str, declared: str | None, expected: str) -> None:
    assert detect_language(text, declared) == expected


def _demo_key(article: Article) -> tuple[str, str]:
    """(publisher slug, article slug) of a stored demo article, from its URL."""
    parts = urlsplit(article.url).path.strip("/").split("/")
    return parts[0], parts[-1].removesuffix(".html")


def _stored(database: Database) -> dict[tuple[str, str], Article]:
    with database.session() as session:
        rows = list(session.scalars(select(Article)))
        session.expunge_all()
    return {_demo_key(row): row for row in rows}


def _by_event() -> dict[str, list[DemoArticle]]:
    events: dict[str, list[DemoArticle]] = defaultdict(list)
    for article in load_corpus().articles:
        events[article.event].append(article)
    return events


def test_every_demo_article_is_enriched(demo_database: Database) -> None:
    with demo_database.session() as session:
        rows = list(session.scalars(select(Article)))
        assert rows
        assert all(row.enriched_at is not None and row.story_id is not None for row in rows)
        assert all(row.language in ("en", "zh-Hant") for row in rows)
        assert all(len(row.tags) >= 3 for row in rows)


def _wire_group(stored: dict[tuple[str, str], Article]) -> list[Article]:
    """The wire story and its syndicated copies, as stored."""
    (wire,) = [a for a in load_corpus().articles if len(a.syndicated_by) >= 2]
    return [stored[(publisher, wire.slug)] for publisher in (wire.publisher, *wire.syndicated_by)]


def test_wire_copies_are_duplicates_of_one_original(demo_database: Database) -> None:
    stored = _stored(demo_database)
    group = _wire_group(stored)
    originals = [row for row in group if row.duplicate_of is None]
    assert len(originals) == 1  # the copies carry the same time: the first stored is kept
    (original,) = originals
    for copy in group:
        assert copy.duplicate_of in (None, original.id)
        assert copy.story_id == original.story_id
    copies = [row for row in stored.values() if row.duplicate_of is not None]
    assert len(copies) == len(group) - 1  # independent reports are never copies


def test_each_event_is_one_story_and_events_stay_apart(demo_database: Database) -> None:
    stored = _stored(demo_database)
    story_events: dict[int, set[str]] = defaultdict(set)
    for event, articles in _by_event().items():
        by_language: dict[str, set[int | None]] = defaultdict(set)
        for demo in articles:
            for publisher in (demo.publisher, *demo.syndicated_by):
                row = stored[(publisher, demo.slug)]
                by_language[row.language or ""].add(row.story_id)
                story_events[row.story_id or 0].add(event)
        for language, story_ids in by_language.items():
            assert len(story_ids) == 1, f"{event} ({language}) split into stories {story_ids}"
    mixed = {story: events for story, events in story_events.items() if len(events) > 1}
    assert not mixed, f"stories mixing different events: {mixed}"


def test_front_page_shows_top_stories_and_copies_once(client: httpx.Client) -> None:
    first = client.get("/").text
    assert "Top stories" in first
    assert "Full coverage" in first
    (wire,) = [a for a in load_corpus().articles if len(a.syndicated_by) >= 2]
    headline = '<ol class="article-list">'
    shown, also, page, url = 0, 0, first, "/"
    while True:  # every page of the latest list: the wire story is listed once
        listing = page[page.index(headline) :]
        shown += listing.count(f">{html.escape(wire.title)}</a></h2>")
        also += listing.count("Also published by")
        found = re.search(r'rel="next" href="(\?cursor=[^"]+)"', page)
        if not found:
            break
        url = "/" + html.unescape(found.group(1))
        page = client.get(url).text
    assert shown == 1
    assert also >= 1


def test_article_page_has_hashtags_related_and_also_published(
    client: httpx.Client, demo_database: Database
) -> None:
    (wire,) = [a for a in load_corpus().articles if len(a.syndicated_by) >= 2]
    (original,) = [row for row in _wire_group(_stored(demo_database)) if not row.duplicate_of]
    page = client.get(f"/articles/{original.id}").text
    assert "Hashtags" in page
    assert "Related articles" in page
    assert "Also published by" in page
    assert "Full coverage of this story" in page
    story = client.get(f"/stories/{original.story_id}")
    assert story.status_code == 200
    assert "First report" in story.text
    assert wire.title.replace("'", "&#39;") in story.text


def test_related_excludes_the_article_and_its_copies(demo_database: Database) -> None:
    wire_group = _wire_group(_stored(demo_database))
    (original,) = [row for row in wire_group if not row.duplicate_of]
    group = {row.id for row in wire_group}
    settings = make_settings(demo_database.url)
    enricher = Enricher(demo_database, settings)  # a fresh process: rebuilt from the database
    with demo_database.session() as session:
        article = session.get(Article, original.id)
        assert article is not None
        while_loading = related_articles(session, enricher, article, limit=6)
        assert {row.story_id for row in while_loading} == {article.story_id}
        enricher.ensure_current()
        assert len(enricher.vectors) == session.scalar(select(func.count(Article.id)))
        related = related_articles(session, enricher, article, limit=6)
        assert related
        assert not group & {row.id for row in related}
        assert all(row.duplicate_of is None for row in related)
        stories = [row.story_id for row in related]
        assert all(stories.count(story) <= 2 for story in stories)
        same_story = [row for row in related if row.story_id == article.story_id]
        assert same_story, "the other outlets' coverage of the event comes first"
        assert related[0].source_id != article.source_id


def test_api_articles_carry_enrichment_and_stories_page_through(
    client: httpx.Client, demo_database: Database
) -> None:
    article = client.get("/api/v1/articles", params={"limit": 1}).json()["items"][0]
    assert article["language"] == "en" or article["language"].startswith("zh-")
    assert article["tags"]
    assert article["tags"][0]["name"].startswith("#")
    assert {"name", "label", "slug"} <= set(article["tags"][0])
    assert article["story_id"] is not None
    assert "duplicate_of" in article
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 7} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/stories", params=params).json()
        seen += [story["id"] for story in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    with demo_database.session() as session:
        live = set(session.scalars(select(Story.id).where(Story.article_count > 0)))
    assert sorted(seen) == sorted(live)
    story = client.get(f"/api/v1/stories/{article['story_id']}").json()
    assert article["id"] in [item["id"] for item in story["articles"]]
    related = client.get(f"/api/v1/articles/{article['id']}/related").json()["items"]
    assert article["id"] not in [item["id"] for item in related]
    assert client.get("/api/v1/stories/999999").status_code == 404


def test_tag_pages_and_feeds(client: httpx.Client) -> None:
    tags = client.get("/api/v1/tags", params={"limit": 500}).json()["items"]
    assert tags
    busiest = max(tags, key=lambda tag: tag["article_count"])
    page = client.get(f"/tags/{busiest['slug']}")
    assert page.status_code == 200
    assert busiest["name"] in page.text
    feed = client.get(f"/feeds/tags/{busiest['slug']}.json").json()
    assert len(feed["items"]) >= 1
    listed = client.get("/api/v1/articles", params={"tag": busiest["slug"], "limit": 200}).json()
    assert all(busiest["slug"] in [t["slug"] for t in item["tags"]] for item in listed["items"])
    assert client.get("/tags/NoSuchTagAnywhere").status_code == 404
