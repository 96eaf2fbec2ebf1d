"""The task queue on a real Redis: workers, retries, dead letters, leases, shared politeness."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from tests.conftest import FormClient, LiveServer, make_settings
from tidings.ai.features import Request, ai_service_for
from tidings.config import Settings
from tidings.db.migrate import upgrade
from tidings.db.models import AIResult, Article, ArticleTag, FetchLog, Source
from tidings.db.session import Database
from tidings.demo.corpus import load_corpus
from tidings.demo.server import PublisherServer
from tidings.demo.site import feed_path
from tidings.ingest import leases
from tidings.ingest.sources import register_source
from tidings.jobs import deadletters
from tidings.jobs.queue import context, enqueue
from tidings.jobs.worker import start_worker

REDIS_SERVER = os.environ.get("TIDINGS_TEST_REDIS", "redis://127.0.0.1:6379")
# This run's own database (flushed before and after each test); by process id, so that two
# test runs on one machine seldom share one.
REDIS_DB = 8 + os.getpid() % 8
CORPUS = load_corpus()
SLUGS = ["harbour-herald", "meridian-times", "northwind-wire"]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A flushed Redis database; skipped when Redis is down, unless CI=true (then it fails)."""
    url = f"{REDIS_SERVER}/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        reason = f"Redis at {REDIS_SERVER} is not reachable: {error}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI=true: the Redis tests must run)")
        pytest.skip(reason)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def queue_settings(database_url: str, redis_url: str, **overrides: object) -> Settings:
    return make_settings(
        database_url, redis_url=redis_url, job_max_retries=2, job_min_backoff_s=0.05,
        job_max_backoff_s=0.2, **overrides,
    )  # fmt: skip


@pytest.fixture
def queued(database_url: str, redis_url: str) -> Iterator[tuple[Database, Settings]]:
    settings = queue_settings(database_url, redis_url)
    database = Database(database_url)
    upgrade(database)
    context.set(database, settings)
    yield database, settings
    database.dispose()


def feed_url(server: PublisherServer, slug: str) -> str:
    publisher = CORPUS.publisher(slug)
    assert publisher is not None
    return server.url(feed_path(publisher))


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def count(database: Database, column: object) -> int:
    with database.session() as session:
        return session.scalar(select(func.count(column))) or 0  # type: ignore[arg-type]


def queues_idle(settings: Settings) -> bool:
    jobs = deadletters.overview(settings)
    client = redis.Redis.from_url(settings.redis_url or "")
    try:
        acks = client.keys("tidings:__acks__.*")
        in_flight = sum(client.scard(key) for key in acks)
    finally:
        client.close()
    return not in_flight and all(q.waiting == 0 and q.retrying == 0 for q in jobs.queues)


def test_a_worker_process_refreshes_a_queued_source_and_stops_cleanly(
    database_url: str, redis_url: str, publishers: PublisherServer, tmp_path: Path
) -> None:
    settings = queue_settings(database_url, redis_url)
    database = Database(database_url)
    upgrade(database)
    source = register_source(database, feed_url(publishers, "harbour-herald")).source
    env = {
        **os.environ,
        "TIDINGS_DATABASE_URL": database_url,
        "TIDINGS_REDIS_URL": redis_url,
        "TIDINGS_ALLOW_PRIVATE_HOSTS": "127.0.0.1",
        "TIDINGS_FETCH_PER_HOST_DELAY_S": "0",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "tidings", "worker", "--queues", "fetch,enrich", "--concurrency", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        enqueue(database, settings, "refresh_source", source_id=source.id)
        wait_for(lambda: count(database, Article.id) > 0, "the worker's refresh")
        wait_for(lambda: count(database, ArticleTag.article_id) > 0, "the worker's enrichment")
        wait_for(lambda: queues_idle(settings), "the queues to drain")
    except AssertionError as error:
        failure: AssertionError | None = error
    else:
        failure = None
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)
        database.dispose()
    assert failure is None, f"{failure}; the worker said:\n{output}"
    assert worker.returncode == 0, output
    assert "Worker stopped." in output


def test_worker_refuses_to_start_without_redis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env["TIDINGS_DATABASE_URL"] = f"sqlite:///{tmp_path / 'w.db'}"
    for redis_url, message in (
        (None, "TIDINGS_REDIS_URL is not set"),
        # Nothing listens on port 1.
        ("redis://127.0.0.1:1/0", "cannot reach Redis at redis://127.0.0.1:1/0"),
    ):
        if redis_url:
            env["TIDINGS_REDIS_URL"] = redis_url
        run = subprocess.run(
            [sys.executable, "-m", "tidings", "worker"], env=env, capture_output=True, text=True,
            cwd=tmp_path, timeout=60, check=False,
        )  # fmt: skip
        assert run.returncode == 1
        assert message in run.stderr


