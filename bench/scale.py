"""Synthetic stores at volume for the scale benchmark: N articles with sources, stories,
hashtags, comments and the search index, bulk-loaded straight into the real schema.

The schema comes from `tidings db upgrade` (the migrations), then rows go in bulk: SQLite by
`executemany` in large transactions with the search triggers set aside (the FTS5 index is
then built in one statement), PostgreSQL by COPY with the search triggers disabled (the
tsvectors are then built in one INSERT ... SELECT). Rows/s is printed per table and overall.
Article text is made of sentences drawn at random from the demo corpus, so word frequencies
are those of real news.

    python bench/scale.py --size 100000 --database sqlite        # -> /tmp/tidings_bench_100000.db
    python bench/scale.py --size 1000000 --database postgresql   # -> database tidings_bench_1000000
    python bench/scale.py --size 100000 --database sqlite --print-url   # where it is, if built
    python bench/scale.py --size 100000 --database sqlite --service-time  # one request at a time

A store that is already complete is reused (the URL is printed); `--rebuild` starts over.
`bench/serve.sh` serves it and measures the pages with wrk.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import random
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tidings.db.migrate import upgrade
from tidings.db.session import Database
from tidings.demo.corpus import load_corpus

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SOURCES = 200
USERS = 100
TAGS = 5_000
TAGS_PER_ARTICLE = 3
STORY_SIZE = 4  # articles per story, from four different sources
STORY_SHARE = 0.8  # of articles in a multi-outlet story
COMMENT_EVERY = 20  # one comment per this many articles
SECONDS_APART = 30  # between two articles' publish times, newest now
SENTENCES = 8
BATCH = 20_000
DONE_KEY = "bench.scale.size"

Row = tuple[Any, ...]


def store_url(size: int, database: str) -> str:
    if database == "sqlite":
        return f"sqlite:////tmp/tidings_bench_{size}.db"
    return str(
        make_url(POSTGRES_SERVER).set(database=f"tidings_bench_{size}").render_as_string(False)
    )


def sentences() -> list[str]:
    found = []
    for article in load_corpus().articles:
        for paragraph in article.paragraphs:
            for sentence in paragraph.replace(". ", ".\n").splitlines():
                if len(sentence) > 20 and sentence.isascii():
                    found.append(sentence.strip())
    return found


class Generator:
    """The rows of one synthetic store, made deterministically from a seed."""

    def __init__(self, size: int, seed: int = 7) -> None:
        self.size = size
        self.random = random.Random(seed)
        self.pool = sentences()
        self.now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        self.story_count = int(size * STORY_SHARE) // STORY_SIZE
        # Zipf-like hashtag popularity: a few tags are on many articles, most on few.
        self.tag_weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(TAGS)))
        # Which article each comment is on, drawn first: articles carry their comment count.
        self.comment_targets = [self.random.randint(1, size) for _ in range(size // COMMENT_EVERY)]
        self.comment_counts: dict[int, int] = {}
        for article_id in self.comment_targets:
            self.comment_counts[article_id] = self.comment_counts.get(article_id, 0) + 1

    def published(self, article_id: int) -> datetime:
        return self.now - timedelta(seconds=SECONDS_APART * (self.size - article_id))

    def story_of(self, article_id: int) -> int | None:
        index = (article_id - 1) // STORY_SIZE + 1
        return index if index <= self.story_count else None

    def sources(self) -> Iterator[Row]:
        for source_id in range(1, SOURCES + 1):
            yield (source_id, f"Bench Source {source_id}", f"http://127.0.0.1/bench/{source_id}/feed",
                   f"http://127.0.0.1/bench/{source_id}/", "en", "ok", self.now, "feed",
                   True, False, 0, "[]", "{}")  # fmt: skip

    def users(self) -> Iterator[Row]:
        for user_id in range(1, USERS + 1):
            yield (user_id, f"reader{user_id}@example.org", f"Reader {user_id}", "!", "reader",
                   False, False, 0, self.now)  # fmt: skip

    def comments(self) -> Iterator[Row]:
        for comment_id, article_id in enumerate(self.comment_targets, start=1):
            body = self.random.choice(self.pool)
            yield (comment_id, "article", article_id, self.random.randint(1, USERS), body,
                   f"<p>{body}</p>", "visible", f"bench-{comment_id}",
                   self.published(article_id) + timedelta(minutes=5))  # fmt: skip

    def articles(self) -> Iterator[Row]:
        pick = self.random.choice
        for article_id in range(1, self.size + 1):
            story = self.story_of(article_id)
            # A story's articles come from consecutive sources; the rest from any source.
            source = (article_id % SOURCES) + 1 if story else self.random.randint(1, SOURCES)
            title = pick(self.pool)[:140]
            body = "\n\n".join(pick(self.pool) for _ in range(SENTENCES))
            url = f"http://127.0.0.1/bench/{source}/articles/{article_id}"
            yield (article_id, source, url, url, f"bench-{article_id}", title, "[]", "en", "[]",
                   body[:200], body, "page", "[]", False, "h", "h", self.published(article_id),
                   self.now, self.now, story, self.comment_counts.get(article_id, 0))  # fmt: skip

    def stories(self) -> Iterator[Row]:
        for story_id in range(1, self.story_count + 1):
            first = (story_id - 1) * STORY_SIZE + 1
            last = first + STORY_SIZE - 1
            title = self.random.choice(self.pool)[:140]
            yield (story_id, title, first, self.published(first), self.published(last),
                   STORY_SIZE, STORY_SIZE, '["en"]', "[]", self.now, 0)  # fmt: skip

    def article_tags(self) -> Iterator[Row]:
        choose = self.random.choices
        for article_id in range(1, self.size + 1):
            for tag_id in set(
                choose(range(1, TAGS + 1), cum_weights=self.tag_weights, k=TAGS_PER_ARTICLE)
            ):
                yield (article_id, tag_id, f"topic {tag_id}", 1.0)

    def tags(self) -> Iterator[Row]:
        for tag_id in range(1, TAGS + 1):
            name = f"Topic{tag_id}"
            yield (tag_id, f"bench:{tag_id}", name.lower(), name, f"topic {tag_id}", 0)


COLUMNS = {
    "sources": "id, name, feed_url, site_url, language, status, created_at, kind, fetch_pages, "
    "paused, failure_count, extract_remove_selectors, template_paragraphs",
    "users": "id, email, display_name, password_hash, role, banned, deleted, failed_logins, "
    "created_at",
    "comments": "id, target_type, target_id, user_id, body, html, status, submission_id, "
    "created_at",
    "articles": "id, source_id, url, original_url, guid, title, authors, language, captions, "
    "summary, body, extracted_from, enclosures, saved, entry_hash, content_hash, published_at, "
    "fetched_at, created_at, story_id, comment_count",
    "stories": "id, title, lead_article_id, first_published_at, last_published_at, "
    "article_count, source_count, languages, tags, updated_at, comment_count",
    "tags": "id, key, slug, name, label, article_count",
    "article_tags": "article_id, tag_id, label, score",
}


def batches(rows: Iterable[Row], size: int = BATCH) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _sqlite_value(value: Any) -> Any:
    # SQLAlchemy's SQLite DateTime storage format, so the app reads these back.
    return value.isoformat(" ", "microseconds") if isinstance(value, datetime) else value


class SQLiteLoader:
    """executemany in large transactions; the FTS5 triggers set aside during the load."""

    def __init__(self, url: str) -> None:
        self.connection = sqlite3.connect(make_url(url).database or "", isolation_level=None)
        for pragma in ("synchronous=OFF", "cache_size=-400000", "temp_store=MEMORY"):
            self.connection.execute(f"PRAGMA {pragma}")
        self.triggers = self.connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%fts%'"
        ).fetchall()

    def __enter__(self) -> SQLiteLoader:
        for name, _sql in self.triggers:
            self.connection.execute(f"DROP TRIGGER {name}")
        return self

    def load(self, table: str, rows: Iterable[Row]) -> int:
        columns = COLUMNS[table]
        marks = ", ".join("?" for _ in columns.split(","))
        count = 0
        for batch in batches(rows):
            self.connection.execute("BEGIN")
            self.connection.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                ([_sqlite_value(value) for value in row] for row in batch),
            )
            self.connection.execute("COMMIT")
            count += len(batch)
        return count

    def execute(self, statement: str) -> None:
        self.connection.execute(statement)

    def index_search(self) -> None:
        # The rows the insert trigger would have written, in one pass (tidings_cjk is only
        # needed for CJK text, and the synthetic text is ASCII).
        self.connection.execute(
            "INSERT INTO articles_fts (rowid, title, body, publisher, tags) "
            "SELECT a.id, a.title, a.body, s.name, "
            "(SELECT group_concat(t.name || ' ' || t.label, ' ') FROM article_tags x "
            " JOIN tags t ON t.id = x.tag_id WHERE x.article_id = a.id) "
            "FROM articles a JOIN sources s ON s.id = a.source_id"
        )

    def __exit__(self, *_exc: object) -> None:
        for _name, sql in self.triggers:
            self.connection.execute(sql)
        self.connection.execute("ANALYZE")
        self.connection.close()


class PostgresLoader:
    """COPY per table; the search triggers disabled during the load."""

    TRIGGERS = (
        ("articles", "articles_search_index"),
        ("article_tags", "article_tags_search_index"),
    )

    def __init__(self, url: str) -> None:
        import psycopg

        plain = make_url(url).set(drivername="postgresql").render_as_string(False)
        self.connection = psycopg.connect(plain, autocommit=True)

    def __enter__(self) -> PostgresLoader:
        for table, trigger in self.TRIGGERS:
            self.connection.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        return self

    def load(self, table: str, rows: Iterable[Row]) -> int:
        count = 0
        statement = f"COPY {table} ({COLUMNS[table]}) FROM STDIN"
        with self.connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count

    def execute(self, statement: str) -> None:
        self.connection.execute(statement)

    def index_search(self) -> None:
        self.connection.execute(
            "INSERT INTO articles_search (article_id, document) "
            "SELECT a.id, "
            "setweight(to_tsvector(tidings_ts_config(a.language), a.title), 'A') || "
            "setweight(to_tsvector(tidings_ts_config(a.language), coalesce(g.words, '')), 'A') || "
            "setweight(to_tsvector('simple', s.name), 'B') || "
            "setweight(to_tsvector(tidings_ts_config(a.language), a.body), 'C') "
            "FROM articles a JOIN sources s ON s.id = a.source_id LEFT JOIN ("
            " SELECT x.article_id, string_agg(t.name || ' ' || t.label, ' ') AS words "
            " FROM article_tags x JOIN tags t ON t.id = x.tag_id GROUP BY x.article_id"
            ") g ON g.article_id = a.id"
        )

    def __exit__(self, *_exc: object) -> None:
        for table in COLUMNS.keys() - {"article_tags"}:  # explicit ids: sequences past them
            self.connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"coalesce((SELECT max(id) FROM {table}), 1))"
            )
        for table, trigger in self.TRIGGERS:
            self.connection.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
        self.connection.execute("ANALYZE")
        self.connection.close()


def fresh_store(url: str) -> None:
    """An empty database at `url` (the file removed, or the database dropped and created)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            path = f"{parsed.database}{suffix}"
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        return
    admin = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {parsed.database} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {parsed.database}"))
    admin.dispose()


