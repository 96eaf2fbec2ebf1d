"""Human times for listings: "2 hours ago", with the exact time for the tooltip, in the
reader's language and time zone."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from babel.dates import format_skeleton, get_timezone_gmt

from tidings.web import i18n
from tidings.web.i18n import gettext, ngettext


def relative_time(moment: datetime, now: datetime | None = None) -> str:
    """ "just now", "5 minutes ago", "2 hours ago", "yesterday", "3 days ago", or a date."""
    now = now or datetime.now(UTC)
    seconds = int((now - moment).total_seconds())
    if seconds < 0:
        return gettext("just now") if seconds > -300 else _date(moment, now, with_year=True)
    if seconds < 60:
        return gettext("just now")
    minutes = seconds // 60
    if minutes < 60:
        return ngettext("%(num)d minute ago", "%(num)d minutes ago", minutes) % {"num": minutes}
    hours = minutes // 60
    if hours < 24:
        return ngettext("%(num)d hour ago", "%(num)d hours ago", hours) % {"num": hours}
    days = hours // 24
    if days == 1:
        return gettext("yesterday")
    if days < 7:
        return ngettext("%(num)d day ago", "%(num)d days ago", days) % {"num": days}
    return _date(moment, now, with_year=moment.year != now.year)


def _date(moment: datetime, now: datetime, *, with_year: bool) -> str:
    """ "25 Nov" (this year) or "25 Nov 2025"; "11月25日" / "2025年11月25日" in Chinese."""
    local = _local(moment, i18n.current().time_zone)
    if i18n.current().code == "en":  # the English form listings have always had
        return f"{local.day} {local:%b %Y}" if with_year else f"{local.day} {local:%b}"
    return format_skeleton("yMMMd" if with_year else "MMMd", local, locale=i18n.current().locale)


def exact_time(moment: datetime) -> str:
    """The full time in the reader's time zone, e.g. "25 Nov 2026, 09:06 UTC" or
    "2026年11月25日 17:06 GMT+08:00"."""
    localisation = i18n.current()
    zone = localisation.time_zone
    local = _local(moment, zone)
    label = "UTC" if zone is UTC else get_timezone_gmt(local, locale=localisation.locale)
    if localisation.code == "en":
        return f"{local:%d %b %Y, %H:%M} {label}"
    pattern = format_skeleton("yMMMd", local, locale=localisation.locale)
    return f"{pattern} {local:%H:%M} {label}"


def _local(moment: datetime, zone: tzinfo) -> datetime:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone)
