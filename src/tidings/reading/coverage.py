"""Who covered a story and who has not yet: the owner's sources against one story.

Like Ground News' "blindspot", but over the outlets this Tidings follows: each source that
reported the story, with its first report, and the active sources that have not. A source
is only "missing" when it could have covered the story: it writes in one of the story's
languages and, when every covering source is filed in a category, sits in one of those.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tidings.db.models import Article, Source


@dataclass(frozen=True)
class OutletReport:
    """One source that covered the story: its first report, and how many it published."""

    source: Source
    first_article: Article
    article_count: int
    earliest: bool  # the first outlet to report the story

    @property
    def first_reported_at(self) -> datetime:
        return self.first_article.published_at


@dataclass(frozen=True)
class StoryCoverage:
    covered: list[OutletReport]
    missing: list[Source]  # active sources in the story's languages/categories that have not
    languages: list[str] = field(default_factory=list)  # primary language subtags compared
    categories: list[str] = field(default_factory=list)  # empty: categories not compared


def story_coverage(session: Session, articles: list[Article]) -> StoryCoverage:
    """Coverage of the story made of `articles` (earliest first, as stories.coverage gives)."""
    firsts: dict[int, Article] = {}
    counts: dict[int, int] = {}
    for article in sorted(articles, key=lambda a: (a.published_at, a.id)):
        firsts.setdefault(article.source_id, article)
        counts[article.source_id] = counts.get(article.source_id, 0) + 1
    covered = [
        OutletReport(
            source=article.source,
            first_article=article,
            article_count=counts[source_id],
            earliest=index == 0,
        )
        for index, (source_id, article) in enumerate(firsts.items())
    ]
    languages = sorted({_primary(a.language) for a in articles if a.language})
    categories = sorted({r.source.category for r in covered if r.source.category})
    if any(not r.source.category for r in covered):
        categories = []  # some covering outlet has no category: do not narrow by category
    missing = [
        source
        for source, language in _active_sources(session, exclude=set(firsts))
        if language in languages and (not categories or source.category in categories)
    ]
    return StoryCoverage(covered, missing, languages, categories)


def _primary(language: str) -> str:
    """ "zh-Hant" and "zh-Hans" both read Chinese; "en-GB" is English."""
    return language.split("-")[0].lower()


def _active_sources(session: Session, *, exclude: set[int]) -> list[tuple[Source, str | None]]:
    """Unpaused sources not in `exclude`, by name, each with its language: the one set for the
    source, else the language of its newest article (None when neither is known)."""
    sources = [
        source
        for source in session.scalars(
            select(Source).where(Source.paused.is_(False)).order_by(Source.name, Source.id)
        )
        if source.id not in exclude
    ]
    unknown = [s.id for s in sources if not s.language]
    guessed: dict[int, str] = {}
    if unknown:
        newest = (
            select(func.max(Article.id))
            .where(Article.source_id.in_(unknown), Article.language.is_not(None))
            .group_by(Article.source_id)
        )
        rows = session.execute(
            select(Article.source_id, Article.language).where(Article.id.in_(newest))
        )
        guessed = {source_id: language for source_id, language in rows if language}
    return [
        (source, _primary(language) if language else None)
        for source in sources
        for language in [source.language or guessed.get(source.id)]
    ]
