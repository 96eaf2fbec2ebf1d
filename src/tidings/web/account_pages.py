"""Account pages: sign up, sign in and out, password change and reset, delete account."""

from __future__ import annotations

from typing import Annotated

import limits
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select

from tidings.accounts import service as accounts
from tidings.accounts import tokens
from tidings.ai.provider import LANGUAGES
from tidings.db.models import Comment, Source, User
from tidings.errors import InvalidInputError
from tidings.ingest.opml import export_opml
from tidings.readers import service as readers
from tidings.web import i18n
from tidings.web.auth import (
    SESSION_COOKIE,
    SignInRequired,
    check_csrf,
    current_user,
    local_path,
    set_session_cookie,
)
from tidings.web.deps import client_address, database_of
from tidings.web.i18n import N_
from tidings.web.pages import templates

router = APIRouter()
LOGIN_RATE = limits.parse("10/minute")  # sign-in attempts per client address
_limiter = limits.strategies.MovingWindowRateLimiter(limits.storage.MemoryStorage())

Text = Annotated[str, Form()]


def sign_in_allowed(request: Request) -> bool:
    """Count a sign-in attempt from this client's address: False past LOGIN_RATE."""
    return bool(_limiter.hit(LOGIN_RATE, database_of(request).url, client_address(request)))


def _user(request: Request) -> User:
    user = current_user(request)
    if user is None:
        raise SignInRequired("/account")
    return user


def _form(request: Request, name: str, status: int = 200, **context: object) -> Response:
    return templates.TemplateResponse(request, f"{name}.html", context, status_code=status)


def _signed_in(request: Request, token: str, target: str) -> Response:
    response = RedirectResponse(local_path(target), status_code=303)
    set_session_cookie(request, response, token)
    return response


@router.get("/signup", response_class=HTMLResponse)
def signup_page(request: Request, next: str = "/") -> Response:
    return _form(request, "signup", next=local_path(next))


@router.post("/signup")
def signup(request: Request, email: Text, display_name: Text, password: Text,
           csrf_token: Text = "", next: Text = "/") -> Response:  # fmt: skip
    check_csrf(request, csrf_token)
    try:
        with database_of(request).session() as session:
            user = accounts.create_user(session, email, password, display_name)
            token = accounts.start_session(session, user)
    except InvalidInputError as error:
        return _form(request, "signup", 400, error=str(error), email=email,
                     display_name=display_name, next=local_path(next))  # fmt: skip
    return _signed_in(request, token, next)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    return _form(request, "login", next=local_path(next))


@router.post("/login")
def login(request: Request, email: Text, password: Text, csrf_token: Text = "",
          next: Text = "/") -> Response:  # fmt: skip
    check_csrf(request, csrf_token)
    if not sign_in_allowed(request):
        refusal = i18n.gettext("too many sign-in attempts: wait a minute")
        return _form(request, "login", 429, error=refusal, email=email, next=local_path(next))
    try:
        with database_of(request).session() as session:
            user = accounts.authenticate(session, email, password)
            token = accounts.start_session(session, user)
    except accounts.AuthError as error:
        return _form(request, "login", 401, error=str(error), email=email, next=local_path(next))
    return _signed_in(request, token, next)


@router.post("/logout")
def logout(request: Request, csrf_token: Text = "") -> Response:
    check_csrf(request, csrf_token)
    with database_of(request).session() as session:
        accounts.end_session(session, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, message: str | None = None) -> Response:
    user = _user(request)
    return _account(request, user, message=message)


def _account(request: Request, user: User, status: int = 200, **extra: object) -> Response:
    with database_of(request).session() as session:
        keywords, source_ids = readers.muted(session, user)
        muted_sources = [session.get(Source, source_id) for source_id in source_ids]
        api_tokens = tokens.list_tokens(session, user)
    return _form(request, "account", status, user=user, languages=LANGUAGES,
                 muted_keywords=keywords, muted_sources=[s for s in muted_sources if s],
                 tokens=api_tokens, scopes=tokens.SCOPES, time_zones=i18n.TIME_ZONES,
                 **extra)  # fmt: skip


@router.post("/account/locale")
def set_locale(request: Request, locale: Text = "", time_zone: Text = "",
               csrf_token: Text = "") -> Response:  # fmt: skip
    """The interface language and time zone; the language also becomes this browser's."""
    check_csrf(request, csrf_token)
    user = _user(request)
    chosen = i18n.supported(locale) if locale else None
    zone = time_zone.strip()
    if (locale and chosen is None) or (zone and not i18n.valid_time_zone(zone)):
        error = i18n.gettext("Unknown language or time zone: %(value)s") % {
            "value": zone if chosen or not locale else locale
        }
        return _account(request, user, 400, error=error)
    with database_of(request).session() as session:
        readers.set_interface(session, user, locale=chosen, time_zone=zone)
    response = RedirectResponse("/account?message=Language+and+time+zone+saved", status_code=303)
    if chosen is None:
        response.delete_cookie(i18n.LANG_COOKIE, path="/")
    else:
        response.set_cookie(i18n.LANG_COOKIE, chosen, max_age=i18n.LANG_COOKIE_AGE, path="/",
                            samesite="lax")  # fmt: skip
    return response


