"""Retention: remove articles past their keep-by date or over the disk budget; never saved ones."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, aliased

from tidings.config import Settings
from tidings.db import repository
from tidings.db.models import AIResult, Article, Source
from tidings.db.session import Database
from tidings.ingest import websub

REPORT_KEY = "cleanup.last_report"
_BATCH = 500


@dataclass
class CleanupReport:
    ran_at: str
    dry_run: bool
    removed_by_age: int = 0
    removed_by_budget: int = 0
    saved_kept: int = 0
    articles_left: int = 0
    content_mb_before: float = 0.0
    content_mb_after: float = 0.0

    def summary(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        return (
            f"{verb} {self.removed_by_age} article(s) past their retention and "
            f"{self.removed_by_budget} over the disk budget; {self.saved_kept} saved article(s) "
            f"kept; {self.articles_left} left, {self.content_mb_after:.1f} MB of content"
        )


def content_mb(database: Database) -> float:
    """Stored article text, in MB: what the disk budget counts (indexes come on top)."""
    with database.session() as session:
        size = session.scalar(
            select(
                func.coalesce(func.sum(func.length(Article.body) + func.length(Article.title)), 0)
            )
        )
    return float(size or 0) / 1_000_000


def cleanup(database: Database, settings: Settings, *, dry_run: bool = False) -> CleanupReport:
    """Apply per-source and global retention, then the disk budget, oldest first."""
    now = datetime.now(UTC)
    report = CleanupReport(ran_at=now.isoformat(), dry_run=dry_run)
    report.content_mb_before = content_mb(database)
    with database.session() as session:
        for source in session.scalars(select(Source)):
            days = source.retention_days or settings.retention_days
            if not days:
                continue
            expired = (
                Article.source_id == source.id,
                Article.published_at < now - timedelta(days=days),
                Article.saved.is_(False),
            )
            report.removed_by_age += int(
                session.scalar(select(func.count(Article.id)).where(*expired)) or 0
            )
            if not dry_run:
                session.execute(delete(Article).where(*expired))
    budget = settings.disk_budget_mb
    if budget and not dry_run:
        while content_mb(database) > budget:
            with database.session() as session:
                oldest = list(
                    session.scalars(
                        select(Article.id)
                        .where(Article.saved.is_(False))
                        .order_by(Article.published_at, Article.id)
                        .limit(_BATCH)
                    )
                )
                if not oldest:
                    break  # only saved articles left: they are never removed
                session.execute(delete(Article).where(Article.id.in_(oldest)))
                report.removed_by_budget += len(oldest)
    if not dry_run and (report.removed_by_age or report.removed_by_budget):
        with database.session() as session:
            tidy_after_removal(session)
    with database.session() as session:
        report.saved_kept = int(
            session.scalar(select(func.count(Article.id)).where(Article.saved.is_(True))) or 0
        )
        report.articles_left = repository.count_articles(session)
        report.content_mb_after = content_mb(database) if not dry_run else report.content_mb_before
        if not dry_run:
            repository.set_meta(session, REPORT_KEY, json.dumps(asdict(report)))
    return report


def tidy_after_removal(session: Session) -> None:
    """After articles are deleted: copies of a removed original become originals themselves
    (never orphans), cached AI answers about removed articles go with them, and tags are
    recounted."""
    original = aliased(Article)
    session.execute(
        update(Article)
        .where(Article.duplicate_of.is_not(None))
        .where(~select(original.id).where(original.id == Article.duplicate_of).exists())
        .values(duplicate_of=None)
    )
    session.execute(
        delete(AIResult)
        .where(AIResult.target_type == "article")
        .where(~select(Article.id).where(Article.id == AIResult.target_id).exists())
    )
    repository.recount_tags(session)


def remove_source(database: Database, source_id: int, settings: Settings | None = None) -> None:
    """Stop following a source: it and its articles are deleted (the database cascades).
    With `settings`, its WebSub hub is first asked to stop pushing (best effort)."""
    with database.session() as session:
        repository.get_source(session, source_id)
    if settings is not None:
        websub.unsubscribe_source(database, settings, source_id)
    with database.session() as session:
        session.execute(delete(Source).where(Source.id == source_id))
        tidy_after_removal(session)


def last_report(database: Database) -> CleanupReport | None:
    with database.session() as session:
        stored = repository.get_meta(session, REPORT_KEY)
    return CleanupReport(**json.loads(stored)) if stored else None
