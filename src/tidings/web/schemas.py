"""Pydantic models at the API edge (shapes per docs/contracts.md)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_serializer

from tidings.db.models import Article, Source


class ArticleOut(BaseModel):
    id: int
    url: str
    original_url: str
    title: str
    source_id: int
    publisher: str
    published_at: datetime
    updated_at: datetime | None
    language: str | None
    byline: str | None
    captions: list[str]
    lead_image: str | None
    body: str

    @field_serializer("published_at", "updated_at")
    def _iso(self, value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    @classmethod
    def of(cls, article: Article) -> ArticleOut:
        return cls(
            id=article.id,
            url=article.url,
            original_url=article.original_url,
            title=article.title,
            source_id=article.source_id,
            publisher=article.source.name,
            published_at=article.published_at,
            updated_at=article.updated_at,
            language=article.language,
            byline=article.byline,
            captions=list(article.captions or []),
            lead_image=article.lead_image,
            body=article.body,
        )


class ArticlePage(BaseModel):
    items: list[ArticleOut]
    next_cursor: str | None


class SourceOut(BaseModel):
    id: int
    name: str
    feed_url: str
    site_url: str | None
    feed_format: str | None
    language: str | None
    status: str
    last_fetched_at: datetime | None
    last_error: str | None
    next_fetch_at: datetime | None
    article_count: int
    extract_body_selector: str | None = None
    extract_remove_selectors: list[str] = []

    @field_serializer("last_fetched_at", "next_fetch_at")
    def _iso(self, value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    @classmethod
    def of(cls, source: Source, article_count: int) -> SourceOut:
        return cls(
            id=source.id,
            name=source.name,
            feed_url=source.feed_url,
            site_url=source.site_url,
            feed_format=source.feed_format,
            language=source.language,
            status=source.status,
            last_fetched_at=source.last_fetched_at,
            last_error=source.last_error,
            next_fetch_at=source.next_fetch_at,
            article_count=article_count,
            extract_body_selector=source.extract_body_selector,
            extract_remove_selectors=list(source.extract_remove_selectors or []),
        )


class SourceUpdate(BaseModel):
    """Fields a PATCH may change; absent fields stay as they are."""

    extract_body_selector: str | None = Field(default=None, max_length=500)
    extract_remove_selectors: list[str] | None = Field(default=None, max_length=50)


class SourceList(BaseModel):
    items: list[SourceOut]
    next_cursor: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
