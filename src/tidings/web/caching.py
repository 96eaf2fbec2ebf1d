"""HTTP caching of pages and feeds: a weak ETag, 304 on If-None-Match, Cache-Control, Vary.

The ETag is a hash of the body as rendered for this request, so it is right by construction:
a new article, a new comment or another language gives another body and so another tag, and
a reader's page (their saved marks, their CSRF token) never matches another's. What a 304
saves is the transfer and the browser's work, not the rendering.

Cache-Control says who may keep a copy: a page for a signed-in reader, or one carrying a
form token for this browser, is `private` (no shared cache may keep it); anything else is
`public` for a short while, so a reverse proxy in front (docs/deployment.md) can answer the
anonymous front page without reaching the app. `Vary` names what the page depends on.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response

from tidings.web.auth import SESSION_COOKIE

PUBLIC_PAGE = "public, max-age=60"
PRIVATE_PAGE = "private, no-cache"
VARY = "Cookie, Accept-Language"
# Responses worth a validator: pages and the feeds served to readers.
CACHEABLE_TYPES = ("text/html", "application/rss+xml", "application/atom+xml",
                   "application/feed+json")  # fmt: skip
NOT_MODIFIED_HEADERS = ("cache-control", "etag", "vary", "content-location", "expires")


def wants_validator(request: Request, response: Response) -> bool:
    """A successful GET of a page or a feed (not the API, static files, redirects, errors)."""
    if request.method != "GET" or response.status_code != 200:
        return False
    if request.url.path.startswith(("/api/", "/static/")):
        return False
    kind = response.headers.get("content-type", "")
    return kind.startswith(CACHEABLE_TYPES)


def weak_etag(body: bytes) -> str:
    return f'W/"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match against our tag, weak comparison (RFC 9110 13.1.2)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == opaque for tag in if_none_match.split(","))


def cache_control(request: Request, response: Response) -> str:
    """The Cache-Control for this page: private if it is someone's, else what the route set,
    else public for a minute."""
    personal = (
        SESSION_COOKIE in request.cookies
        or getattr(request.state, "csrf", None) is not None
        or request.url.path.startswith("/feeds/for-you/")
        or "set-cookie" in response.headers
    )
    if personal:
        return PRIVATE_PAGE
    return response.headers.get("cache-control") or PUBLIC_PAGE


async def with_validator(request: Request, response: Response) -> Response:
    """The response with ETag, Cache-Control and Vary, or a 304 if the browser has it."""
    body = b"".join([chunk async for chunk in _chunks(response)])
    etag = weak_etag(body)
    # Set-Cookie may come more than once: copied apart, below.
    headers = {
        k: v for k, v in response.headers.items() if k not in ("content-length", "set-cookie")
    }
    headers["etag"] = etag
    headers["cache-control"] = cache_control(request, response)
    headers["vary"] = VARY
    if matches(request.headers.get("if-none-match"), etag):
        kept = {name: value for name, value in headers.items() if name in NOT_MODIFIED_HEADERS}
        not_modified = Response(status_code=304, headers=kept)
        for value in response.headers.getlist("set-cookie"):
            not_modified.headers.append("set-cookie", value)
        return not_modified
    fresh = Response(body, status_code=response.status_code, headers=headers)
    fresh.background = response.background
    for value in response.headers.getlist("set-cookie"):
        fresh.headers.append("set-cookie", value)
    return fresh


async def _chunks(response: Response) -> AsyncIterator[bytes]:
    iterator = getattr(response, "body_iterator", None)
    if iterator is None:
        yield bytes(response.body)
        return
    async for chunk in iterator:
        yield chunk if isinstance(chunk, bytes) else chunk.encode()
