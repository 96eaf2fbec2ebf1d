"""A micro-cache of anonymous pages: the same bytes for the same request, for a few seconds.

Most of a news site's traffic is signed-out readers asking for the same few pages (the front
page, a busy story). Rendering the front page over a million articles costs ~30 ms of
Python; answering it from memory costs well under one. So, as nginx "microcaching" does in
front of PHP sites, this outermost ASGI layer keeps each anonymous page for
`TIDINGS_PAGE_CACHE_S` seconds (default 5; 0 turns it off) and answers repeats without
entering the app at all.

What makes it safe:
- Only what the app itself declares shareable is kept: a GET answered 200 with
  `Cache-Control: public` and no Set-Cookie (web/caching.py marks every signed-in page, every
  page holding a form token and every personal feed `private`).
- Requests that carry any cookie but the language and theme choices pass straight through,
  as does everything under /api/ and every request in private mode.
- The key holds what a page varies on: path and query, the language asked for (cookie or
  Accept-Language), the theme cookie, and whether the body may be gzipped.
- One request renders a page at a time. When the copy has only expired, the others get the
  old copy meanwhile (stale-while-revalidate, at most one render old); after a write they
  wait for the new render.
- Any write committed by this process (a refresh, a comment, a moderation) empties the cache
  at once: an engine event notes statements that change data and bumps a generation on
  commit. Writes by other processes (queue workers) show within the few seconds of the TTL.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidings.web.i18n import LANG_COOKIE
from tidings.web.site_meta import THEME_COOKIE

MAX_ENTRIES = 512
MAX_BODY = 2 * 1024 * 1024
_SHAREABLE_COOKIES = frozenset({LANG_COOKIE, THEME_COOKIE})
_WRITES = ("insert", "update", "delete", "replace")


class _Generation:
    """Bumped whenever a transaction that changed data commits, in any engine of the process."""

    value = 0


@event.listens_for(Engine, "before_cursor_execute")
def _note_writes(
    connection: Connection, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
) -> None:
    if statement.lstrip()[:7].lower().startswith(_WRITES):
        connection.info["tidings_wrote"] = True


@event.listens_for(Engine, "commit")
def _bump_on_commit(connection: Connection) -> None:
    if connection.info.pop("tidings_wrote", False):
        _Generation.value += 1


@dataclass
class _Entry:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: bytes | None
    expires: float
    generation: int


class PageCache:
    """ASGI middleware: answers repeated anonymous GETs from memory (see the module doc)."""

    def __init__(self, app: ASGIApp, ttl_s: float, *, enabled: bool = True) -> None:
        self.app = app
        self.ttl_s = ttl_s
        self.enabled = enabled and ttl_s > 0
        self._entries: OrderedDict[tuple[str, ...], _Entry] = OrderedDict()
        # One render per page at a time: others wait for it, or get the expired copy.
        self._pending: dict[tuple[str, ...], asyncio.Event] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self._key(scope) if self.enabled else None
        if key is None:
            await self.app(scope, receive, send)
            return
        entry = self._entries.get(key)
        current = entry is not None and entry.generation == _Generation.value
        if entry is not None and current and entry.expires > time.monotonic():
            self._entries.move_to_end(key)
            await self._replay(scope, entry, send)
            return
        pending = self._pending.get(key)
        if pending is not None:
            if entry is not None and current:
                # Expired but nothing written since: the old copy while one request renders.
                await self._replay(scope, entry, send)
                return
            # After a write, wait for the one render in progress rather than all rendering.
            await pending.wait()
            entry = self._entries.get(key)
            if entry is not None and entry.generation == _Generation.value:
                await self._replay(scope, entry, send)
                return
            await self.app(scope, receive, send)
            return
        self._pending[key] = asyncio.Event()
        try:
            await self._fill(scope, receive, send, key)
        finally:
            self._pending.pop(key).set()

    def _key(self, scope: Scope) -> tuple[str, ...] | None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        path: str = scope["path"]
        if path.startswith(("/api/", "/static/", "/healthz")):
            return None
        headers = dict(scope["headers"])
        cookies = _cookies(headers.get(b"cookie", b"").decode("latin-1"))
        if set(cookies) - _SHAREABLE_COOKIES or b"authorization" in headers:
            return None
        return (
            path,
            scope.get("query_string", b"").decode("latin-1"),
            cookies.get(LANG_COOKIE, ""),
            headers.get(b"accept-language", b"").decode("latin-1"),
            cookies.get(THEME_COOKIE, ""),
            "gzip" if b"gzip" in headers.get(b"accept-encoding", b"") else "",
        )

    async def _replay(self, scope: Scope, entry: _Entry, send: Send) -> None:
        request_headers = dict(scope["headers"])
        if entry.etag is not None and _matches(request_headers.get(b"if-none-match"), entry.etag):
            kept = [(n, v) for n, v in entry.headers if n in _NOT_MODIFIED_HEADERS]
            await send({"type": "http.response.start", "status": 304, "headers": kept})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [*entry.headers, (b"x-tidings-cache", b"hit")]
        await send({"type": "http.response.start", "status": entry.status, "headers": headers})
        await send({"type": "http.response.body", "body": entry.body})

    async def _fill(self, scope: Scope, receive: Receive, send: Send, key: tuple[str, ...]) -> None:
        generation = _Generation.value  # a write while rendering must not be hidden
        start: Message | None = None
        parts: list[bytes] = []
        keep = True

        async def capture(message: Message) -> None:
            nonlocal start, keep
            if message["type"] == "http.response.start":
                start = message
                keep = _shareable(message)
            elif message["type"] == "http.response.body" and keep:
                parts.append(message.get("body", b""))
                if sum(map(len, parts)) > MAX_BODY:
                    keep = False
            await send(message)

        await self.app(scope, receive, capture)
        if not keep or start is None or not self.enabled:
            return
        headers = list(start.get("headers", []))
        etag = next((value for name, value in headers if name == b"etag"), None)
        self._entries[key] = _Entry(
            start["status"],
            headers,
            b"".join(parts),
            etag,
            time.monotonic() + self.ttl_s,
            generation,
        )
        self._entries.move_to_end(key)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)


_NOT_MODIFIED_HEADERS = (b"cache-control", b"etag", b"vary", b"expires")


def _shareable(start: Message) -> bool:
    if start["status"] != 200:
        return False
    headers = {name.lower(): value for name, value in start.get("headers", [])}
    if b"set-cookie" in headers:
        return False
    directives = headers.get(b"cache-control", b"").lower()
    return b"public" in directives and b"no-store" not in directives


def _cookies(header: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            found[name] = value
    return found


def _matches(if_none_match: bytes | None, etag: bytes) -> bool:
    if not if_none_match:
        return False
    opaque = etag.removeprefix(b"W/")
    return any(tag.strip().removeprefix(b"W/") == opaque for tag in if_none_match.split(b","))
