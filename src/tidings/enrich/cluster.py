"""Incremental story clustering: each new article joins the best open story or starts one.

Two levels. A *group* gathers articles on one subject (earthquakes in Iran, a boxer's title
fights) by cosine similarity to the group's centroid of TF-IDF vectors of words and names,
with idf from the stream so far; candidates come from an inverted index (term -> groups) over
the article's rarest terms. Inside a group, *stories* (the events) are told apart with local
weights over words, names and phrases: a term found in most of the group's articles only says
what the subject is, so its weight shrinks, while the names, places, dates and phrases that
only some of them share decide which event an article reports. After each
article the group's newest `group_window` articles are re-clustered (average link), so stories
merge and split as evidence grows; stories keep their ids and the articles that move are
reported. Cost per article: the candidate groups' scores plus O(group_window²) pair scores.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from scipy import sparse  # type: ignore[import-untyped]

from tidings.enrich.features import is_phrase

Vector = dict[str, float]
_NO_TERMS = np.zeros(0, dtype=np.int64)  # so that a window of empty articles concatenates
_NO_WEIGHTS = np.zeros(0, dtype=np.float64)


@dataclass(frozen=True)
class ClusterParams:
    """Tunables; the defaults are what Tidings ships (chosen on ECB+ train/dev topics)."""

    group_join: float = 0.15  # cosine article → group centroid needed to join a group
    group_merge: float = 0.25  # cosine between two group centroids needed to merge them
    story_threshold: float = 0.06  # local average-link similarity that keeps articles together
    # Imaginary unrelated articles added to a group's local document count, so that a group
    # holding a single event does not zero the weight of every term its articles share.
    background_articles: float = 3.0
    copy_similarity: float = 0.9  # cosine above which an article counts as a copy of another
    group_window: int = 60  # newest articles of a group that take part in story decisions
    candidate_terms: int = 10  # highest-idf terms of an article whose postings give candidates
    max_candidates: int = 20  # groups scored per article
    # Two clusters of a group merge only when their average link reaches this share of the
    # looser one's own mean pair similarity.
    cohesion_ratio: float = 0.25
    time_scale_hours: float = 72.0  # similarity halves every this many hours apart


@dataclass
class Placement:
    """Where an added article went, and which other articles changed story because of it."""

    story_id: int
    moved: dict[int, int] = field(default_factory=dict)


@dataclass
class _Article:
    term_ids: np.ndarray  # ids of its terms in the clusterer's vocabulary
    log_tf: np.ndarray  # 1 + log(count) of each of those terms
    vector: Vector  # global TF-IDF of words and names at arrival, unit length
    published_at: datetime | None
    group_id: int = 0
    copy_of: int | None = None  # an earlier article of the group with nearly the same text


@dataclass
class _Group:
    group_id: int
    members: list[int] = field(default_factory=list)
    centroid: Vector = field(default_factory=dict)  # sum of member vectors
    norm2: float = 0.0  # squared length of the centroid, kept incrementally
    newest: datetime | None = None
    stories: set[int] = field(default_factory=set)


def _dot(small: Vector, large: Vector) -> float:
    if len(small) > len(large):
        small, large = large, small
    return sum(value * large.get(term, 0.0) for term, value in small.items())


def _newer(first: datetime | None, second: datetime | None) -> datetime | None:
    if first is None:
        return second
    if second is None:
        return first
    return max(first, second)


class StoryClusterer:
    """Streaming clusterer of articles into stories; not thread-safe (one writer owns it)."""

    def __init__(self, params: ClusterParams = ClusterParams(), *, next_story_id: int = 1) -> None:
        self.params = params
        self._next_story_id = next_story_id
        self._next_group_id = 1
        # Document frequencies by term id: the local stage weighs a whole window of articles
        # at once with numpy, which needs terms as integers. forget_before() drops the terms
        # seen once that no open article holds, so the vocabulary does not keep every phrase.
        self._terms: list[str] = []
        self._term_ids: dict[str, int] = {}
        self._document_frequency = np.zeros(1024, dtype=np.float64)
        self._documents = 0
        self._articles: dict[int, _Article] = {}
        self._groups: dict[int, _Group] = {}
        self._postings: defaultdict[str, set[int]] = defaultdict(set)  # term -> open groups
        self._story_of: dict[int, int] = {}
        self._story_members: dict[int, list[int]] = {}
        self._story_group: dict[int, int] = {}
        self._arrival: dict[int, int] = {}  # article id -> arrival rank, to order merged groups

    # --- public API -------------------------------------------------------------------

    def add(
        self,
        article_id: int,
        terms: Counter[str],
        published_at: datetime | None,
        candidates: Iterable[int] | None = None,
    ) -> Placement:
        """Place a new article; `candidates` are story ids to consider (None: find them)."""
        self._check_new(article_id)
        article = self._observe(terms, published_at)
        scores = self._group_scores(article.vector, published_at, candidates)
        group = self._best_group(scores) or self._new_group()
        self._attach(group, article_id, article)
        # Only groups this article could have joined as well are checked for a merge: it is
        # the new evidence that can bridge them, and every check costs a centroid product.
        bridged = [
            group_id for group_id, score in scores.items() if score >= self.params.group_join
        ]
        group = self._merge_groups(group, bridged)
        moved = self._recluster(group)
        moved.pop(article_id, None)
        return Placement(story_id=self._story_of[article_id], moved=moved)

    def restore(
        self, article_id: int, terms: Counter[str], published_at: datetime | None, story_id: int
    ) -> None:
        """Re-enter an article already assigned to `story_id` (on start), without clustering."""
        self._check_new(article_id)
        article = self._observe(terms, published_at)
        group_id = self._story_group.get(story_id)
        group = self._groups.get(group_id) if group_id is not None else None
        if group is None:
            # A story's first article finds its group as a new one would, so that related
            # stories share a group again and keep being told apart against each other.
            scores = self._group_scores(article.vector, published_at, None)
            group = self._best_group(scores) or self._new_group()
        self._attach(group, article_id, article)
        self._join_story(article_id, story_id)
        self._next_story_id = max(self._next_story_id, story_id + 1)

    def story_of(self, article_id: int) -> int | None:
        return self._story_of.get(article_id)

    def members(self, story_id: int) -> list[int]:
        return list(self._story_members.get(story_id, ()))

    def forget_before(self, cutoff: datetime) -> None:
        """Close groups whose newest article is older than `cutoff`; they take no new articles.

        Article → story answers are kept (they are small); vectors and postings are freed.
        Groups whose articles all lack a date are kept: there is no age to judge them by.
        """
        for group in list(self._groups.values()):
            if group.newest is None or group.newest >= cutoff:
                continue
            for term in group.centroid:
                self._discard_posting(term, group.group_id)
            for article_id in group.members:
                self._articles.pop(article_id, None)
                self._arrival.pop(article_id, None)
            for story_id in group.stories:
                self._story_group.pop(story_id, None)
            del self._groups[group.group_id]
        self._compact_vocabulary()

    def _check_new(self, article_id: int) -> None:
        if article_id in self._story_of:
            raise ValueError(
                f"article {article_id} is already in story {self._story_of[article_id]}"
            )

    # --- global level: groups ------------------------------------------------------------

    def _observe(self, terms: Counter[str], published_at: datetime | None) -> _Article:
        """Count the article's terms; its vector for the group level holds words and names,
        its terms for the story level phrases too.

        Phrases ("west papua") tell two events of one subject apart, but most of them are an
        article's own: in the vector that finds the subject they would only dilute the words
        it shares with the group (and ECB+ train/dev agrees: F1 0.959 without, 0.954 with).
        """
        self._documents += 1
        kept = [(term, count) for term, count in terms.items() if count > 0]
        term_ids = np.fromiter((self._term_id(term) for term, _ in kept), np.int64, len(kept))
        self._document_frequency[term_ids] += 1.0  # ids are distinct: a Counter's keys
        log_tf = 1.0 + np.log(np.fromiter((count for _, count in kept), np.float64, len(kept)))
        words = np.fromiter((not is_phrase(term) for term, _ in kept), dtype=bool, count=len(kept))
        weights = log_tf[words] * self._idf(term_ids[words])
        length = float(np.linalg.norm(weights))
        if length > 0.0:
            weights /= length
        word_terms = [term for (term, _), word in zip(kept, words, strict=True) if word]
        vector = dict(zip(word_terms, weights.tolist(), strict=True))
        return _Article(term_ids, log_tf, vector, published_at)

    def _term_id(self, term: str) -> int:
        term_id = self._term_ids.get(term)
        if term_id is None:
            term_id = self._term_ids[term] = len(self._terms)
            self._terms.append(term)
            if term_id >= len(self._document_frequency):
                grown = np.zeros(2 * len(self._document_frequency), dtype=np.float64)
                grown[:term_id] = self._document_frequency[:term_id]
                self._document_frequency = grown
        return term_id

    def _compact_vocabulary(self) -> None:
        """Forget terms seen in one article only that no open article holds any more."""
        count = len(self._terms)
        keep = self._document_frequency[:count] >= 2.0
        for article in self._articles.values():
            keep[article.term_ids] = True
        new_id = np.cumsum(keep) - 1
        self._terms = [term for term, kept in zip(self._terms, keep.tolist(), strict=True) if kept]
        self._term_ids = {term: term_id for term_id, term in enumerate(self._terms)}
        frequency = self._document_frequency[:count][keep]
        self._document_frequency = np.zeros(max(1024, 2 * len(frequency)), dtype=np.float64)
        self._document_frequency[: len(frequency)] = frequency
        for article in self._articles.values():
            article.term_ids = new_id[article.term_ids]

    def _idf(self, term_ids: np.ndarray) -> np.ndarray:
        frequency = self._document_frequency[term_ids]
        idf: np.ndarray = np.log((self._documents + 1) / (frequency + 1.0)) + 1.0
        return idf

    def _decay(self, first: datetime | None, second: datetime | None) -> float:
        if first is None or second is None:
            return 1.0
        return float(self._half_lives(abs((first - second).total_seconds()) / 3600.0))

    def _half_lives(self, hours: float | np.ndarray) -> float | np.ndarray:
        """Similarity factor for articles `hours` apart: halves every time_scale_hours."""
        factor: float | np.ndarray = 0.5 ** (hours / self.params.time_scale_hours)
        return factor

    def _candidate_groups(self, vector: Vector, candidates: Iterable[int] | None) -> list[int]:
        if candidates is not None:
            groups = {self._story_group.get(story_id) for story_id in candidates}
            return [group_id for group_id in groups if group_id in self._groups]
        # Only the postings of the rarest terms: common terms would list every group.
        top = heapq.nlargest(self.params.candidate_terms, vector, key=vector.__getitem__)
        hits: Counter[int] = Counter()
        for term in top:
            hits.update(self._postings.get(term, ()))
        return [group_id for group_id, _ in hits.most_common(self.params.max_candidates)]

    def _group_scores(
        self, vector: Vector, published_at: datetime | None, candidates: Iterable[int] | None
    ) -> dict[int, float]:
        """Cosine of the article to each candidate group's centroid, decayed by time apart."""
        scores: dict[int, float] = {}
        for group_id in self._candidate_groups(vector, candidates):
            group = self._groups[group_id]
            if group.norm2 > 0.0:
                score = _dot(vector, group.centroid) / math.sqrt(group.norm2)
                scores[group_id] = score * self._decay(published_at, group.newest)
        return scores

    def _best_group(self, scores: dict[int, float]) -> _Group | None:
        if not scores:
            return None
        group_id = max(scores, key=scores.__getitem__)
        return self._groups[group_id] if scores[group_id] >= self.params.group_join else None

    def _new_group(self) -> _Group:
        group = _Group(group_id=self._next_group_id)
        self._next_group_id += 1
        self._groups[group.group_id] = group
        return group

    def _attach(self, group: _Group, article_id: int, article: _Article) -> None:
        article.group_id = group.group_id
        article.copy_of = self._original(group, article.vector)
        self._articles[article_id] = article
        self._arrival[article_id] = len(self._arrival)
        group.members.append(article_id)
        group.norm2 += 2.0 * _dot(article.vector, group.centroid) + 1.0
        for term, value in article.vector.items():
            group.centroid[term] = group.centroid.get(term, 0.0) + value
            self._postings[term].add(group.group_id)
        group.newest = _newer(group.newest, article.published_at)

    def _original(self, group: _Group, vector: Vector) -> int | None:
        """A recent article of the group that this one copies (syndicated wire text)."""
        for article_id in reversed(self._window(group)):
            if _dot(vector, self._articles[article_id].vector) >= self.params.copy_similarity:
                return article_id
        return None

    def _merge_groups(self, group: _Group, nearby: list[int]) -> _Group:
        """Merge `group` with the nearby groups whose centroids have become close to it."""
        while True:
            partner = self._closest_group(group, nearby)
            if partner is None:
                return group
            keep, gone = (
                (group, partner) if len(group.members) >= len(partner.members) else (partner, group)
            )
            keep.norm2 += gone.norm2 + 2.0 * _dot(gone.centroid, keep.centroid)
            for term, value in gone.centroid.items():
                keep.centroid[term] = keep.centroid.get(term, 0.0) + value
                self._discard_posting(term, gone.group_id)
                self._postings[term].add(keep.group_id)
            for article_id in gone.members:
                self._articles[article_id].group_id = keep.group_id
            for story_id in gone.stories:
                self._story_group[story_id] = keep.group_id
            keep.stories |= gone.stories
            # Arrival order matters for the window of newest articles.
            keep.members = sorted(keep.members + gone.members, key=self._arrival_rank)
            keep.newest = _newer(keep.newest, gone.newest)
            del self._groups[gone.group_id]
            group = keep

    def _closest_group(self, group: _Group, nearby: list[int]) -> _Group | None:
        best: _Group | None = None
        best_score = self.params.group_merge
        for group_id in nearby:
            other = self._groups.get(group_id)  # merged away earlier in this loop
            if other is None or other is group or other.norm2 <= 0.0:
                continue
            score = _dot(group.centroid, other.centroid) / math.sqrt(group.norm2 * other.norm2)
            score *= self._decay(group.newest, other.newest)
            if score >= best_score:
                best, best_score = other, score
        return best

    def _arrival_rank(self, article_id: int) -> int:
        return self._arrival[article_id]

    def _discard_posting(self, term: str, group_id: int) -> None:
        postings = self._postings.get(term)
        if postings is not None:
            postings.discard(group_id)
            if not postings:
                del self._postings[term]

    # --- local level: stories inside a group ---------------------------------------------

    def _local_matrix(self, article_ids: list[int]) -> sparse.csr_matrix:
        """Unit rows weighting terms by global idf × how few of these articles hold them.

        Only terms that at least two of the articles hold get a column: a term no other
        article holds links nothing. Sparse, because a window of 60 articles still shares a
        few thousand terms, and because a dense product would go through a multi-threaded
        BLAS whose thread start-up costs more than the product itself.
        """
        articles = [self._articles[article_id] for article_id in article_ids]
        # Copies count once: twenty reprints of one wire story would otherwise make its
        # incidental words look shared, and the reprints would form a story of their own.
        present = set(article_ids)
        original = np.array([article.copy_of not in present for article in articles], dtype=bool)
        rows = np.repeat(np.arange(len(articles)), [len(item.term_ids) for item in articles])
        term_ids = np.concatenate([item.term_ids for item in articles] + [_NO_TERMS])
        log_tf = np.concatenate([item.log_tf for item in articles] + [_NO_WEIGHTS])
        terms, column = np.unique(term_ids, return_inverse=True)
        shared = np.bincount(column[original[rows]], minlength=len(terms))
        total = int(original.sum()) + 1 + self.params.background_articles
        weight = np.log(total / (shared + 1.0)) * self._idf(terms)
        kept = (shared >= 2) & (weight > 0.0)
        entry = kept[column]
        values = log_tf[entry] * weight[column[entry]]
        rows = rows[entry]
        norms = np.sqrt(np.bincount(rows, values * values, minlength=len(articles)))
        values /= norms[rows]  # a row with entries has a positive norm
        place = np.cumsum(kept) - 1  # column of each kept term in the matrix
        return sparse.csr_matrix(
            (values, (rows, place[column[entry]])), shape=(len(articles), max(1, int(kept.sum())))
        )

    def _window(self, group: _Group) -> list[int]:
        return group.members[-self.params.group_window :]

    def _similarities(self, article_ids: list[int]) -> np.ndarray:
        """Pairwise similarities of the window, decayed by time apart; zero diagonal."""
        matrix = self._local_matrix(article_ids)
        gram: np.ndarray = (matrix @ matrix.T).toarray()
        hours = np.array(
            [
                np.nan
                if (at := self._articles[article_id].published_at) is None
                else at.timestamp() / 3600.0
                for article_id in article_ids
            ]
        )
        apart = np.abs(hours[:, None] - hours[None, :])
        # An article without a date is as close in time as can be to every other.
        gram *= np.where(np.isnan(apart), 1.0, self._half_lives(apart))
        np.fill_diagonal(gram, 0.0)
        return gram

    def _average_link(self, article_ids: list[int]) -> list[list[int]]:
        """Clusters of the articles: average-link agglomeration down to story_threshold.

        Two clusters also stay apart when they are far less alike than each is inside:
        in a group of two events, their shared subject (the same hospital, the same port)
        lifts every cross pair a little, but never near how tightly each event holds together.
        Cluster similarities live in one matrix, updated row by row (Lance–Williams), so a
        window of 60 articles costs ~60 numpy steps rather than ~60 passes over 1,770 pairs.
        """
        similarity = self._similarities(article_ids)
        count = len(article_ids)
        members = [[index] for index in range(count)]
        size = np.ones(count)
        inner = np.zeros(count)  # sum of pair similarities inside each cluster
        upper = np.triu(np.ones((count, count), dtype=bool), k=1)
        while True:
            # Mean pair similarity inside each cluster; a single article sets no bar.
            pairs_inside = np.maximum(size * (size - 1.0) / 2.0, 1.0)
            cohesion = np.where(size > 1.0, inner / pairs_inside, 0.0)
            needed = self.params.cohesion_ratio * np.minimum(cohesion[:, None], cohesion[None, :])
            allowed = upper & (similarity >= self.params.story_threshold) & (similarity >= needed)
            if not allowed.any():
                break
            first, second = np.unravel_index(
                np.argmax(np.where(allowed, similarity, -1.0)), similarity.shape
            )
            score = similarity[first, second]
            inner[first] += inner[second] + score * size[first] * size[second]
            merged = (similarity[first] * size[first] + similarity[second] * size[second]) / (
                size[first] + size[second]
            )
            similarity[first, :] = merged
            similarity[:, first] = merged
            similarity[first, first] = 0.0
            similarity[second, :] = 0.0  # the second cluster is gone
            similarity[:, second] = 0.0
            size[first] += size[second]
            size[second] = 0.0
            members[first] += members[second]
            members[second] = []
        return [[article_ids[index] for index in group] for group in members if group]

    def _recluster(self, group: _Group) -> dict[int, int]:
        """Re-cluster the group's newest articles into stories; return the articles that moved.

        Clusters take the existing story id most of their members hold (biggest cluster
        first), so stories keep their ids; a cluster of new articles gets a new id.
        """
        clusters = sorted(self._average_link(self._window(group)), key=len, reverse=True)
        claimed: set[int] = set()
        moved: dict[int, int] = {}
        for cluster in clusters:
            held = Counter(
                story_id
                for article_id in cluster
                if (story_id := self._story_of.get(article_id)) is not None
                and story_id not in claimed
            )
            if held:
                story_id = held.most_common(1)[0][0]
            else:
                story_id = self._next_story_id
                self._next_story_id += 1
            claimed.add(story_id)
            for article_id in cluster:
                previous = self._story_of.get(article_id)
                if previous == story_id:
                    continue
                if previous is not None:
                    self._leave_story(article_id, previous)
                    moved[article_id] = story_id
                self._join_story(article_id, story_id)
        return moved

    def _join_story(self, article_id: int, story_id: int) -> None:
        self._story_of[article_id] = story_id
        self._story_members.setdefault(story_id, []).append(article_id)
        group_id = self._articles[article_id].group_id
        self._story_group[story_id] = group_id
        self._groups[group_id].stories.add(story_id)

    def _leave_story(self, article_id: int, story_id: int) -> None:
        members = self._story_members[story_id]
        members.remove(article_id)
        if members:
            return
        # An emptied story is gone for good; its id is never reused.
        del self._story_members[story_id]
        group_id = self._story_group.pop(story_id, None)
        if group_id is not None and group_id in self._groups:
            self._groups[group_id].stories.discard(story_id)
