"""Who is asking: the session cookie, the CSRF token, and the admin guard.

CSRF uses the double-submit pattern: a random `tidings_csrf` cookie (SameSite=Lax,
HttpOnly) whose value every state-changing form repeats in a hidden field; a request from
another site can send the cookie but cannot read it to fill the field.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request
from starlette.responses import Response

from tidings.accounts.service import admin_exists, session_user
from tidings.db.models import User
from tidings.errors import TidingsError
from tidings.web.deps import database_of

SESSION_COOKIE = "tidings_session"
CSRF_COOKIE = "tidings_csrf"
CSRF_FIELD = "csrf_token"


class CSRFError(TidingsError):
    """A form came without the token its page carried."""


class NotAllowedError(TidingsError):
    """Signed in as someone who may not do this (or not signed in)."""


def current_user(request: Request) -> User | None:
    """The signed-in user, looked up once per request."""
    if not hasattr(request.state, "user"):
        with database_of(request).session() as session:
            request.state.user = session_user(session, request.cookies.get(SESSION_COOKIE))
    user: User | None = request.state.user
    return user


def csrf_token(request: Request) -> str:
    """The token forms on this page carry (made now if the browser has none yet)."""
    token = getattr(request.state, "csrf", None) or request.cookies.get(CSRF_COOKIE)
    if not token:
        token = secrets.token_urlsafe(24)
    request.state.csrf = token
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        raise CSRFError(
            "the form has expired or came from another site: reload the page and try again"
        )


def remember_csrf(request: Request, response: Response) -> None:
    """Set the CSRF cookie when this response made the token (middleware calls it)."""
    token = getattr(request.state, "csrf", None)
    if token and request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/")  # fmt: skip


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=30 * 86400, httponly=True,
                        samesite="lax", secure=request.url.scheme == "https", path="/")  # fmt: skip


def local_path(target: str | None, default: str = "/") -> str:
    """`target` if it is a path on this site, else `default`: no open redirects via ?next=."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    query = f"?{parts.query}" if parts.query else ""
    return parts.path + query + (f"#{parts.fragment}" if parts.fragment else "")


def needs_admin(request: Request) -> bool:
    """Admin pages and the API's writes need an admin once one exists (until then the
    instance is being set up and they are open, as before accounts)."""
    path, method = request.url.path, request.method
    settings_api = path.startswith("/api/v1/ai/provider")
    readers_own = ("/ai/" in path and not settings_api) or path.startswith("/api/v1/me/")
    api_write = path.startswith("/api/v1/") and method not in ("GET", "HEAD", "OPTIONS")
    guarded = path.startswith("/admin") or settings_api or (api_write and not readers_own)
    if not guarded:
        return False
    user = current_user(request)
    if user is not None and user.role == "admin":
        return False
    with database_of(request).session() as session:
        return admin_exists(session)
