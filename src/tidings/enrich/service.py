"""Enrich stored articles: language, hashtags, vector, duplicate, story — one article at a time.

The in-memory indexes (vectors for nearest neighbours, MinHash LSH for copies, the story
clusterer) are rebuilt from `article_features` on first use and then kept current, so each
article costs a few index lookups, never a pass over the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from tidings.config import Settings
from tidings.db import repository
from tidings.db.models import Article, ArticleFeatures, ArticleTag
from tidings.db.session import Database
from tidings.enrich import dedupe, records, tags
from tidings.enrich.cluster import StoryClusterer
from tidings.enrich.embed import Embedder, article_text, get_embedder
from tidings.enrich.features import story_terms
from tidings.enrich.lang import detect_language
from tidings.enrich.vectors import VectorIndex, from_bytes, to_bytes

log = logging.getLogger(__name__)
_SYNC_EVERY_S = 2.0  # how stale another process's enrichments may look to this one
_LOAD_BATCH = 2000
MAX_TEXT_CHARS = 30_000
# When a search query and an article are related, per embedding backend: (floor, band) — the
# cosine must reach the floor and lie within the band below the best match. e5 puts every
# pair of texts at 0.75-0.85, so only the few clearly above the crowd count; hashed words
# sit near 0 when unrelated. Measured on the demo corpus (docs/search.md).
QUERY_MATCH = {"e5-small-q4": (0.83, 0.03)}
DEFAULT_QUERY_MATCH = (0.1, 1.0)


@dataclass
class EnrichReport:
    enriched: int = 0
    duplicates: int = 0
    stories_touched: set[int] = field(default_factory=set)
    seconds: float = 0.0


class Enricher:
    """The enrichment indexes of one database, shared by every caller in this process."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.embedder: Embedder = get_embedder(settings.embedding_backend)
        self.vectors = VectorIndex(self.embedder.dim)
        self.duplicates = dedupe.DuplicateIndex()
        self.clusterer = StoryClusterer()
        self._lock = threading.RLock()
        self._loaded = False
        self._synced_to: datetime | None = None
        self._synced_clock = 0.0

    @property
    def understands_meaning(self) -> bool:
        return self.embedder.understands_meaning

    def nearest(self, text: str, k: int) -> list[tuple[int, float]]:
        """Articles nearest in meaning to a search query, best first (search's SemanticIndex);
        nothing while the indexes are still being built after a start."""
        if not self._loaded or not text.strip():
            return []
        self.ensure_current()
        floor, band = QUERY_MATCH.get(self.embedder.name, DEFAULT_QUERY_MATCH)
        found = self.vectors.search(self.embedder.embed_query(text), k)
        if not found:
            return []
        floor = max(floor, found[0][1] - band)
        return [(article_id, score) for article_id, score in found if score >= floor]

    # -- loading -------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._loaded

    def load_in_background(self) -> None:
        """Build the indexes in a thread (a large store takes a while), so a server can
        answer at once; readers fall back to story coverage until they are ready."""

        def load() -> None:
            try:
                self.ensure_current()
            except Exception:
                log.exception("could not load the enrichment indexes")

        threading.Thread(target=load, name="enrich-load", daemon=True).start()

    def ensure_current(self) -> None:
        """Load the indexes on first use; later, pick up what was enriched since the last look.

        That includes this process's own work (re-adding it changes nothing), so an article
        another process enriched a moment before ours is never skipped.
        """
        with self._lock:
            if not self._loaded:
                self._load(since=None)
                self._loaded = True
            elif time.monotonic() - self._synced_clock > _SYNC_EVERY_S:
                self._load(since=self._synced_to)

    def _load(self, since: datetime | None) -> None:
        """Index every enriched article (or those enriched after `since`): vectors and
        signatures of all, story terms of the articles still inside the story window."""
        window = datetime.now(UTC) - timedelta(days=self.settings.story_window_days)
        every = select(
            Article.id,
            Article.source_id,
            Article.url,
            Article.duplicate_of,
            Article.enriched_at,
            ArticleFeatures.model,
            ArticleFeatures.vector,
            ArticleFeatures.minhash,
        ).join(ArticleFeatures, ArticleFeatures.article_id == Article.id)
        recent = (
            select(Article.id, Article.published_at, Article.story_id, ArticleFeatures.terms)
            .join(ArticleFeatures, ArticleFeatures.article_id == Article.id)
            .where(
                Article.published_at >= window,
                Article.duplicate_of.is_(None),
                Article.story_id.is_not(None),
            )
            .order_by(Article.published_at, Article.id)
        )
        if since is not None:
            every = every.where(Article.enriched_at > since)
            recent = recent.where(Article.enriched_at > since)
        newest = since
        with self.database.session() as session:
            if since is None:  # story ids continue after the stored ones
                self.clusterer = StoryClusterer(next_story_id=records.next_story_id(session))
            ids: list[int] = []
            vectors: list[np.ndarray[Any, Any]] = []
            for row in session.execute(every.execution_options(yield_per=_LOAD_BATCH)):
                if row.model == self.embedder.name:
                    ids.append(row.id)
                    vectors.append(from_bytes(row.vector, self.embedder.dim))
                    if len(ids) == _LOAD_BATCH:
                        self.vectors.add(ids, np.stack(vectors))
                        ids, vectors = [], []
                minhash = dedupe.from_bytes(row.minhash) if row.duplicate_of is None else None
                self.duplicates.add(row.id, row.source_id, row.url, minhash)
                newest = row.enriched_at if newest is None else max(newest, row.enriched_at)
            if ids:
                self.vectors.add(ids, np.stack(vectors))
            for item in session.execute(recent.execution_options(yield_per=_LOAD_BATCH)):
                if item.story_id is not None and self.clusterer.story_of(item.id) is None:
                    self.clusterer.restore(
                        item.id, Counter(item.terms), item.published_at, item.story_id
                    )
        self._synced_to = newest
        self._synced_clock = time.monotonic()

    # -- enriching -----------------------------------------------------------------------

    def enrich_pending(
        self, source_id: int | None = None, *, everything: bool = False
    ) -> EnrichReport:
        """Enrich articles never enriched or changed since (all of them with `everything`)."""
        query = select(Article.id).order_by(Article.published_at, Article.id)
        if source_id is not None:
            query = query.where(Article.source_id == source_id)
        if not everything:
            query = query.where(
                or_(Article.enriched_at.is_(None), Article.enriched_at < Article.fetched_at)
            )
        with self.database.session() as session:
            ids = list(session.scalars(query))
        return self.enrich(ids)

    def enrich(self, article_ids: Sequence[int]) -> EnrichReport:
        report = EnrichReport()
        clock = time.monotonic()
        self.ensure_current()
        with self._lock:
            for article_id in article_ids:
                with self.database.session() as session:
                    article = session.get(Article, article_id)
                    if article is None:
                        continue
                    old_tags = [row.tag_id for row in article.tags]
                    touched, merged = self._enrich_one(session, article)
                    report.enriched += 1
                    report.duplicates += article.duplicate_of is not None
                    report.stories_touched |= touched
                    records.refresh_stories(session, touched, dim=self.embedder.dim, merged=merged)
                    records.count_tags(session, old_tags + [row.tag_id for row in article.tags])
        report.seconds = time.monotonic() - clock
        return report

    def _enrich_one(self, session: Session, article: Article) -> tuple[set[int], dict[int, int]]:
        """Enrich one article; returns the stories whose membership or content changed, and
        the stories a merge emptied, each with the story that took its articles."""
        # A news article is a few thousand words; a page far longer is mostly not news, and
        # reading all of it would only cost time and memory.
        body = article.body[:MAX_TEXT_CHARS]
        article.language = detect_language(f"{article.title}\n{body}", article.language)
        found = tags.extract_tags(article.title, body, article.language)
        _store_tags(session, article, found)
        vector = self.embedder.embed([article_text(article.title, body)])[0]
        minhash, size = dedupe.signature(article.title, body)
        terms = story_terms(article.title, body, article.language)
        touched = {article.story_id} if article.story_id is not None else set()
        merged: dict[int, int] = {}
        original = self.duplicates.find(article.id, article.source_id, article.url, minhash, size)
        if original is not None:
            original = _root(session, original)
        if original is not None and original != article.id and _earlier(session, article, original):
            # This one came first (its copy was stored before it): it becomes the original.
            _adopt(session, article, original)
            original = None
        if original is not None and original != article.id:
            article.duplicate_of = original
            article.story_id = session.scalar(
                select(Article.story_id).where(Article.id == original)
            )
            self.duplicates.add(article.id, article.source_id, article.url, None)
        else:
            article.duplicate_of = None
            self.duplicates.add(article.id, article.source_id, article.url, minhash)
            if self.clusterer.story_of(article.id) is None:
                placement = self.clusterer.add(article.id, terms, article.published_at)
                article.story_id = placement.story_id
                touched |= _move(session, placement.moved, merged)
        if article.story_id is not None:
            touched.add(article.story_id)
        self.vectors.add([article.id], vector[None, :])
        _store_features(session, article.id, self.embedder.name, vector, minhash, terms)
        article.enriched_at = datetime.now(UTC)
        session.flush()
        session.expire(article, ["tags"])
        return touched, merged


