"""Extraction quality metrics: the article-extraction-benchmark's shingle F1, and a CJK variant.

Word level (as the ScrapingHub benchmark's evaluate.py defines it): `\\w+` tokens with case
kept, multisets of 4-token shingles, per-page tp/fp/fn scaled to sum to 1; precision is
averaged over pages that produced output, recall over all pages, F1 is the harmonic mean of
the two averages. Chinese and Japanese have no spaces, so `\\w+` makes whole sentences one
token; the character variant uses each non-space, non-punctuation character as a token.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_WORD = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.IGNORECASE | re.DOTALL)
_CHARACTER = re.compile(r"\w", re.UNICODE)
SHINGLE_SIZE = 4

Tokenizer = Callable[[str], list[str]]


def word_tokens(text: str) -> list[str]:
    return _WORD.findall(text or "")


def character_tokens(text: str) -> list[str]:
    return _CHARACTER.findall(text or "")


def shingles(tokens: list[str], size: int = SHINGLE_SIZE) -> Counter[tuple[str, ...]]:
    grams = (tuple(tokens[i : i + size]) for i in range(max(1, len(tokens) - size + 1)))
    return Counter(gram for gram in grams if gram)


def page_counts(
    true: str, predicted: str, tokenize: Tokenizer = word_tokens
) -> tuple[float, float, float]:
    """Shingle tp/fp/fn for one page, scaled so the three sum to 1 (0s for two empty texts)."""
    expected, got = shingles(tokenize(true)), shingles(tokenize(predicted))
    tp = fp = fn = 0.0
    for key in expected.keys() | got.keys():
        want, have = expected.get(key, 0), got.get(key, 0)
        tp += min(want, have)
        fp += max(0, have - want)
        fn += max(0, want - have)
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    accuracy: float  # share of pages whose token sequence matches exactly


def score(pairs: Iterable[tuple[str, str]], tokenize: Tokenizer = word_tokens) -> Scores:
    """Scores over (true text, predicted text) pairs, one pair per page."""
    pairs = list(pairs)
    counts = [page_counts(true, predicted, tokenize) for true, predicted in pairs]
    with_output = [_precision(*c) for c in counts if c[0] + c[1] > 0]
    with_truth = [_recall(*c) for c in counts if c[0] + c[2] > 0]
    precision = statistics.mean(with_output) if with_output else 0.0
    recall = statistics.mean(with_truth) if with_truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    exact = sum(tokenize(true) == tokenize(predicted) for true, predicted in pairs)
    return Scores(precision, recall, f1, exact / len(pairs) if pairs else 0.0)
