"""The ingest pipeline against the real demo publisher server and a real SQLite file."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import make_settings
from tidings.config import Settings
from tidings.db.models import Article, FetchLog, Source
from tidings.db.session import Database
from tidings.demo.corpus import load_corpus
from tidings.demo.server import PublisherServer, Response
from tidings.demo.site import feed_path, render_feed
from tidings.errors import BlockedURLError, DiscoveryError, FeedParseError
from tidings.ingest.pipeline import refresh_all, refresh_source
from tidings.ingest.sources import add_source, register_source

CORPUS = load_corpus()


def feed_url(server: PublisherServer, slug: str) -> str:
    publisher = CORPUS.publisher(slug)
    assert publisher is not None
    return server.url(feed_path(publisher))


def counts(database: Database) -> tuple[int, int, int]:
    with database.session() as session:
        return (
            session.scalar(select(func.count(Article.id))) or 0,
            session.scalar(select(func.count(func.distinct(Article.url)))) or 0,
            session.scalar(select(func.count(Source.id))) or 0,
        )


@pytest.mark.parametrize(
    ("slug", "path", "feed_format"),
    [
        ("harbour-herald", None, "rss"),
        ("meridian-times", None, "atom"),
        ("northwind-wire", None, "jsonfeed"),
        ("coastline-post", None, "rdf"),
        ("gangwan-daily", None, "rss"),
        ("valley-ledger", "/valley-ledger/", "rss"),  # discovery from the homepage
    ],
)
def test_add_source_for_every_format_and_discovery(
    database: Database,
    settings: Settings,
    publishers: PublisherServer,
    slug: str,
    path: str | None,
    feed_format: str,
) -> None:
    url = publishers.url(path) if path else feed_url(publishers, slug)
    result = add_source(database, settings, url)
    assert result.created
    assert result.source.feed_url == feed_url(publishers, slug)
    assert result.source.feed_format == feed_format
    assert result.source.name == CORPUS.publisher(slug).name  # type: ignore[union-attr]
    again = add_source(database, settings, url)
    assert not again.created
    assert again.source.id == result.source.id


def test_add_source_errors_are_clear(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    publishers.site.overrides["/plain/"] = Response(
        200, "text/html", b"<html><body>No feeds</body></html>"
    )
    with pytest.raises(DiscoveryError, match="no feed found"):
        add_source(database, settings, publishers.url("/plain/"))
    with pytest.raises(FeedParseError, match="not a valid"):
        add_source(database, settings, feed_url(publishers, "static-gazette"))
    with pytest.raises(BlockedURLError):
        add_source(
            database,
            make_settings(settings.database_url, allow_private_hosts=[]),
            feed_url(publishers, "harbour-herald"),
        )
    assert counts(database)[2] == 0  # nothing half-added


def follow_all(database: Database, settings: Settings, server: PublisherServer) -> None:
    for publisher in CORPUS.publishers:
        if publisher.feed == "broken":
            register_source(database, feed_url(server, publisher.slug), name=publisher.name)
        else:
            add_source(database, settings, feed_url(server, publisher.slug))


def test_refresh_stores_every_demo_article_once_and_twice_changes_nothing(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    follow_all(database, settings, publishers)
    first = refresh_all(database, settings)
    expected = sum(len(CORPUS.articles_of(p.slug)) for p in CORPUS.publishers)
    assert sum(r.articles_new for r in first) == expected >= 40
    assert counts(database) == (expected, expected, len(CORPUS.publishers))
    second = refresh_all(database, settings)
    assert sum(r.articles_new + r.articles_updated for r in second) == 0
    assert sum(r.pages_fetched for r in second) == 0  # unchanged entries are not re-fetched
    forced = refresh_all(database, settings, force=True)
    assert sum(r.articles_new + r.articles_updated for r in forced) == 0
    assert counts(database) == (expected, expected, len(CORPUS.publishers))


def test_a_broken_feed_marks_only_that_source_failing(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    follow_all(database, settings, publishers)
    reports = {r.source_name: r for r in refresh_all(database, settings)}
    broken = reports["The Static Gazette"]
    assert broken.status == "error"
    assert "is not a valid RSS, Atom or JSON feed" in (broken.error or "")
    assert all(r.status == "ok" for name, r in reports.items() if name != "The Static Gazette")
    with database.session() as session:
        source = session.scalar(select(Source).where(Source.name == "The Static Gazette"))
        assert source is not None
        assert source.status == "error"
        assert source.last_error
        logged = session.scalars(select(FetchLog).where(FetchLog.source_id == source.id)).all()
        assert [log.status for log in logged] == ["error"]


def test_a_feed_that_breaks_later_keeps_its_articles(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    source = add_source(database, settings, feed_url(publishers, "harbour-herald")).source
    refresh_source(database, settings, source.id)
    before = counts(database)
    path = feed_path(CORPUS.publisher("harbour-herald"))  # type: ignore[arg-type]
    publishers.site.overrides[path] = Response(500, "text/html", b"Internal error")
    report = refresh_source(database, settings, source.id)
    assert report.status == "error"
    assert "HTTP 500" in (report.error or "")
    assert counts(database) == before


def test_a_changed_page_is_updated_in_place(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    publisher = CORPUS.publisher("harbour-herald")
    assert publisher is not None
    source = add_source(database, settings, feed_url(publishers, "harbour-herald")).source
    refresh_source(database, settings, source.id)
    article = CORPUS.articles_of(publisher.slug)[0]
    page_path = f"/{publisher.slug}/news/{article.slug}.html"
    original = publishers.site.respond(page_path).body.decode()
    with database.session() as session:
        stored = session.scalar(
            select(Article).where(Article.guid == f"{publisher.slug}-{article.slug}")
        )
        assert stored is not None
        article_id, old_body = stored.id, stored.body
    corrected = original.replace(article.text[0], "CORRECTION: " + article.text[0])
    publishers.site.overrides[page_path] = Response(
        200, "text/html; charset=utf-8", corrected.encode()
    )
    # Without a sign in the feed the page is not re-fetched; --force re-fetches it.
    assert refresh_source(database, settings, source.id).articles_updated == 0
    report = refresh_source(database, settings, source.id, force=True)
    assert report.articles_updated == 1
    assert report.articles_new == 0
    with database.session() as session:
        updated = session.get(Article, article_id)
        assert updated is not None
        assert "CORRECTION: " in updated.body
        assert updated.body != old_body
    # The same again when the feed announces the change (its entry changed).
    _, feed = render_feed(CORPUS, publisher, publishers.site.anchor, publishers.base_url)
    changed_feed = feed.replace(
        f"{article.description}</description>", f"{article.description} (updated)</description>"
    )
    assert changed_feed != feed
    publishers.site.overrides[feed_path(publisher)] = Response(
        200, "application/rss+xml", changed_feed.encode()
    )
    publishers.site.overrides[page_path] = Response(
        200, "text/html; charset=utf-8", original.encode()
    )
    report = refresh_source(database, settings, source.id)
    assert report.pages_fetched == 1
    assert report.articles_updated == 1
    assert counts(database)[0] == len(CORPUS.articles_of(publisher.slug))


def test_an_unreachable_page_falls_back_to_the_feed_text(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    publisher = CORPUS.publisher("northwind-wire")  # its JSON feed carries full text
    assert publisher is not None
    article = CORPUS.articles_of(publisher.slug)[0]
    publishers.site.overrides[f"/{publisher.slug}/news/{article.slug}.html"] = Response(
        503, "text/plain", b""
    )
    source = add_source(database, settings, feed_url(publishers, publisher.slug)).source
    report = refresh_source(database, settings, source.id)
    assert report.status == "ok"
    assert len(report.page_errors) == 1
    assert "HTTP 503" in report.page_errors[0]
    with database.session() as session:
        stored = session.scalar(select(Article).where(Article.title == article.title))
        assert stored is not None
        assert stored.extracted_from == "feed"
        assert stored.body.split("\n\n") == list(article.text)


def test_a_crash_half_way_loses_nothing_and_duplicates_nothing(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    source = add_source(database, settings, feed_url(publishers, "gangwan-daily")).source

    class Crash(Exception):
        pass

    class CrashAfter:
        def __init__(self, limit: int) -> None:
            self.limit, self.seen = limit, 0

        def started(self, source_name: str, total: int) -> None:
            pass

        def advanced(self, source_name: str, steps: int = 1) -> None:
            self.seen += steps
            if self.seen == self.limit:
                raise Crash

    with pytest.raises(Crash):
        refresh_source(database, settings, source.id, progress=CrashAfter(4))
    assert counts(database)[0] == 4  # what was stored before the crash is kept
    report = refresh_source(database, settings, source.id)
    total = len(CORPUS.articles_of("gangwan-daily"))
    assert report.articles_new == total - 4
    assert counts(database)[:2] == (total, total)


def test_pages_stored_with_language_captions_and_dates(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    source = add_source(database, settings, feed_url(publishers, "gangwan-daily")).source
    refresh_source(database, settings, source.id)
    with database.session() as session:
        for written in CORPUS.articles_of("gangwan-daily"):
            stored = session.scalar(select(Article).where(Article.title == written.title))
            assert stored is not None
            assert stored.language == "zh-Hant"
            assert stored.captions == [written.caption]
            assert stored.published_at == written.published_at(publishers.site.anchor)
            assert "廣告" not in stored.body