# The notes pages show after a redirect (?message=…), for extraction.
_NOTES = (N_("Preferences saved"), N_("Token revoked"), N_("Password changed"),
          N_("Language and time zone saved"))  # fmt: skip


@router.post("/account/tokens")
def create_token(request: Request, name: Text = "", scope: Annotated[list[str] | None, Form()] = None,
                 csrf_token: Text = "") -> Response:  # fmt: skip
    check_csrf(request, csrf_token)
    user = _user(request)
    try:
        with database_of(request).session() as session:
            row, secret = tokens.create_token(session, user, name, scope or [])
            label = row.name
    except InvalidInputError as error:
        return _account(request, user, 400, error=str(error))
    return _account(request, user, new_token=secret, new_token_name=label)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: int, csrf_token: Text = "") -> Response:
    check_csrf(request, csrf_token)
    user = _user(request)
    with database_of(request).session() as session:
        tokens.revoke_token(session, user, token_id)
    return RedirectResponse("/account?message=Token+revoked", status_code=303)


@router.post("/account/password")
def change_password(request: Request, current: Text, new: Text, csrf_token: Text = "") -> Response:
    check_csrf(request, csrf_token)
    user = _user(request)
    try:
        with database_of(request).session() as session:
            row = session.merge(user)
            accounts.change_password(session, row, current, new)
            token = accounts.start_session(session, row)
    except (accounts.AuthError, InvalidInputError) as error:
        return _account(request, user, 400, error=str(error))
    return _signed_in(request, token, "/account?message=Password+changed")


@router.get("/account/export")
def export_account(request: Request) -> Response:
    """The reader's data as JSON: the account and every comment they wrote."""
    user = _user(request)
    with database_of(request).session() as session:
        written = session.scalars(
            select(Comment).where(Comment.user_id == user.id).order_by(Comment.created_at)
        ).all()
        followed = readers.follows(session, user)
        saved, _ = readers.saved_articles(session, user, limit=100_000)
        data = {
            "account": {"email": user.email, "display_name": user.display_name,
                        "role": user.role, "created_at": user.created_at.isoformat()},
            "follows": [{"kind": f.kind, "name": f.name, "url": f.href, "folder": f.folder}
                        for f in followed],
            "saved": [{"id": a.id, "title": a.title, "url": a.url} for a in saved],
            "comments": [
                {"id": c.id, "on": f"/{'articles' if c.target_type == 'article' else 'stories'}/"
                 f"{c.target_id}", "parent_id": c.parent_id, "markdown": c.body,
                 "status": c.status, "created_at": c.created_at.isoformat()}
                for c in written
            ],
        }  # fmt: skip
    return JSONResponse(
        data, headers={"Content-Disposition": 'attachment; filename="tidings-account.json"'}
    )


@router.get("/account/follows.opml")
def export_follows(request: Request) -> Response:
    """The sources the reader follows, in their folders, as OPML for another reader."""
    user = _user(request)
    with database_of(request).session() as session:
        folders = {
            f.target_id: f.folder for f in readers.follows(session, user) if f.kind == "source"
        }
    return Response(
        export_opml(database_of(request), folders),
        media_type="text/x-opml",
        headers={"Content-Disposition": 'attachment; filename="tidings-follows.opml"'},
    )


@router.post("/account/delete")
def delete_account(request: Request, password: Text, csrf_token: Text = "") -> Response:
    check_csrf(request, csrf_token)
    user = _user(request)
    try:
        with database_of(request).session() as session:
            row = accounts.authenticate(session, user.email, password)
            accounts.delete_account(session, row)
    except accounts.AuthError as error:
        return _account(request, user, 400, error=str(error))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/reset/{token}", response_class=HTMLResponse)
def reset_page(request: Request, token: str) -> Response:
    return _form(request, "reset", token=token)


@router.post("/reset/{token}")
def reset(request: Request, token: str, password: Text, csrf_token: Text = "") -> Response:
    check_csrf(request, csrf_token)
    try:
        with database_of(request).session() as session:
            user = accounts.reset_password(session, token, password)
            session_token = accounts.start_session(session, user)
    except (accounts.AuthError, InvalidInputError) as error:
        return _form(request, "reset", 400, token=token, error=str(error))
    return _signed_in(request, session_token, "/")
