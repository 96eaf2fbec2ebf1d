"""Where AI jobs run without Redis: an in-process thread pool.

`submit(key, job)` runs `job` once per key at a time (a second request for the same result
joins the first). With `TIDINGS_REDIS_URL` set, AIService sends the job to the task queue
instead (tidings.jobs.queue) and a `tidings worker` runs the same job (AIService.run_job).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


class JobRunner:
    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ai")
        self._lock = threading.Lock()
        self._running: dict[str, Future[None]] = {}

    def submit(self, key: str, job: Callable[[], None]) -> Future[None]:
        with self._lock:
            running = self._running.get(key)
            if running is not None and not running.done():
                return running
            future = self._pool.submit(job)
            self._running[key] = future
        future.add_done_callback(lambda _done: self._forget(key, future))
        return future

    def _forget(self, key: str, future: Future[None]) -> None:
        with self._lock:
            if self._running.get(key) is future:
                del self._running[key]

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
