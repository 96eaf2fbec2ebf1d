"""A worker: Dramatiq consumer threads in this process, running jobs until told to stop."""

from __future__ import annotations

import threading

from dramatiq import Worker

from tidings.config import Settings
from tidings.db.session import Database
from tidings.errors import InvalidInputError
from tidings.jobs.queue import broker_for, check_redis, context
from tidings.jobs.tasks import QUEUES

STOP_TIMEOUT_MS = 60_000  # on shutdown, jobs in progress get this long to finish


def parse_queues(text: str) -> set[str]:
    """`fetch,enrich,ai` → the set, refusing names that are not Tidings queues."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = names - set(QUEUES)
    if not names or unknown:
        raise InvalidInputError(
            f"unknown queue(s) {', '.join(sorted(unknown)) or '(none given)'}: "
            f"use any of {', '.join(QUEUES)}"
        )
    return names


def run_worker(
    database: Database,
    settings: Settings,
    queues: set[str],
    concurrency: int,
    stop: threading.Event,
) -> None:
    """Consume `queues` with `concurrency` threads until `stop` is set, then shut down
    cleanly (jobs in progress finish; unstarted prefetched ones go back to the queue)."""
    check_redis(settings)
    context.set(database, settings)
    worker = start_worker(settings, queues, concurrency)
    try:
        stop.wait()
    finally:
        worker.stop(timeout=STOP_TIMEOUT_MS)


def start_worker(settings: Settings, queues: set[str], concurrency: int) -> Worker:
    """A started Dramatiq worker for this process's context (tests stop it themselves)."""
    threads = max(1, concurrency)
    worker = Worker(broker_for(settings), queues=queues, worker_threads=threads)
    # A refresh takes seconds: taking twice as many jobs as threads (Dramatiq's default)
    # would leave other workers idle while this one holds jobs it has not started.
    worker.queue_prefetch = threads
    worker.start()
    return worker
