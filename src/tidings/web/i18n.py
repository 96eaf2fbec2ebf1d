"""The interface language of a request: which locale, its gettext catalog, its time zone."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, tzinfo
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import LazyProxy, NullTranslations, Translations
from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tidings.web.auth import SESSION_COOKIE, current_user

LOCALE_DIR = Path(__file__).parent / "locale"
# The interface languages: the BCP 47 tag pages use (`<html lang>`, `?lang=`, the cookie, the
# reader's preference) and the babel locale whose catalog, dates and plurals they get.
LOCALES: dict[str, str] = {"en": "en", "zh-Hant": "zh_Hant_TW", "zh-Hans": "zh_Hans_CN"}
LOCALE_NAMES = {"en": "English", "zh-Hant": "繁體中文", "zh-Hans": "简体中文"}
DEFAULT_LOCALE = "en"
LANG_COOKIE = "lang"
LANG_COOKIE_AGE = 365 * 24 * 3600
# The time zones the account page suggests (any IANA name is accepted).
TIME_ZONES = sorted(
    zone
    for zone in available_timezones()
    if "/" in zone and not zone.startswith(("Etc/", "SystemV/"))
)
# Chinese tags that mean Traditional characters when they name no script.
_TRADITIONAL_REGIONS = ("tw", "hk", "mo")


@dataclass(frozen=True)
class Localisation:
    """What rendering needs to speak the reader's language."""

    code: str  # "en", "zh-Hant", "zh-Hans"
    translations: NullTranslations
    time_zone: tzinfo

    @property
    def locale(self) -> Locale:
        return Locale.parse(LOCALES[self.code])


def supported(tag: str | None) -> str | None:
    """The interface language a language tag asks for ("zh-TW" → "zh-Hant"), if one fits."""
    parts = (tag or "").strip().replace("_", "-").lower().split("-")
    if parts[0] == "en":
        return "en"
    if parts[0] != "zh":
        return None
    if "hant" in parts[1:] or any(part in _TRADITIONAL_REGIONS for part in parts[1:]):
        return "zh-Hant"
    return "zh-Hans"  # zh, zh-CN, zh-SG, zh-Hans


def negotiate(accept_language: str | None) -> str:
    """The interface language for an Accept-Language header (q-values honoured), else English."""
    choices: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        code = supported(tag)
        if code is not None and quality > 0:
            choices.append((-quality, position, code))
    return min(choices)[2] if choices else DEFAULT_LOCALE


@cache
def translations_for(code: str) -> NullTranslations:
    """The catalog of an interface language, compiled from its .po file in memory (no stale
    .mo files; fuzzy entries are left out, so they show in English until reviewed)."""
    if code == DEFAULT_LOCALE:
        return NullTranslations()
    path = LOCALE_DIR / LOCALES[code].rsplit("_", 1)[0] / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=LOCALES[code])
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def time_zone_of(name: str | None) -> tzinfo:
    """An IANA time zone by name; UTC for none or an unknown name."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def valid_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def localisation(code: str, time_zone: str | None = None) -> Localisation:
    return Localisation(code, translations_for(code), time_zone_of(time_zone))


_current: ContextVar[Localisation | None] = ContextVar("tidings_localisation", default=None)


def current() -> Localisation:
    """The localisation of the request being served (English, UTC outside one)."""
    return _current.get() or localisation(DEFAULT_LOCALE)


def use(value: Localisation) -> None:
    """Speak this language in the current context (a request, a test)."""
    _current.set(value)


def gettext(message: str) -> str:
    return current().translations.gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return current().translations.ngettext(singular, plural, count)


def lazy_gettext(message: str) -> LazyProxy:
    """A message translated when shown, not when defined (module-level constants)."""
    return LazyProxy(gettext, message, enable_cache=False)


def N_(message: str) -> str:
    """Mark a message for extraction; `gettext` it where it is shown."""
    return message


def html_lang() -> str:
    return current().code


def choose(request: Request) -> tuple[str, str | None]:
    """The interface language (explicit switch, then the reader's saved preference, then the
    browser's Accept-Language) and the switch to remember in the cookie, if one was made now."""
    asked = supported(request.query_params.get("lang"))
    if asked is not None:
        return asked, asked
    cookie = supported(request.cookies.get(LANG_COOKIE))
    if cookie is not None:
        return cookie, None
    user = getattr(request.state, "user", None)
    if user is not None and supported(user.locale):
        return str(supported(user.locale)), None
    return negotiate(request.headers.get("accept-language")), None


async def middleware(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Pick the request's language and time zone, and say on each page what it varied on."""
    path = request.url.path
    if path.startswith("/static/") or path.startswith("/api/"):
        return await call_next(request)
    if SESSION_COOKIE in request.cookies:
        await run_in_threadpool(current_user, request)  # the reader's locale and time zone
    code, switched = choose(request)
    user = getattr(request.state, "user", None)
    use(localisation(code, user.time_zone if user is not None else None))
    response = await call_next(request)
    if response.headers.get("content-type", "").startswith("text/html"):
        response.headers["Content-Language"] = code
        vary = [v for v in response.headers.get("vary", "").split(",") if v.strip()]
        response.headers["Vary"] = ", ".join([*vary, "Accept-Language", "Cookie"])
    if switched is not None:
        response.set_cookie(
            LANG_COOKIE, switched, max_age=LANG_COOKIE_AGE, path="/", samesite="lax"
        )
    return response
