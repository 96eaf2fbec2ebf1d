"""Write enrichment results: hashtag rows and each story's summary (title, span, outlets, tags)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from tidings.db.models import Article, ArticleFeatures, ArticleTag, Story
from tidings.db.models import Tag as TagRow
from tidings.enrich import tags
from tidings.enrich.vectors import fits, from_bytes

_CENTRAL_SAMPLE = 200  # the title is chosen among at most this many of a story's articles


def tag_rows(session: Session, found: list[tags.Tag]) -> dict[str, TagRow]:
    """The rows of these tags' entities (by key), created on first sight; one query."""
    keys = {tag.key for tag in found}
    rows = {row.key: row for row in session.scalars(select(TagRow).where(TagRow.key.in_(keys)))}
    for tag in found:
        if tag.key not in rows:
            rows[tag.key] = TagRow(
                key=tag.key, slug=tag.slug, name=tag.name, label=tag.label, article_count=0
            )
            session.add(rows[tag.key])
    session.flush()
    return rows


def count_tags(session: Session, tag_ids: Iterable[int]) -> None:
    """Recount the articles of these tags (denormalised for tag listings), in one query."""
    wanted = set(tag_ids)
    if not wanted:
        return
    counts = dict.fromkeys(wanted, 0)
    query = (
        select(ArticleTag.tag_id, func.count())
        .where(ArticleTag.tag_id.in_(wanted))
        .group_by(ArticleTag.tag_id)
    )
    for tag_id, count in session.execute(query):
        counts[tag_id] = count
    for row in session.scalars(select(TagRow).where(TagRow.id.in_(wanted))):
        row.article_count = counts[row.id]


def next_story_id(session: Session) -> int:
    return int(session.scalar(select(func.max(Story.id))) or 0) + 1


def refresh_stories(
    session: Session, story_ids: Iterable[int], *, dim: int, merged: dict[int, int] | None = None
) -> None:
    """Recompute each story's summary from its articles; a story left empty by a merge
    remembers where its articles went (old links redirect there)."""
    merged = merged or {}
    for story_id in set(story_ids):
        members = list(
            session.scalars(
                select(Article)
                .options(selectinload(Article.tags))
                .where(Article.story_id == story_id)
                .order_by(Article.published_at)
            )
        )
        story = session.get(Story, story_id)
        if not members:
            if story is not None:
                story.article_count = story.source_count = 0
                story.merged_into = merged.get(story_id)
            continue
        if story is None:
            story = Story(id=story_id)
        _summarise(session, story, members, dim)
        session.add(story)


def _summarise(session: Session, story: Story, members: list[Article], dim: int) -> None:
    originals = [article for article in members if article.duplicate_of is None] or members
    lead = _central(session, originals, dim)
    story.title = lead.title
    story.lead_article_id = lead.id
    story.first_published_at = members[0].published_at
    story.last_published_at = members[-1].published_at
    story.article_count = len(originals)
    story.source_count = len({article.source_id for article in members})
    story.languages = sorted({article.language for article in members if article.language})
    story.merged_into = None
    found = [
        [
            tags.Tag(name=row.tag.name, label=row.label, key=row.tag.key, score=row.score)
            for row in article.tags
        ]
        for article in originals
    ]
    story.tags = [
        {"name": tag.name, "label": tag.label, "slug": tag.slug} for tag in tags.merge_tags(found)
    ]
    story.updated_at = datetime.now(UTC)


def _central(session: Session, articles: list[Article], dim: int) -> Article:
    """The article closest to the story's mean vector: its most representative headline."""
    sample = articles[-_CENTRAL_SAMPLE:]
    if len(sample) <= 2:
        return sample[0]
    rows = {
        row.article_id: row
        for row in session.scalars(
            select(ArticleFeatures).where(
                ArticleFeatures.article_id.in_([article.id for article in sample])
            )
        )
    }
    with_vectors = [
        article for article in sample if article.id in rows and fits(rows[article.id].vector, dim)
    ]
    if len(with_vectors) <= 2:
        return sample[0]
    matrix = np.stack([from_bytes(rows[article.id].vector, dim) for article in with_vectors])
    scores = matrix @ matrix.mean(axis=0)
    return with_vectors[int(np.argmax(scores))]
