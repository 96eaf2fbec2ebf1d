"""How a source is doing: articles per day, and how its recent fetches went (from fetch_log)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.db.models import Article, FetchLog

HEALTH_DAYS = 30
HEALTH_FETCHES = 60


@dataclass(frozen=True)
class DayCount:
    day: date
    articles: int


@dataclass(frozen=True)
class FetchPoint:
    """One refresh: when it started, how long it took, and whether it failed."""

    started_at: datetime
    duration_s: float
    failed: bool
    http_status: int | None
    error: str | None
    articles_new: int


@dataclass(frozen=True)
class SourceHealth:
    days: list[DayCount]  # the last HEALTH_DAYS days (UTC), oldest first, empty days included
    fetches: list[FetchPoint]  # the last HEALTH_FETCHES refreshes, oldest first

    @property
    def articles_total(self) -> int:
        return sum(day.articles for day in self.days)

    @property
    def error_count(self) -> int:
        return sum(1 for fetch in self.fetches if fetch.failed)

    @property
    def median_duration_s(self) -> float | None:
        durations = [fetch.duration_s for fetch in self.fetches]
        return statistics.median(durations) if durations else None


def source_health(
    session: Session,
    source_id: int,
    *,
    now: datetime | None = None,
    days: int = HEALTH_DAYS,
    fetches: int = HEALTH_FETCHES,
) -> SourceHealth:
    """Articles published per day over `days` days up to `now`, and the last `fetches` refreshes."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    first_day = today - timedelta(days=days - 1)
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
    counts = dict.fromkeys((first_day + timedelta(days=n) for n in range(days)), 0)
    published = session.scalars(
        select(Article.published_at).where(
            Article.source_id == source_id, Article.published_at >= start
        )
    )
    for moment in published:
        day = moment.astimezone(UTC).date()
        if day in counts:  # a date past `now` (a clock error) is left out
            counts[day] += 1
    logs = session.scalars(
        select(FetchLog)
        .where(FetchLog.source_id == source_id)
        .order_by(FetchLog.id.desc())
        .limit(fetches)
    )
    points = [
        FetchPoint(
            started_at=log.started_at,
            duration_s=max(0.0, (log.finished_at - log.started_at).total_seconds()),
            failed=log.status != "ok",
            http_status=log.http_status,
            error=log.error,
            articles_new=log.articles_new,
        )
        for log in logs
    ]
    return SourceHealth(
        days=[DayCount(day, count) for day, count in counts.items()],
        fetches=list(reversed(points)),
    )
