"""A reader's own pages and API: follow, "For you", saved, read state."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from tidings.ai.provider import LANGUAGES
from tidings.comments.service import ForbiddenError
from tidings.db import repository
from tidings.db.models import User
from tidings.errors import InvalidInputError
from tidings.readers import service as readers
from tidings.web.auth import SignInRequired, check_csrf, current_user, local_path
from tidings.web.deps import database_of
from tidings.web.pages import PAGE_SIZE, templates
from tidings.web.schemas import ArticleOut

router = APIRouter()
Text = Annotated[str, Form()]


def _reader(request: Request) -> User:
    user = current_user(request)
    if user is None:
        raise ForbiddenError("sign in to follow, save and keep track of what you read")
    return user


@router.post("/follows")
def follow(request: Request, kind: Text, target_id: Annotated[int, Form()], folder: Text = "",
           unfollow: Text = "", next: Text = "/for-you", csrf_token: Text = "") -> Response:  # fmt: skip
    check_csrf(request, csrf_token)
    user = _reader(request)
    with database_of(request).session() as session:
        if unfollow:
            readers.unfollow(session, user, kind, target_id)
        else:
            readers.follow(session, user, kind, target_id, folder)
    return RedirectResponse(local_path(next), status_code=303)


@router.post("/mutes/source")
def mute_source(request: Request, source_id: Annotated[int, Form()], unmute: Text = "",
                next: Text = "/for-you", csrf_token: Text = "") -> Response:  # fmt: skip
    check_csrf(request, csrf_token)
    with database_of(request).session() as session:
        readers.mute_source(session, _reader(request), source_id, not unmute)
    return RedirectResponse(local_path(next), status_code=303)


@router.post("/account/preferences")
def preferences(request: Request, language: Text = "", muted_keywords: Text = "",
                csrf_token: Text = "") -> Response:  # fmt: skip
    check_csrf(request, csrf_token)
    if language and language not in LANGUAGES:
        raise InvalidInputError(f"unsupported language {language!r}")
    keywords = [k for line in muted_keywords.splitlines() for k in line.split(",")]
    with database_of(request).session() as session:
        readers.set_preferences(session, _reader(request), language=language, keywords=keywords)
    return RedirectResponse("/account?message=Preferences+saved", status_code=303)


@router.post("/articles/{article_id}/save")
def save(request: Request, article_id: int, saved: Text = "1", next: Text = "",
         csrf_token: Text = "") -> Response:  # fmt: skip
    check_csrf(request, csrf_token)
    with database_of(request).session() as session:
        readers.save(session, _reader(request), article_id, saved == "1")
    return RedirectResponse(local_path(next, f"/articles/{article_id}"), status_code=303)


@router.post("/articles/{article_id}/read")
def read(request: Request, article_id: int, read: Text = "1", next: Text = "/for-you",
         csrf_token: Text = "") -> Response:  # fmt: skip
    check_csrf(request, csrf_token)
    with database_of(request).session() as session:
        readers.mark_read(session, _reader(request), article_id, read == "1")
    return RedirectResponse(local_path(next), status_code=303)


@router.post("/for-you/read-all")
def read_all(request: Request, folder: Annotated[str | None, Form()] = None,
             csrf_token: Text = "") -> Response:  # fmt: skip
    check_csrf(request, csrf_token)
    with database_of(request).session() as session:
        readers.mark_all_read(session, _reader(request), folder)
    suffix = f"?folder={quote(folder)}" if folder is not None else ""
    return RedirectResponse(f"/for-you{suffix}", status_code=303)


@router.get("/for-you", response_class=HTMLResponse)
def for_you_page(request: Request, folder: str | None = None, unread: bool = False,
                 cursor: str | None = None) -> Response:  # fmt: skip
    user = current_user(request)
    if user is None:
        raise SignInRequired("/for-you")
    with database_of(request).session() as session:
        position = repository.Cursor.decode(cursor) if cursor else None
        articles, next_cursor = readers.for_you(session, user, limit=PAGE_SIZE, cursor=position,
                                                folder=folder, unread_only=unread)  # fmt: skip
        context = {
            "articles": articles, "folder": folder, "unread": unread,
            "next_cursor": next_cursor.encode() if next_cursor else None,
            "read_ids": readers.read_ids(session, user, articles),
            "folders": readers.folders(session, user), "follows": readers.follows(session, user),
            "unread_total": readers.unread_count(session, user),
        }  # fmt: skip
        return templates.TemplateResponse(request, "for_you.html", context)


@router.get("/saved", response_class=HTMLResponse)
def saved_page(request: Request, cursor: str | None = None) -> Response:
    user = current_user(request)
    if user is None:
        raise SignInRequired("/saved")
    with database_of(request).session() as session:
        position = repository.Cursor.decode(cursor) if cursor else None
        articles, next_cursor = readers.saved_articles(
            session, user, limit=PAGE_SIZE, cursor=position
        )
        context = {
            "articles": articles,
            "next_cursor": next_cursor.encode() if next_cursor else None,
        }
        return templates.TemplateResponse(request, "saved.html", context)


class PreferencesIn(BaseModel):
    language: str | None = None
    muted_keywords: list[str] = []
    muted_sources: list[int] = []


@router.get("/api/v1/me/preferences", tags=["me"])
def api_preferences(request: Request) -> PreferencesIn:
    user = _reader(request)
    with database_of(request).session() as session:
        keywords, sources = readers.muted(session, user)
    return PreferencesIn(language=user.language, muted_keywords=keywords, muted_sources=sources)


@router.put("/api/v1/me/preferences", tags=["me"])
def api_set_preferences(request: Request, body: PreferencesIn) -> PreferencesIn:
    if body.language and body.language not in LANGUAGES:
        raise InvalidInputError(f"unsupported language {body.language!r}")
    user = _reader(request)
    with database_of(request).session() as session:
        readers.set_preferences(session, user, language=body.language, keywords=body.muted_keywords)
        _keywords, current = readers.muted(session, user)
        for source_id in set(current) - set(body.muted_sources):
            readers.mute_source(session, user, source_id, False)
        for source_id in set(body.muted_sources) - set(current):
            readers.mute_source(session, user, source_id, True)
        session.flush()
        keywords, sources = readers.muted(session, user)
        return PreferencesIn(language=body.language or None, muted_keywords=keywords,
                             muted_sources=sources)  # fmt: skip


class FollowIn(BaseModel):
    kind: str = Field(description="source | tag | story")
    target_id: int
    folder: str = ""


def _page(articles: list[Any], next_cursor: repository.Cursor | None) -> dict[str, Any]:
    return {"items": [ArticleOut.of(a).model_dump(mode="json") for a in articles],
            "next_cursor": next_cursor.encode() if next_cursor else None}  # fmt: skip


@router.get("/api/v1/me/follows", tags=["me"])
def api_follows(request: Request) -> dict[str, Any]:
    """What the signed-in reader follows."""
    with database_of(request).session() as session:
        found = readers.follows(session, _reader(request))
        return {"items": [{"kind": f.kind, "target_id": f.target_id, "name": f.name,
                           "folder": f.folder} for f in found]}  # fmt: skip


@router.post("/api/v1/me/follows", tags=["me"], status_code=201)
def api_follow(request: Request, body: FollowIn) -> dict[str, Any]:
    with database_of(request).session() as session:
        readers.follow(session, _reader(request), body.kind, body.target_id, body.folder)
    return {"kind": body.kind, "target_id": body.target_id, "folder": body.folder}


@router.delete("/api/v1/me/follows/{kind}/{target_id}", tags=["me"], status_code=204)
def api_unfollow(request: Request, kind: str, target_id: int) -> Response:
    with database_of(request).session() as session:
        readers.unfollow(session, _reader(request), kind, target_id)
    return Response(status_code=204)


@router.get("/api/v1/me/for-you", tags=["me"])
def api_for_you(request: Request, folder: str | None = None, unread: bool = False,
                cursor: str | None = None, limit: int = 50) -> dict[str, Any]:  # fmt: skip
    """Articles from what the reader follows, with the unread count."""
    user = _reader(request)
    with database_of(request).session() as session:
        position = repository.Cursor.decode(cursor) if cursor else None
        found, next_cursor = readers.for_you(session, user, limit=min(max(limit, 1), 200),
                                             cursor=position, folder=folder, unread_only=unread)  # fmt: skip
        return {**_page(found, next_cursor), "unread": readers.unread_count(session, user, folder)}


@router.get("/api/v1/me/saved", tags=["me"])
def api_saved(request: Request, cursor: str | None = None) -> dict[str, Any]:
    with database_of(request).session() as session:
        position = repository.Cursor.decode(cursor) if cursor else None
        return _page(*readers.saved_articles(session, _reader(request), limit=50, cursor=position))


@router.put("/api/v1/me/saved/{article_id}", tags=["me"], status_code=204)
def api_save(request: Request, article_id: int) -> Response:
    with database_of(request).session() as session:
        readers.save(session, _reader(request), article_id, True)
    return Response(status_code=204)


@router.delete("/api/v1/me/saved/{article_id}", tags=["me"], status_code=204)
def api_unsave(request: Request, article_id: int) -> Response:
    with database_of(request).session() as session:
        readers.save(session, _reader(request), article_id, False)
    return Response(status_code=204)


@router.put("/api/v1/me/read/{article_id}", tags=["me"], status_code=204)
def api_read(request: Request, article_id: int) -> Response:
    with database_of(request).session() as session:
        readers.mark_read(session, _reader(request), article_id, True)
    return Response(status_code=204)


@router.post("/api/v1/me/read-all", tags=["me"], status_code=204)
def api_read_all(request: Request) -> Response:
    with database_of(request).session() as session:
        readers.mark_all_read(session, _reader(request))
    return Response(status_code=204)
