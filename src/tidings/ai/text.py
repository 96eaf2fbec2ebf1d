"""Sentences with stable ids, and the content words that compare them, for the AI features.

Sentence ids are what citations point at, so the article page and every provider must cut a
body into the same sentences: this module is the one place that does it. It is a compact rule
set rather than a library (pysbd, the maintained-looking one, was last released in 2021 and
costs ~20 ms per article): paragraphs (blank-line separated, as bodies are stored) never
share a sentence; a sentence ends at . ! ? (or 。！？ in CJK text) followed by space and an
upper-case letter, digit, quote or CJK character — except after common abbreviations, single
initials ("J. K. Rowling") and inside numbers ("3.5").
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass

import snowballstemmer  # type: ignore[import-untyped]

from tidings.enrich.features import stopwords
from tidings.enrich.lang import convert_chinese

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3040-\u30ff]")
# A sentence end: terminal punctuation, optional closing quotes/brackets, then (for Latin
# script) whitespace before what looks like the start of a sentence.
_LATIN_END = re.compile(
    r"""(?<=[.!?…])["'”’»)\]]*\s+(?=["'“‘«(\[]?[A-Z0-9\u00c0-\u024f\u0400-\u04ff])"""
)
_CJK_END = re.compile(r"(?<=[。！？!?])[」』”’）)]*\s*")
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "mt",
        "ft",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "gov",
        "sen",
        "rep",
        "rev",
        "hon",
        "pres",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        "univ",
        "no",
        "vs",
        "etc",
        "fig",
        "al",
        "approx",
        "est",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "e.g",
        "i.e",
        "a.m",
        "p.m",
    ]
)
_WORD = re.compile(r"[\w][\w'’]*", re.UNICODE)  # "11-year-old" is three words
_DIGIT = re.compile(r"\d")
# For questions, YAKE's broad lists drop words that matter ("old", "first", "three", "last"):
# only function words and the words of asking are left out.
QUESTION_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "by",
        "with",
        "about",
        "into",
        "over",
        "after",
        "before",
        "and",
        "or",
        "but",
        "not",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "done",
        "has",
        "have",
        "had",
        "will",
        "would",
        "can",
        "could",
        "should",
        "may",
        "might",
        "must",
        "shall",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "he",
        "she",
        "they",
        "them",
        "his",
        "her",
        "their",
        "we",
        "us",
        "our",
        "you",
        "your",
        "i",
        "me",
        "my",
        "what",
        "who",
        "whom",
        "whose",
        "which",
        "when",
        "where",
        "why",
        "how",
        "whether",
        "if",
        "than",
        "then",
        "so",
        "as",
        "article",
        "story",
        "say",
        "says",
        "said",
        "tell",
        "told",
        "report",
        "reported",
        "according",
        "please",
    ]
)


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of an article body: `id` is "s<n>", numbered from 1 in reading order."""

    id: str
    text: str
    paragraph: int  # index of the paragraph it belongs to
    position: int  # 0-based index among all sentences


def _ends_with_abbreviation(piece: str) -> bool:
    last = piece.rsplit(None, 1)[-1] if piece.strip() else ""
    token = last.rstrip(".").lstrip("(\"'“‘").lower()
    if token in _ABBREVIATIONS:
        return True
    # A single initial ("J.") or a dotted acronym ("U.S.") does not end a sentence.
    return (len(token) == 1 and token.isalpha()) or bool(re.fullmatch(r"(\w\.)+\w", token))


def _split_paragraph(paragraph: str) -> list[str]:
    if _CJK.search(paragraph):
        # Latin sentences inside a CJK paragraph still split at ". X".
        pieces = [part for piece in _CJK_END.split(paragraph) for part in _split_latin(piece)]
    else:
        pieces = _split_latin(paragraph)
    return [" ".join(piece.split()) for piece in pieces if piece.strip()]


def _split_latin(text: str) -> list[str]:
    result: list[str] = []
    start = 0
    for match in _LATIN_END.finditer(text):
        if _ends_with_abbreviation(text[start : match.start()]):
            continue
        result.append(text[start : match.start()])
        start = match.end()
    result.append(text[start:])
    return result


def split_sentences(body: str) -> list[Sentence]:
    """The body's sentences with their ids; paragraphs are separated by blank lines."""
    sentences: list[Sentence] = []
    paragraphs = [p for p in (body or "").split("\n\n") if p.strip()]
    for number, paragraph in enumerate(paragraphs):
        for text in _split_paragraph(paragraph):
            position = len(sentences)
            sentences.append(Sentence(f"s{position + 1}", text, number, position))
    return sentences


def paragraph_sentences(body: str) -> list[list[Sentence]]:
    """The body's sentences grouped by paragraph (what the article page renders)."""
    grouped: list[list[Sentence]] = []
    for sentence in split_sentences(body):
        while len(grouped) <= sentence.paragraph:
            grouped.append([])
        grouped[sentence.paragraph].append(sentence)
    return [group for group in grouped if group]


@functools.cache
def _stemmer(language: str) -> snowballstemmer.stemmer | None:
    names = {"en": "english", "fr": "french", "de": "german", "es": "spanish",
             "it": "italian", "pt": "portuguese", "nl": "dutch"}  # fmt: skip
    name = names.get(language)
    return snowballstemmer.stemmer(name) if name else None


def _jieba_words(text: str) -> list[str]:
    from tidings.enrich.features import _jieba_cut

    return _jieba_cut()(text)


def content_words(text: str, language: str | None = None, *, broad: bool = True) -> list[str]:
    """Lower-cased, stemmed words without stopwords; Chinese is segmented with jieba.

    `broad` leaves out YAKE's long stopword lists (right for ranking sentences); otherwise
    English keeps everything but function words (right for matching questions)."""
    base = (language or "en").split("-")[0].lower()
    stop = QUESTION_STOPWORDS if not broad and base == "en" else stopwords(base)
    if _CJK.search(text):
        # jieba's dictionary is Simplified: Traditional text is segmented (and so matched)
        # far better once converted, and a question in either script then finds the other.
        raw = [w for w in _jieba_words(convert_chinese(text, "zh-Hans")) if w.strip()]
        words = [w.lower() for piece in raw for w in _WORD.findall(piece)]
    else:
        words = [w.lower().replace("’", "'") for w in _WORD.findall(text)]
    kept = [w for w in words if w not in stop and (len(w) > 1 or _CJK.match(w) or w.isdigit())]
    stemmer = _stemmer(base)
    if stemmer is None:
        return kept
    return [w if _DIGIT.search(w) else stemmer.stemWord(w) for w in kept]


def term_counts(text: str, language: str | None = None) -> Counter[str]:
    """`content_words` counted."""
    return Counter(content_words(text, language))
