"""Source leases: one process at a time polls a source, however many schedulers and workers run.

A lease is two columns on the source (`leased_by`, `lease_until`) claimed by one atomic
UPDATE … WHERE the lease is free (or already ours): on SQLite and PostgreSQL alike, two
claimants can never both see "1 row updated". A claim by a scheduler also requires the
source to be due, so a scheduler that read the due list just before another process
finished polling does not poll again. A lease that is never released (a killed worker) simply
runs out.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, update

from tidings.db.models import Source
from tidings.db.session import Database


def new_owner(role: str) -> str:
    """A lease holder's name: what it is, where it runs, and a unique part."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:200]


def claim(
    database: Database, source_id: int, owner: str, ttl_s: float, *, only_if_due: bool = False
) -> bool:
    """Take (or renew) the lease on a source for `ttl_s` seconds; False if another holds it."""
    now = datetime.now(UTC)
    conditions = [
        Source.id == source_id,
        or_(Source.lease_until.is_(None), Source.lease_until < now, Source.leased_by == owner),
    ]
    if only_if_due:
        conditions += [
            Source.paused.is_(False),
            or_(Source.next_fetch_at.is_(None), Source.next_fetch_at <= now),
        ]
    statement = (
        update(Source)
        .where(*conditions)
        .values(lease_until=now + timedelta(seconds=ttl_s), leased_by=owner)
        .execution_options(synchronize_session=False)
    )
    with database.session() as session:
        claimed = session.execute(statement).rowcount == 1  # type: ignore[attr-defined]
        session.commit()
    return bool(claimed)


def release(database: Database, source_id: int, owner: str) -> None:
    """Give the lease back (only if still ours: an expired one may have passed on)."""
    statement = (
        update(Source)
        .where(Source.id == source_id, Source.leased_by == owner)
        .values(lease_until=None, leased_by=None)
        .execution_options(synchronize_session=False)
    )
    with database.session() as session:
        session.execute(statement)
        session.commit()
