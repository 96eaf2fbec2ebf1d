"""Near-duplicates: MinHash/LSH over word shingles, plus one spelling per URL within a source."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import numpy.typing as npt
from datasketch import MinHash, MinHashLSH  # type: ignore[import-untyped]

from tidings.ingest.urls import canonicalize_url

NUM_PERM = 64
SCHEME = "affine32"  # stored signatures are only comparable within one hashing scheme
SHINGLE_WORDS = 4
# A syndicated copy or a lightly edited re-post keeps most 4-word runs; two outlets writing
# their own story about one event share few (measured on the demo corpus: copies >= 0.75,
# independent reports <= 0.2).
DUPLICATE_JACCARD = 0.6
MIN_SHINGLES = 12  # shorter texts (a one-line feed summary) are too small to call copies
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|[^\W_]+", re.UNICODE)
_AMP_PARAMS = frozenset({"amp", "outputtype", "amp_js_v"})
# LSH bands x rows per band: what datasketch chooses for this threshold (10 x 6 for 0.6 over
# 64 permutations), so the same pairs become candidates as with its MinHashLSH.
_LSH = MinHashLSH(threshold=DUPLICATE_JACCARD, num_perm=NUM_PERM)
_BANDS, _ROWS = int(_LSH.b), int(_LSH.r)
# Pending signatures that trigger a compaction (sorting every bucket key again: ~1 s at a
# million articles, so at most every 50,000 additions).
_COMPACT_MIN, _COMPACT_MAX = 4096, 50_000
Signature = npt.NDArray[np.uint32]


def shingles(title: str, body: str) -> set[bytes]:
    """Runs of SHINGLE_WORDS words (CJK: characters), lower-cased, title included."""
    words = _TOKEN.findall(f"{title}\n{body}".lower())
    if len(words) < SHINGLE_WORDS:
        return {" ".join(words).encode()} if words else set()
    return {
        " ".join(words[i : i + SHINGLE_WORDS]).encode()
        for i in range(len(words) - SHINGLE_WORDS + 1)
    }


def signature(title: str, body: str) -> tuple[MinHash, int]:
    """The MinHash of the text and its shingle count."""
    found = shingles(title, body)
    minhash = MinHash(num_perm=NUM_PERM, scheme=SCHEME, permutations=_permutations())
    minhash.update_batch(list(found))  # a minimum: the order of the shingles does not matter
    return minhash, len(found)


def to_bytes(minhash: MinHash) -> bytes:
    return np.asarray(minhash.hashvalues, dtype=np.uint64).tobytes()


def from_bytes(data: bytes) -> MinHash:
    values = np.frombuffer(data, dtype=np.uint64).copy()
    return MinHash(
        num_perm=NUM_PERM, hashvalues=values, scheme=SCHEME, permutations=_permutations()
    )


@cache
def _permutations() -> Any:
    """The hash permutations, made once: datasketch would redraw them for every signature."""
    return MinHash(num_perm=NUM_PERM, scheme=SCHEME).permutations


def url_key(url: str) -> str:
    """One spelling for URLs that name the same page: http/https, trailing slash, AMP twins."""
    parts = urlsplit(canonicalize_url(url))
    path = parts.path
    for suffix in ("/amp", "/amp/", ".amp", ".amp.html"):
        if path.endswith(suffix):
            path = path[: -len(suffix)] + (".html" if suffix == ".amp.html" else "")
    path = path.replace("/amp/", "/").rstrip("/") or "/"
    host = (parts.netloc or "").removeprefix("www.").removeprefix("amp.")
    query = [(k, v) for k, v in parse_qsl(parts.query, True) if k.lower() not in _AMP_PARAMS]
    return urlunsplit(("", host, path, urlencode(sorted(query)), ""))


def signature_values(minhash: MinHash) -> Signature:
    """A signature's hash values as the index keeps them (affine32 values fit 32 bits)."""
    return np.asarray(minhash.hashvalues, dtype=np.uint32)


