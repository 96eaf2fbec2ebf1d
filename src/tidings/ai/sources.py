"""What each AI task reads: the article, its story's coverage, and related articles."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from tidings.ai.provider import Document, Task, same_language
from tidings.ai.text import split_sentences
from tidings.db import repository
from tidings.db.models import Article
from tidings.enrich import stories
from tidings.enrich.related import related_articles
from tidings.enrich.service import Enricher
from tidings.errors import NotFoundError

MAX_STORY_OUTLETS = 8  # one article per outlet, earliest first
MAX_CONTEXT = 4  # earlier or related articles that "explain" reads


def document_of(article: Article, prefixed: bool) -> Document:
    """The article as a provider sees it; `prefixed` ids ("a12s3") when several are read."""
    sentences = split_sentences(article.body)
    if prefixed:
        sentences = [replace(s, id=f"a{article.id}{s.id}") for s in sentences]
    return Document(
        article_id=article.id,
        title=article.title,
        publisher=article.source.name,
        language=article.language,
        published_at=article.published_at,
        sentences=sentences,
    )


def article_task(
    session: Session,
    article_id: int,
    feature: str,
    language: str | None,
    question: str | None,
    enricher: Enricher | None = None,
) -> Task:
    article = repository.get_article(session, article_id)
    context: list[Document] = []
    if feature == "explain":
        background = _background(session, article, enricher)
        context = [document_of(row, prefixed=True) for row in background]
    return Task(
        feature=feature,
        scope="article",
        documents=[document_of(article, prefixed=False)],
        language=language or article.language or "en",
        question=question,
        context=context,
    )


def _background(session: Session, article: Article, enricher: Enricher | None) -> list[Article]:
    """Earlier reports of the article's story, then related articles from before it."""
    chosen: list[Article] = []
    if article.story_id is not None:
        earlier = [
            row
            for row in stories.coverage(session, article.story_id)
            if row.published_at < article.published_at
            and row.duplicate_of is None
            and row.id != article.id
            and row.source_id != article.source_id
        ]
        chosen.extend(earlier[:MAX_CONTEXT])
    if len(chosen) < MAX_CONTEXT and enricher is not None:
        seen = {row.id for row in chosen}
        related = [
            row for row in related_articles(session, enricher, article, limit=2 * MAX_CONTEXT)
            if row.id not in seen and row.published_at <= article.published_at
            and same_language(row.language, article.language)
        ]  # fmt: skip
        chosen.extend(related[: MAX_CONTEXT - len(chosen)])
    return chosen


def story_task(
    session: Session, story_id: int, feature: str, language: str | None, question: str | None
) -> Task:
    story = stories.get_story(session, story_id)
    originals = [row for row in stories.coverage(session, story.id) if row.duplicate_of is None]
    if not originals:
        raise NotFoundError(f"story {story_id} has no articles left")
    lead = next((row for row in originals if row.id == story.lead_article_id), None)
    language = language or (lead or originals[0]).language or "en"
    in_language = [row for row in originals if same_language(row.language, language)]
    per_outlet: dict[int, Article] = {}
    for row in in_language or originals:
        per_outlet.setdefault(row.source_id, row)
    chosen = sorted(per_outlet.values(), key=lambda row: row.published_at)[:MAX_STORY_OUTLETS]
    return Task(
        feature=feature,
        scope="story",
        documents=[document_of(row, prefixed=True) for row in chosen],
        language=language,
        question=question,
    )
