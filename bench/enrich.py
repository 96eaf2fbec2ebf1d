"""Enrichment speed as the store grows: articles/s and ms/article at 10k, 100k (and 1M) stored.

For each size, a SQLite store is filled in bulk with synthetic enriched articles (random
vectors and signatures, spread over a year, so the ANN and LSH indexes hold every one of them
and the story clusterer the last week's; headlines of 8 words from a Zipf-distributed
20,000-word vocabulary). An Enricher loads it as on a first start (no snapshot: every index
is rebuilt from the database, then saved beside it), a second one as on a restart (from the
snapshot), and the second then enriches the demo corpus' 158 real articles one by one:
language, hashtags, vector, duplicate, story and the story summary, each committed. Flat
figures across sizes mean no per-article step grows with the store.

Each size is timed with the hashtag helper process (the default on two cores or more) and
without it (as on one core), the two taking turns --repeat times; a row pools every article's
time of its runs. Before timing, each process loads its models and dictionaries (one article
per language), as a long-running server has.

    python bench/enrich.py                 # 10k and 100k
    python bench/enrich.py --sizes 10000 100000 1000000
    python bench/enrich.py --sizes 1000000 --store /tmp/enrich-stores   # keep the filled store

With --store, each size's filled and indexed store (database and snapshot) is kept in that
folder and reused by later runs, which then skip the bulk load and the first start (printed
as "kept"); every run times a fresh copy of it, so the kept store never holds demo articles.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import event, insert

from tidings.config import Settings, get_settings
from tidings.db.migrate import upgrade
from tidings.db.models import Article, ArticleFeatures, Source
from tidings.db.session import Database
from tidings.demo.corpus import Corpus, load_corpus
from tidings.enrich import dedupe, taghelper
from tidings.enrich.embed import get_embedder
from tidings.enrich.features import story_terms
from tidings.enrich.lang import detect_language
from tidings.enrich.service import Enricher
from tidings.enrich.vectors import to_bytes

_BATCH = 20_000
# Synthetic headlines draw from a Zipf-distributed vocabulary, as real news does: a few words
# are everywhere, most are rare, so subjects form groups of realistic size.
_VOCABULARY = [f"w{n}" for n in range(20_000)]
_ZIPF = 1.0 / np.arange(1, len(_VOCABULARY) + 1)
_ZIPF /= _ZIPF.sum()


def fill(database: Database, size: int, dim: int, model: str) -> float:
    """Bulk-load `size` synthetic enriched articles; returns rows/s."""
    rng = np.random.default_rng(7)
    now = datetime.now(UTC)
    clock = time.monotonic()
    # Only while filling this scratch store (a crash may lose it; the fill is not what is
    # timed): enrichment below runs with the synchronous=NORMAL of every Tidings connection.
    database.engine.dispose()
    event.listen(database.engine, "connect", _unsynchronised)
    with database.session() as session:
        session.add(Source(id=1, name="Synthetic", feed_url="http://127.0.0.1/synthetic.xml"))
    for start in range(0, size, _BATCH):
        ids = range(start + 1, min(size, start + _BATCH) + 1)
        vectors = rng.standard_normal((len(ids), dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        word_ids = rng.choice(len(_VOCABULARY), size=(len(ids), 8), p=_ZIPF)
        articles, features = [], []
        for offset, article_id in enumerate(ids):
            published = now - timedelta(minutes=int(rng.integers(10, 525_600)))
            words = [_VOCABULARY[i] for i in word_ids[offset]]
            articles.append(
                {
                    "id": article_id,
                    "source_id": 1,
                    "url": f"http://127.0.0.1/synthetic/{article_id}",
                    "original_url": f"http://127.0.0.1/synthetic/{article_id}",
                    "title": " ".join(words),
                    "body": "",
                    "authors": [],
                    "captions": [],
                    "enclosures": [],
                    "extracted_from": "feed",
                    "saved": False,
                    "entry_hash": "",
                    "content_hash": "",
                    "published_at": published,
                    "fetched_at": now,
                    "created_at": now,
                    "enriched_at": now,
                    "story_id": article_id,
                    "language": "en",
                }
            )
            minhash = rng.integers(0, 2**32, size=dedupe.NUM_PERM, dtype=np.uint64)
            features.append(
                {
                    "article_id": article_id,
                    "model": model,
                    "vector": to_bytes(vectors[offset]),
                    "minhash": minhash.tobytes(),
                    "terms": dict.fromkeys(words, 1.0),
                }
            )
        with database.session() as session:
            session.execute(insert(Article), articles)
            session.execute(insert(ArticleFeatures), features)
    event.remove(database.engine, "connect", _unsynchronised)
    database.engine.dispose()
    return size / (time.monotonic() - clock)


def _unsynchronised(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA synchronous=OFF")


def _settings(folder: Path, helper: bool = True) -> Settings:
    return get_settings(database_url=f"sqlite:///{folder / 'bench.db'}", enrich_helper=helper)


def _peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory of this process, or of another one (Linux's /proc)."""
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def prepare(folder: Path, size: int) -> tuple[float, float]:
    """Fill a store in `folder` and start an Enricher on it once (the rebuild, then saved);
    returns bulk-load rows/s and first-start seconds."""
    settings = _settings(folder)
    database = Database(settings.database_url)
    upgrade(database)
    embedder = get_embedder(settings.embedding_backend)
    rows_per_s = fill(database, size, embedder.dim, embedder.name)
    clock = time.monotonic()
    Enricher(database, settings).ensure_current()  # first start: rebuild, then save
    rebuild_s = time.monotonic() - clock
    database.dispose()
    print(
        f"  {size:,}: bulk load {rows_per_s:,.0f} rows/s, rebuild {rebuild_s:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    return rows_per_s, rebuild_s


def run(size: int, store: Path | None, helper: bool) -> dict[str, Any]:
    """Time one size, with the hashtag helper process or without; the bulk load and first
    start are None when a kept store was reused."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        rows_per_s: float | None = None
        rebuild_s: float | None = None
        kept = store / str(size) if store is not None else None
        if kept is not None and (kept / "bench.db").is_file():
            shutil.copytree(kept, folder, dirs_exist_ok=True)
        else:
            rows_per_s, rebuild_s = prepare(folder, size)
            if kept is not None:
                shutil.copytree(folder, kept)
        settings = _settings(folder, helper)
        database = Database(settings.database_url)
        enricher = Enricher(database, settings)
        clock = time.monotonic()
        enricher.ensure_current()  # restart: from the snapshot
        load_s = time.monotonic() - clock
        corpus = load_corpus()
        _warm_up(corpus, helper)
        now = datetime.now(UTC)
        timings = []
        for number, demo in enumerate(sorted(corpus.articles, key=lambda a: -a.hours_ago)):
            with database.session() as session:
                article = Article(
                    id=size + number + 1,
                    source_id=1,
                    url=f"http://127.0.0.1/demo/{demo.publisher}/{demo.slug}",
                    original_url=f"http://127.0.0.1/demo/{demo.publisher}/{demo.slug}",
                    title=demo.title,
                    body="\n\n".join(demo.text),
                    entry_hash="",
                    content_hash="",
                    published_at=demo.published_at(now),
                )
                session.add(article)
            clock = time.monotonic()
            enricher.enrich([size + number + 1])
            timings.append(time.monotonic() - clock)
        database.dispose()
    return {
        "fill_rows_s": rows_per_s,
        "rebuild_s": rebuild_s,
        "load_s": load_s,
        "timings": timings,
        "max_rss_mb": _peak_rss_mb(),
        "helper_rss_mb": _peak_rss_mb(taghelper.helper().pid) if helper else None,
    }


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row from repeated runs: every article's time pooled, the first run's store figures."""
    timings = [seconds for run in runs for seconds in run["timings"]]
    return {
        **runs[0],
        "load_s": statistics.median(run["load_s"] for run in runs),
        "median_ms": statistics.median(timings) * 1000,
        "p90_ms": statistics.quantiles(timings, n=10)[-1] * 1000,
        "articles_s": len(timings) / sum(timings),
        "max_rss_mb": max(run["max_rss_mb"] for run in runs),
    }


def _warm_up(corpus: Corpus, helper: bool) -> None:
    """Load what a long-running process has loaded (models, dictionaries, caches) before the
    timing starts: in this process what it runs itself, in the helper what the helper runs."""
    seen: set[str | None] = set()
    for demo in corpus.articles:  # one article of each language
        body = "\n\n".join(demo.text)
        language = detect_language(f"{demo.title}\n{body}")
        if language in seen:
            continue
        seen.add(language)
        story_terms(demo.title, body, language)
        dedupe.signature(demo.title, body)
        extract = taghelper.helper().extract if helper else taghelper.here
        with extract(demo.title, body, language) as found:
            found.result()


def _or_kept(value: float | None, spec: str) -> str:
    return "kept" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--store", type=Path, help="keep filled stores here and reuse them")
    parser.add_argument(
        "--helper",
        choices=["on", "off"],
        nargs="+",
        default=["on", "off"],
        help="with the hashtag helper process (the default), without it (one core), or both",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per size and mode, taking turns (default 3)"
    )
    args = parser.parse_args()
    print(
        f"enrichment with the {get_settings().embedding_backend!r} backend, SQLite, {sys.platform}"
    )
    print(
        "| stored articles | hashtag helper | bulk load rows/s | first start (rebuild) s "
        "| restart (snapshot) s | median ms/article | p90 ms | articles/s "
        "| peak RSS MB (+ helper) |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as scratch:
        store = args.store or Path(scratch)  # without --store, stores are kept for this run
        for size in args.sizes:
            # The modes take turns, so a slower spell of a shared machine hits both.
            runs: dict[str, list[dict[str, Any]]] = {helper: [] for helper in args.helper}
            for _ in range(args.repeat):
                for helper in args.helper:
                    runs[helper].append(run(size, store, helper == "on"))
            for helper in args.helper:
                _print_row(size, helper, summary(runs[helper]))


def _print_row(size: int, helper: str, row: dict[str, Any]) -> None:
    helper_rss = "" if row["helper_rss_mb"] is None else f" + {row['helper_rss_mb']:.0f}"
    print(
        f"| {size:,} | {helper} | {_or_kept(row['fill_rows_s'], ',.0f')} "
        f"| {_or_kept(row['rebuild_s'], '.1f')} | {row['load_s']:.1f} "
        f"| {row['median_ms']:.1f} | {row['p90_ms']:.1f} | {row['articles_s']:.0f} "
        f"| {row['max_rss_mb']:.0f}{helper_rss} |",
        flush=True,
    )


if __name__ == "__main__":
    main()
