"""Crash safety: kill -9 during a refresh and during a migration; nothing lost, nothing doubled."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select, text

from tests.test_cli import tidings_env
from tidings.db.migrate import current_revision, upgrade
from tidings.db.models import Article
from tidings.db.session import Database
from tidings.demo.corpus import load_corpus
from tidings.demo.server import PublisherServer
from tidings.demo.site import article_path, feed_path
from tidings.ingest.sources import register_source

ROOT = Path(__file__).parent.parent
HISTORY = [
    path.name.split("_")[0]
    for path in sorted((ROOT / "src/tidings/db/migrations/versions").glob("0*.py"))
]


def snapshot(database: Database) -> dict[str, str]:
    """Every article's URL and content fingerprint."""
    with database.session() as session:
        rows = session.execute(select(Article.url, Article.content_hash)).all()
    return {row.url: row.content_hash for row in rows}


def tidings_process(db: str, *args: str) -> subprocess.Popen[bytes]:
    env = tidings_env(db) | {"TIDINGS_FETCH_CONCURRENCY": "2"}
    return subprocess.Popen(
        [sys.executable, "-m", "tidings", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_kill_9_during_a_refresh_loses_and_doubles_nothing(
    empty_database_url: str, publishers: PublisherServer
) -> None:
    corpus = load_corpus()
    publisher = corpus.publisher("gangwan-daily")
    assert publisher is not None
    for article in corpus.articles_of(publisher.slug):  # slow pages: the kill lands mid-refresh
        path = article_path(publisher, article)
        page = publishers.site.respond(path)
        page.delay_s = 0.15
        publishers.site.overrides[path] = page
    db = empty_database_url
    database = Database(db)
    upgrade(database)
    register_source(database, publishers.url(feed_path(publisher)))
    process = tidings_process(db, "refresh")
    deadline = time.monotonic() + 60
    while len(snapshot(database)) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = snapshot(database)
    total = len(corpus.articles_of(publisher.slug))
    assert 5 <= len(before) < total  # killed half-way
    finished = tidings_process(db, "refresh")
    assert finished.wait(timeout=120) == 0
    after = snapshot(database)
    assert len(after) == total
    with database.session() as session:
        rows = session.scalar(select(func.count(Article.id)))
    assert rows == total  # nothing doubled
    assert all(
        after[url] == fingerprint for url, fingerprint in before.items()
    )  # nothing lost or changed
    database.dispose()


def test_kill_9_during_migrations_keeps_the_data(empty_database_url: str) -> None:
    db = empty_database_url
    database = Database(db)
    upgrade(database, "0001")
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO sources (id, name, feed_url, status, created_at) "
                "VALUES (1, 'S', 'http://s.example/feed', 'ok', '2026-11-20 10:00:00')"
            )
        )
        for n in range(200):
            connection.execute(
                text(
                    "INSERT INTO articles (source_id, url, original_url, title, authors, captions, body, "
                    "extracted_from, entry_hash, content_hash, published_at, fetched_at, created_at) "
                    f"VALUES (1, 'http://s.example/{n}', 'http://s.example/{n}', 'T{n}', '[]', '[]', "
                    f"'Body {n}', 'page', 'e{n}', 'c{n}', '2026-11-20 10:00:00', '2026-11-20 10:00:00', "
                    "'2026-11-20 10:00:00')"
                )
            )
    before = snapshot(database)
    random.seed(7)
    for _ in range(8):  # kill the upgrade at different moments
        process = tidings_process(db, "db", "upgrade")
        time.sleep(random.uniform(0.3, 1.2))
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert current_revision(database) in HISTORY
        assert snapshot(database) == before
    finished = tidings_process(db, "db", "upgrade")
    assert finished.wait(timeout=60) == 0
    assert current_revision(database) == HISTORY[-1]
    assert snapshot(database) == before
    database.dispose()
