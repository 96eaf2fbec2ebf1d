"""Pydantic models at the API edge (shapes per docs/contracts.md)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_serializer

from tidings.db.models import Article, Story
from tidings.db.repository import SourceRow
from tidings.reading.coverage import StoryCoverage


class TagOut(BaseModel):
    name: str  # "#SmartCities"
    label: str  # the phrase behind it: "smart cities"
    slug: str  # for /tags/{slug} and /feeds/tags/{slug}.rss


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
    enclosures: list[dict[str, object]] = []
    tags: list[TagOut] = []
    story_id: int | None = None
    duplicate_of: int | None = None
    comment_count: int = 0

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
            enclosures=list(article.enclosures or []),
            tags=[TagOut(name=t.tag.name, label=t.label, slug=t.tag.slug) for t in article.tags],
            story_id=article.story_id,
            duplicate_of=article.duplicate_of,
            comment_count=article.comment_count or 0,
        )


class StoryOut(BaseModel):
    id: int
    title: str
    lead_article_id: int | None
    first_published_at: datetime
    last_published_at: datetime
    article_count: int
    source_count: int
    languages: list[str]
    tags: list[TagOut]
    comment_count: int = 0

    @field_serializer("first_published_at", "last_published_at")
    def _iso(self, value: datetime) -> str:
        return value.isoformat()

    @classmethod
    def of(cls, story: Story) -> StoryOut:
        return cls(
            id=story.id,
            title=story.title,
            lead_article_id=story.lead_article_id,
            first_published_at=story.first_published_at,
            last_published_at=story.last_published_at,
            article_count=story.article_count,
            source_count=story.source_count,
            languages=list(story.languages or []),
            tags=[TagOut(**tag) for tag in story.tags or []],
            comment_count=story.comment_count or 0,
        )


class OutletCoverageOut(BaseModel):
    """A source that covered a story, with its first report."""

    source_id: int
    publisher: str
    first_article_id: int
    first_reported_at: datetime
    article_count: int
    earliest: bool

    @field_serializer("first_reported_at")
    def _iso(self, value: datetime) -> str:
        return value.isoformat()


class MissingSourceOut(BaseModel):
    source_id: int
    publisher: str


class CoverageOut(BaseModel):
    """Which followed sources covered a story, and which active ones in its languages (and
    categories, when every covering source has one) have not."""

    covered: list[OutletCoverageOut]
    missing: list[MissingSourceOut]
    languages: list[str]
    categories: list[str]

    @classmethod
    def of(cls, coverage: StoryCoverage) -> CoverageOut:
        return cls(
            covered=[
                OutletCoverageOut(
                    source_id=report.source.id,
                    publisher=report.source.name,
                    first_article_id=report.first_article.id,
                    first_reported_at=report.first_reported_at,
                    article_count=report.article_count,
                    earliest=report.earliest,
                )
                for report in coverage.covered
            ],
            missing=[MissingSourceOut(source_id=s.id, publisher=s.name) for s in coverage.missing],
            languages=coverage.languages,
            categories=coverage.categories,
        )


class StoryDetail(StoryOut):
    articles: list[ArticleOut]  # every article, earliest first (copies carry duplicate_of)
    coverage: CoverageOut | None = None


class StoryPage(BaseModel):
    items: list[StoryOut]
    next_cursor: str | None


class TagCount(TagOut):
    article_count: int


class TagPage(BaseModel):
    items: list[TagCount]
    next_cursor: str | None


class ArticleList(BaseModel):
    items: list[ArticleOut]


class SearchHit(ArticleOut):
    snippet: str  # HTML: the matched passage, escaped, with <mark> around the query words
    matched: str = "words"  # "words", "meaning" (semantic search only) or "both"


class SearchResults(BaseModel):
    items: list[SearchHit]
    next_cursor: str | None


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
    kind: str = "feed"
    category: str | None = None
    paused: bool = False
    fetch_pages: bool = True
    last_success_at: datetime | None = None
    last_warning: str | None = None
    failure_count: int = 0
    flagged: bool = False
    articles_per_day: float = 0.0
    avg_fetch_ms: int | None = None
    user_agent: str | None = None
    auth_username: str | None = None
    has_password: bool = False  # secrets are write-only
    has_cookies: bool = False
    proxy_url: str | None = None
    page_limit: int | None = None
    poll_interval_s: int | None = None
    retention_days: int | None = None

    @field_serializer("last_fetched_at", "next_fetch_at", "last_success_at")
    def _iso(self, value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    @classmethod
    def of(cls, row: SourceRow) -> SourceOut:
        source = row.source
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
            article_count=row.article_count,
            extract_body_selector=source.extract_body_selector,
            extract_remove_selectors=list(source.extract_remove_selectors or []),
            kind=source.kind,
            category=source.category,
            paused=source.paused,
            fetch_pages=source.fetch_pages,
            last_success_at=source.last_success_at,
            last_warning=source.last_warning,
            failure_count=source.failure_count,
            flagged=row.flagged,
            articles_per_day=row.articles_per_day,
            avg_fetch_ms=row.avg_fetch_ms,
            user_agent=source.user_agent,
            auth_username=source.auth_username,
            has_password=bool(source.auth_password),
            has_cookies=bool(source.cookies),
            proxy_url=source.proxy_url,
            page_limit=source.page_limit,
            poll_interval_s=source.poll_interval_s,
            retention_days=source.retention_days,
        )


class SourceUpdate(BaseModel):
    """Fields a PATCH may change; absent fields stay as they are ("" or 0 clears one)."""

    extract_body_selector: str | None = Field(default=None, max_length=500)
    extract_remove_selectors: list[str] | None = Field(default=None, max_length=50)
    paused: bool | None = None
    fetch_pages: bool | None = None
    category: str | None = Field(default=None, max_length=300)
    user_agent: str | None = Field(default=None, max_length=500)
    auth_username: str | None = Field(default=None, max_length=300)
    auth_password: str | None = Field(default=None, max_length=300)
    cookies: str | None = Field(default=None, max_length=4000)
    proxy_url: str | None = Field(default=None, max_length=500)
    page_limit: int | None = Field(default=None, ge=0, le=1000)
    poll_interval_s: int | None = Field(default=None, ge=0)
    retention_days: int | None = Field(default=None, ge=0)


class SourceList(BaseModel):
    items: list[SourceOut]
    next_cursor: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
