"""Benchmark: ingest pages/s with 1, 2 and 4 `tidings worker` processes, SQLite and PostgreSQL.

40 local publishers (one port each, so 40 hosts to the politeness rules) serve 50 articles
each — 2,000 pages, copies of the demo corpus' article pages — from this process on
127.0.0.1. For each database and worker count: a fresh database with the 40 sources, a
flushed Redis database, N workers started (`tidings worker --queues fetch`) and seen alive,
then 40 refresh jobs enqueued; the clock stops when every source has been polled. Enrichment
is left out (its queue has no worker here): this measures fetch + extract + store.
Run with `make bench-ingest-scale`; needs Redis (and PostgreSQL for its rows).
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import redis
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from tidings.config import Settings
from tidings.db.migrate import upgrade
from tidings.db.models import Article, FetchLog
from tidings.db.session import Database
from tidings.demo.corpus import load_corpus
from tidings.demo.server import PublisherServer, Response
from tidings.demo.site import article_path
from tidings.ingest.sources import register_source
from tidings.jobs import deadletters
from tidings.jobs.queue import enqueue

ANCHOR = datetime(2026, 11, 20, 12, tzinfo=UTC)
POSTGRES = os.environ.get(
    "TIDINGS_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS = os.environ.get("TIDINGS_BENCH_REDIS", "redis://127.0.0.1:6379/14")
FEED = "/bench/feed.xml"


def publisher_servers(hosts: int, per_host: int) -> list[PublisherServer]:
    """`hosts` servers, each with a feed of `per_host` entries linking to its own pages."""
    corpus = load_corpus()
    pairs = [(p, a) for p in corpus.publishers for a in corpus.articles_of(p.slug)]
    servers = []
    for host in range(hosts):
        server = PublisherServer(ANCHOR, port=0, faults=False, corpus=corpus).start()
        entries = []
        for n in range(per_host):
            publisher, article = pairs[(host * per_host + n) % len(pairs)]
            path = f"/bench/{n}.html"
            original = article_path(publisher, article)
            page = server.site.respond(original)
            page.body = page.body.replace(server.url(original).encode(), server.url(path).encode())
            server.site.overrides[path] = page
            published = format_datetime(ANCHOR - timedelta(minutes=n))
            entries.append(
                f"<item><title>{n}: {article.title}</title><link>{server.url(path)}</link>"
                f"<guid>bench-{host}-{n}</guid><pubDate>{published}</pubDate></item>"
            )
        feed = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Bench host {host}</title><link>{server.url('/')}</link>"
            f"{''.join(entries)}</channel></rss>"
        )
        server.site.overrides[FEED] = Response(200, "application/rss+xml", feed.encode())
        servers.append(server)
    return servers


def fresh_database(backend: str, workdir: Path, label: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{workdir / f'{label}.db'}"
    name = f"tidings_bench_scale_{label}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return POSTGRES.rsplit("/", 1)[0] + f"/{name}"


def run_once(
    backend: str,
    workers: int,
    servers: list[PublisherServer],
    workdir: Path,
    threads: int,
    delay_s: float,
) -> tuple[int, float, float]:
    """Pages stored, seconds taken and the workers' CPU seconds with `workers` processes."""
    cpu_before = _children_cpu_s()
    url = fresh_database(backend, workdir, f"{backend}_{workers}")
    database = Database(url)
    upgrade(database)
    ids = [register_source(database, s.url(FEED)).source.id for s in servers]
    client = redis.Redis.from_url(REDIS)
    client.flushdb()
    settings = Settings(_env_file=None, database_url=url, redis_url=REDIS)  # type: ignore[call-arg]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")},
        "TIDINGS_DATABASE_URL": url,
        "TIDINGS_REDIS_URL": REDIS,
        "TIDINGS_ALLOW_PRIVATE_HOSTS": "127.0.0.1",
        "TIDINGS_FETCH_PER_HOST_DELAY_S": str(delay_s),
    }
    command = [sys.executable, "-m", "tidings", "worker", "--queues", "fetch"]
    command += ["--concurrency", str(threads)]
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, cwd=workdir)
        for _ in range(workers)
    ]
    try:
        while deadletters.overview(settings).workers < workers:
            time.sleep(0.2)
        clock = time.monotonic()
        for source_id in ids:
            enqueue(database, settings, "refresh_source", source_id=source_id)
        while True:
            with database.session() as session:
                polled = session.scalar(select(func.count(func.distinct(FetchLog.source_id))))
            if polled == len(ids):
                break
            time.sleep(0.1)
        seconds = time.monotonic() - clock
        with database.session() as session:
            pages = session.scalar(select(func.count(Article.id))) or 0
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=120)
        client.flushdb()
        client.close()
        database.dispose()
    return pages, seconds, _children_cpu_s() - cpu_before


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers, once waited for
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=40)
    parser.add_argument("--per-host", type=int, default=50)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--threads", type=int, default=4, help="--concurrency of each worker")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--per-host-delay", type=float, default=0.25, help="TIDINGS_FETCH_PER_HOST_DELAY_S"
    )
    args = parser.parse_args()
    servers = publisher_servers(args.hosts, args.per_host)
    print(
        f"{args.hosts} hosts x {args.per_host} pages, workers x {args.threads} threads, "
        f"{os.cpu_count()} CPU cores; {args.per_host_delay} s between requests to a host"
    )
    print(
        f"{'database':<11} {'workers':>7} {'pages':>6} {'seconds':>8} {'pages/s':>8} "
        f"{'worker CPU':>10}"
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for backend in args.backends.split(","):
                for workers in (int(n) for n in args.workers.split(",")):
                    pages, seconds, cpu = run_once(
                        backend, workers, servers, Path(tmp), args.threads, args.per_host_delay
                    )
                    # Worker CPU as a share of the machine's cores over the run.
                    share = cpu / (seconds * (os.cpu_count() or 1))
                    print(
                        f"{backend:<11} {workers:>7} {pages:>6} {seconds:>8.1f} "
                        f"{pages / seconds:>8.1f} {share:>10.0%}",
                        flush=True,
                    )
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