def _root(session: Session, article_id: int) -> int | None:
    """The original of a duplicate (copies point at an original); None if it was removed."""
    row = session.execute(
        select(Article.id, Article.duplicate_of).where(Article.id == article_id)
    ).first()
    if row is None:
        return None
    return int(row.duplicate_of if row.duplicate_of is not None else row.id)


def _earlier(session: Session, article: Article, original_id: int) -> bool:
    published = session.scalar(select(Article.published_at).where(Article.id == original_id))
    return published is not None and article.published_at < published


def _adopt(session: Session, article: Article, original_id: int) -> None:
    """Make `article` the original of a copy group that was stored before it."""
    for row in session.scalars(select(Article).where(repository.copy_group(original_id))):
        row.duplicate_of = article.id
    article.story_id = session.scalar(select(Article.story_id).where(Article.id == original_id))


def _move(session: Session, moved: dict[int, int], merged: dict[int, int]) -> set[int]:
    """Apply the clusterer's merges/splits to stored articles and their duplicates."""
    touched: set[int] = set()
    for article_id, story_id in moved.items():
        for row in session.scalars(select(Article).where(repository.copy_group(article_id))):
            if row.story_id is not None and row.story_id != story_id:
                touched.add(row.story_id)
                merged[row.story_id] = story_id
            row.story_id = story_id
            touched.add(story_id)
    return touched


