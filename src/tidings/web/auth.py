"""Who is asking: the session cookie, the CSRF token, and the admin guard.

CSRF uses the double-submit pattern: a random `tidings_csrf` cookie (SameSite=Lax,
HttpOnly) whose value every state-changing form repeats in a hidden field; a request from
another site can send the cookie but cannot read it to fill the field.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import quote, urlsplit

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from tidings.accounts.client_login import client_login_user
from tidings.accounts.service import admin_exists, session_user
from tidings.accounts.tokens import PREFIX, token_user
from tidings.db.models import User
from tidings.errors import TidingsError
from tidings.web.deps import database_of, settings_of

SESSION_COOKIE = "tidings_session"
CSRF_COOKIE = "tidings_csrf"
CSRF_FIELD = "csrf_token"
GOOGLE_READER_PATH = "/api/greader/"
# POSTs that only read: a read-only token may make them.
READ_POSTS = (
    "/api/greader/accounts/ClientLogin",
    "/api/greader/reader/api/0/stream/items/contents",
)


class CSRFError(TidingsError):
    """A form came without the token its page carried."""


class SignInRequired(TidingsError):
    """A reader's own page opened without signing in (the app sends them to /login)."""

    def __init__(self, next_path: str) -> None:
        super().__init__("sign in first")
        self.next_path = next_path


def login_redirect(next_path: str) -> RedirectResponse:
    """To the sign-in page, and back to `next_path` after it."""
    return RedirectResponse(f"/login?next={quote(next_path)}", status_code=303)


def api_credential(request: Request) -> str | None:
    """The secret an API request carries: `Authorization: Bearer tdg_…`, or on the Google
    Reader API `Authorization: GoogleLogin auth=…` (an API token or a ClientLogin credential)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "googlelogin" and request.url.path.startswith(GOOGLE_READER_PATH):
        name, _, secret = value.partition("=")
        return (secret.strip() or None) if name.strip().lower() == "auth" else None
    return None


def _credential_user(
    request: Request, session: Session, secret: str
) -> tuple[User, frozenset[str] | None] | None:
    """Whose credential this is and its scopes (None: a ClientLogin one, which may do what
    the reader's role may, like a browser session)."""
    if secret.startswith(PREFIX) or not request.url.path.startswith(GOOGLE_READER_PATH):
        return token_user(session, secret)
    user = client_login_user(session, secret, settings_of(request).secret_key)
    return (user, None) if user is not None else None


def current_user(request: Request) -> User | None:
    """The signed-in user (session cookie) or the owner of the API credential, looked up once."""
    if not hasattr(request.state, "user"):
        secret = api_credential(request)
        with database_of(request).session() as session:
            if secret is not None:
                found = _credential_user(request, session, secret)
                request.state.user, request.state.scopes = found or (None, frozenset())
                request.state.bad_token = found is None
            else:
                request.state.user = session_user(session, request.cookies.get(SESSION_COOKIE))
                request.state.scopes = None  # a browser session may do what its role may
    user: User | None = request.state.user
    return user


def token_refusal(request: Request) -> tuple[int, str] | None:
    """Why an API request's token may not do this (status, detail), if it may not."""
    if api_credential(request) is None:
        return None
    current_user(request)
    if request.state.bad_token and request.url.path.startswith(GOOGLE_READER_PATH):
        return 401, "unknown or expired login: sign in again through accounts/ClientLogin"
    if request.state.bad_token:
        return 401, "unknown or revoked API token"
    scopes: frozenset[str] | None = request.state.scopes
    writes = request.method not in ("GET", "HEAD", "OPTIONS") and request.url.path not in READ_POSTS
    if scopes is not None and writes and "write" not in scopes:
        return 403, "this API token is read-only (scope: read)"
    return None


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
    admin_only = path.startswith(("/admin", "/api/v1/admin/")) or settings_api
    guarded = admin_only or (api_write and not readers_own)
    return guarded and not acts_as_admin(request)


def acts_as_admin(request: Request) -> bool:
    """Whether this request may do what admins do: an admin's session or admin-scoped token,
    or anyone while no admin exists yet."""
    user = current_user(request)
    scopes: frozenset[str] | None = request.state.scopes
    if user is not None and user.role == "admin" and (scopes is None or "admin" in scopes):
        return True
    with database_of(request).session() as session:
        return not admin_exists(session)
