"""Keyphrases of Latin-script (and other space-separated) news text: YAKE scoring, news-aware.

The statistics are YAKE's (Campos et al., 2020: casing, position, frequency, relatedness to
context, spread over sentences, and its n-gram formula) with the `yake` package's stopword
lists. They are computed here in one pass over plain dicts because the package builds a
networkx graph and numpy medians per word, which costs ~50 ms per article; we need < 10 ms.

On top of YAKE, as a news tagger should: words are grouped by Snowball stem (plural and
singular are one candidate), the headline and the lead count more, a title-cased headline
does not make every word look like a proper noun, elisions (l', d') and possessives ('s) are
split off, two-letter acronyms (AI, EU) are kept, a word never written lowercase counts as
a name even at the start of a sentence, and phrases that only repeat a better one are
dropped: a part seen (almost) only inside it, an extension seen once, a fragment cutting
through it, a descriptor before a name ("ministre Antonis Samaras"), a lone surname.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import snowballstemmer  # type: ignore[import-untyped]

MAX_WORDS = 3
TITLE_WEIGHT = 0.4  # H multiplier (lower is better) for phrases in the headline
LEAD_WEIGHT = 0.7  # ... and for phrases first seen in the lead (first two body sentences)
LEAD_SENTENCES = 2
MAX_WORD_CHARS = 40  # longer "words" are junk (URLs, hashes), not tags
MAX_UNSPACED_CHARS = 8  # ... and in scripts written without spaces, much shorter runs are
REPEATED = 2  # uses that make a phrase established; an extension seen once is incidental
OWN_USES = 1  # a sub-phrase of a chosen phrase must be used this many more times on its own

# ISO 639-1 → Snowball algorithm; languages not listed are not stemmed.
_SNOWBALL = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german",
    "el": "greek", "en": "english", "es": "spanish", "et": "estonian", "eu": "basque",
    "fa": "persian", "fi": "finnish", "fr": "french", "ga": "irish", "hi": "hindi",
    "hu": "hungarian", "hy": "armenian", "id": "indonesian", "it": "italian",
    "lt": "lithuanian", "nb": "norwegian", "ne": "nepali", "nl": "dutch", "nn": "norwegian",
    "no": "norwegian", "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian",
    "sr": "serbian", "sv": "swedish", "ta": "tamil", "tr": "turkish",
}  # fmt: skip
# ISO 639-1 → name of the yake stopword file where the two differ.
_YAKE_FILE = {"cs": "cz", "nb": "no", "nn": "no"}
# Elided articles and pronouns (French, Italian, Catalan) that glue onto the next word.
ELISIONS = frozenset(
    [
        "l",
        "d",
        "j",
        "m",
        "n",
        "s",
        "t",
        "c",
        "qu",
        "jusqu",
        "lorsqu",
        "puisqu",
        "quoiqu",
        "presqu",
        "quelqu",
        "dell",
        "nell",
        "all",
        "dall",
        "sull",
        "un",
        "quest",
        "quell",
        "nessun",
        "po",
    ]
)
# English clitics after an apostrophe: the word before them is what matters.
_CLITICS = frozenset({"s", "t", "re", "ll", "ve", "d", "m"})

_TOKEN = re.compile(
    r"(?:[^\W\d_]\.){2,}"  # dotted acronyms: U.S., U.K.
    r"|[\w]+(?:[-'&][\w]+)*"  # words, hyphenated compounds, elisions, AT&T
    r"|[^\w\s]"  # any other single character is punctuation
)
# A sentence ends at . ! ? … before a capital, but not after U.S. or Mr.
_SENTENCE_END = re.compile(
    r"(?<=[.!?…])(?<!\.[^\W\d_]\.)(?<!\bMr\.)(?<!\bMrs\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bSt\.)"
    r"\s+(?=[\"'«“(\[]?[^\W\d_])|\n+"
)
_UNSPACED = re.compile(r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u9fff]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "‘": "'", "`": "'", "\u2011": "-"})


def primary_language(language: str | None) -> str:
    """The lowercase primary subtag: "fr-CA" → "fr", "zh_Hant" → "zh", None → ""."""
    if not language:
        return ""
    return re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]


@lru_cache(maxsize=64)
def stopwords(language: str) -> frozenset[str]:
    """The yake package's stopword list for a language; English when it has none."""
    name = _YAKE_FILE.get(language, language) or "en"
    folder = resources.files("yake") / "core" / "StopwordsList"
    if not folder.is_dir():
        folder = resources.files("yake") / "StopwordsList"  # yake < 0.6 kept them at the top
    path = folder / f"stopwords_{name}.txt"
    if not path.is_file():
        path = folder / "stopwords_en.txt"
    return frozenset(path.read_text(encoding="utf-8").lower().split())


