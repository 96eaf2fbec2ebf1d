"""In-process scheduler: polls due sources, renews WebSub leases while `tidings serve` runs."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from sqlalchemy import select

from tidings.config import Settings
from tidings.db import repository
from tidings.db.models import Source
from tidings.db.session import Database
from tidings.ingest import leases, websub
from tidings.ingest.http import Fetcher
from tidings.ingest.pipeline import RefreshReport, refresh_source
from tidings.ingest.retention import CleanupReport, cleanup, last_report

log = logging.getLogger(__name__)


class Scheduler:
    """A daemon thread that refreshes due sources every `tick_s` seconds."""

    def __init__(self, database: Database, settings: Settings, tick_s: float = 5.0) -> None:
        self.database = database
        self.settings = settings
        self.tick_s = tick_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_due(self) -> list[RefreshReport]:
        """Refresh every source whose next poll time has come; returns what happened.

        Each source is leased first (ingest/leases.py), so several schedulers may run: one
        polls, the others pass. With Redis configured the refresh goes to the task queue
        under that lease, and a `tidings worker` does it (no reports come back here)."""
        with self.database.session() as session:
            due = repository.due_source_ids(session, datetime.now(UTC))
        reports: list[RefreshReport] = []
        if not due:
            return reports
        with Fetcher(self.settings) as fetcher:
            for source_id in due:
                if self._stop.is_set():
                    break
                owner = leases.new_owner("scheduler")
                lease_s = self.settings.job_lease_s
                if not leases.claim(self.database, source_id, owner, lease_s, only_if_due=True):
                    continue  # another scheduler or worker has it
                if self.settings.redis_url:
                    from tidings.jobs.queue import enqueue  # the queue layer sits above ingest

                    try:
                        enqueue(self.database, self.settings, "refresh_source",
                                source_id=source_id, lease_owner=owner)  # fmt: skip
                    except Exception:
                        leases.release(self.database, source_id, owner)  # poll it next tick
                        raise
                    continue
                try:
                    report = refresh_source(
                        self.database, self.settings, source_id, fetcher=fetcher
                    )
                finally:
                    leases.release(self.database, source_id, owner)
                if report.status != "ok":
                    log.warning("refresh of %s failed: %s", report.source_name, report.error)
                reports.append(report)
        return reports

    def cleanup_if_due(self) -> CleanupReport | None:
        """Run retention when the last cleanup is older than the cleanup interval."""
        last = last_report(self.database)
        if last is not None:
            age = datetime.now(UTC) - datetime.fromisoformat(last.ran_at)
            if age.total_seconds() < self.settings.cleanup_interval_s:
                return None
        if not (
            self.settings.retention_days
            or self.settings.disk_budget_mb
            or _any_source_retention(self.database)
        ):
            return None
        return cleanup(self.database, self.settings)

    def _loop(self) -> None:
        while not self._stop.wait(self.tick_s):
            try:
                self.run_due()
                websub.renew_due(self.database, self.settings)
                self.cleanup_if_due()
            except Exception:  # the loop must outlive any one bad refresh
                log.exception("scheduled refresh failed")

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None


def _any_source_retention(database: Database) -> bool:
    with database.session() as session:
        return (
            session.scalar(select(Source.id).where(Source.retention_days.is_not(None)).limit(1))
            is not None
        )