def _store_tags(session: Session, article: Article, found: list[tags.Tag]) -> None:
    with session.no_autoflush:
        rows = records.tag_rows(session, found)
        session.execute(delete(ArticleTag).where(ArticleTag.article_id == article.id))
        session.expire(article, ["tags"])
        session.add_all(
            ArticleTag(
                article_id=article.id, tag_id=rows[tag.key].id, label=tag.label, score=tag.score
            )
            for tag in found
        )


def _store_features(
    session: Session,
    article_id: int,
    model: str,
    vector: object,
    minhash: object,
    terms: Counter[str],
) -> None:
    row = session.get(ArticleFeatures, article_id)
    if row is None:
        row = ArticleFeatures(article_id=article_id)
        session.add(row)
    row.model = model
    row.vector = to_bytes(vector)  # type: ignore[arg-type]
    row.minhash = dedupe.to_bytes(minhash)
    row.terms = {term: float(weight) for term, weight in terms.most_common(200)}


_enrichers_lock = threading.Lock()


def enricher_for(database: Database, settings: Settings) -> Enricher:
    """The Enricher of `database` (its indexes are loaded once per Database object)."""
    with _enrichers_lock:
        enricher = database.enricher
        if (
            not isinstance(enricher, Enricher)
            or enricher.settings.embedding_backend != settings.embedding_backend
        ):
            enricher = database.enricher = Enricher(database, settings)
        return enricher
