"""The queue seam: `enqueue()` a job, run in this process or sent to Dramatiq on Redis.

Without `TIDINGS_REDIS_URL` a job runs at once in the calling thread (the single-process
default: `tidings serve` polls, enriches and answers AI requests itself). With it, the job
becomes a Dramatiq message on Redis and any `tidings worker`, on any machine, runs the same
job function (jobs/tasks.py). Retries with exponential back-off come from Dramatiq's
Retries middleware; a job that fails every try is kept as a dead letter, with its error, for
the admin's Jobs page (jobs/deadletters.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dramatiq
import redis
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware, Retries

from tidings.config import Settings, get_settings
from tidings.db.session import Database
from tidings.errors import TidingsError
from tidings.jobs import tasks

log = logging.getLogger(__name__)
NAMESPACE = "tidings"
ERRORS_KEY = f"{NAMESPACE}:job-errors"  # redis message id -> the error of its last try
ENRICH_LOCK = f"{NAMESPACE}:lock:enrich"
REFRESH_TIME_LIMIT_MS = 30 * 60 * 1000  # a 500-page refresh of a slow site takes minutes


class QueueUnavailableError(TidingsError):
    """Redis is configured but cannot be reached (or is not configured for a worker)."""


class _RecordErrors(Middleware):
    """Keeps the error of each dead-lettered job: Dramatiq stores the message as it was
    enqueued, so without this the last try's error would be lost."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None or not message.failed:
            return
        text = f"{type(exception).__name__}: {exception}"[:2000]
        self.client.hset(ERRORS_KEY, message.options["redis_message_id"], text)


class _Context:
    """The database and settings a worker's jobs use (one per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._database: Database | None = None
        self._settings: Settings | None = None

    def set(self, database: Database, settings: Settings) -> None:
        with self._lock:
            self._database, self._settings = database, settings

    def get(self) -> tuple[Database, Settings]:
        with self._lock:
            if self._database is None or self._settings is None:
                settings = get_settings()
                self._database, self._settings = Database(settings.database_url), settings
            return self._database, self._settings


context = _Context()
_brokers: dict[tuple[object, ...], RedisBroker] = {}
_brokers_lock = threading.Lock()


def broker_for(settings: Settings) -> RedisBroker:
    """This process's broker for the configured Redis, with the Tidings actors declared."""
    if not settings.redis_url:
        raise QueueUnavailableError("TIDINGS_REDIS_URL is not set: jobs run in-process")
    key = (
        settings.redis_url,
        settings.job_max_retries,
        settings.job_min_backoff_s,
        settings.job_max_backoff_s,
    )
    with _brokers_lock:
        broker = _brokers.get(key)
        if broker is None:
            broker = _brokers[key] = _make_broker(settings)
        return broker


def _make_broker(settings: Settings) -> RedisBroker:
    assert settings.redis_url is not None
    broker = RedisBroker(url=settings.redis_url, namespace=NAMESPACE)  # type: ignore[no-untyped-call]
    # "after" hooks run in reverse order: placed before Retries, it sees the final verdict.
    broker.add_middleware(_RecordErrors(broker.client), before=Retries)
    declare: list[tuple[tasks.JobKind, Callable[..., None]]] = [
        (tasks.REFRESH, _refresh_actor),
        (tasks.ENRICH, _enrich_actor),
        (tasks.AI, _ai_actor),
    ]
    for kind, function in declare:
        dramatiq.actor(
            actor_name=kind.name,
            queue_name=kind.queue,
            broker=broker,
            time_limit=REFRESH_TIME_LIMIT_MS,
            max_retries=settings.job_max_retries,
            min_backoff=int(settings.job_min_backoff_s * 1000),
            max_backoff=int(settings.job_max_backoff_s * 1000),
        )(function)
    return broker


def check_redis(settings: Settings) -> None:
    """Raise a clear error when Redis is not configured or does not answer."""
    broker = broker_for(settings)
    try:
        broker.client.ping()
    except redis.RedisError as error:
        raise QueueUnavailableError(
            f"cannot reach Redis at {shown_url(settings.redis_url or '')}: {error}"
        ) from error


def shown_url(url: str) -> str:
    """A Redis URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}{port}"))


def enqueue(database: Database, settings: Settings, job: str, **params: Any) -> None:
    """Send a job to the task queue; without Redis, run it here and now on `database`."""
    kind = tasks.JOB_KINDS[job]
    if not settings.redis_url:
        _run(kind, database, settings, params)
        return
    broker = broker_for(settings)
    try:
        broker.get_actor(kind.name).send_with_options(kwargs=params)
    except redis.RedisError as error:
        raise QueueUnavailableError(f"cannot queue {job}: Redis: {error}") from error


def run_in_process(database: Database, settings: Settings, job: str, **params: Any) -> None:
    """Run a job the way a worker would, in this thread (the no-Redis path, and tests)."""
    _run(tasks.JOB_KINDS[job], database, settings, params)


def _run(kind: tasks.JobKind, database: Database, settings: Settings, params: Any) -> None:
    if kind is tasks.REFRESH:
        report = tasks.refresh(
            database, settings, params["source_id"], lease_owner=params.get("lease_owner"),
            enrich=not settings.redis_url,
        )  # fmt: skip
        if settings.redis_url and report and (report.articles_new or report.articles_updated):
            enqueue(database, settings, tasks.ENRICH.name, source_id=report.source_id)
    elif kind is tasks.ENRICH:
        if settings.redis_url:
            # One enrichment at a time across workers: stories grow in one place, in order.
            client = broker_for(settings).client
            with client.lock(ENRICH_LOCK, timeout=REFRESH_TIME_LIMIT_MS / 1000):
                tasks.enrich(database, settings, params.get("source_id"))
        else:
            tasks.enrich(database, settings, params.get("source_id"))
    else:
        tasks.ai_result(database, settings, **params)


def _refresh_actor(source_id: int, lease_owner: str | None = None) -> None:
    database, settings = context.get()
    _run(tasks.REFRESH, database, settings, {"source_id": source_id, "lease_owner": lease_owner})


def _enrich_actor(source_id: int | None = None) -> None:
    database, settings = context.get()
    _run(tasks.ENRICH, database, settings, {"source_id": source_id})


def _ai_actor(**params: Any) -> None:
    database, settings = context.get()
    _run(tasks.AI, database, settings, params)
