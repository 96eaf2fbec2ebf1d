"""Read stories: the front page's top stories, one story's coverage, and pages of stories."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from tidings.db.models import Article, Story
from tidings.db.repository import Cursor, keyset_page
from tidings.errors import NotFoundError

TOP_WINDOW = timedelta(days=3)  # stories whose newest article is older are not "top"
HALF_LIFE_H = 18.0  # a story's recency weight halves every 18 hours
_CANDIDATES = 300


@dataclass
class StoryCard:
    """A story as the front page shows it: the lead, a few other outlets, the outlet count."""

    story: Story
    lead: Article
    others: list[Article] = field(default_factory=list)


def story_score(story: Story, now: datetime) -> float:
    """Breadth of coverage x recency, like Google News' top stories."""
    age_h = max(0.0, (now - story.last_published_at).total_seconds() / 3600)
    return story.source_count * math.pow(0.5, age_h / HALF_LIFE_H)


def top_stories(session: Session, limit: int = 8, now: datetime | None = None) -> list[StoryCard]:
    """Stories covered by at least two outlets, best first."""
    now = now or datetime.now(UTC)
    candidates = list(
        session.scalars(
            select(Story)
            .where(Story.last_published_at >= now - TOP_WINDOW, Story.source_count >= 2)
            .order_by(Story.last_published_at.desc(), Story.id.desc())
            .limit(_CANDIDATES)
        )
    )
    if not candidates:  # a quiet week: fall back to the newest multi-outlet stories
        candidates = list(
            session.scalars(
                select(Story)
                .where(Story.source_count >= 2)
                .order_by(Story.last_published_at.desc(), Story.id.desc())
                .limit(limit)
            )
        )
    ranked = sorted(candidates, key=lambda story: -story_score(story, now))[:limit]
    members = _members(session, [story.id for story in ranked])
    cards = []
    for story in ranked:
        articles = members.get(story.id, [])
        lead = next((a for a in articles if a.id == story.lead_article_id), None)
        if lead is None:
            continue
        seen = {lead.source_id}
        others = []
        for article in sorted(articles, key=lambda a: a.published_at, reverse=True):
            if article.source_id not in seen and article.duplicate_of is None:
                seen.add(article.source_id)
                others.append(article)
        cards.append(StoryCard(story=story, lead=lead, others=others[:3]))
    return cards


def _members(session: Session, story_ids: list[int]) -> dict[int, list[Article]]:
    grouped: dict[int, list[Article]] = {}
    if not story_ids:
        return grouped
    query = (
        select(Article)
        .options(joinedload(Article.source))
        .where(Article.story_id.in_(story_ids))
        .order_by(Article.published_at)
    )
    for article in session.scalars(query):
        grouped.setdefault(article.story_id or 0, []).append(article)
    return grouped


def get_story(session: Session, story_id: int) -> Story:
    """The story, following merges; NotFoundError if it never existed."""
    for _ in range(20):  # a chain of merges is short; the bound guards against a cycle
        story = session.get(Story, story_id)
        if story is None:
            break
        if story.merged_into is None:
            return story
        story_id = story.merged_into
    raise NotFoundError(f"no story with id {story_id}")


def coverage(session: Session, story_id: int) -> list[Article]:
    """Every article of the story, earliest report first."""
    return _members(session, [story_id]).get(story_id, [])


def list_stories(
    session: Session, *, limit: int, cursor: Cursor | None = None
) -> tuple[list[Story], Cursor | None]:
    """A page of stories, most recently updated first (keyset, so any store pages through)."""
    query = select(Story).where(Story.article_count > 0, Story.merged_into.is_(None))
    return keyset_page(session, query, Story.last_published_at, Story.id, limit, cursor)


def count_stories(session: Session, min_sources: int = 1) -> int:
    query = select(func.count(Story.id)).where(
        Story.source_count >= min_sources, Story.merged_into.is_(None)
    )
    return int(session.scalar(query) or 0)
