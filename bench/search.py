"""Search latency on SQLite (FTS5) and PostgreSQL (tsvector + GIN): the demo, then 100k articles.

For each database and size, a store is filled in bulk (the search index is kept by the same
triggers as in production, so the fill rate includes indexing): the ingested demo corpus
first, then synthetic articles made of eight sentences drawn at random from the demo's 158
English and Chinese articles, so word frequencies are those of real news and a demo query
matches a realistic share of the store. Then each query runs repeatedly through
`search_articles` (ranking, the page's articles, highlighted snippets), best match first and
newest first, and p50/p99 are printed per query.

    python bench/search.py                        # demo and 100k, SQLite and PostgreSQL
    python bench/search.py --sizes 10000 --databases sqlite
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, insert, text

from tidings.config import Settings
from tidings.db.models import Article
from tidings.db.session import Database
from tidings.demo.corpus import load_corpus
from tidings.demo.runner import refresh_demo, start_demo
from tidings.search import SearchFilters, search_articles

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
QUERIES = [
    ("rare word", "panda cub"),
    ("phrase", '"storm signal"'),
    ("three words", "nurses strike ballot"),
    ("prefix", "tunn"),
    ("common words", "Port Aurelia"),
    ("Chinese", "全線加價"),
    ("no match", "zzzzqqq"),
]
_BATCH = 5_000
_SENTENCES_PER_ARTICLE = 8


@contextmanager
def store(kind: str) -> Iterator[str]:
    """A database URL for a fresh store of `kind` (a temporary file or a temporary schema)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{Path(directory) / 'search.db'}"
        return
    name = f"bench_search_{int(time.time())}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {name}"))
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()


def ingest_demo(url: str) -> Database:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=url,
        allow_private_hosts=["127.0.0.1"],
        scheduler_enabled=False,
        fetch_total_timeout_s=2.0,
        fetch_max_bytes=2**21,
        fetch_per_host_delay_s=0.0,
    )
    database = Database(url)
    setup = start_demo(database, settings, publisher_port=0)
    try:
        refresh_demo(database, settings, setup)
    finally:
        setup.server.stop()
    return database


def fill(database: Database, total: int) -> float:
    """Add synthetic articles until the store holds `total`; returns rows/s (indexing included)."""
    corpus = load_corpus()
    languages = {publisher.slug: publisher.language for publisher in corpus.publishers}
    sentences: list[tuple[str, str]] = []
    for article in corpus.articles:
        for paragraph in article.paragraphs:
            for sentence in paragraph.replace("。", "。\n").replace(". ", ".\n").splitlines():
                if len(sentence) > 20:
                    sentences.append((sentence.strip(), languages[article.publisher]))
    with database.session() as session:
        have = session.scalar(text("SELECT count(*) FROM articles")) or 0
        first_id = (session.scalar(text("SELECT max(id) FROM articles")) or 0) + 1
        source_id = session.scalar(text("SELECT min(id) FROM sources"))
    rng = np.random.default_rng(7)
    now = datetime.now(UTC)
    clock = time.monotonic()
    for start in range(first_id, first_id + total - have, _BATCH):
        rows = []
        for article_id in range(start, min(first_id + total - have, start + _BATCH)):
            picks = [sentences[i] for i in rng.integers(0, len(sentences), _SENTENCES_PER_ARTICLE)]
            body = "\n\n".join(sentence for sentence, _ in picks)
            rows.append(
                {
                    "id": article_id,
                    "source_id": source_id,
                    "url": f"http://127.0.0.1/synthetic/{article_id}",
                    "original_url": f"http://127.0.0.1/synthetic/{article_id}",
                    "title": picks[0][0][:120],
                    "body": body,
                    "language": picks[0][1],
                    "authors": [],
                    "captions": [],
                    "enclosures": [],
                    "extracted_from": "feed",
                    "saved": False,
                    "entry_hash": "",
                    "content_hash": "",
                    "published_at": now - timedelta(minutes=int(rng.integers(10, 525_600))),
                    "fetched_at": now,
                    "created_at": now,
                }
            )
        with database.session() as session:
            session.execute(insert(Article), rows)
    return (total - have) / max(time.monotonic() - clock, 1e-9)


def measure(database: Database, repeat: int) -> dict[tuple[str, str], tuple[float, float, int]]:
    """(query label, sort) -> (p50 ms, p99 ms, hits on the first page)."""
    results = {}
    with database.session() as session:
        for label, query in QUERIES:
            for sort in ("relevance", "time"):
                timings, hits = [], 0
                for _ in range(repeat):
                    clock = time.perf_counter()
                    page = search_articles(session, query, SearchFilters(sort=sort), limit=20)
                    timings.append((time.perf_counter() - clock) * 1000)
                    hits = len(page.hits)
                timings.sort()
                p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
                results[(label, sort)] = (statistics.median(timings), p99, hits)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    print("| database | articles | fill rows/s | query | sort | hits | p50 ms | p99 ms |")
    print("|---|---:|---:|---|---|---:|---:|---:|")
    for kind in args.databases:
        with store(kind) as url:
            database = ingest_demo(url)
            try:
                for size in [0, *args.sizes]:
                    rate = fill(database, size) if size else 0.0
                    with database.session() as session:
                        count = session.scalar(text("SELECT count(*) FROM articles"))
                    if kind == "postgresql":
                        with database.engine.connect() as connection:
                            connection.execute(text("ANALYZE"))
                            connection.commit()
                    for (label, sort), (p50, p99, hits) in measure(database, args.repeat).items():
                        fill_rate = f"{rate:,.0f}" if rate else "—"
                        print(
                            f"| {kind} | {count:,} | {fill_rate} | {label} | {sort} | {hits} "
                            f"| {p50:.1f} | {p99:.1f} |",
                            flush=True,
                        )
            finally:
                database.dispose()


if __name__ == "__main__":
    sys.exit(main())
