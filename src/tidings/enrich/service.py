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
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session

from tidings.config import Settings
from tidings.db.models import Article, ArticleFeatures
from tidings.db.session import Database
from tidings.enrich import dedupe, records, snapshot, taghelper
from tidings.enrich.cluster import StoryClusterer
from tidings.enrich.embed import Embedder, article_text, get_embedder
from tidings.enrich.features import story_terms
from tidings.enrich.lang import detect_language
from tidings.enrich.vectors import Vector, VectorIndex, from_bytes

log = logging.getLogger(__name__)
_SYNC_EVERY_S = 2.0  # how stale another process's enrichments may look to this one
# How often stories that left the story window are closed in memory (their articles' vectors
# and one-off terms freed): closing walks every open group, so not on every sync.
_FORGET_EVERY_S = 3600.0
_LOAD_BATCH = 5000
_SAVE_EVERY = 20_000  # articles indexed since the last snapshot that make a new one due
_RESAVE_SHARE = 0.05  # a start that had to catch up on more than this share saves again
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
        self._forgot_clock = time.monotonic()
        # Articles in the indexes as of the last snapshot, and those indexed since.
        self._article_ids: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._added_ids: list[int] = []
        self.snapshot_folder = snapshot.folder_for(database.url)
        self._own: dict[int, datetime] = {}  # enriched here since the last look at the database

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
            if time.monotonic() - self._forgot_clock > _FORGET_EVERY_S:
                window = timedelta(days=self.settings.story_window_days)
                self.clusterer.forget_before(datetime.now(UTC) - window)
                self._forgot_clock = time.monotonic()

    def _load(self, since: datetime | None) -> None:
        """Index every enriched article (or those enriched after `since`): vectors and
        signatures of all, story terms of the articles still inside the story window."""
        with self.database.session() as session:
            if since is None:  # story ids continue after the stored ones
                self.clusterer = StoryClusterer(next_story_id=records.next_story_id(session))
                self._load_indexes(session)
            else:
                self._index_rows(session, Article.enriched_at > since)
            self._restore_stories(session, since)
        self._synced_clock = time.monotonic()

    def _load_indexes(self, session: Session) -> None:
        """On start: the saved snapshot brought up to date with the database, or a rebuild."""
        folder = self.snapshot_folder
        saved = snapshot.load(folder, self.embedder.name, self.embedder.dim) if folder else None
        if saved is None:
            self._index_rows(session, true())
            changes = len(self._added_ids)
        else:
            self.vectors, self.duplicates = saved.vectors, saved.duplicates
            self._synced_to = saved.synced_to
            stored = np.fromiter(
                session.scalars(select(ArticleFeatures.article_id)), dtype=np.int64
            )
            stored.sort()
            gone = np.setdiff1d(saved.article_ids, stored, assume_unique=True)
            missing = np.setdiff1d(stored, saved.article_ids, assume_unique=True)
            self.vectors.remove(gone.tolist())
            for article_id in gone.tolist():
                self.duplicates.remove(article_id)
            self._article_ids = np.setdiff1d(saved.article_ids, gone, assume_unique=True)
            for start in range(0, len(missing), _LOAD_BATCH):
                chunk = missing[start : start + _LOAD_BATCH].tolist()
                self._index_rows(session, Article.id.in_(chunk))
            if saved.synced_to is not None:  # re-enriched since the save
                self._index_rows(session, Article.enriched_at > saved.synced_to)
            changes = len(gone) + len(self._added_ids)
        self.duplicates.compact()
        if folder is not None and (saved is None or changes > _RESAVE_SHARE * len(self.vectors)):
            self._save(folder)

    def _index_rows(self, session: Session, condition: ColumnElement[bool]) -> None:
        """Add the enriched articles matching `condition` to the vector and duplicate indexes."""
        query = (
            select(
                Article.id,
                Article.source_id,
                Article.url,
                Article.duplicate_of,
                Article.enriched_at,
                ArticleFeatures.model,
                ArticleFeatures.vector,
                ArticleFeatures.minhash,
            )
            .join(ArticleFeatures, ArticleFeatures.article_id == Article.id)
            .where(condition)
        )
        newest = self._synced_to
        result = session.execute(query.execution_options(yield_per=_LOAD_BATCH))
        for rows in result.partitions():
            # This process's own enrichments are in the indexes already: re-adding a vector
            # costs a graph insertion (~1.5 ms) for nothing.
            batch = [row for row in rows if self._own.get(row.id) != row.enriched_at]
            for row in rows:
                newest = row.enriched_at if newest is None else max(newest, row.enriched_at)
            if not batch:
                continue
            ids = np.array([row.id for row in batch], dtype=np.int64)
            signatures = np.zeros((len(batch), dedupe.NUM_PERM), dtype=np.uint32)
            with_vector: list[int] = []
            vectors: list[npt.NDArray[np.float32]] = []
            for number, row in enumerate(batch):
                if row.duplicate_of is None:  # copies are found through their original
                    signatures[number] = np.frombuffer(row.minhash, dtype=np.uint64)
                if row.model == self.embedder.name:
                    with_vector.append(row.id)
                    vectors.append(from_bytes(row.vector, self.embedder.dim))
            if with_vector:
                self.vectors.add(with_vector, np.stack(vectors))
            digests = [dedupe.url_hash(row.source_id, row.url) for row in batch]
            self.duplicates.add_many(ids, digests, signatures)
            self._added_ids.extend(ids.tolist())
        self._synced_to = newest
        self._own.clear()

    def _restore_stories(self, session: Session, since: datetime | None) -> None:
        window = datetime.now(UTC) - timedelta(days=self.settings.story_window_days)
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
            recent = recent.where(Article.enriched_at > since)
        for item in session.execute(recent.execution_options(yield_per=_LOAD_BATCH)):
            if item.story_id is not None and self.clusterer.story_of(item.id) is None:
                self.clusterer.restore(
                    item.id, Counter(item.terms), item.published_at, item.story_id
                )

    def _save(self, folder: Path) -> None:
        """Snapshot the indexes (the caller holds the lock); a failure only costs the next
        start a rebuild."""
        ids = np.union1d(self._article_ids, np.asarray(self._added_ids, dtype=np.int64))
        state = snapshot.Snapshot(self.vectors, self.duplicates, ids, self._synced_to)
        try:
            snapshot.save(folder, state, self.embedder.name)
        except OSError:
            log.exception("could not save the enrichment indexes to %s", folder)
            return
        self._article_ids, self._added_ids = ids, []

    def save_if_due(self) -> None:
        """Snapshot the indexes when many articles were indexed since the last snapshot."""
        folder = self.snapshot_folder
        with self._lock:
            if self._loaded and folder is not None and len(self._added_ids) >= _SAVE_EVERY:
                self._save(folder)

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
                    article = records.load_article(session, article_id)
                    if article is None:
                        continue
                    # Only a re-enrichment has hashtags to replace.
                    first = article.enriched_at is None
                    old_tags = [] if first else records.article_tag_ids(session, article_id)
                    touched, merged, new_tags = self._enrich_one(session, article)
                    report.enriched += 1
                    report.duplicates += article.duplicate_of is not None
                    report.stories_touched |= touched
                    records.refresh_stories(session, touched, dim=self.embedder.dim, merged=merged)
                    records.shift_tag_counts(session, old_tags, new_tags)
        self.save_if_due()
        report.seconds = time.monotonic() - clock
        return report

    def _enrich_one(
        self, session: Session, article: records.ArticleRow
    ) -> tuple[set[int], dict[int, int], list[int]]:
        """Enrich one article; returns the stories whose membership or content changed, the
        stories a merge emptied (each with the story that took its articles), and its tag ids."""
        # A news article is a few thousand words; a page far longer is mostly not news, and
        # reading all of it would only cost time and memory.
        body = article.body[:MAX_TEXT_CHARS]
        declared = article.language
        article.language = detect_language(f"{article.title}\n{body}", declared)
        # Three things at once: the hashtags are extracted in the helper process, the vector
        # goes into the graph on a helper thread, and this thread does the rest.
        extract = taghelper.helper().extract if self.settings.enrich_helper else taghelper.here
        with extract(article.title, body, article.language) as found_tags:
            vector = self.embedder.embed([article_text(article.title, body)])[0]
            indexing = self.vectors.add_soon([article.id], vector[None, :])
            try:
                outcome = self._place(session, article, body, vector, found_tags)
            finally:
                futures.wait([indexing])
        indexing.result()  # an insertion that failed fails the article too
        self._added_ids.append(article.id)
        records.save_article(session, article, language_changed=article.language != declared)
        return outcome

    def _place(
        self,
        session: Session,
        article: records.ArticleRow,
        body: str,
        vector: Vector,
        found_tags: taghelper.PendingTags,
    ) -> tuple[set[int], dict[int, int], list[int]]:
        """Everything but the language and the vector: duplicate, story, hashtags, writes."""
        first = article.enriched_at is None
        minhash, size = dedupe.signature(article.title, body)
        terms = story_terms(article.title, body, article.language)
        touched = {article.story_id} if article.story_id is not None else set()
        merged: dict[int, int] = {}
        original = self.duplicates.find(article.id, article.source_id, article.url, minhash, size)
        if original is not None:
            original = records.root_of(session, original)
        if (
            original is not None
            and original != article.id
            and self._earlier(session, article, original)
        ):
            # This one came first (its copy was stored before it): it becomes the original.
            records.adopt(session, article, original)
            original = None
        if original is not None and original != article.id:
            article.duplicate_of = original
            article.story_id = records.article_value(session, "story_id", original)
            self.duplicates.add(article.id, article.source_id, article.url, None)
        else:
            article.duplicate_of = None
            self.duplicates.add(article.id, article.source_id, article.url, minhash)
            if self.clusterer.story_of(article.id) is None:
                placement = self.clusterer.add(article.id, terms, article.published_at)
                article.story_id = placement.story_id
                touched |= records.move(session, article, placement.moved, merged)
        if article.story_id is not None:
            touched.add(article.story_id)
        records.store_features(
            session, article.id, self.embedder.name, vector, minhash, terms, first=first
        )
        article.enriched_at = self._own[article.id] = datetime.now(UTC)
        tag_ids = records.store_tags(session, article.id, found_tags.result(), replace=not first)
        return touched, merged, tag_ids

    @staticmethod
    def _earlier(session: Session, article: records.ArticleRow, original_id: int) -> bool:
        published = records.article_value(session, "published_at", original_id)
        return published is not None and article.published_at < published


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
