"""Benchmark: a full refresh of the demo corpus into a fresh SQLite file (pages/s, latency, memory).

Run with `make bench`. Prints one row per run and a summary; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from tidings.config import Settings
from tidings.db.session import Database
from tidings.demo.corpus import load_corpus
from tidings.demo.runner import demo_settings, start_demo
from tidings.demo.site import render_article_page
from tidings.ingest.extract import extract_article
from tidings.ingest.pipeline import refresh_all


def one_refresh(directory: Path, run: int, *, faults: bool) -> tuple[int, float]:
    """One full refresh with `tidings demo`'s settings; `faults` keeps its broken publishers."""
    settings = demo_settings(
        Settings(_env_file=None, database_url=f"sqlite:///{directory / f'bench-{run}-{faults}.db'}")  # type: ignore[call-arg]
    )
    database = Database(settings.database_url)
    setup = start_demo(database, settings, publisher_port=0, faults=faults)
    try:
        clock = time.perf_counter()
        reports = refresh_all(database, settings)
        elapsed = time.perf_counter() - clock
    finally:
        setup.server.stop()
        database.dispose()
    return sum(report.pages_fetched for report in reports), elapsed


def extraction_latency() -> list[float]:
    """Per-page extraction time over the demo pages (no network, no database)."""
    corpus = load_corpus()
    anchor = datetime(2026, 11, 20, 12, tzinfo=UTC)
    pages = [
        render_article_page(corpus, publisher, article, anchor, "http://bench.example")
        for publisher in corpus.publishers
        for article in corpus.articles_of(publisher.slug)
    ]
    timings = []
    for html in pages:
        clock = time.perf_counter()
        extract_article(html, "http://bench.example/page.html")
        timings.append(time.perf_counter() - clock)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        print(f"{'run':>4} {'faults':>7} {'pages':>6} {'seconds':>8} {'pages/s':>8}")
        rates = []
        for run in range(1, args.runs + 1):
            for faults in (False, True):
                pages, elapsed = one_refresh(directory, run, faults=faults)
                if not faults:
                    rates.append(pages / elapsed)
                print(f"{run:>4} {faults!s:>7} {pages:>6} {elapsed:>8.2f} {pages / elapsed:>8.1f}")
        timings = sorted(extraction_latency())
    p50 = statistics.median(timings) * 1000
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))] * 1000
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nfull demo refresh without the deliberate faults: median "
        f"{statistics.median(rates):.1f} pages/s over {args.runs} runs "
        "(with them, the slow feed and slow page set the pace: the 6 s time limit)"
    )
    print(f"extraction per page: p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(timings)} pages)")
    print(f"peak memory (RSS): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
