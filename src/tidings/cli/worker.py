"""`tidings worker`: run queued jobs (fetch, enrich, AI) from Redis; start as many as you like."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from tidings.cli.common import app, console, database_from_env, friendly_errors
from tidings.config import get_settings
from tidings.db.session import printable_url
from tidings.jobs.queue import QueueUnavailableError
from tidings.jobs.tasks import QUEUES
from tidings.jobs.worker import parse_queues, run_worker

ALL_QUEUES = ",".join(QUEUES)


@app.command()
@friendly_errors
def worker(
    queues: Annotated[str, typer.Option(help="Comma-separated queues to work on")] = ALL_QUEUES,
    concurrency: Annotated[
        int, typer.Option(min=1, max=256, help="Jobs run at once (threads) in this process")
    ] = 4,
) -> None:
    """Run jobs from the task queue (needs TIDINGS_REDIS_URL); stop with Ctrl+C or SIGTERM."""
    settings = get_settings()
    if not settings.redis_url:
        raise QueueUnavailableError(
            "TIDINGS_REDIS_URL is not set: without Redis, `tidings serve` runs every job "
            "itself and no worker is needed (see docs/queue.md)"
        )
    chosen = parse_queues(queues)
    database = database_from_env(settings)
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        console.print(f"Stopping ({signal.Signals(signum).name}): finishing jobs in progress…")
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    console.print(
        f"Worker on {', '.join(sorted(chosen))} with {concurrency} thread(s); "
        f"database {printable_url(settings.database_url)} (Ctrl+C to stop)",
        highlight=False,
    )
    run_worker(database, settings, chosen, concurrency, stop)
    console.print("Worker stopped.")
