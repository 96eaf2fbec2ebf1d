"""JSON API under /api/v1: articles and sources (envelope and errors per the contracts)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from tidings.db import repository
from tidings.ingest.sources import rules_of, set_extraction_rules
from tidings.web.deps import database_of
from tidings.web.schemas import (
    ArticleOut,
    ArticlePage,
    Problem,
    SourceList,
    SourceOut,
    SourceUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["v1"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "Bad input (e.g. an invalid cursor)"},
    404: {"model": Problem, "description": "Not found"},
}


@router.get("/articles", response_model=ArticlePage, responses=_ERRORS)
def list_articles(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    source_id: int | None = None,
) -> ArticlePage:
    """Articles, newest first, with keyset pagination."""
    with database_of(request).session() as session:
        position = repository.Cursor.decode(cursor) if cursor else None
        articles, next_cursor = repository.list_articles(
            session, limit=limit, cursor=position, source_id=source_id
        )
        return ArticlePage(
            items=[ArticleOut.of(article) for article in articles],
            next_cursor=next_cursor.encode() if next_cursor else None,
        )


@router.get("/articles/{article_id}", response_model=ArticleOut, responses=_ERRORS)
def get_article(request: Request, article_id: int) -> ArticleOut:
    with database_of(request).session() as session:
        return ArticleOut.of(repository.get_article(session, article_id))


@router.get("/sources/{source_id}", response_model=SourceOut, responses=_ERRORS)
def get_source(request: Request, source_id: int) -> SourceOut:
    with database_of(request).session() as session:
        source = repository.get_source(session, source_id)
        return SourceOut.of(source, repository.count_articles(session, source_id))


@router.patch("/sources/{source_id}", response_model=SourceOut, responses=_ERRORS)
def update_source(request: Request, source_id: int, update: SourceUpdate) -> SourceOut:
    """Change a source's extraction rules (CSS selectors); a bad selector is a 400 problem."""
    database = database_of(request)
    with database.session() as session:
        current = rules_of(repository.get_source(session, source_id))
    fields = update.model_fields_set
    set_extraction_rules(
        database,
        source_id,
        update.extract_body_selector
        if "extract_body_selector" in fields
        else current.body_selector,
        update.extract_remove_selectors or []
        if "extract_remove_selectors" in fields
        else current.remove_selectors,
    )
    return get_source(request, source_id)


@router.get("/sources", response_model=SourceList, responses=_ERRORS)
def list_sources(request: Request) -> SourceList:
    """Every followed source with its fetch status and article count."""
    with database_of(request).session() as session:
        rows = repository.list_sources(session)
        return SourceList(items=[SourceOut.of(row.source, row.article_count) for row in rows])