def url_hash(source_id: int, url: str) -> int:
    """A 64-bit digest of (source, URL spelling): a million strings would cost ~250 MB."""
    digest = hashlib.blake2b(f"{source_id} {url_key(url)}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def _band_keys(matrix: Signature) -> npt.NDArray[np.uint64]:
    """One 64-bit key per LSH band of each signature (rows x bands); a collision only adds a
    candidate, which the Jaccard check then drops."""
    rows = matrix[:, : _BANDS * _ROWS].reshape(len(matrix), _BANDS, _ROWS).astype(np.uint64)
    keys = np.full((len(matrix), _BANDS), 0x9E3779B97F4A7C15, dtype=np.uint64)
    for column in range(_ROWS):
        keys = (keys ^ rows[:, :, column]) * np.uint64(0x100000001B3)
    keys ^= np.arange(_BANDS, dtype=np.uint64)  # a band's key never matches another band's
    return keys


class DuplicateIndex:
    """Which stored article a new one copies: by URL within its source, else by MinHash LSH.

    Kept in memory and rebuilt from stored signatures on start (or loaded from a snapshot);
    lookups cost a few hash-table probes and binary searches, whatever the number of stored
    articles. Signatures live in one matrix and LSH buckets in sorted arrays, so a million
    articles take ~400 MB instead of the ~5 GB of one Python object per signature and bucket;
    articles added after a load go to small dicts until the next compaction.
    """

    def __init__(self) -> None:
        self._matrix: Signature = np.zeros((0, NUM_PERM), dtype=np.uint32)
        self._ids: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)  # row -> article id
        self._row_of: dict[int, int] = {}
        self._pending: list[tuple[int, Signature]] = []  # signatures added since compaction
        self._pending_row: dict[int, int] = {}
        self._band_sorted = np.zeros(0, dtype=np.uint64)  # keys of every band, sorted
        self._band_ids = np.zeros(0, dtype=np.int64)
        self._band_pending: dict[int, list[int]] = {}
        self.urls: dict[int, int] = {}  # url_hash -> the first article with that URL
        self.url_of: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._row_of) + len(self._pending_row)

    def has_signature(self, article_id: int) -> bool:
        return article_id in self._row_of or article_id in self._pending_row

    def add(self, article_id: int, source_id: int, url: str, minhash: MinHash | None) -> None:
        self.add_hashed(article_id, url_hash(source_id, url), minhash)

    def add_hashed(self, article_id: int, url_digest: int, minhash: MinHash | None) -> None:
        if self.urls.setdefault(url_digest, article_id) == article_id:
            self.url_of[article_id] = url_digest
        if minhash is None or self.has_signature(article_id):
            return
        values = signature_values(minhash)
        self._pending_row[article_id] = len(self._pending)
        self._pending.append((article_id, values))
        for key in _band_keys(values[None, :])[0].tolist():
            self._band_pending.setdefault(key, []).append(article_id)
        if len(self._pending) >= self._compact_at():
            self.compact()

    def add_many(
        self, ids: npt.NDArray[np.int64], url_digests: Sequence[int], matrix: Signature
    ) -> None:
        """Many at once: `matrix` holds the signatures of the rows whose `ids` have one (the
        others pass an all-zero row and are only indexed by URL)."""
        for article_id, digest in zip(ids.tolist(), url_digests, strict=True):
            if self.urls.setdefault(digest, article_id) == article_id:
                self.url_of[article_id] = digest
        keep = matrix.any(axis=1)
        added: list[tuple[int, Signature]] = []
        for article_id, row in zip(ids[keep].tolist(), matrix[keep], strict=True):
            if not self.has_signature(article_id):
                self._pending_row[article_id] = len(self._pending)
                self._pending.append((article_id, row))
                added.append((article_id, row))
        if len(self._pending) >= self._compact_at():
            self.compact()
        elif added:
            keys = _band_keys(np.stack([row for _, row in added]))
            for (article_id, _), row_keys in zip(added, keys.tolist(), strict=True):
                for key in row_keys:
                    self._band_pending.setdefault(key, []).append(article_id)

    def _compact_at(self) -> int:
        return min(_COMPACT_MAX, max(_COMPACT_MIN, len(self._row_of) // 4))

    def compact(self) -> None:
        """Move pending signatures into the matrix and the sorted band arrays."""
        if not self._pending:
            return
        new_ids = np.fromiter((item[0] for item in self._pending), dtype=np.int64)
        new_rows = np.stack([item[1] for item in self._pending]).astype(np.uint32)
        start = len(self._ids)
        self._matrix = np.concatenate([self._matrix, new_rows])
        self._ids = np.concatenate([self._ids, new_ids])
        self._row_of.update(zip(new_ids.tolist(), range(start, len(self._ids)), strict=True))
        keys = np.concatenate([self._band_sorted, _band_keys(new_rows).reshape(-1)])
        owners = np.concatenate([self._band_ids, np.repeat(new_ids, _BANDS)])
        order = np.argsort(keys, kind="stable")
        self._band_sorted, self._band_ids = keys[order], owners[order]
        self._pending, self._pending_row, self._band_pending = [], {}, {}

    def remove(self, article_id: int) -> None:
        # A removed signature's row and bucket entries stay until a rebuild; lookups skip
        # ids that are no longer indexed.
        self._row_of.pop(article_id, None)
        if self._pending_row.pop(article_id, None) is not None:
            self._pending = [item for item in self._pending if item[0] != article_id]
            self._pending_row = {item[0]: row for row, item in enumerate(self._pending)}
        digest = self.url_of.pop(article_id, None)
        if digest is not None:
            del self.urls[digest]

    def find(
        self, article_id: int, source_id: int, url: str, minhash: MinHash, size: int
    ) -> int | None:
        """The article this one duplicates (best match first), or None."""
        same_url = self.urls.get(url_hash(source_id, url))
        if same_url is not None and same_url != article_id:
            return same_url
        if size < MIN_SHINGLES:
            return None
        values = signature_values(minhash)
        matches = []
        for other in self._candidates(values):
            if other == article_id:
                continue
            stored = self._signature(other)
            if stored is None:
                continue
            similarity = np.count_nonzero(stored == values) / NUM_PERM
            if similarity >= DUPLICATE_JACCARD:
                matches.append((similarity, -other))
        return -max(matches)[1] if matches else None

    def _candidates(self, values: Signature) -> set[int]:
        keys = _band_keys(values[None, :])[0]
        found: set[int] = set()
        low = np.searchsorted(self._band_sorted, keys, side="left")
        high = np.searchsorted(self._band_sorted, keys, side="right")
        for start, end in zip(low.tolist(), high.tolist(), strict=True):
            found.update(self._band_ids[start:end].tolist())
        for key in keys.tolist():
            found.update(self._band_pending.get(key, ()))
        return found

    def _signature(self, article_id: int) -> Signature | None:
        row = self._row_of.get(article_id)
        if row is not None:
            stored: Signature = self._matrix[row]
            return stored
        pending = self._pending_row.get(article_id)
        return None if pending is None else self._pending[pending][1]

    # -- snapshot ------------------------------------------------------------------------

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Everything needed to rebuild the index without the database (see from_arrays)."""
        self.compact()
        live = np.fromiter(self._row_of.values(), dtype=np.int64, count=len(self._row_of))
        live.sort()
        return {
            "signature_ids": self._ids[live],
            "signatures": self._matrix[live],
            "url_digests": np.fromiter(self.urls.keys(), dtype=np.int64, count=len(self.urls)),
            "url_owners": np.fromiter(self.urls.values(), dtype=np.int64, count=len(self.urls)),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[Any]]) -> DuplicateIndex:
        index = cls()
        owners = arrays["url_owners"].tolist()
        index.urls = dict(zip(arrays["url_digests"].tolist(), owners, strict=True))
        index.url_of = {owner: digest for digest, owner in index.urls.items()}
        ids = np.asarray(arrays["signature_ids"], dtype=np.int64)
        index._pending = list(zip(ids.tolist(), np.asarray(arrays["signatures"]), strict=True))
        index.compact()
        return index