_stemmers = threading.local()  # Snowball stemmer objects keep state while stemming


def _stemmer(algorithm: str) -> snowballstemmer.Stemmer:
    cache: dict[str, snowballstemmer.Stemmer] | None = getattr(_stemmers, "cache", None)
    if cache is None:
        cache = _stemmers.cache = {}
    if algorithm not in cache:
        cache[algorithm] = snowballstemmer.stemmer(algorithm)
    return cache[algorithm]


@lru_cache(maxsize=65536)
def stem(word: str, language: str) -> str:
    """Snowball stem of a lowercase word (English for unknown languages that use Latin)."""
    algorithm = _SNOWBALL.get(language)
    if algorithm is None:
        if language and not word.isascii():
            return word  # a script Snowball does not know: leave it as written
        algorithm = "english"
    return str(_stemmer(algorithm).stemWord(word))


def clean_text(text: str) -> str:
    """NFC, one kind of apostrophe, no soft hyphens or zero-width characters."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    return text.translate(_APOSTROPHES)


@dataclass(slots=True)
class _Term:
    """Statistics of one stem over the document."""

    stopword: bool
    tf: int = 0
    tf_case: int = 0  # capitalised mid-sentence (proper noun) occurrences
    tf_acronym: int = 0
    tf_initial: int = 0  # capitalised at the start of a sentence: a name, or just grammar
    tf_lower: int = 0
    sentences: set[int] = field(default_factory=set)
    left: dict[str, int] = field(default_factory=dict)  # neighbour stem → times seen
    right: dict[str, int] = field(default_factory=dict)
    h: float = 1.0


@dataclass(slots=True)
class _Candidate:
    """One n-gram (by stems) with its occurrences."""

    stems: tuple[str, ...]
    tf: int = 0
    first_sentence: int = 0
    in_title: bool = False
    surfaces: dict[tuple[str, ...], int] = field(default_factory=dict)  # spelling → times
    h: float = 1.0


@dataclass(frozen=True, slots=True)
class _Token:
    surface: str
    stem: str
    kind: str  # YAKE's tag: d digit, u unusual, a acronym, n proper noun, p plain
    stopword: bool
    glued: bool = False  # an elision: no space before the next word ("l'est")
    unusual: bool = False  # numbers and odd tokens: never in a phrase, not neighbours
    initial: bool = False  # capitalised first word of a sentence
    lower: bool = False  # written in lowercase


@dataclass(frozen=True, slots=True)
class Keyphrase:
    """A phrase found in the text: as it reads, its stems, and its YAKE-style score."""

    label: str
    stems: tuple[str, ...]
    h: float  # lower is better, as in YAKE
    tf: int


class _Document:
    """Tokens, term statistics and candidates of one article (title is sentence 0)."""

    def __init__(self, title: str, body: str, language: str) -> None:
        self.language = language
        self.stopwords = stopwords(language)
        self.terms: dict[str, _Term] = {}
        self.candidates: dict[tuple[str, ...], _Candidate] = {}
        self.cooccur: dict[tuple[str, str], int] = {}
        title_sentences = [s for s in _SENTENCE_END.split(clean_text(title)) if s.strip()]
        body_sentences = [s for s in _SENTENCE_END.split(clean_text(body)) if s.strip()]
        self.title_count = len(title_sentences)
        self.sentence_count = self.title_count + len(body_sentences)
        title_cased = _is_title_cased(" ".join(title_sentences), self.stopwords)
        for index, sentence in enumerate(title_sentences + body_sentences):
            in_title = index < self.title_count
            self._add_sentence(sentence, index, in_title, title_cased and in_title)

    def _add_sentence(self, sentence: str, index: int, in_title: bool, ignore_case: bool) -> None:
        block: list[_Token] = []
        language = self.language
        first = True
        for word in _TOKEN.findall(sentence):
            for token in _tokens(word, first, ignore_case, language):
                if token is None:
                    self._add_block(block, index, in_title)
                    block = []
                else:
                    block.append(token)
            first = False
        self._add_block(block, index, in_title)

    def _add_block(self, block: list[_Token], sentence: int, in_title: bool) -> None:
        """Count terms, left/right neighbours and n-grams of a run without punctuation."""
        # The hottest loop of hashtag extraction: attributes are read once and the candidate
        # update is inlined (a call per n-gram cost a fifth of the extraction).
        terms = self.terms
        cooccur = self.cooccur
        candidates = self.candidates
        stems = [token.stem for token in block]
        surfaces = [token.surface for token in block]
        linked = False  # whether the token before is a word (not a number or odd token)
        for i, token in enumerate(block):
            stem_ = stems[i]
            term = terms.get(stem_)
            if term is None:
                term = terms[stem_] = _Term(stopword=token.stopword)
            term.tf += 1
            kind = token.kind
            if kind == "n":
                term.tf_case += 1
            elif kind == "a":
                term.tf_acronym += 1
            if token.initial:
                term.tf_initial += 1
            if token.lower:
                term.tf_lower += 1
            term.sentences.add(sentence)
            unusual = token.unusual
            if linked and not unusual:
                before = stems[i - 1]
                term.left[before] = term.left.get(before, 0) + 1
                right = terms[before].right
                right[stem_] = right.get(stem_, 0) + 1
                pair = (before, stem_)
                cooccur[pair] = cooccur.get(pair, 0) + 1
            linked = not unusual
            # The stem decides, not the token: "US" and "us" may differ, a stem must not.
            if unusual or term.stopword:
                continue
            end = i + 1
            for start in range(i, max(-1, i - MAX_WORDS), -1):
                if block[start].unusual:
                    break
                if terms[stems[start]].stopword:
                    continue
                key = tuple(stems[start:end])
                candidate = candidates.get(key)
                if candidate is None:
                    candidate = candidates[key] = _Candidate(key, first_sentence=sentence)
                candidate.tf += 1
                if in_title:
                    candidate.in_title = True
                surface = tuple(surfaces[start:end])
                candidate.surfaces[surface] = candidate.surfaces.get(surface, 0) + 1

    def score_terms(self) -> None:
        """YAKE's H for every stem (lower = more important)."""
        content = [t.tf for t in self.terms.values() if not t.stopword]
        if not content:
            return
        # statistics.mean/pstdev/median work in exact fractions: ~1 ms per article for what
        # integer sums give as exactly.
        count, total = len(content), sum(content)
        squares = sum(tf * tf for tf in content)
        spread = total / count + math.sqrt((count * squares - total * total) / (count * count))
        max_tf = max(t.tf for t in self.terms.values())
        for term in self.terms.values():
            share = term.tf / max_tf
            left = len(term.left) / sum(term.left.values()) if term.left else 0.0
            right = len(term.right) / sum(term.right.values()) if term.right else 0.0
            relatedness = 1.0 + (left + right) * share
            frequency = term.tf / spread
            sentences = len(term.sentences) / self.sentence_count
            named = term.tf_case
            if named and not term.tf_lower:
                named += term.tf_initial  # "Nvidia said…": never written lowercase, so a name
            casing = max(named, term.tf_acronym) / (1.0 + math.log(term.tf))
            position = math.log(math.log(3.0 + _median(term.sentences)))
            term.h = (position * relatedness) / (
                casing + frequency / relatedness + sentences / relatedness
            )

    def score_candidates(self) -> None:
        """YAKE's n-gram score, then the headline/lead preference."""
        lead_end = self.title_count + LEAD_SENTENCES
        for candidate in self.candidates.values():
            product, total = 1.0, 0.0
            for i, stem_ in enumerate(candidate.stems):
                term = self.terms[stem_]
                if not term.stopword:
                    product *= term.h
                    total += term.h
                    continue
                # YAKE's "bi" weight: a stopword that always links these two words is free.
                before, after = candidate.stems[i - 1], candidate.stems[i + 1]
                probability = (self.cooccur.get((before, stem_), 0) / self.terms[before].tf) * (
                    self.cooccur.get((stem_, after), 0) / self.terms[after].tf
                )
                product *= 2.0 - probability
                total -= 1.0 - probability
            candidate.h = product / ((total + 1.0) * candidate.tf)
            if candidate.in_title:
                candidate.h *= TITLE_WEIGHT
            elif candidate.first_sentence < lead_end:
                candidate.h *= LEAD_WEIGHT


