"""JSON API under /api/v1: articles and sources (envelope and errors per the contracts)."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from tidings.db import repository
from tidings.errors import InvalidInputError
from tidings.ingest.opml import export_opml, import_opml
from tidings.ingest.pipeline import refresh_source
from tidings.ingest.retention import remove_source
from tidings.ingest.sources import (
    SourceSettings,
    add_source,
    rules_of,
    set_extraction_rules,
    update_source_settings,
)
from tidings.search import SearchFilters, search_articles
from tidings.web.deps import database_of, semantic_index, settings_of
from tidings.web.schemas import (
    ArticleOut,
    ArticlePage,
    Problem,
    SearchHit,
    SearchResults,
    SourceList,
    SourceOut,
    SourceUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["v1"])
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
          422: "Unprocessable Content", 429: "Too Many Requests", 502: "Bad Gateway",
          503: "Service Unavailable"}  # fmt: skip


def problem(status: int, detail: str, title: str | None = None) -> JSONResponse:
    """An RFC 9457 problem+json response."""
    return JSONResponse(
        {"type": "about:blank", "title": title or TITLES.get(status, "Error"), "status": status,
         "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )  # fmt: skip


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "Bad input (e.g. an invalid cursor)"},
    404: {"model": Problem, "description": "Not found"},
}


@router.get("/articles", response_model=ArticlePage, responses=ERRORS)
def list_articles(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    source_id: int | None = None,
    tag: str | None = None,
    originals_only: bool = False,
) -> ArticlePage:
    """Articles, newest first, with keyset pagination; `tag` is a hashtag slug
    (`SmartCities`), `originals_only` leaves out syndicated copies."""
    with database_of(request).session() as session:
        position = repository.Cursor.decode(cursor) if cursor else None
        tag_id = repository.get_tag(session, tag).id if tag else None
        articles, next_cursor = repository.list_articles(
            session,
            limit=limit,
            cursor=position,
            source_id=source_id,
            tag_id=tag_id,
            originals_only=originals_only,
        )
        return ArticlePage(
            items=[ArticleOut.of(article) for article in articles],
            next_cursor=next_cursor.encode() if next_cursor else None,
        )


@router.get("/articles/{article_id}", response_model=ArticleOut, responses=ERRORS)
def get_article(request: Request, article_id: int) -> ArticleOut:
    with database_of(request).session() as session:
        return ArticleOut.of(repository.get_article(session, article_id))


@router.get("/sources/{source_id}", response_model=SourceOut, responses=ERRORS)
def get_source(request: Request, source_id: int) -> SourceOut:
    with database_of(request).session() as session:
        rows = repository.list_sources(session, source_id)
        if not rows:
            repository.get_source(session, source_id)  # raises the 404
        return SourceOut.of(rows[0])


@router.patch("/sources/{source_id}", response_model=SourceOut, responses=ERRORS)
def update_source(request: Request, source_id: int, update: SourceUpdate) -> SourceOut:
    """Change a source's settings: extraction rules, pause, credentials, proxy, limits.

    Absent fields stay as they are; a bad selector or value is a 400 problem saying why.
    """
    database = database_of(request)
    with database.session() as session:
        current = rules_of(repository.get_source(session, source_id))
    fields = update.model_fields_set
    if fields & {"extract_body_selector", "extract_remove_selectors"}:
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
    changes = {name: getattr(update, name) for name in _SETTING_FIELDS if name in fields}
    if changes:
        update_source_settings(database, source_id, SourceSettings(**changes))
    return get_source(request, source_id)


_SETTING_FIELDS = tuple(field.name for field in dataclasses.fields(SourceSettings))


class SourceIn(BaseModel):
    url: str = Field(description="A feed URL, or a site URL whose feed is discovered")


@router.post("/sources", response_model=SourceOut, status_code=201, responses=ERRORS)
def add_source_api(request: Request, body: SourceIn, response: Response) -> SourceOut:
    """Follow a publisher (201; 200 with the existing source if it is already followed)."""
    result = add_source(database_of(request), settings_of(request), body.url)
    if not result.created:
        response.status_code = 200
    return get_source(request, result.source.id)


@router.post("/sources/{source_id}/refresh", responses=ERRORS)
def refresh_source_api(request: Request, source_id: int) -> dict[str, Any]:
    """Fetch the source now; the refresh report (status, new and updated articles, error)."""
    with database_of(request).session() as session:
        repository.get_source(session, source_id)
    report = refresh_source(database_of(request), settings_of(request), source_id)
    return dataclasses.asdict(report)


@router.delete("/sources/{source_id}", status_code=204, responses=ERRORS)
def delete_source_api(request: Request, source_id: int) -> Response:
    """Stop following a source and remove its articles (saved ones too: they were its)."""
    remove_source(database_of(request), source_id, settings_of(request))
    return Response(status_code=204)


@router.get("/sources", response_model=SourceList, responses=ERRORS)
def list_sources(request: Request) -> SourceList:
    """Every followed source with its fetch status and article count."""
    with database_of(request).session() as session:
        rows = repository.list_sources(session)
        return SourceList(items=[SourceOut.of(row) for row in rows])


@router.get("/opml", response_class=Response, responses={200: {"content": {"text/x-opml": {}}}})
def get_opml(request: Request) -> Response:
    """Every source as OPML 2.0."""
    return Response(
        export_opml(database_of(request)),
        media_type="text/x-opml",
        headers={"Content-Disposition": 'attachment; filename="tidings.opml"'},
    )


@router.post("/opml", responses=ERRORS)
async def post_opml(request: Request) -> dict[str, Any]:
    """Import an OPML document sent as the request body; returns what was added and skipped."""
    body = await request.body()
    report = await run_in_threadpool(import_opml, database_of(request), io.BytesIO(body))
    return {
        "added": report.added,
        "skipped": report.skipped,
        "invalid": [{"url": url, "reason": reason} for url, reason in report.invalid],
    }


@router.get("/search", response_model=SearchResults, responses=ERRORS)
def search(
    request: Request,
    q: Annotated[
        str,
        Query(
            max_length=300,
            description='Words; "quoted phrases" match exactly; #hashtag keeps tagged articles',
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
    source_id: int | None = None,
    language: str | None = None,
    tag: Annotated[str | None, Query(description="a hashtag, without #")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sort: Annotated[str, Query(pattern="^(relevance|time)$")] = "relevance",
    mode: Annotated[
        str,
        Query(
            pattern="^(hybrid|keyword|semantic)$",
            description="hybrid: words and meaning fused by reciprocal rank",
        ),
    ] = "hybrid",
) -> SearchResults:
    """Search titles, text, publishers and hashtags (and, in hybrid or semantic mode, the
    meaning of the articles), best match first or newest first."""
    offset = _offset(cursor)
    filters = SearchFilters(
        source_id,
        language,
        _aware(since),
        _aware(until),
        sort,
        tag.lstrip("#") if tag else None,
        mode,
    )
    with database_of(request).session() as session:
        page = search_articles(
            session, q, filters, limit=limit, offset=offset, semantic=semantic_index(request)
        )
        return SearchResults(
            items=[
                SearchHit(
                    **ArticleOut.of(hit.article).model_dump(),
                    snippet=hit.snippet,
                    matched=hit.matched,
                )
                for hit in page.hits
            ],
            next_cursor=str(page.next_offset) if page.next_offset is not None else None,
        )


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or int(cursor) > 10_000:
        raise InvalidInputError(f"invalid cursor {cursor!r}")
    return int(cursor)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment
