"""The front page's sections below the top stories: the most active hashtags, then sources."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload

from tidings.db.models import Article, ArticleTag, Source, Tag
from tidings.db.repository import where_tagged

SECTION_WINDOW = timedelta(days=3)  # "most active" counts the articles of the last 3 days
ACTIVE_SAMPLE = 2_000  # ... of the newest this many


@dataclass
class Section:
    """A heading (a hashtag or a source), where it leads, and its newest articles."""

    title: str
    url: str
    articles: list[Article]


def tag_sections(
    session: Session,
    *,
    limit: int = 4,
    per_section: int = 4,
    exclude: Collection[int] = (),
    now: datetime | None = None,
) -> list[Section]:
    """The hashtags with the most original articles lately (all time if it was quiet)."""
    since = (now or datetime.now(UTC)) - SECTION_WINDOW
    tag_ids = _active_tags(session, limit, since) or _active_tags(session, limit, None)
    sections = []
    for tag_id in tag_ids:
        tag = session.get(Tag, tag_id)
        query = where_tagged(session, _originals(exclude, per_section), tag_id)
        articles = list(session.scalars(query).unique())
        if tag is not None and articles:
            sections.append(Section(tag.name, f"/tags/{tag.slug}", articles))
    return sections


def source_sections(
    session: Session, *, limit: int = 6, per_section: int = 3, exclude: Collection[int] = ()
) -> list[Section]:
    """The sources that published most recently, each with its newest original articles."""
    # One index lookup per source (source_id, published_at), not a pass over every article.
    newest = (
        select(func.max(Article.published_at))
        .where(Article.source_id == Source.id)
        .correlate(Source)
        .scalar_subquery()
    )
    sources = session.scalars(
        select(Source).where(newest.is_not(None)).order_by(newest.desc(), Source.id).limit(limit)
    )
    sections = []
    for source in sources:
        query = _originals(exclude, per_section).where(Article.source_id == source.id)
        articles = list(session.scalars(query).unique())
        if articles:
            sections.append(Section(source.name, f"/sources/{source.id}", articles))
    return sections


def _active_tags(session: Session, limit: int, since: datetime | None) -> list[int]:
    # Counted over the newest originals only (at most ACTIVE_SAMPLE of them), so the front
    # page costs the same with a thousand articles a day or a million.
    newest = (
        select(Article.id)
        .where(Article.duplicate_of.is_(None))
        .order_by(Article.published_at.desc(), Article.id.desc())
        .limit(ACTIVE_SAMPLE)
    )
    if since is not None:
        newest = newest.where(Article.published_at >= since)
    query = (
        select(ArticleTag.tag_id)
        .where(ArticleTag.article_id.in_(newest.scalar_subquery()))
        .group_by(ArticleTag.tag_id)
        .order_by(func.count().desc(), ArticleTag.tag_id)
        .limit(limit)
    )
    return list(session.scalars(query))


def _originals(exclude: Collection[int], limit: int) -> Select[Article]:
    query = (
        select(Article)
        .options(joinedload(Article.source))
        .where(Article.duplicate_of.is_(None))
        .order_by(Article.published_at.desc(), Article.id.desc())
        .limit(limit)
    )
    if exclude:
        query = query.where(Article.id.not_in(list(exclude)))
    return query