@lru_cache(maxsize=65536)
def _tokens(word: str, first: bool, ignore_case: bool, language: str) -> tuple[_Token | None, ...]:
    """One regex match as tokens; None marks a phrase boundary (punctuation, 's)."""
    if not any(c.isalnum() for c in word):
        return (None,)
    if "'" in word and word.lower() not in stopwords(language):
        head, _, tail = word.partition("'")
        if head.lower() in ELISIONS:
            elision = _token(head + "'", first, ignore_case, language, glued=True)
            return (elision, *_tokens(tail, False, ignore_case, language))
        if tail.lower() in _CLITICS:
            return (*_tokens(head, first, ignore_case, language), None)
    return (_token(word, first, ignore_case, language),)


def _token(word: str, first: bool, ignore_case: bool, language: str, glued: bool = False) -> _Token:
    kind = _kind(word, first, ignore_case)
    if kind == "a":
        key = word.replace(".", "")
        return _Token(word, key, kind, len(key) < 2, glued)
    lower = word.lower()
    stopword = glued or lower in stopwords(language) or sum(c.isalpha() for c in word) < 3
    # Stopwords and numbers are matched as written: stemming them would only cost time.
    stemmed = lower if stopword or kind in "du" else stem(lower, language)
    initial = first and word[:1].isupper() and kind == "p"
    return _Token(word, stemmed, kind, stopword, glued, kind in "du", initial, word.islower())


