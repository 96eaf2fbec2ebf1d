"""The job functions: the same code runs in-process (no Redis) and in `tidings worker`.

Each job is keyed by what it works on and safe to run twice (queues deliver at least
once): a refresh stores each article once per canonical URL and takes the source's lease,
so two copies never poll at once; enrichment only touches articles not yet enriched (or
changed since); an AI job stores into its one cache row, and only while that row still
waits for the same source text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tidings.config import Settings
from tidings.db import repository
from tidings.db.session import Database
from tidings.ingest import leases, websub
from tidings.ingest.pipeline import RefreshReport, refresh_source

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class JobKind:
    """A job: the queue it goes to and the Dramatiq actor that runs it."""

    name: str
    queue: str


REFRESH = JobKind("refresh_source", "fetch")
ENRICH = JobKind("enrich_source", "enrich")
AI = JobKind("ai_result", "ai")
JOB_KINDS = {kind.name: kind for kind in (REFRESH, ENRICH, AI)}
QUEUES = ("fetch", "enrich", "ai")


def refresh(
    database: Database,
    settings: Settings,
    source_id: int,
    *,
    lease_owner: str | None = None,
    enrich: bool = True,
) -> RefreshReport | None:
    """Poll one source under its lease (fetch, extract, store); None if another process
    holds the lease. `lease_owner` is the lease a scheduler took when it enqueued the job."""
    owner = lease_owner or leases.new_owner("job")
    if not leases.claim(database, source_id, owner, settings.job_lease_s):
        with database.session() as session:
            repository.get_source(session, source_id)  # NotFoundError: retried, may appear
        log.info("source %s is being polled elsewhere; skipped", source_id)
        return None
    try:
        return refresh_source(database, settings, source_id, enrich=enrich)
    finally:
        leases.release(database, source_id, owner)


def enrich(database: Database, settings: Settings, source_id: int | None) -> int:
    """Enrich what a refresh stored (articles never enriched or changed since); returns how
    many were enriched. Running it again finds nothing pending and changes nothing."""
    from tidings.enrich.service import enricher_for  # loads its models lazily

    report = enricher_for(database, settings).enrich_pending(source_id)
    if report.enriched and source_id is not None:
        websub.announce(settings, [source_id])
    return report.enriched


def ai_result(
    database: Database,
    settings: Settings,
    *,
    row_id: int,
    target_type: str,
    target_id: int,
    feature: str,
    language: str | None,
    question: str | None,
    digest: str,
) -> None:
    """Generate one AI result into its cache row (see AIService.run_job)."""
    from tidings.ai.features import Request, ai_service_for

    request = Request(target_type, target_id, feature, language, question)
    ai_service_for(database, settings).run_job(row_id, request, digest)
