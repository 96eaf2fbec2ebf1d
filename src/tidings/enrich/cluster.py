"""Incremental story clustering: each new article joins the best open story or starts one.

Two levels. A *group* gathers articles on one subject (earthquakes in Iran, a boxer's title
fights) by cosine similarity to the group's centroid of TF-IDF vectors, with idf from the stream
so far; candidates come from an inverted index (term -> groups) over the article's rarest terms.
Inside a group, *stories* (the events) are told apart with local weights: a term found in most
of the group's articles only says what the subject is, so its weight shrinks, while the names,
places and dates that only some of them share decide which event an article reports. After each
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

Vector = dict[str, float]


@dataclass(frozen=True)
class ClusterParams:
    """Tunables; the defaults are what Tidings ships (chosen on ECB+ train/dev topics)."""

    group_join: float = 0.15  # cosine article → group centroid needed to join a group
    group_merge: float = 0.25  # cosine between two group centroids needed to merge them
    story_threshold: float = 0.065  # local average-link similarity that keeps articles together
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
    terms: Counter[str]
    vector: Vector  # global TF-IDF at arrival, unit length
    published_at: datetime | None
    group_id: int
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


def _unit(vector: Vector) -> Vector:
    length = math.sqrt(sum(value * value for value in vector.values()))
    return {term: value / length for term, value in vector.items()} if length else {}


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
        self._document_frequency: Counter[str] = Counter()
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
        vector = self._observe(terms)
        nearby = self._candidate_groups(vector, candidates)
        group = self._best_group(vector, published_at, nearby)
        if group is None:
            group = self._new_group()
        self._attach(group, article_id, terms, vector, published_at)
        group = self._merge_groups(group, nearby)
        moved = self._recluster(group)
        moved.pop(article_id, None)
        return Placement(story_id=self._story_of[article_id], moved=moved)

    def restore(
        self, article_id: int, terms: Counter[str], published_at: datetime | None, story_id: int
    ) -> None:
        """Re-enter an article already assigned to `story_id` (on start), without clustering."""
        self._check_new(article_id)
        vector = self._observe(terms)
        group_id = self._story_group.get(story_id)
        group = self._groups.get(group_id) if group_id is not None else None
        if group is None:
            # A story's first article finds its group as a new one would, so that related
            # stories share a group again and keep being told apart against each other.
            nearby = self._candidate_groups(vector, None)
            group = self._best_group(vector, published_at, nearby) or self._new_group()
        self._attach(group, article_id, terms, vector, published_at)
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

    def _check_new(self, article_id: int) -> None:
        if article_id in self._story_of:
            raise ValueError(
                f"article {article_id} is already in story {self._story_of[article_id]}"
            )

    # --- global level: groups ------------------------------------------------------------

    def _observe(self, terms: Counter[str]) -> Vector:
        self._documents += 1
        self._document_frequency.update(terms.keys())
        return _unit(
            {
                term: (1.0 + math.log(count)) * self._idf(term)
                for term, count in terms.items()
                if count > 0
            }
        )

    def _idf(self, term: str) -> float:
        return math.log((self._documents + 1) / (self._document_frequency[term] + 1)) + 1.0

    def _decay(self, first: datetime | None, second: datetime | None) -> float:
        if first is None or second is None:
            return 1.0
        hours = abs((first - second).total_seconds()) / 3600.0
        return float(0.5 ** (hours / self.params.time_scale_hours))

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

    def _best_group(
        self, vector: Vector, published_at: datetime | None, nearby: list[int]
    ) -> _Group | None:
        best: _Group | None = None
        best_score = self.params.group_join
        for group_id in nearby:
            group = self._groups[group_id]
            if group.norm2 <= 0.0:
                continue
            score = _dot(vector, group.centroid) / math.sqrt(group.norm2)
            score *= self._decay(published_at, group.newest)
            if score >= best_score:
                best, best_score = group, score
        return best

    def _new_group(self) -> _Group:
        group = _Group(group_id=self._next_group_id)
        self._next_group_id += 1
        self._groups[group.group_id] = group
        return group

    def _attach(
        self,
        group: _Group,
        article_id: int,
        terms: Counter[str],
        vector: Vector,
        published_at: datetime | None,
    ) -> None:
        article = _Article(terms, vector, published_at, group.group_id)
        article.copy_of = self._original(group, vector)
        self._articles[article_id] = article
        self._arrival[article_id] = len(self._arrival)
        group.members.append(article_id)
        group.norm2 += 2.0 * _dot(vector, group.centroid) + 1.0
        for term, value in vector.items():
            group.centroid[term] = group.centroid.get(term, 0.0) + value
            self._postings[term].add(group.group_id)
        group.newest = _newer(group.newest, published_at)

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

    def _local_vectors(self, article_ids: list[int]) -> dict[int, Vector]:
        """Unit vectors weighting terms by global idf × how few of these articles hold them."""
        # Copies count once: twenty reprints of one wire story would otherwise make its
        # incidental words look shared, and the reprints would form a story of their own.
        present = set(article_ids)
        originals = [
            article_id
            for article_id in article_ids
            if self._articles[article_id].copy_of not in present
        ]
        local_frequency: Counter[str] = Counter()
        for article_id in originals:
            local_frequency.update(self._articles[article_id].terms.keys())
        total = len(originals) + 1 + self.params.background_articles
        vectors: dict[int, Vector] = {}
        for article_id in article_ids:
            weights: Vector = {}
            for term, count in self._articles[article_id].terms.items():
                shared = local_frequency[term]
                if shared < 2 or count <= 0:
                    continue  # a term no other article holds links nothing
                weight = math.log(total / (shared + 1)) * self._idf(term)
                if weight > 0.0:
                    weights[term] = (1.0 + math.log(count)) * weight
            vectors[article_id] = _unit(weights)
        return vectors

    def _window(self, group: _Group) -> list[int]:
        return group.members[-self.params.group_window :]

    def _similarities(self, article_ids: list[int]) -> dict[tuple[int, int], float]:
        """Pairwise similarities of the window, as one matrix product: a busy subject's
        window holds up to group_window articles, so pair by pair would cost ~n²/2 dict dots."""
        vectors = self._local_vectors(article_ids)
        columns: dict[str, int] = {}
        for article_id in article_ids:
            for term in vectors[article_id]:
                columns.setdefault(term, len(columns))
        matrix = np.zeros((len(article_ids), max(1, len(columns))))
        for row, article_id in enumerate(article_ids):
            for term, weight in vectors[article_id].items():
                matrix[row, columns[term]] = weight
        gram = matrix @ matrix.T
        similarities: dict[tuple[int, int], float] = {}
        for index, other in zip(*np.nonzero(np.triu(gram, k=1) > 0.0), strict=True):
            first, second = article_ids[index], article_ids[other]
            decay = self._decay(
                self._articles[first].published_at, self._articles[second].published_at
            )
            similarities[int(index), int(other)] = float(gram[index, other]) * decay
        return similarities

    def _average_link(self, article_ids: list[int]) -> list[list[int]]:
        """Clusters of the articles: average-link agglomeration down to story_threshold.

        Two clusters also stay apart when they are far less alike than each is inside:
        in a group of two events, their shared subject (the same hospital, the same port)
        lifts every cross pair a little, but never near how tightly each event holds together.
        """
        pair = self._similarities(article_ids)
        clusters = {index: [index] for index in range(len(article_ids))}
        inner = dict.fromkeys(clusters, 0.0)  # sum of pair similarities inside each cluster
        ratio = self.params.cohesion_ratio
        while pair:
            best: tuple[int, int] | None = None
            best_score = self.params.story_threshold
            for (first, second), score in pair.items():
                if score < best_score:
                    continue
                needed = ratio * min(
                    self._cohesion(inner[first], len(clusters[first])),
                    self._cohesion(inner[second], len(clusters[second])),
                )
                if score >= needed:
                    best, best_score = (first, second), score
            if best is None:
                break
            first, second = best
            sizes = (len(clusters[first]), len(clusters[second]))
            inner[first] += inner.pop(second) + best_score * sizes[0] * sizes[1]
            clusters[first] += clusters.pop(second)
            pair = self._merged_pairs(pair, clusters, first, second, sizes)
        return [[article_ids[index] for index in members] for members in clusters.values()]

    @staticmethod
    def _cohesion(inner_sum: float, size: int) -> float:
        """Mean pair similarity inside a cluster; a single article sets no bar."""
        return inner_sum / (size * (size - 1) / 2) if size > 1 else 0.0

    @staticmethod
    def _merged_pairs(
        pair: dict[tuple[int, int], float],
        clusters: dict[int, list[int]],
        first: int,
        second: int,
        sizes: tuple[int, int],
    ) -> dict[tuple[int, int], float]:
        """Cluster similarities after `second` joined `first` (Lance–Williams, average link)."""
        updated = {
            key: value for key, value in pair.items() if first not in key and second not in key
        }
        for other in clusters:
            if other == first:
                continue
            with_first = pair.get((min(first, other), max(first, other)), 0.0)
            with_second = pair.get((min(second, other), max(second, other)), 0.0)
            value = (with_first * sizes[0] + with_second * sizes[1]) / (sizes[0] + sizes[1])
            if value > 0.0:
                updated[min(first, other), max(first, other)] = value
        return updated

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
