"""Story pages (full coverage of one event) and hashtag pages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tidings.db import repository
from tidings.db.models import Article
from tidings.enrich import stories
from tidings.reading.coverage import story_coverage
from tidings.web.deps import database_of
from tidings.web.pages import (
    PAGE_SIZE,
    ai_panel,
    comments_context,
    positions,
    templates,
    window_links,
)

router = APIRouter()


@router.get("/stories/{story_id}", response_class=HTMLResponse)
def story_page(request: Request, story_id: int) -> Response:
    with database_of(request).session() as session:
        story = stories.get_story(session, story_id)
        if story.id != story_id:  # merged into another story since the link was made
            return RedirectResponse(f"/stories/{story.id}", status_code=301)
        articles = stories.coverage(session, story.id)
        originals = [article for article in articles if article.duplicate_of is None]
        copies: dict[int, list[Article]] = {}  # a copy always sits in its original's story
        for article in articles:
            if article.duplicate_of is not None:
                copies.setdefault(article.duplicate_of, []).append(article)
        return templates.TemplateResponse(
            request,
            "story.html",
            {
                "story": story,
                "coverage": originals,
                "copies": copies,
                "outlets": story_coverage(session, articles),
                **ai_panel("story", story.id),
                **comments_context(request, session, "story", story.id),
            },
        )


@router.get("/tags/{slug}", response_class=HTMLResponse)
def tag_page(
    request: Request, slug: str, cursor: str | None = None, before: str | None = None
) -> Response:
    with database_of(request).session() as session:
        tag = repository.get_tag(session, slug)
        page = repository.article_window(
            session, limit=PAGE_SIZE, tag_id=tag.id, originals_only=True,
            **positions(cursor, before),
        )  # fmt: skip
        return templates.TemplateResponse(
            request,
            "tag.html",
            {
                "tag": tag,
                "articles": page.articles,
                "copies": repository.copies_of(session, [a.id for a in page.articles]),
                **window_links(page),
            },
        )
