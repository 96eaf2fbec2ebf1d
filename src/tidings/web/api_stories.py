"""JSON API for what enrichment finds: stories, related articles and hashtags."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from tidings.db import repository
from tidings.enrich import stories
from tidings.enrich.related import related_articles
from tidings.enrich.service import enricher_for
from tidings.errors import InvalidInputError
from tidings.reading.coverage import story_coverage
from tidings.web.api import ERRORS
from tidings.web.deps import database_of, settings_of
from tidings.web.schemas import (
    ArticleList,
    ArticleOut,
    CoverageOut,
    StoryDetail,
    StoryOut,
    StoryPage,
    TagCount,
    TagPage,
)

router = APIRouter(prefix="/api/v1", tags=["v1"])


@router.get("/stories", response_model=StoryPage, responses=ERRORS)
def list_stories(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> StoryPage:
    """Stories, most recently updated first, with keyset pagination through all of them."""
    with database_of(request).session() as session:
        position = repository.Cursor.decode(cursor) if cursor else None
        found, next_cursor = stories.list_stories(session, limit=limit, cursor=position)
        return StoryPage(
            items=[StoryOut.of(story) for story in found],
            next_cursor=next_cursor.encode() if next_cursor else None,
        )


@router.get("/stories/{story_id}", response_model=StoryDetail, responses=ERRORS)
def get_story(request: Request, story_id: int) -> StoryDetail:
    """One story with all its articles, earliest first, and which followed sources covered it
    and which have not (a merged story answers as its successor)."""
    with database_of(request).session() as session:
        story = stories.get_story(session, story_id)
        members = stories.coverage(session, story.id)
        return StoryDetail(
            **StoryOut.of(story).model_dump(),
            articles=[ArticleOut.of(article) for article in members],
            coverage=CoverageOut.of(story_coverage(session, members)),
        )


@router.get("/articles/{article_id}/related", response_model=ArticleList, responses=ERRORS)
def related(
    request: Request, article_id: int, limit: Annotated[int, Query(ge=1, le=50)] = 6
) -> ArticleList:
    """Related articles: other outlets first, then the newest; never the article or its copies."""
    database = database_of(request)
    with database.session() as session:
        article = repository.get_article(session, article_id)
        enricher = enricher_for(database, settings_of(request))
        found = related_articles(session, enricher, article, limit=limit)
        return ArticleList(items=[ArticleOut.of(row) for row in found])


@router.get("/tags", response_model=TagPage, responses=ERRORS)
def list_tags(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> TagPage:
    """Every hashtag in use, with its article count (keyset pagination)."""
    if cursor is not None and not cursor.isdigit():
        raise InvalidInputError(f"invalid cursor {cursor!r}")
    with database_of(request).session() as session:
        tags, after = repository.list_tags(
            session, limit=limit, after=int(cursor) if cursor else None
        )
        return TagPage(
            items=[
                TagCount(name=t.name, label=t.label, slug=t.slug, article_count=t.article_count)
                for t in tags
            ],
            next_cursor=str(after) if after is not None else None,
        )