def test_a_job_run_twice_changes_nothing_twice(
    queued: tuple[Database, Settings], publishers: PublisherServer
) -> None:
    database, settings = queued
    source = register_source(database, feed_url(publishers, "meridian-times")).source
    worker = start_worker(settings, {"fetch", "enrich", "ai"}, 2)
    try:
        enqueue(database, settings, "refresh_source", source_id=source.id)
        wait_for(lambda: count(database, FetchLog.id) == 1, "the first refresh")
        wait_for(lambda: queues_idle(settings), "the first enrichment")
        first = (count(database, Article.id), count(database, ArticleTag.article_id))
        with database.session() as session:
            article_id = session.scalars(select(Article.id).order_by(Article.id)).first()
        assert article_id is not None
        service = ai_service_for(database, settings)
        done = service.request(Request("article", article_id, "summary"))  # built-in: at once
        assert done.status == "done"
        with database.session() as session:
            row = session.get(AIResult, done.id)
            assert row is not None
            row.status, digest = "pending", row.text_hash  # as if a request had just queued it
        for _ in range(2):
            enqueue(database, settings, "refresh_source", source_id=source.id)
            enqueue(database, settings, "enrich_source", source_id=source.id)
            enqueue(
                database, settings, "ai_result", row_id=done.id, target_type="article",
                target_id=article_id, feature="summary", language=None, question=None,
                digest=digest,
            )  # fmt: skip
        wait_for(lambda: count(database, FetchLog.id) >= 2, "the repeated refreshes")
        wait_for(lambda: queues_idle(settings), "the repeated jobs")
    finally:
        worker.stop()
    # Two threads: the second copy may find the first polling (the lease) and skip.
    assert count(database, FetchLog.id) in (2, 3)
    assert (count(database, Article.id), count(database, ArticleTag.article_id)) == first
    assert count(database, AIResult.id) == 1
    assert service.get(done.id).result == done.result


def test_a_failing_job_is_retried_then_dead_lettered_and_retried_from_the_admin_page(
    queued: tuple[Database, Settings], publishers: PublisherServer
) -> None:
    from tidings.web.app import create_app

    database, settings = queued
    worker = start_worker(settings, {"fetch", "enrich"}, 1)
    try:
        enqueue(database, settings, "refresh_source", source_id=1)  # not (yet) in the database
        wait_for(lambda: bool(deadletters.overview(settings).dead_letters), "a dead letter")
        (letter,) = deadletters.overview(settings).dead_letters
        assert letter.job == "refresh_source"
        assert letter.params == {"source_id": 1}
        assert letter.retries == 2  # the first try and two retries, then no more
        assert letter.error == "NotFoundError: no source with id 1"
        app = create_app(settings, database, run_scheduler=False)
        with (
            LiveServer(app) as site,
            FormClient(base_url=site.base_url, timeout=10, follow_redirects=True) as client,
        ):
            page = client.get("/admin/jobs")
            assert page.status_code == 200
            assert "no source with id 1" in page.text
            assert client.get("/api/v1/admin/jobs").json()["dead_letters"][0]["id"] == letter.id
            source = register_source(database, feed_url(publishers, "northwind-wire")).source
            assert source.id == 1
            retried = client.post(f"/admin/jobs/fetch/{letter.id}/retry")
            assert retried.status_code == 200
            assert "Queued refresh_source again" in retried.text
            wait_for(lambda: count(database, Article.id) > 0, "the retried refresh")
            assert deadletters.overview(settings).dead_letters == []
            gone = client.post(f"/admin/jobs/fetch/{letter.id}/discard")
            assert "that dead letter is gone" in gone.text
        wait_for(lambda: queues_idle(settings), "the queues to drain")
    finally:
        worker.stop()


def test_in_process_mode_runs_the_same_jobs_without_redis(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    assert settings.redis_url is None
    source = register_source(database, feed_url(publishers, "harbour-herald")).source
    enqueue(database, settings, "refresh_source", source_id=source.id)
    stored = count(database, Article.id)
    assert stored > 0
    assert count(database, ArticleTag.article_id) > 0
    enqueue(database, settings, "refresh_source", source_id=source.id)
    assert count(database, Article.id) == stored
    assert deadletters.overview(settings).enabled is False


def test_a_lease_has_one_holder_at_a_time(database: Database, publishers: PublisherServer) -> None:
    source = register_source(database, feed_url(publishers, "harbour-herald")).source
    assert leases.claim(database, source.id, "a", 60, only_if_due=True)
    assert not leases.claim(database, source.id, "b", 60)
    assert leases.claim(database, source.id, "a", 60)  # renewing one's own
    leases.release(database, source.id, "b")  # not b's to release
    assert not leases.claim(database, source.id, "b", 60)
    leases.release(database, source.id, "a")
    assert leases.claim(database, source.id, "b", 0)
    time.sleep(0.01)
    assert leases.claim(database, source.id, "c", 60)  # b's ran out


class _Recorder:
    """A local server that notes when each request arrives and how many run at once."""

    def __init__(self, delay_s: float) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.starts: list[float] = []
        self.most_at_once = 0
        self._running = 0
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with recorder._lock:
                    recorder.starts.append(time.time())
                    recorder._running += 1
                    recorder.most_at_once = max(recorder.most_at_once, recorder._running)
                time.sleep(delay_s)
                with recorder._lock:
                    recorder._running -= 1
                body = b"<html><body>ok</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,))

    def __enter__(self) -> _Recorder:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


# Fetches `count` pages of one host with 3 threads, starting at a given wall-clock time.
_FETCH_SCRIPT = """
import sys, time
from concurrent.futures import ThreadPoolExecutor
from tidings.config import Settings
from tidings.ingest.http import Fetcher
base, redis_url, start_at, count = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
settings = Settings(_env_file=None, redis_url=redis_url, allow_private_hosts=["127.0.0.1"],
                    fetch_per_host_concurrency=1, fetch_per_host_delay_s=0.2)
time.sleep(max(0.0, start_at - time.time()))
with Fetcher(settings) as fetcher, ThreadPoolExecutor(3) as pool:
    list(pool.map(lambda n: fetcher.fetch(f"{base}/page/{n}"), range(count)))
"""


def test_the_redis_host_limits_hold_across_two_processes(redis_url: str, tmp_path: Path) -> None:
    with _Recorder(delay_s=0.05) as server:
        start_at = time.time() + 3  # both processes start fetching together
        args = [f"http://127.0.0.1:{server.port}", redis_url, str(start_at), "6"]
        workers = [
            subprocess.Popen([sys.executable, "-c", _FETCH_SCRIPT, *args], cwd=tmp_path)
            for _ in range(2)
        ]
        for worker in workers:
            assert worker.wait(timeout=60) == 0
    starts = sorted(server.starts)
    assert len(starts) == 12
    assert server.most_at_once == 1  # concurrency 1 per host, across both processes
    # A request every 0.2 s at most: no 1-second window holds more than 5 (+1 for jitter).
    for index, start in enumerate(starts):
        assert sum(1 for other in starts[index:] if other - start < 1.0) <= 6
    assert starts[-1] - starts[0] >= 11 * 0.2 * 0.8


# One scheduler pass after a shared start time (both processes poll the due sources).
_SCHEDULER_SCRIPT = """
import sys, time
from tidings.config import Settings
from tidings.db.session import Database
from tidings.ingest.scheduler import Scheduler
database_url, start_at = sys.argv[1], float(sys.argv[2])
settings = Settings(_env_file=None, database_url=database_url, allow_private_hosts=["127.0.0.1"],
                    fetch_per_host_delay_s=0, scheduler_enabled=False)
database = Database(database_url)
time.sleep(max(0.0, start_at - time.time()))
reports = Scheduler(database, settings).run_due()
print(" ".join(str(report.source_id) for report in reports))
database.dispose()
"""


def test_two_schedulers_never_poll_the_same_source_twice(
    database: Database, settings: Settings, publishers: PublisherServer, tmp_path: Path
) -> None:
    slugs = [p.slug for p in CORPUS.publishers][:8]
    ids = [register_source(database, feed_url(publishers, slug)).source.id for slug in slugs]
    start_at = time.time() + 3
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _SCHEDULER_SCRIPT, settings.database_url, str(start_at)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
        for _ in range(2)
    ]
    polled: list[int] = []
    for run in runs:
        output, _ = run.communicate(timeout=120)
        assert run.returncode == 0
        polled += [int(word) for word in output.split()]
    assert sorted(polled) == sorted(ids)  # each source once, by one scheduler or the other
    with database.session() as session:
        logged = session.scalars(select(FetchLog.source_id)).all()
        assert sorted(logged) == sorted(ids)
        assert session.scalar(select(func.count()).where(Source.leased_by.is_not(None))) == 0


def test_with_redis_the_scheduler_enqueues_due_sources_under_a_lease(
    queued: tuple[Database, Settings], publishers: PublisherServer
) -> None:
    from tidings.ingest.scheduler import Scheduler

    database, settings = queued
    source = register_source(database, feed_url(publishers, "harbour-herald")).source
    assert Scheduler(database, settings).run_due() == []  # enqueued, not fetched here
    assert Scheduler(database, settings).run_due() == []  # leased: not enqueued twice
    assert [q.waiting for q in deadletters.overview(settings).queues if q.name == "fetch"] == [1]
    assert count(database, FetchLog.id) == 0
    with database.session() as session:
        leased = session.get(Source, source.id)
        assert leased is not None
        assert (leased.leased_by or "").startswith("scheduler@")
    worker = start_worker(settings, {"fetch", "enrich"}, 1)
    try:
        wait_for(lambda: count(database, FetchLog.id) == 1, "the queued refresh")
        wait_for(lambda: queues_idle(settings), "the queues to drain")
    finally:
        worker.stop()
    with database.session() as session:
        polled = session.get(Source, source.id)
        assert polled is not None
        assert polled.leased_by is None  # given back by the job
    assert count(database, Article.id) > 0
