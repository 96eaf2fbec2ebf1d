"""Near-duplicates: MinHash/LSH over word shingles, plus one spelling per URL within a source."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
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
    minhash.update_batch(sorted(found))
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


@dataclass
class DuplicateIndex:
    """Which stored article a new one copies: by URL within its source, else by MinHash LSH.

    Kept in memory and rebuilt from stored signatures on start; lookups cost a few hash-table
    probes, whatever the number of stored articles.
    """

    lsh: MinHashLSH = field(
        default_factory=lambda: MinHashLSH(threshold=DUPLICATE_JACCARD, num_perm=NUM_PERM)
    )
    signatures: dict[int, MinHash] = field(default_factory=dict)
    urls: dict[tuple[int, str], int] = field(default_factory=dict)
    url_of: dict[int, tuple[int, str]] = field(default_factory=dict)

    def add(self, article_id: int, source_id: int, url: str, minhash: MinHash | None) -> None:
        key = (source_id, url_key(url))
        if self.urls.setdefault(key, article_id) == article_id:
            self.url_of[article_id] = key
        if minhash is not None and article_id not in self.signatures:
            self.signatures[article_id] = minhash
            self.lsh.insert(article_id, minhash)

    def remove(self, article_id: int) -> None:
        if self.signatures.pop(article_id, None) is not None:
            self.lsh.remove(article_id)
        key = self.url_of.pop(article_id, None)
        if key is not None:
            del self.urls[key]

    def find(
        self, article_id: int, source_id: int, url: str, minhash: MinHash, size: int
    ) -> int | None:
        """The article this one duplicates (best match first), or None."""
        same_url = self.urls.get((source_id, url_key(url)))
        if same_url is not None and same_url != article_id:
            return same_url
        if size < MIN_SHINGLES:
            return None
        matches = [
            (self.signatures[other].jaccard(minhash), -other)
            for other in self.lsh.query(minhash)
            if other != article_id and other in self.signatures
        ]
        matches = [match for match in matches if match[0] >= DUPLICATE_JACCARD]
        return -max(matches)[1] if matches else None
