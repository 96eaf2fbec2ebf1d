"""Benchmark: story clustering on ECB+ (982 news texts, 43 topics, 86 events).

Streams the documents in shuffled order through tidings.enrich.cluster.StoryClusterer with the
default ClusterParams (the ones Tidings ships) and scores the stories against the gold events
(`event_cluster`): BCubed precision/recall/F1 and the adjusted Rand index, mean over seeds, for
the test topics alone (36–45, streamed on their own) and for all documents; BCubed F1 against
`topic` is a sanity check. Beside it, in the same run, a baseline: TF-IDF (sublinear tf, English
stopwords) with average-link agglomerative clustering at its best distance threshold, picked
with the answers (an oracle, so an upper bound for that method).

Each document's first line is its title, the rest its text; published_at is unknown (None).
`--tune` grid-searches a few ClusterParams on train+dev documents only (never the test topics).
`--ceiling` measures how far the clusterer's event-level similarity can go at all: each gold
topic is handed over as a perfect group, and average link over the local vectors is cut at one
distance threshold for every topic, chosen with the answers.
Needs scikit-learn (bench only).
Usage: python bench/stories.py [--data PATH] [--seeds N] [--tune | --ceiling]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score

from tidings.enrich.cluster import ClusterParams, StoryClusterer
from tidings.enrich.features import story_terms

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "ecbplus" / "ecbplus_docs.jsonl"


@dataclass
class Doc:
    text: str
    terms: Counter[str]
    event: str
    topic: int
    split: str


@dataclass
class Score:
    precision: float
    recall: float
    f1: float
    ari: float
    topic_f1: float


def load(path: Path) -> list[Doc]:
    docs = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            title, _, body = record["text"].partition("\n")
            terms = story_terms(title=title, text=body, language="en")
            docs.append(
                Doc(
                    record["text"], terms, record["event_cluster"], record["topic"], record["split"]
                )
            )
    return docs


def bcubed(predicted: Sequence[Hashable], gold: Sequence[Hashable]) -> tuple[float, float, float]:
    """BCubed precision, recall and F1 (Bagga & Baldwin 1998), averaged over items."""
    predicted_members: defaultdict[Hashable, set[int]] = defaultdict(set)
    gold_members: defaultdict[Hashable, set[int]] = defaultdict(set)
    for index, (label, truth) in enumerate(zip(predicted, gold, strict=True)):
        predicted_members[label].add(index)
        gold_members[truth].add(index)
    precision = recall = 0.0
    for label, truth in zip(predicted, gold, strict=True):
        shared = len(predicted_members[label] & gold_members[truth])
        precision += shared / len(predicted_members[label])
        recall += shared / len(gold_members[truth])
    precision, recall = precision / len(gold), recall / len(gold)
    return precision, recall, 2 * precision * recall / (precision + recall)


def score(labels: Sequence[Hashable], docs: Sequence[Doc]) -> Score:
    events = [doc.event for doc in docs]
    precision, recall, f1 = bcubed(labels, events)
    ari = adjusted_rand_score(events, [str(label) for label in labels])
    topic_f1 = bcubed(labels, [doc.topic for doc in docs])[2]
    return Score(precision, recall, f1, float(ari), topic_f1)


def stream(docs: Sequence[Doc], params: ClusterParams, seed: int) -> tuple[list[int], float]:
    """Story labels of `docs` after feeding them in a seeded shuffle; and articles/s."""
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    clusterer = StoryClusterer(params)
    started = time.perf_counter()
    for index in order:
        clusterer.add(index, docs[index].terms, None)
    elapsed = time.perf_counter() - started
    labels = [clusterer.story_of(index) for index in range(len(docs))]
    return [label if label is not None else -1 for label in labels], len(docs) / elapsed


def mean_score(scores: Sequence[Score]) -> Score:
    fields = [field.name for field in dataclasses.fields(Score)]
    return Score(*(statistics.fmean(getattr(item, name) for item in scores) for name in fields))


def run_clusterer(
    docs: Sequence[Doc], params: ClusterParams, seeds: int
) -> tuple[Score, float, float]:
    """Mean score over seeds, the spread (max - min) of F1, and mean articles/s."""
    scores, speeds = [], []
    for seed in range(seeds):
        labels, speed = stream(docs, params, seed)
        scores.append(score(labels, docs))
        speeds.append(speed)
    spread = max(item.f1 for item in scores) - min(item.f1 for item in scores)
    return mean_score(scores), spread, statistics.fmean(speeds)


def average_link(distances: np.ndarray, threshold: float) -> np.ndarray:
    """Cluster labels of average-link agglomeration over precomputed distances."""
    labels: np.ndarray = AgglomerativeClustering(
        n_clusters=None, metric="precomputed", linkage="average", distance_threshold=threshold
    ).fit_predict(distances)
    return labels


def run_baseline(docs: Sequence[Doc]) -> tuple[Score, float]:
    """TF-IDF + average-link at the distance threshold that scores best (oracle)."""
    matrix = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(
        [doc.text for doc in docs]
    )
    distances = np.clip(1.0 - (matrix @ matrix.T).toarray(), 0.0, None)
    best: tuple[Score, float] | None = None
    for threshold in np.arange(0.50, 1.0, 0.01):
        labels = average_link(distances, float(threshold))
        result = score([int(label) for label in labels], docs)
        if best is None or result.f1 > best[0].f1:
            best = (result, float(threshold))
    assert best is not None
    return best


def row(name: str, docs: str, result: Score, extra: str) -> str:
    return (
        f"| {name} | {docs} | {result.precision:.3f} | {result.recall:.3f} | {result.f1:.3f} "
        f"| {result.ari:.3f} | {result.topic_f1:.3f} | {extra} |"
    )


def report(docs: list[Doc], seeds: int) -> None:
    subsets = {
        "test topics (210)": [doc for doc in docs if doc.split == "test"],
        f"all ({len(docs)})": docs,
    }
    print(f"ClusterParams (shipped defaults): {ClusterParams()}\n")
    # Each topic holds two events, so even the gold events score well below 1 against topics.
    gold = [doc.event for doc in docs]
    print(
        f"Reference: the gold events themselves score topic F1 {score(gold, docs).topic_f1:.3f}\n"
    )
    print("| method | documents | BCubed P | BCubed R | BCubed F1 | ARI | topic F1 | notes |")
    print("|---|---|---|---|---|---|---|---|")
    for label, subset in subsets.items():
        result, spread, speed = run_clusterer(subset, ClusterParams(), seeds)
        notes = f"stream, mean of {seeds} seeds (F1 spread {spread:.3f}), {speed:.0f} articles/s"
        print(row("Tidings StoryClusterer", label, result, notes), flush=True)
        baseline, threshold = run_baseline(subset)
        notes = f"offline, oracle distance threshold {threshold:.2f}"
        print(row("TF-IDF + average-link", label, baseline, notes), flush=True)


TUNING_GRID: dict[str, list[float]] = {
    "story_threshold": [0.055, 0.06, 0.065],
    "cohesion_ratio": [0.2, 0.25, 0.3],
    "group_join": [0.1, 0.12, 0.15],
    "group_merge": [0.2, 0.25],
}


def tune(docs: list[Doc], seeds: int) -> None:
    """Grid-search ClusterParams on train+dev documents only."""
    tuning_docs = [doc for doc in docs if doc.split in {"train", "dev"}]
    names = list(TUNING_GRID)
    results = []
    for values in itertools.product(*(TUNING_GRID[name] for name in names)):
        params = dataclasses.replace(ClusterParams(), **dict(zip(names, values, strict=True)))
        result, _, _ = run_clusterer(tuning_docs, params, seeds)
        results.append((result.f1, dict(zip(names, values, strict=True))))
        print(f"F1 {result.f1:.4f}  {results[-1][1]}", flush=True)
    best_f1, best = max(results, key=lambda item: item[0])
    print(f"\nbest on train+dev ({len(tuning_docs)} docs): F1 {best_f1:.4f} with {best}")


def ceiling(docs: list[Doc]) -> None:
    """Upper bound of the local (event-level) stage: gold topics as groups, oracle threshold."""
    subsets = {
        "train+dev": [doc for doc in docs if doc.split in {"train", "dev"}],
        "test topics": [doc for doc in docs if doc.split == "test"],
        "all": docs,
    }
    print("| documents | best distance threshold | BCubed P | BCubed R | BCubed F1 |")
    print("|---|---|---|---|---|")
    for label, subset in subsets.items():
        clusterer = StoryClusterer(ClusterParams())
        for index, doc in enumerate(subset):
            clusterer.add(index, doc.terms, None)  # for the idf and each article's terms
        by_topic: defaultdict[int, list[int]] = defaultdict(list)
        for index, doc in enumerate(subset):
            by_topic[doc.topic].append(index)
        distances = {}
        for topic, members in by_topic.items():
            matrix = clusterer._local_matrix(members).toarray()  # bench-only look inside
            distances[topic] = np.clip(1.0 - matrix @ matrix.T, 0.0, None)
        best: tuple[Score, float] | None = None
        for threshold in np.arange(0.80, 1.0, 0.01):
            labels: list[Hashable] = [None] * len(subset)
            for topic, members in by_topic.items():
                cut = average_link(distances[topic], float(threshold))
                for member, story in zip(members, cut, strict=True):
                    labels[member] = (topic, int(story))
            result = score(labels, subset)
            if best is None or result.f1 > best[0].f1:
                best = (result, float(threshold))
        assert best is not None
        result, threshold = best
        print(
            f"| {label} ({len(subset)}) | {threshold:.2f} | {result.precision:.3f} "
            f"| {result.recall:.3f} | {result.f1:.3f} |",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--tune", action="store_true", help="grid-search on train+dev only")
    parser.add_argument("--ceiling", action="store_true", help="upper bound with gold topics")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"ECB+ documents not found at {args.data}: pass --data PATH", file=sys.stderr)
        return 2
    docs = load(args.data)
    if args.tune:
        tune(docs, min(args.seeds, 3))
    elif args.ceiling:
        ceiling(docs)
    else:
        report(docs, args.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