def _kind(word: str, first: bool, ignore_case: bool) -> str:
    """YAKE's word tag, except that a title-cased headline says nothing about proper nouns."""
    if _NUMBER.fullmatch(word):
        return "d"
    letters = sum(c.isalpha() for c in word)
    digits = sum(c.isdigit() for c in word)
    if letters == 0 or len(word) > MAX_WORD_CHARS:
        return "u"
    if len(word) > MAX_UNSPACED_CHARS and _UNSPACED.search(word):
        return "u"  # Japanese or Thai without spaces: a run of characters is a clause
    if digits and not any(c.isupper() for c in word):
        return "u"  # "7h44", "2x" are measurements; "G20", "COVID-19" are names (below)
    if word.replace(".", "").replace("-", "").isupper() and (letters > 1 or digits):
        return "a"
    if not first and word[0].isupper() and not ignore_case:
        return "n"
    return "p"


def _median(values: set[int]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _is_title_cased(title: str, stopword_set: frozenset[str]) -> bool:
    """Whether capitals in a headline are style ("Port Aurelia Opens New Tunnel"), not names."""
    words = [w for w in re.findall(r"[^\W\d_][\w'-]*", title)[1:] if w.lower() not in stopword_set]
    capitalised = sum(w[0].isupper() for w in words)
    return len(words) >= 3 and capitalised >= 0.75 * len(words)


def _join(words: tuple[str, ...]) -> str:
    """Words as they read: a space between them, none after an elision (l'est)."""
    parts: list[str] = []
    for word in words:
        parts.append(word)
        if not word.endswith("'"):
            parts.append(" ")
    return "".join(parts).strip()


def _contains(longer: tuple[str, ...], shorter: tuple[str, ...]) -> bool:
    """Whether `shorter` is a contiguous part of `longer`."""
    size = len(shorter)
    return size < len(longer) and any(
        longer[i : i + size] == shorter for i in range(len(longer) - size + 1)
    )


def _incidental(candidate: _Candidate, candidates: dict[tuple[str, ...], _Candidate]) -> bool:
    """A phrase seen once that extends a repeated one ("Port Aurelia Opens", "Port Aurelia")."""
    if candidate.tf > 1 or len(candidate.stems) == 1:
        return False
    stems = candidate.stems
    size = len(stems)
    for length in range(size - 1, 0, -1):
        for start in range(size - length + 1):
            part = candidates.get(stems[start : start + length])
            if part is not None and part.tf >= REPEATED:
                return True
    return False


def _titled_name(candidate: _Candidate) -> bool:
    """A word before a name, not a name: "called Blackwell Ultra", "ministre Antonis Samaras"."""
    words = max(candidate.surfaces, key=candidate.surfaces.__getitem__)
    return len(words) > 1 and words[0].islower() and words[-1][:1].isupper()


def _repeats(candidate: _Candidate, better: _Candidate) -> bool:
    """Whether a candidate adds nothing to a better phrase already chosen."""
    if _contains(better.stems, candidate.stems):
        if candidate.tf <= better.tf + OWN_USES:
            return True  # (almost) only ever seen inside the better phrase
        # "Turing" after "Alan Turing": a surname on its own is the same person.
        surname = len(candidate.stems) == 1 and candidate.stems[0] == better.stems[-1]
        return surname and _is_name(better) and _is_name(candidate)
    if _contains(candidate.stems, better.stems):
        return candidate.tf < REPEATED  # the better phrase plus a word that came with it once
    # "ministre conservateur Antonis" cuts through "Antonis Samaras": a fragment.
    shared = range(1, min(len(candidate.stems), len(better.stems)))
    return any(
        candidate.stems[-k:] == better.stems[:k] or candidate.stems[:k] == better.stems[-k:]
        for k in shared
    )


def _is_name(candidate: _Candidate) -> bool:
    label = _label(candidate)
    return all(word[0].isupper() for word in label.split())


def _label(candidate: _Candidate) -> str:
    """The spelling seen most often; ties go to the first seen."""
    return _join(max(candidate.surfaces, key=candidate.surfaces.__getitem__))


def extract_keyphrases(title: str, body: str, language: str, limit: int) -> list[Keyphrase]:
    """The `limit` best phrases of an article, best first, none repeating a better one."""
    document = _Document(title, body, language)
    document.score_terms()
    document.score_candidates()
    candidates = document.candidates
    chosen: list[_Candidate] = []
    # Filters are checked in rank order, only until `limit` are chosen: most candidates of a
    # long article are never reached.
    for candidate in sorted(candidates.values(), key=lambda c: (c.h, c.stems)):
        if len(chosen) == limit:
            break
        if _incidental(candidate, candidates) or _titled_name(candidate):
            continue
        if not any(_repeats(candidate, better) for better in chosen):
            chosen.append(candidate)
    return [Keyphrase(_label(c), c.stems, c.h, c.tf) for c in chosen]
