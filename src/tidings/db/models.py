"""SQLAlchemy 2 models: sources, articles, fetch log and small key/value metadata."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC without a zone (portable) and hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


class Source(Base):
    """A publisher feed Tidings follows."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    feed_url: Mapped[str] = mapped_column(String(2000), unique=True)
    site_url: Mapped[str | None] = mapped_column(String(2000))
    category: Mapped[str | None] = mapped_column(String(300))  # the owner's folder (OPML)
    feed_format: Mapped[str | None] = mapped_column(String(20))
    language: Mapped[str | None] = mapped_column(String(20))
    poll_interval_s: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="new")
    last_fetched_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    next_fetch_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What the source is: a feed, or a sitemap (XML or Google News) of a site without one.
    kind: Mapped[str] = mapped_column(String(20), default="feed")
    page_limit: Mapped[int | None] = mapped_column(Integer)  # sitemap pages taken per refresh
    fetch_pages: Mapped[bool] = mapped_column(default=True)  # False: the feed's own text only
    paused: Mapped[bool] = mapped_column(default=False)
    # Politeness: validators for conditional GET, failures for back-off, the feed's own hint.
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    feed_ttl_s: Mapped[int | None] = mapped_column(Integer)
    last_warning: Mapped[str | None] = mapped_column(Text)
    # Feeds behind a login, or reachable only through a proxy.
    user_agent: Mapped[str | None] = mapped_column(String(500))
    auth_username: Mapped[str | None] = mapped_column(String(300))
    auth_password: Mapped[str | None] = mapped_column(String(300))
    cookies: Mapped[str | None] = mapped_column(Text)
    proxy_url: Mapped[str | None] = mapped_column(String(500))
    retention_days: Mapped[int | None] = mapped_column(Integer)
    # Per-site extraction rules (like Miniflux's scraper rules): CSS selectors.
    extract_body_selector: Mapped[str | None] = mapped_column(String(500))
    extract_remove_selectors: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Short paragraphs seen on this site's pages, by hash, with how many articles had them:
    # what repeats across articles is the site's template, not news (ingest/template.py).
    template_paragraphs: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # Which scheduler or worker is polling this source, and until when (ingest/leases.py):
    # with several processes, no source is polled twice at once.
    lease_until: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(200))

    articles: Mapped[list[Article]] = relationship(back_populates="source")


