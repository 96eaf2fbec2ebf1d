"""What changed in an edited article: the word diff page and its JSON twin."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, field_serializer

from tidings.db import repository
from tidings.ingest.revisions import revisions_of
from tidings.reading.diff import change_counts, word_diff
from tidings.web.api import ERRORS
from tidings.web.deps import database_of
from tidings.web.pages import templates

router = APIRouter()


class RevisionOut(BaseModel):
    revision: int  # 1 is the version first stored
    title: str
    body: str
    fingerprint: str  # sha256 of title and text
    updated_at: datetime | None  # when the publisher says it made this version
    seen_at: datetime  # when Tidings first stored this version

    @field_serializer("updated_at", "seen_at")
    def _iso(self, value: datetime | None) -> str | None:
        return value.isoformat() if value else None


class RevisionList(BaseModel):
    items: list[RevisionOut]  # oldest first; empty when the article was never edited
    next_cursor: str | None = None


@router.get(
    "/api/v1/articles/{article_id}/revisions",
    response_model=RevisionList,
    responses=ERRORS,
    tags=["v1"],
)
def list_revisions(request: Request, article_id: int) -> RevisionList:
    """Every version of an article its publisher edited after publication, oldest first."""
    with database_of(request).session() as session:
        repository.get_article(session, article_id)  # 404 for an unknown article
        return RevisionList(
            items=[
                RevisionOut(
                    revision=r.revision,
                    title=r.title,
                    body=r.body,
                    fingerprint=r.fingerprint,
                    updated_at=r.updated_at,
                    seen_at=r.seen_at,
                )
                for r in revisions_of(session, article_id)
            ]
        )


@router.get("/articles/{article_id}/changes", response_class=HTMLResponse)
def changes_page(
    request: Request, article_id: int, old: int | None = None, new: int | None = None
) -> Response:
    """The word diff between two versions (by default the newest and the one before)."""
    with database_of(request).session() as session:
        article = repository.get_article(session, article_id)
        versions = revisions_of(session, article_id)
        context: dict[str, object] = {"article": article, "versions": versions}
        numbers = [v.revision for v in versions]
        if len(versions) >= 2:
            newer = new if new in numbers else numbers[-1]
            older = old if old in numbers and old != newer else max(1, newer - 1)
            if older == newer:  # only when newer is 1: compare the first two the other way
                older, newer = 1, 2
            before = versions[numbers.index(older)]
            after = versions[numbers.index(newer)]
            body = word_diff(before.body, after.body)
            added, removed = change_counts(body)
            context |= {
                "before": before,
                "after": after,
                "title_diff": word_diff(before.title, after.title)
                if before.title != after.title
                else None,
                "body_diff": body,
                "added": added,
                "removed": removed,
            }
        return templates.TemplateResponse(request, "article_changes.html", context)