def built_size(url: str) -> int | None:
    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            value = connection.scalar(
                text("SELECT value FROM meta WHERE key = :k"), {"k": DONE_KEY}
            )
        engine.dispose()
        return int(value) if value else None
    except Exception:  # no file, no database, no table: not built
        return None


def build(size: int, url: str) -> None:
    fresh_store(url)
    database = Database(url)
    upgrade(database)
    database.dispose()
    generator = Generator(size)
    loader: SQLiteLoader | PostgresLoader = (
        SQLiteLoader(url) if url.startswith("sqlite") else PostgresLoader(url)
    )
    started = time.monotonic()
    total = 0
    with loader:
        steps: Sequence[tuple[str, Iterable[Row]]] = (
            ("sources", generator.sources()),
            ("users", generator.users()),
            ("stories", generator.stories()),
            ("articles", generator.articles()),
            ("comments", generator.comments()),
            ("tags", generator.tags()),
            ("article_tags", generator.article_tags()),
        )
        for table, rows in steps:
            clock = time.monotonic()
            count = loader.load(table, rows)
            total += count
            report(table, count, time.monotonic() - clock)
        clock = time.monotonic()
        loader.execute(
            "UPDATE tags SET article_count = (SELECT count(*) FROM article_tags x "
            "WHERE x.tag_id = tags.id)"
        )
        report("tag counts", TAGS, time.monotonic() - clock)
        clock = time.monotonic()
        loader.index_search()
        report("search index", size, time.monotonic() - clock)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO meta (key, value) VALUES (:k, :v)"), {"k": DONE_KEY, "v": str(size)}
        )
    engine.dispose()
    elapsed = time.monotonic() - started
    print(f"{'all rows':>14}: {total:>10,} in {elapsed:7.1f} s = {total / elapsed:>9,.0f} rows/s")