class Article(Base):
    """One article, stored once per canonical URL and updated in place on re-fetch."""

    __tablename__ = "articles"
    __table_args__ = (
        Index("ix_articles_published_id", "published_at", "id"),
        Index("ix_articles_source_published_id", "source_id", "published_at", "id"),
        Index("ix_articles_source_guid", "source_id", "guid"),
        Index("ix_articles_story_published_id", "story_id", "published_at", "id"),
        Index(
            "ix_articles_copies",
            "duplicate_of",
            sqlite_where=text("duplicate_of IS NOT NULL"),
            postgresql_where=text("duplicate_of IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    original_url: Mapped[str] = mapped_column(String(2000))
    guid: Mapped[str | None] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(Text)
    byline: Mapped[str | None] = mapped_column(Text)
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    section: Mapped[str | None] = mapped_column(String(300))
    language: Mapped[str | None] = mapped_column(String(20))
    lead_image: Mapped[str | None] = mapped_column(String(2000))
    captions: Mapped[list[str]] = mapped_column(JSON, default=list)
    summary: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")
    extracted_from: Mapped[str] = mapped_column(String(20), default="page")
    enclosures: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    saved: Mapped[bool] = mapped_column(default=False, index=True)  # never removed by retention
    entry_hash: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime]
    updated_at: Mapped[datetime | None]
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Enrichment (enrich/): the story it belongs to, the article it copies (a syndicated or
    # re-posted duplicate, shown once under that one), and when it was last enriched.
    # Plain indexed integers, not foreign keys: enrichment owns them and SQLite cannot add
    # foreign keys to an existing table without rebuilding it.
    story_id: Mapped[int | None] = mapped_column(Integer, index=True)
    duplicate_of: Mapped[int | None] = mapped_column(Integer, index=True)
    enriched_at: Mapped[datetime | None] = mapped_column(index=True)
    comment_count: Mapped[int] = mapped_column(Integer, default=0)  # visible comments

    source: Mapped[Source] = relationship(back_populates="articles")
    tags: Mapped[list[ArticleTag]] = relationship(
        order_by="ArticleTag.score.desc()", cascade="all, delete-orphan", passive_deletes=True
    )


class ArticleFeatures(Base):
    """What enrichment keeps per article to rebuild its in-memory indexes on start."""

    __tablename__ = "article_features"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(100))  # the embedding backend that made `vector`
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    minhash: Mapped[bytes] = mapped_column(LargeBinary)
    terms: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)  # for story clustering


class Story(Base):
    """Articles from several outlets about one event (kept current by enrich/stories.py)."""

    __tablename__ = "stories"
    __table_args__ = (Index("ix_stories_last_published_id", "last_published_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(Text, default="")
    lead_article_id: Mapped[int | None] = mapped_column(Integer)
    first_published_at: Mapped[datetime]
    last_published_at: Mapped[datetime]
    article_count: Mapped[int] = mapped_column(Integer, default=0)
    source_count: Mapped[int] = mapped_column(Integer, default=0)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)  # merged hashtags
    merged_into: Mapped[int | None] = mapped_column(Integer)  # a story folded into another
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    comment_count: Mapped[int] = mapped_column(Integer, default=0)  # visible comments


class Tag(Base):
    """A hashtag: one per entity (`key`), shown as `name` (#SmartCities), found at /tags/{slug}."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    slug: Mapped[str] = mapped_column(String(300), index=True)
    name: Mapped[str] = mapped_column(String(300))
    label: Mapped[str] = mapped_column(String(300))
    article_count: Mapped[int] = mapped_column(Integer, default=0)


class ArticleTag(Base):
    """A hashtag on an article, with the phrase found in this article and its weight."""

    __tablename__ = "article_tags"
    __table_args__ = (Index("ix_article_tags_tag_article", "tag_id", "article_id"),)

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(
        ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    label: Mapped[str] = mapped_column(String(300))
    score: Mapped[float] = mapped_column(Float, default=0.0)

    tag: Mapped[Tag] = relationship(lazy="joined")


class ArticleRevision(Base):
    """One version of an article's title and text, kept when its publisher edits it.

    An article that was never edited has no rows; the first edit seen stores the version
    as first stored (1) and the new one (2), so every version can be compared.
    """

    __tablename__ = "article_revisions"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of title and text
    updated_at: Mapped[datetime | None]  # when the publisher says it edited this version
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class FetchLog(Base):
    """One refresh of one source: what happened and how long it took."""

    __tablename__ = "fetch_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))
    http_status: Mapped[int | None] = mapped_column(Integer)
    entries_seen: Mapped[int] = mapped_column(Integer, default=0)
    articles_new: Mapped[int] = mapped_column(Integer, default=0)
    articles_updated: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class Meta(Base):
    """Small key/value facts about this database (e.g. the demo's time anchor)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class AIResult(Base):
    """A cached AI answer for one article or story, keyed by everything that shapes it."""

    __tablename__ = "ai_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # sha256 of (target, feature, language, question, provider, model, prompt version)
    cache_key: Mapped[str] = mapped_column(String(64), unique=True)
    target_type: Mapped[str] = mapped_column(String(10))  # "article" | "story"
    target_id: Mapped[int] = mapped_column(Integer)
    feature: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(20))
    question: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str] = mapped_column(String(20))
    model: Mapped[str] = mapped_column(String(200))
    text_hash: Mapped[str] = mapped_column(String(64))  # of the sources: stale when they change
    status: Mapped[str] = mapped_column(String(10))  # "pending" | "done" | "error"
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_ai_results_target", "target_type", "target_id"),)


class User(Base):
    """A reader account: `role` is "reader", "moderator" or "admin"."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="reader")
    banned: Mapped[bool] = mapped_column(default=False)
    deleted: Mapped[bool] = mapped_column(default=False)  # the account is gone; threads stay
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    reset_token_hash: Mapped[str | None] = mapped_column(String(64))
    reset_expires_at: Mapped[datetime | None]
    language: Mapped[str | None] = mapped_column(String(20))  # preferred (BCP 47)
    locale: Mapped[str | None] = mapped_column(String(20))  # interface: en, zh-Hant, zh-Hans
    time_zone: Mapped[str | None] = mapped_column(String(64))  # IANA name; None: UTC
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserSession(Base):
    """A signed-in browser: the cookie holds a random token, the table only its hash."""

    __tablename__ = "user_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    user: Mapped[User] = relationship(lazy="joined")


class Comment(Base):
    """A reader's comment on an article or story; `parent_id` makes a reply (two levels)."""

    __tablename__ = "comments"
    __table_args__ = (
        Index("ix_comments_target", "target_type", "target_id", "created_at"),
        Index("ux_comments_submission", "user_id", "submission_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_type: Mapped[str] = mapped_column(String(10))  # "article" | "story"
    target_id: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)  # the Markdown as written
    html: Mapped[str] = mapped_column(Text)  # rendered and sanitised once, when written
    status: Mapped[str] = mapped_column(String(10), default="visible")  # visible|hidden|deleted
    submission_id: Mapped[str] = mapped_column(String(64))  # one post per form render
    client_address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class CommentReport(Base):
    """A reader flagged a comment for the moderators (once per reader and comment)."""

    __tablename__ = "comment_reports"

    comment_id: Mapped[int] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Follow(Base):
    """A reader follows a source, a hashtag or a story, in one of their folders."""

    __tablename__ = "follows"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # source | tag | story
    target_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    folder: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SavedArticle(Base):
    """Saved for later by one reader."""

    __tablename__ = "saved_articles"
    __table_args__ = (Index("ix_saved_articles_user_created", "user_id", "created_at"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReadArticle(Base):
    """Read by one reader."""

    __tablename__ = "read_articles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    read_at: Mapped[datetime] = mapped_column(default=utcnow)


class Mute(Base):
    """Something a reader never wants in "For you": a source, or a keyword in headlines."""

    __tablename__ = "mutes"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # source | keyword
    value: Mapped[str] = mapped_column(String(200), primary_key=True)


class ApiToken(Base):
    """A reader's token for programs: `Authorization: Bearer tdg_…` (only its hash is kept)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(50))  # space-separated: read write admin
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class WebSubSubscription(Base):
    """A source's push subscription at the WebSub hub its feed advertises (ingest/websub.py).

    `state`: off (not subscribed: no public URL), pending (asked, the hub has not verified
    yet), active (verified; the lease ends at `expires_at`), denied, failed (the request
    failed; retried at `next_attempt_at`), unsubscribing. `next_attempt_at` is when the
    scheduler next subscribes again: a renewal before the lease ends, or a retry.
    """

    __tablename__ = "websub_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), unique=True
    )
    hub: Mapped[str] = mapped_column(String(2000))
    topic: Mapped[str] = mapped_column(String(2000))
    callback_token: Mapped[str] = mapped_column(String(64), unique=True)  # in the callback URL
    secret: Mapped[str] = mapped_column(String(200))  # HMAC key of X-Hub-Signature
    state: Mapped[str] = mapped_column(String(20), default="off")
    lease_seconds: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed tries since the last success
    last_error: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime | None]
    verified_at: Mapped[datetime | None]
    last_push_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    source: Mapped[Source] = relationship()
