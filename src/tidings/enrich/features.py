"""Text features for story clustering: weighted content words, name-like tokens and numbers."""

from __future__ import annotations

import functools
import importlib.util
import itertools
import logging
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

# Weights are integers so a Counter stays a plain count; the clusterer applies sublinear tf.
TITLE_WEIGHT = 2
ENTITY_WEIGHT = 2
# Numbers (magnitudes, counts, sums, years) tell two events of one subject apart more often
# than names do: two quakes on one island differ by their magnitude and toll.
# ECB+ train/dev, 5 seeds: F1 0.9563 at 2, 0.9579 at 3, 0.9570 at 4.
NUMBER_WEIGHT = 3
# Adjacent content words ("west papua", "ivy bridge", "eleventh doctor") name what single words
# only hint at: two earthquakes in one country share every word but not their phrases.
# Chosen on ECB+ train/dev topics (bench/stories.py --ceiling: 0.947 words alone, 0.960 with
# pairs at weight 2, 0.959 at 3).
PHRASE_WEIGHT = 2
PHRASE_SEPARATOR = " "  # only phrase terms hold a space: words never do
ENTITY_PREFIX = "@"  # names, places and numbers get their own terms, with their own idf

_WORD = re.compile(r"[^\W_]+(?:['’.\-][^\W_]+)*")
# A full stop or colon inside a token ("5.6", "U.S", "10:53") does not end a sentence: split
# there, a 5.6 magnitude quake would read as two numbers, 5 and 6.
_SENTENCE_END = re.compile(r"[.:](?![^\W_])|(?<![^\W_])[.:]|[!?;\"“”«»()\[\]|]|``|''")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_DIGIT = re.compile(r"\d")

# Used when yake's lists are not installed: the commonest function words of the languages
# Tidings sees most, enough to keep them from dominating similarity.
_FALLBACK_TEXT = """
a about after again against all also am an and any are as at be because been before being
between both but by can could did do does doing down during each few for from further had
has have having he her here hers herself him himself his how i if in into is it its
itself just me more most my myself no nor not now of off on once only or other our ours
out over own said same says she should so some such than that the their theirs them then
there these they this those through to too under until up very was we were what when
where which while who whom why will with would you your yours yourself told new one two
last year der die das und ist nicht ein eine den dem des mit von zu auf für sich le la
les et est un une du en pour pas que qui dans sur el los las y es del por con para una il
di che e per
"""
_FALLBACK_STOPWORDS = frozenset(_FALLBACK_TEXT.split())
# ISO 639-1 codes that yake spells differently in its file names.
_YAKE_CODES = {"cs": "cz", "pt-br": "br"}


@functools.cache
def _yake_dir() -> Path | None:
    # find_spec locates the package without importing it (importing yake costs ~0.6 s).
    spec = importlib.util.find_spec("yake")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "core" / "StopwordsList"
    return folder if folder.is_dir() else None


@functools.cache
def stopwords(language: str | None) -> frozenset[str]:
    """Stopwords for `language` (ISO code or None), always including English ones."""
    words = set(_FALLBACK_STOPWORDS)
    folder = _yake_dir()
    codes = {"en"}
    if language:
        base = language.lower().split("-")[0].split("_")[0]
        codes.add(_YAKE_CODES.get(language.lower(), _YAKE_CODES.get(base, base)))
    if folder is not None:
        for code in codes:
            path = folder / f"stopwords_{code}.txt"
            if path.is_file():
                text = path.read_text(encoding="utf-8", errors="replace")
                words.update(line.strip().lower() for line in text.splitlines() if line.strip())
    return frozenset(words)


@functools.cache
def _jieba_cut() -> Callable[[str], list[str]]:
    import jieba  # type: ignore[import-untyped]  # imported lazily: loading takes ~1 s

    jieba.setLogLevel(logging.WARNING)  # it announces its dictionary load on stderr otherwise
    cut: Callable[[str], list[str]] = jieba.lcut
    return cut


def _segment(text: str) -> str:
    """Put spaces between Chinese/Japanese words so the word pattern sees them."""
    if not _CJK.search(text):
        return text
    return " ".join(_jieba_cut()(text))


def _is_content(word: str, stop: frozenset[str]) -> bool:
    if word in stop:
        return False
    if _DIGIT.search(word):
        return True
    return len(word) > 1 or bool(_CJK.match(word))


def _is_number(word: str) -> bool:
    return bool(_DIGIT.search(word))


def _sentences(text: str) -> list[list[str]]:
    """Words grouped by sentence (lines and punctuation end sentences)."""
    result: list[list[str]] = []
    for line in _segment(text).splitlines():
        for piece in _SENTENCE_END.split(line):
            words = _WORD.findall(piece)
            if words:
                result.append(words)
    return result


def _name_like(words: list[str], index: int, title_cased: bool) -> bool:
    word = words[index]
    if _is_number(word):
        return True
    # The first word of a sentence and every word of a Title Cased headline are capitalised
    # by convention, not because they are names.
    return index > 0 and not title_cased and word[:1].isupper() and not word.isupper()


def _add_sentence(
    counts: Counter[str], words: list[str], weight: int, stop: frozenset[str], title_cased: bool
) -> None:
    run: list[str] = []
    previous: str | None = None  # the word before, when it is a content word
    for index, word in enumerate(words):
        lower = word.lower()
        content = _is_content(lower, stop)
        if content:
            counts[lower] += weight
            if previous is not None:
                counts[f"{previous}{PHRASE_SEPARATOR}{lower}"] += weight * PHRASE_WEIGHT
        previous = lower if content else None
        if content and _name_like(words, index, title_cased):
            number = _is_number(word)
            counts[ENTITY_PREFIX + lower] += weight * (NUMBER_WEIGHT if number else ENTITY_WEIGHT)
            if not number:
                run.append(lower)
                continue
        _flush_names(counts, run, weight)
        run = []
    _flush_names(counts, run, weight)


def _flush_names(counts: Counter[str], run: list[str], weight: int) -> None:
    # "Warren Jeffs" names one person; the bigram tells him from other Warrens and Jeffses.
    for first, second in itertools.pairwise(run):
        counts[f"{ENTITY_PREFIX}{first}_{second}"] += weight * ENTITY_WEIGHT


def is_phrase(term: str) -> bool:
    return PHRASE_SEPARATOR in term


def _is_title_cased(words: list[str]) -> bool:
    long_words = [word for word in words if len(word) > 3 and word.isalpha()]
    if len(long_words) < 2:
        return False
    capitalised = sum(1 for word in long_words if word[:1].isupper())
    return capitalised / len(long_words) > 0.6


def story_terms(title: str, text: str, language: str | None) -> Counter[str]:
    """Weighted term counts of an article for story clustering.

    Content words are lowercased without stopwords, and so are pairs of adjacent content words
    (`"west papua"`); name-like tokens (capitalised words not at a sentence start, their
    adjacent pairs, numbers and years) add extra `@`-prefixed terms; title terms count
    TITLE_WEIGHT times. Works for any language code, including None.
    """
    stop = stopwords(language)
    counts: Counter[str] = Counter()
    for words in _sentences(title):
        _add_sentence(counts, words, TITLE_WEIGHT, stop, _is_title_cased(words))
    for words in _sentences(text):
        _add_sentence(counts, words, 1, stop, False)
    return counts
