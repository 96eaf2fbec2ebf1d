"""Benchmark: ingest of a 1,000-item local feed, (a) feed-only and (b) with every page fetched.

Items/s and peak memory for each mode, each in its own process (so the peak is its own),
against the demo publisher server on 127.0.0.1. Run with `make bench-ingest`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from tidings.config import Settings
from tidings.db.migrate import upgrade
from tidings.db.session import Database
from tidings.demo.corpus import load_corpus
from tidings.demo.server import PublisherServer, Response
from tidings.demo.site import article_path
from tidings.ingest.pipeline import refresh_source
from tidings.ingest.sources import SourceSettings, register_source, update_source_settings

ANCHOR = datetime(2026, 11, 20, 12, tzinfo=UTC)


def big_feed(server: PublisherServer, items: int) -> str:
    """An RSS feed of `items` entries; each links to its own copy of a demo article page."""
    corpus = load_corpus()
    pairs = [(p, a) for p in corpus.publishers for a in corpus.articles_of(p.slug)]
    entries = []
    for n in range(items):
        publisher, article = pairs[n % len(pairs)]
        path = f"/bench/{n}.html"
        original = article_path(publisher, article)
        page = server.site.respond(original)
        # Each copy is its own article: its canonical URL names the copy, not the original.
        page.body = page.body.replace(server.url(original).encode(), server.url(path).encode())
        server.site.overrides[path] = page
        content = "".join(f"<p>{p}</p>" for p in article.text)
        entries.append(
            f"<item><title>{n}: {article.title}</title><link>{server.url(path)}</link>"
            f"<guid>bench-{n}</guid><pubDate>{format_datetime(ANCHOR - timedelta(minutes=n))}</pubDate>"
            f"<description><![CDATA[{article.description}]]></description>"
            f"<content:encoded><![CDATA[{content}]]></content:encoded></item>"
        )
    feed = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Bench</title>'
        f"<link>{server.url('/')}</link>{''.join(entries)}</channel></rss>"
    )
    server.site.overrides["/bench.xml"] = Response(200, "application/rss+xml", feed.encode())
    return server.url("/bench.xml")


def run(mode: str, items: int, folder: str, queue: multiprocessing.Queue[dict[str, float]]) -> None:
    server = PublisherServer(ANCHOR, port=0, faults=False).start()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{folder}/{mode}.db",
        allow_private_hosts=["127.0.0.1"],
        fetch_per_host_delay_s=0.0,
        fetch_per_host_concurrency=8,
        fetch_max_pages_per_refresh=items,
    )
    database = Database(settings.database_url)
    upgrade(database)
    source = register_source(database, big_feed(server, items)).source
    update_source_settings(database, source.id, SourceSettings(fetch_pages=mode == "full-page"))
    clock = time.perf_counter()
    report = refresh_source(database, settings, source.id)
    seconds = time.perf_counter() - clock
    server.stop()
    queue.put(
        {
            "items": report.articles_new,
            "pages": report.pages_fetched,
            "seconds": seconds,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=1000)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    print(f"{'mode':<10} {'items':>6} {'pages':>6} {'seconds':>8} {'items/s':>8} {'peak MB':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for mode in ("feed-only", "full-page"):
            queue: multiprocessing.Queue[dict[str, float]] = context.Queue()
            process = context.Process(target=run, args=(mode, args.items, folder, queue))
            process.start()
            result = queue.get()
            process.join()
            print(
                f"{mode:<10} {result['items']:>6.0f} {result['pages']:>6.0f} {result['seconds']:>8.1f} "
                f"{result['items'] / result['seconds']:>8.1f} {result['peak_mb']:>8.0f}",
                flush=True,
            )
    print(json.dumps({"note": "SQLite file, 2-core machine, local server; see docs/benchmarks.md"}))


if __name__ == "__main__":
    main()
