"""Related articles: nearest neighbours by vector, varied across outlets and stories."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from tidings.db import repository
from tidings.db.models import Article, ArticleFeatures
from tidings.enrich.service import Enricher
from tidings.enrich.vectors import from_bytes

NEIGHBOURS = 60  # candidates fetched from the index before filtering
PER_STORY = 2  # at most this many from any one story, so the list is varied
# Below this cosine a neighbour is unrelated noise. It depends on the vectors: unrelated
# texts sit near 0 with the hashing embedder (p99 0.17 on ECB+) but near 0.72 with e5.
MIN_SIMILARITY = {"e5-small-q4": 0.8}
DEFAULT_MIN_SIMILARITY = 0.15
_RECENCY_DAYS = 14.0


def related_articles(
    session: Session, enricher: Enricher, article: Article, limit: int = 6
) -> list[Article]:
    """Articles about the same or a nearby subject: never the article or its copies; other
    publishers before the article's own, then the most recent first."""
    features = session.get(ArticleFeatures, article.id)
    if features is None or features.model != enricher.embedder.name:
        return []
    if enricher.loaded:
        enricher.ensure_current()
        vector = from_bytes(features.vector, enricher.embedder.dim)
        hits = dict(enricher.vectors.search(vector, NEIGHBOURS + 1))
    else:  # the index is still being built after a start: the story's coverage meanwhile
        hits = _story_neighbours(session, article)
    floor = MIN_SIMILARITY.get(enricher.embedder.name, DEFAULT_MIN_SIMILARITY)
    group = article.duplicate_of or article.id
    rows = session.scalars(
        select(Article).options(joinedload(Article.source)).where(Article.id.in_(list(hits)))
    ).all()
    candidates = [
        row
        for row in rows
        if row.id != article.id
        and (row.duplicate_of or row.id) != group
        and row.duplicate_of is None
        and hits[row.id] >= floor
    ]
    now = datetime.now(UTC)

    def weight(row: Article) -> float:
        age_days = max(0.0, (now - row.published_at).total_seconds() / 86400)
        return hits[row.id] * (0.75 + 0.25 * math.exp(-age_days / _RECENCY_DAYS))

    chosen: list[Article] = []
    per_story: dict[int, int] = {}
    for row in sorted(candidates, key=weight, reverse=True):
        story = row.story_id or -row.id
        if per_story.get(story, 0) >= PER_STORY:
            continue
        per_story[story] = per_story.get(story, 0) + 1
        chosen.append(row)
        if len(chosen) == limit:
            break
    chosen.sort(key=lambda row: (row.source_id == article.source_id, -row.published_at.timestamp()))
    return chosen


def _story_neighbours(session: Session, article: Article) -> dict[int, float]:
    if article.story_id is None:
        return {}
    ids = session.scalars(
        select(Article.id)
        .where(Article.story_id == article.story_id)
        .order_by(Article.published_at.desc())
        .limit(NEIGHBOURS)
    )
    return dict.fromkeys(ids, 1.0)


def also_published(session: Session, article: Article) -> list[Article]:
    """The other copies of a syndicated or re-posted article (its original first)."""
    group = article.duplicate_of or article.id
    rows = session.scalars(
        select(Article)
        .options(joinedload(Article.source))
        .where(repository.copy_group(group))
        .order_by(Article.published_at, Article.id)
    )
    return [row for row in rows if row.id != article.id]
