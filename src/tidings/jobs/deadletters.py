"""What the admin sees of the task queue: queue lengths, workers, dead letters (retry/discard).

Dramatiq's Redis broker keeps, per queue `Q` under the namespace: the waiting message ids
(list `Q`) with their bodies (hash `Q.msgs`), messages waiting out a retry back-off (`Q.DQ`),
and dead letters (sorted set `Q.XQ` by time of death, bodies in `Q.XQ.msgs`), kept for a week.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis
from dramatiq import Message

from tidings.config import Settings
from tidings.errors import NotFoundError
from tidings.jobs.queue import ERRORS_KEY, NAMESPACE, QueueUnavailableError, broker_for, shown_url
from tidings.jobs.tasks import QUEUES

HEARTBEAT_FRESH_S = 60  # a worker that beat within this is counted as alive


@dataclass(slots=True)
class QueueStats:
    name: str
    waiting: int
    retrying: int
    dead: int


@dataclass(slots=True)
class DeadLetter:
    queue: str
    id: str  # the broker's message id in Redis
    job: str
    params: dict[str, Any]
    retries: int
    died_at: datetime
    error: str | None


@dataclass(slots=True)
class JobsOverview:
    enabled: bool
    queues: list[QueueStats] = field(default_factory=list)
    workers: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)


@contextmanager
def _answering(settings: Settings) -> Iterator[None]:
    """Redis errors as the queue's own error (a page says it; it is not a crash)."""
    try:
        yield
    except redis.RedisError as error:
        where = shown_url(settings.redis_url or "")
        raise QueueUnavailableError(f"cannot reach Redis at {where}: {error}") from error


def overview(settings: Settings, limit: int = 100) -> JobsOverview:
    """Queue lengths, live workers and the newest dead letters (none without Redis)."""
    if not settings.redis_url:
        return JobsOverview(enabled=False)
    with _answering(settings):
        return _overview(settings, limit)


def _overview(settings: Settings, limit: int) -> JobsOverview:
    client = broker_for(settings).client
    result = JobsOverview(enabled=True)
    for queue in QUEUES:
        base = f"{NAMESPACE}:{queue}"
        result.queues.append(
            QueueStats(
                queue,
                int(client.llen(base)),
                int(client.llen(f"{base}.DQ")),
                int(client.zcard(f"{base}.XQ")),
            )
        )
    cutoff_ms = (time.time() - HEARTBEAT_FRESH_S) * 1000
    result.workers = int(client.zcount(f"{NAMESPACE}:__heartbeats__", cutoff_ms, "+inf"))
    for queue in QUEUES:
        result.dead_letters += _dead_letters(client, queue, limit)
    result.dead_letters.sort(key=lambda letter: letter.died_at, reverse=True)
    del result.dead_letters[limit:]
    return result


def _dead_letters(client: Any, queue: str, limit: int) -> list[DeadLetter]:
    base = f"{NAMESPACE}:{queue}.XQ"
    ids = [raw.decode() for raw in client.zrevrange(base, 0, limit - 1)]
    if not ids:
        return []
    bodies = client.hmget(f"{base}.msgs", ids)
    died = [client.zscore(base, message_id) for message_id in ids]
    errors = client.hmget(ERRORS_KEY, ids)
    letters: list[DeadLetter] = []
    for message_id, body, died_ms, error in zip(ids, bodies, died, errors, strict=True):
        if body is None:
            continue
        message = Message.decode(body)
        letters.append(
            DeadLetter(
                queue=queue,
                id=message_id,
                job=message.actor_name,
                params=dict(message.kwargs),
                retries=int(message.options.get("retries", 0)),
                died_at=datetime.fromtimestamp((died_ms or 0) / 1000, UTC),
                error=error.decode() if error else _last_line(message.options.get("traceback")),
            )
        )
    return letters


def _last_line(traceback: str | None) -> str | None:
    lines = [line for line in (traceback or "").splitlines() if line.strip()]
    return lines[-1] if lines else None


def retry(settings: Settings, queue: str, message_id: str) -> str:
    """Send a dead letter back to its queue with its retries counted afresh; returns its job."""
    broker = broker_for(settings)
    with _answering(settings):
        message = _take(broker.client, queue, message_id)
        options = {"retries": 0, "traceback": None, "requeue_timestamp": None}
        broker.enqueue(message.copy(options=options))
    return message.actor_name


def discard(settings: Settings, queue: str, message_id: str) -> str:
    """Drop a dead letter for good; returns its job."""
    with _answering(settings):
        return _take(broker_for(settings).client, queue, message_id).actor_name


def _take(client: Any, queue: str, message_id: str) -> Message[Any]:
    if queue not in QUEUES:
        raise NotFoundError(f"no queue named {queue!r}")
    base = f"{NAMESPACE}:{queue}.XQ"
    with client.pipeline() as pipe:  # MULTI/EXEC: read and remove in one step
        pipe.hget(f"{base}.msgs", message_id)
        pipe.hdel(f"{base}.msgs", message_id)
        pipe.zrem(base, message_id)
        pipe.hdel(ERRORS_KEY, message_id)
        body = pipe.execute()[0]
    if body is None:
        raise NotFoundError("that dead letter is gone (retried, discarded or expired)")
    return Message.decode(body)
