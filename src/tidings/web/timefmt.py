"""Human times for listings: "2 hours ago", with the exact time for the tooltip."""

from __future__ import annotations

from datetime import UTC, datetime


def relative_time(moment: datetime, now: datetime | None = None) -> str:
    """ "just now", "5 minutes ago", "2 hours ago", "yesterday", "3 days ago", or a date."""
    now = now or datetime.now(UTC)
    seconds = int((now - moment).total_seconds())
    if seconds < 0:
        return "just now" if seconds > -300 else moment.strftime("%d %b %Y")
    if seconds < 60:
        return "just now"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''} ago"
    hours = minutes // 60
    if hours < 24:
        return f"{hours} hour{'s' if hours != 1 else ''} ago"
    days = hours // 24
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"{days} days ago"
    if moment.year == now.year:
        return f"{moment.day} {moment:%b}"
    return f"{moment.day} {moment:%b %Y}"


def exact_time(moment: datetime) -> str:
    """The full UTC time, e.g. "25 Nov 2026, 09:06 UTC"."""
    return f"{moment.astimezone(UTC):%d %b %Y, %H:%M} UTC"
