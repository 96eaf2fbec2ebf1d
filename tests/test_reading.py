"""Reading aids: article revisions and their diffs, story coverage, source health, reading
time and the print style, against real databases, the demo publisher server and the app."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import LiveServer, make_settings
from tidings.config import Settings
from tidings.db.models import Article, ArticleRevision, FetchLog, Source, Story
from tidings.db.session import Database
from tidings.demo.corpus import load_corpus
from tidings.demo.runner import start_demo
from tidings.demo.server import PublisherServer
from tidings.demo.site import feed_path
from tidings.ingest.pipeline import refresh_all, refresh_source
from tidings.ingest.revisions import revisions_of
from tidings.ingest.sources import add_source
from tidings.reading.coverage import story_coverage
from tidings.reading.diff import change_counts, word_diff
from tidings.reading.health import source_health
from tidings.reading.length import text_length
from tidings.search import SearchFilters, search_articles
from tidings.web.charts import Bar, bar_chart

CORPUS = load_corpus()
EDITED = next(a for a in CORPUS.articles if a.update_paragraphs)
STYLE = Path(__file__).parents[1] / "src" / "tidings" / "web" / "static" / "style.css"


def _edited_source(database: Database, settings: Settings, server: PublisherServer) -> int:
    publisher = CORPUS.publisher(EDITED.publisher)
    assert publisher is not None
    return add_source(database, settings, server.url(feed_path(publisher))).source.id


def _edited_article(database: Database) -> Article:
    with database.session() as session:
        article = session.scalars(select(Article).where(Article.url.contains(EDITED.slug))).one()
        session.expunge(article)
        return article


def _revision_count(database: Database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(ArticleRevision)) or 0


def test_an_edited_article_keeps_both_versions_through_the_refresh(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    publishers.site.edits_published = False  # the article as first published
    source_id = _edited_source(database, settings, publishers)
    refresh_source(database, settings, source_id)
    first = _edited_article(database)
    assert "About 60 families from Cypress Court" in first.body
    assert _revision_count(database) == 0  # an article never edited keeps no versions

    publishers.site.edits_published = True  # the publisher corrects it
    report = refresh_source(database, settings, source_id)
    assert report.articles_updated == 1
    article = _edited_article(database)
    assert article.id == first.id
    assert "About 40 families from Cypress Court" in article.body
    assert "About 60 families" not in article.body
    with database.session() as session:
        versions = revisions_of(session, article.id)
        assert [v.revision for v in versions] == [1, 2]
        assert versions[0].body == first.body
        assert versions[1].body == article.body
        assert versions[0].fingerprint != versions[1].fingerprint
        assert versions[1].updated_at == EDITED.updated_at(publishers.site.anchor)
        # The search index and enrichment follow the new text.
        filters = SearchFilters(mode="keyword")
        found = search_articles(session, "Correction", filters, limit=10).hits
        assert article.id in [hit.article.id for hit in found]
        stored = session.get(Article, article.id)
        assert stored is not None
        assert stored.enriched_at is not None
        assert stored.enriched_at >= stored.fetched_at

    # Refetching what did not change adds nothing, forced or not.
    refresh_source(database, settings, source_id)
    refresh_source(database, settings, source_id, force=True)
    assert _revision_count(database) == 2


@pytest.mark.parametrize(
    ("old", "new", "added", "removed", "changed"),
    [
        ("About 60 families.", "About 40 families.", ["40"], ["60"], (1, 1)),
        ("The tunnel opens.", "The tunnel opens today.", [" today"], [], (1, 0)),
        ("渡輪海港", "渡輪港口", ["口"], ["海"], (1, 1)),  # Chinese by character
        ("same text", "same text", [], [], (0, 0)),
    ],
)
def test_word_diff(
    old: str, new: str, added: list[str], removed: list[str], changed: tuple[int, int]
) -> None:
    segments = word_diff(old, new)
    assert [s.text for s in segments if s.change == "added"] == added
    assert [s.text for s in segments if s.change == "removed"] == removed
    assert "".join(s.text for s in segments if s.change != "removed") == new
    assert "".join(s.text for s in segments if s.change != "added") == old
    assert change_counts(segments) == changed


@pytest.mark.parametrize(
    ("text", "words", "cjk", "minutes", "mostly_cjk"),
    [
        ("", 0, 0, 1, False),
        ("word " * 230, 230, 0, 1, False),
        ("word " * 231, 231, 0, 2, False),
        ("Hello — it's 5 o'clock.", 4, 0, 1, False),
        ("字" * 400, 0, 400, 1, True),
        ("字" * 1201, 0, 1201, 4, True),
        ("AI 人工智能", 1, 4, 1, True),
    ],
)
def test_reading_time(text: str, words: int, cjk: int, minutes: int, mostly_cjk: bool) -> None:
    length = text_length(text)
    assert (length.words, length.cjk_characters, length.minutes) == (words, cjk, minutes)
    assert length.mostly_cjk == mostly_cjk


def _source(session_add: list[object], name: str, language: str | None, **extra: object) -> Source:
    source = Source(name=name, feed_url=f"http://{name}.example/feed", language=language, **extra)
    session_add.append(source)
    return source


def test_coverage_lists_covering_and_missing_sources(database: Database) -> None:
    now = datetime.now(UTC)
    with database.session() as session:
        rows: list[object] = []
        herald = _source(rows, "herald", "en", category="News")
        times = _source(rows, "times", "en-GB", category="News")
        _source(rows, "quiet", "en", category="News")
        _source(rows, "sport", "en", category="Sport")
        _source(rows, "daily", "zh-Hant", category="News")
        _source(rows, "paused", "en", category="News", paused=True)
        session.add_all(rows)
        session.flush()
        articles = [
            Article(source_id=source.id, url=f"http://{source.name}.example/{n}",
                    original_url=f"http://{source.name}.example/{n}", title=f"Story {n}",
                    entry_hash="x", content_hash="x", language="en",
                    published_at=now - timedelta(hours=hours))
            for n, (source, hours) in enumerate([(herald, 3), (times, 5), (herald, 1)])
        ]  # fmt: skip
        session.add_all(articles)
        session.flush()
        coverage = story_coverage(session, articles)
        assert [r.source.name for r in coverage.covered] == ["times", "herald"]
        assert [r.earliest for r in coverage.covered] == [True, False]
        assert [r.article_count for r in coverage.covered] == [1, 2]
        assert coverage.covered[1].first_article is articles[0]
        assert coverage.languages == ["en"]
        assert coverage.categories == ["News"]
        assert [s.name for s in coverage.missing] == ["quiet"]  # not Sport, zh, or paused
        times.category = None  # an uncategorised outlet: categories no longer narrow
        assert [s.name for s in story_coverage(session, articles).missing] == ["quiet", "sport"]


def test_source_health_counts_days_and_fetches(database: Database) -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    with database.session() as session:
        source = Source(name="s", feed_url="http://s.example/feed")
        session.add(source)
        session.flush()
        for n, hours in enumerate([1, 2, 30, 24 * 40]):
            session.add(Article(source_id=source.id, url=f"http://s.example/{n}",
                                original_url=f"http://s.example/{n}", title="t", entry_hash="x",
                                content_hash="x", published_at=now - timedelta(hours=hours)))  # fmt: skip
        for n, status in enumerate(["ok", "error", "ok"]):
            started = now - timedelta(hours=3 - n)
            session.add(FetchLog(source_id=source.id, started_at=started,
                                 finished_at=started + timedelta(seconds=2 * n + 1),
                                 status=status, http_status=500 if status == "error" else 200))  # fmt: skip
        session.flush()
        health = source_health(session, source.id, now=now)
    assert len(health.days) == 30
    assert health.days[-1].articles == 2
    assert health.days[-2].articles == 1
    assert health.articles_total == 3  # the 40-day-old article is out of the window
    assert [f.failed for f in health.fetches] == [False, True, False]
    assert [f.duration_s for f in health.fetches] == [1.0, 3.0, 5.0]
    assert health.error_count == 1
    assert health.median_duration_s == 3.0


def test_bar_chart_is_an_accessible_escaped_svg() -> None:
    bars = [Bar(0, "none"), Bar(2.5, "<b>slow</b>", "bar-error"), Bar(5, "five")]
    svg = bar_chart(bars, chart_id="c", title="Fetch <time>", description="3 & more")
    assert svg.startswith('<svg class="chart"')
    assert 'role="img" aria-labelledby="c-title c-desc"' in svg
    assert '<title id="c-title">Fetch &lt;time&gt;</title>' in svg
    assert '<desc id="c-desc">3 &amp; more</desc>' in svg
    assert svg.count("<rect") == 3
    assert svg.count("bar-error") == 1
    assert "&lt;b&gt;slow&lt;/b&gt;" in svg
    heights = [float(h) for h in re.findall(r'height="([\d.]+)"><title>', svg)]
    assert heights[0] == 0.0
    assert heights[2] == 2 * heights[1]  # the tallest bar fills the plot


def test_print_style_hides_the_chrome_and_shows_the_source_url() -> None:
    css = STYLE.read_text()
    printed = css[css.index("@media print") :]
    for selector in (".masthead", ".site-footer", "nav", "form", ".ai-panel", ".comments"):
        assert selector in printed.split("{")[1]
    assert "attr(href)" in printed


@pytest.fixture
def demo_http(site: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.base_url, timeout=10) as http:
        yield http


def test_demo_has_an_edited_article_with_its_changes_page(
    demo_database: Database, demo_http: httpx.Client
) -> None:
    article = _edited_article(demo_database)
    with demo_database.session() as session:
        assert len(revisions_of(session, article.id)) >= 2
    page = demo_http.get(f"/articles/{article.id}")
    assert page.status_code == 200
    assert f'href="/articles/{article.id}/changes"' in page.text
    assert "see what changed" in page.text
    assert "min read" in page.text
    changes = demo_http.get(f"/articles/{article.id}/changes")
    assert changes.status_code == 200
    assert re.search(r"<ins><span class=\"visually-hidden\">\[added\] </span>40", changes.text)
    assert re.search(r"<del><span class=\"visually-hidden\">\[removed\] </span>60", changes.text)
    assert '<select id="old-version" name="old">' in changes.text
    api = demo_http.get(f"/api/v1/articles/{article.id}/revisions").json()
    assert [item["revision"] for item in api["items"]] == [1, 2]
    assert "About 40 families" in api["items"][1]["body"]
    assert "About 60 families" in api["items"][0]["body"]
    assert demo_http.get("/api/v1/articles/999999/revisions").status_code == 404
    with demo_database.session() as session:
        other = session.scalars(select(Article.id).where(Article.id != article.id)).first()
    assert demo_http.get(f"/api/v1/articles/{other}/revisions").json()["items"] == []
    assert "This article has not been edited" in demo_http.get(f"/articles/{other}/changes").text


def test_story_page_and_api_show_coverage(demo_database: Database, demo_http: httpx.Client) -> None:
    with demo_database.session() as session:
        story_id = session.scalars(
            select(Story.id).where(Story.source_count >= 2, Story.merged_into.is_(None))
        ).first()
    assert story_id is not None
    detail = demo_http.get(f"/api/v1/stories/{story_id}").json()
    covered = detail["coverage"]["covered"]
    assert {c["source_id"] for c in covered} == {a["source_id"] for a in detail["articles"]}
    assert sum(c["earliest"] for c in covered) == 1
    assert not {m["source_id"] for m in detail["coverage"]["missing"]} & {
        c["source_id"] for c in covered
    }
    page = demo_http.get(f"/stories/{story_id}")
    assert "Who covered it" in page.text
    assert "Not covered yet by" in page.text
    assert "Only active sources that publish in" in page.text


def test_source_page_draws_its_health(demo_database: Database, demo_http: httpx.Client) -> None:
    with demo_database.session() as session:
        source_id = session.scalars(select(Source.id).order_by(Source.id)).first()
        fetches = session.scalar(
            select(func.count(FetchLog.id)).where(FetchLog.source_id == source_id)
        )
    page = demo_http.get(f"/sources/{source_id}")
    assert page.status_code == 200
    charts = re.findall(r"<svg class=\"chart\".*?</svg>", page.text, re.S)
    assert len(charts) == 2
    assert '<title id="chart-articles-title">Articles per day</title>' in charts[0]
    assert "<desc" in charts[0]
    assert "<desc" in charts[1]
    assert charts[0].count("<rect") == 30
    assert charts[1].count("<rect") == fetches
    assert "The numbers behind the charts" in page.text


def test_demo_restart_adds_no_revision(demo_database: Database) -> None:
    """`tidings demo` started again on its database serves the edited version at once."""
    settings = make_settings(demo_database.url, fetch_total_timeout_s=2.0, fetch_max_bytes=2**21)
    before = _revision_count(demo_database)
    setup = start_demo(demo_database, settings, publisher_port=0)
    try:
        assert setup.server.site.edits_published
        refresh_all(demo_database, settings)
    finally:
        setup.server.stop()
    assert _revision_count(demo_database) == before == 2