def report(table: str, count: int, seconds: float) -> None:
    rate = count / max(seconds, 1e-9)
    print(f"{table:>14}: {count:>10,} in {seconds:7.1f} s = {rate:>9,.0f} rows/s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rebuild", action="store_true", help="start over even if built")
    parser.add_argument("--print-url", action="store_true", help="print the store's URL only")
    parser.add_argument(
        "--service-time",
        action="store_true",
        help="then time each page in-process, one request at a time (p50/p99 ms, statements)",
    )
    args = parser.parse_args()
    url = store_url(args.size, args.database)
    if args.print_url:
        print(url)
        return 0
    if not args.rebuild and built_size(url) == args.size:
        print(f"reusing {url} ({args.size:,} articles)")
    else:
        print(f"building {url}: {args.size:,} articles", flush=True)
        build(args.size, url)
    if args.service_time:
        service_time(url, args.size)
    return 0


def pages(size: int) -> list[tuple[str, str]]:
    """The pages bench/serve.sh loads: the front, an article and a story from the middle of
    the store, the most used hashtag, a search for two common words."""
    return [("front", "/"), ("article", f"/articles/{size // 2}"),
            ("story", f"/stories/{size // 10}"), ("tag", "/tags/topic1"),
            ("search", "/search?q=council+vote")]  # fmt: skip


def service_time(url: str, size: int, repeat: int = 30) -> None:
    """Each page's time in the app with no queueing (one request at a time), and the SQL
    statements it runs: what "flat" means, apart from the load generator."""
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from tidings.config import Settings
    from tidings.web.app import create_app

    database = Database(url)
    settings = Settings(_env_file=None, database_url=url, scheduler_enabled=False)
    statements: list[str] = []
    event.listen(database.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    kind = make_url(url).get_backend_name()
    with TestClient(create_app(settings, database, run_scheduler=False)) as client:
        for name, path in pages(size):
            for _ in range(3):
                client.get(path)
            statements.clear()
            times = []
            for _ in range(repeat):
                clock = time.perf_counter()
                assert client.get(path).status_code == 200, path
                times.append(1000 * (time.perf_counter() - clock))
            times.sort()
            p50, p99 = times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]
            print(f"{size:<8} {kind:<10} {name:<8} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
                  f"{len(statements) // repeat:3d} statements")  # fmt: skip
    database.dispose()


if __name__ == "__main__":
    sys.exit(main())
