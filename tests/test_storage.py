"""Schema migrations, SQLite settings, URL canonicalisation and the scheduler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from tidings.config import Settings
from tidings.db.migrate import current_revision, include_object, upgrade
from tidings.db.models import Base, Source
from tidings.db.session import Database
from tidings.demo.corpus import load_corpus
from tidings.demo.server import PublisherServer
from tidings.demo.site import feed_path
from tidings.ingest.scheduler import Scheduler
from tidings.ingest.sources import add_source
from tidings.ingest.urls import canonicalize_url
from tidings.web.timefmt import relative_time


def test_migrations_build_the_schema_the_models_describe(database: Database) -> None:
    assert current_revision(database) is not None
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    upgrade(database)  # idempotent
    assert set(inspect(database.engine).get_table_names()) >= {
        "sources",
        "articles",
        "fetch_log",
        "meta",
        "alembic_version",
    }


@pytest.mark.sqlite_only(reason="SQLite's own settings (PRAGMA): PostgreSQL has no such switches")
def test_sqlite_runs_in_wal_mode_with_foreign_keys(database: Database) -> None:
    with database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 10000


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "HTTPS://News.Example.COM:443/a/b?utm_source=rss&id=7#top",
            "https://news.example.com/a/b?id=7",
        ),
        ("http://example.com", "http://example.com/"),
        ("http://example.com:8080/x?fbclid=1&gclid=2", "http://example.com:8080/x"),
        ("https://example.com/p?b=2&a=1", "https://example.com/p?b=2&a=1"),
        ("http://[::1]:80/feed", "http://[::1]/feed"),
    ],
)
def test_canonical_urls(url: str, canonical: str) -> None:
    assert canonicalize_url(url) == canonical
    assert canonicalize_url(canonical) == canonical  # idempotent


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=20), "just now"),
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(minutes=45), "45 minutes ago"),
        (timedelta(hours=2, minutes=10), "2 hours ago"),
        (timedelta(hours=30), "yesterday"),
        (timedelta(days=3), "3 days ago"),
        (timedelta(days=40), "12 Oct"),
    ],
)
def test_relative_times(delta: timedelta, expected: str) -> None:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    assert relative_time(now - delta, now) == expected


def test_scheduler_polls_due_sources_once_per_interval(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    publisher = load_corpus().publisher("meridian-times")
    assert publisher is not None
    add_source(database, settings, publishers.url(feed_path(publisher)))
    scheduler = Scheduler(database, settings)
    first = scheduler.run_due()
    assert [r.status for r in first] == ["ok"]
    assert first[0].articles_new > 0
    assert scheduler.run_due() == []  # not due again until its interval has passed
    with database.session() as session:
        source = session.scalars(select(Source)).one()
        assert source.next_fetch_at is not None
        assert source.next_fetch_at > datetime.now(UTC) + timedelta(minutes=20)
    scheduler.start()
    scheduler.stop()
