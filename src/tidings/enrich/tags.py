"""Hashtags of an article (#SmartCities, #人工智能): extract, normalise for merging, merge per story."""

from __future__ import annotations

import logging
import re
import threading
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

import opencc

from tidings.enrich.keyphrases import (
    ELISIONS,
    clean_text,
    extract_keyphrases,
    primary_language,
    stem,
)

MAX_LABEL_CHARS = 100  # a tag is a phrase, not a sentence; also keeps keys within the column
_ACRONYM_MAX = 3  # letters: in an all-capitals phrase, longer words are taken for words
CANDIDATES_PER_TAG = 3  # phrases scored per tag asked for; aliases and keys may merge some

# Whole-phrase aliases → one canonical name, so one entity gets one key in every language.
# Acronyms only count when written as acronyms: "US" is the country, "us" is a pronoun.
_ACRONYM_ALIASES = {
    "US": "united states", "USA": "united states", "UK": "united kingdom",
    "EU": "european union", "UE": "european union", "UN": "united nations",
    "ONU": "united nations", "UAE": "united arab emirates", "EAU": "united arab emirates",
    "NYC": "new york city", "PRC": "china",
}  # fmt: skip
_ALIASES = {
    "united states of america": "united states", "états-unis": "united states",
    "etats-unis": "united states", "estados unidos": "united states",
    "vereinigte staaten": "united states", "stati uniti": "united states",
    "royaume-uni": "united kingdom", "reino unido": "united kingdom",
    "great britain": "united kingdom", "grande-bretagne": "united kingdom",
    "union européenne": "european union", "unión europea": "european union",
    "europäische union": "european union", "unione europea": "european union",
    "nations unies": "united nations", "naciones unidas": "united nations",
    "vereinte nationen": "united nations", "organisation des nations unies": "united nations",
    "new york": "new york city", "people's republic of china": "china", "chine": "china",
}  # fmt: skip

_CANONICAL = frozenset(_ALIASES.values()) | frozenset(_ACRONYM_ALIASES.values())
# Punctuation around a phrase, except the last dot of a dotted acronym (U.S.).
_EDGE_PUNCTUATION = re.compile(r"^[\W_]+|(?<!\b[^\W\d_]\.[^\W\d_])[\W_]+$|(?<=\.)[^\w.]+$")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_WORD = re.compile(r"(?:[^\W\d_]\.){2,}|\w+")
_ELIDED = re.compile(r"\b(?:" + "|".join(sorted(ELISIONS, key=len, reverse=True)) + r")'", re.I)
_LEADING_ELISION = re.compile(
    r"^(?:" + "|".join(sorted(ELISIONS, key=len, reverse=True)) + r")'(?=\w)", re.I
)
# jieba part-of-speech tags kept as tags: nouns, names of people/places/organisations, other
# proper nouns, and Latin words (AI, iPhone) inside Chinese text.
_CHINESE_NOUNS = frozenset({"n", "nr", "nrfg", "nrt", "ns", "nt", "nz", "eng"})
_CHINESE_TITLE_WEIGHT = 3.0  # a headline word counts as this many body words


class TagError(ValueError):
    """A phrase that cannot be a hashtag (nothing but spaces and punctuation)."""


@dataclass(frozen=True)
class Tag:
    """A hashtag: shown as `name`, found by `key`, read as `label` in its article."""

    name: str  # "#SmartCities", "#人工智能", "#PortAurelia"
    label: str  # the phrase as the article writes it: "smart cities", "人工智能"
    key: str  # one per entity across articles: stemmed, lowercase, aliased, Simplified
    score: float = 0.0  # higher = more relevant

    @property
    def slug(self) -> str:
        """The name without "#", as used in /tags/{slug}."""
        return self.name.removeprefix("#")


def normalize_tag(label: str, language: str | None) -> Tag:
    """Display name and merge key of any phrase (extracted, demo-provided or typed).

    Raises TagError when the phrase has no letters or digits.
    """
    given = label
    label = _EDGE_PUNCTUATION.sub("", " ".join(clean_text(label).split())[:MAX_LABEL_CHARS])
    if not any(c.isalnum() for c in label):
        raise TagError(f"{given!r} has no letters or digits, so it cannot be a hashtag")
    if _HAN.search(label):
        compact = "".join(c for c in label if c.isalnum())
        key = compact.lower() if _KANA.search(compact) else _simplified(compact.lower())
        return Tag(name=f"#{compact}", label=label, key=key)
    words = _WORD.findall(_LEADING_ELISION.sub("", label))  # l'Union européenne → #UnionEuropéenne
    if len(words) > 1 and all(word.isupper() for word in words if not word.isdigit()):
        # A phrase from a shouted headline or dateline (PORT AURELIA): words, not acronyms.
        words = [w.capitalize() if len(w.replace(".", "")) > _ACRONYM_MAX else w for w in words]
    name = "".join(_camel(word) for word in words)
    return Tag(name=f"#{name}", label=label, key=_key(label, primary_language(language) or "en"))


def _camel(word: str) -> str:
    """`cities` → `Cities`; acronyms and mixed case (`AI`, `iPhone`) stay; `U.S.` → `US`."""
    word = word.replace(".", "")
    if any(c.isupper() for c in word[1:]):
        return word
    return word[:1].upper() + word[1:]


def _key(label: str, language: str) -> str:
    """Aliases first (they are whole names), then lowercase Snowball stems of the words."""
    bare = _ELIDED.sub("", label)
    acronym = bare.replace(".", "").replace(" ", "")
    if acronym.isupper() and acronym in _ACRONYM_ALIASES:
        bare, language = _ACRONYM_ALIASES[acronym], "en"
    else:
        phrase = " ".join(bare.lower().split())
        if phrase in _ALIASES or phrase in _CANONICAL:
            bare, language = _ALIASES.get(phrase, phrase), "en"
    words = [w.replace(".", "").lower() for w in _WORD.findall(bare)]
    return " ".join(stem(w, language) for w in words if w)


_opencc_lock = threading.Lock()
_opencc: opencc.OpenCC | None = None


def _simplified(text: str) -> str:
    """Traditional → Simplified characters (颱風 → 台风), so both scripts share a key."""
    global _opencc
    with _opencc_lock:
        if _opencc is None:
            _opencc = opencc.OpenCC("t2s")
        return str(_opencc.convert(text))


def extract_tags(title: str, body: str, language: str | None, limit: int = 6) -> list[Tag]:
    """The article's best hashtags, best first: one per key, none a mere part of a better one."""
    if limit <= 0 or not (title.strip() or body.strip()):
        return []
    code = primary_language(language)
    if code == "zh" or (code in ("", "und") and _looks_chinese(f"{title}\n{body}")):
        return _chinese_tags(title, body, limit)
    found = extract_keyphrases(title, body, code or "en", limit * CANDIDATES_PER_TAG)
    tags: dict[str, Tag] = {}
    for phrase in found:
        tag = normalize_tag(phrase.label, code or "en")
        if tag.key and tag.key not in tags:
            tags[tag.key] = replace(tag, score=round(1.0 / (1.0 + 10.0 * phrase.h), 4))
        if len(tags) == limit:
            break
    return list(tags.values())


def _looks_chinese(text: str) -> bool:
    """Mostly Han characters and no kana (which would make it Japanese)."""
    sample = text[:2000]
    han = len(_HAN.findall(sample))
    letters = sum(c.isalpha() for c in sample)
    return han >= 0.3 * max(letters, 1) and len(_KANA.findall(sample)) < 0.05 * max(han, 1)


_jieba_lock = threading.Lock()
_jieba: dict[str, Any] = {}


def _jieba_modules() -> tuple[ModuleType, dict[str, float], float, frozenset[str]]:
    """jieba's part-of-speech tagger and TF-IDF table, loaded once (about 2 s) on first use."""
    with _jieba_lock:
        if not _jieba:
            with warnings.catch_warnings():
                # jieba leaves its IDF file open while loading it; harmless, but noisy.
                warnings.simplefilter("ignore", ResourceWarning)
                import jieba  # type: ignore[import-untyped]
                import jieba.analyse  # type: ignore[import-untyped]
                import jieba.posseg  # type: ignore[import-untyped]

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
            tfidf = jieba.analyse.default_tfidf
            _jieba["posseg"] = jieba.posseg
            _jieba["idf"] = tfidf.idf_freq
            _jieba["median"] = tfidf.median_idf
            _jieba["stop"] = frozenset(tfidf.stop_words)
    return _jieba["posseg"], _jieba["idf"], _jieba["median"], _jieba["stop"]


def _chinese_tags(title: str, body: str, limit: int) -> list[Tag]:
    """jieba nouns and names ranked by TF-IDF, headline words counting more.

    jieba's dictionary is Simplified, so the text is segmented in Simplified characters and
    each word is read back from the original text, keeping a Traditional article Traditional.
    """
    posseg, idf, median_idf, stop = _jieba_modules()
    original = clean_text(f"{title}\n{body}")
    simplified = _simplified(original)
    aligned = len(simplified) == len(original)
    weights: dict[str, float] = {}
    spellings: dict[str, Counter[str]] = {}
    offset = 0
    for pair in posseg.cut(simplified):
        word, flag = str(pair.word), str(pair.flag)
        start, offset = offset, offset + len(word)
        if flag not in _CHINESE_NOUNS or len(word.strip()) < 2 or word.lower() in stop:
            continue
        if flag == "eng" and not any(c.isupper() for c in word):
            continue  # stray lowercase Latin in Chinese text is rarely a name
        weight = _CHINESE_TITLE_WEIGHT if start < len(title) else 1.0
        weights[word] = weights.get(word, 0.0) + weight
        surface = original[start:offset] if aligned else word
        spellings.setdefault(word, Counter())[surface] += 1
    total = sum(weights.values()) or 1.0
    ranked = sorted(
        ((weight * idf.get(word, median_idf) / total, word) for word, weight in weights.items()),
        key=lambda pair: (-pair[0], pair[1]),
    )
    tags: dict[str, Tag] = {}
    for score, word in ranked:
        tag = normalize_tag(spellings[word].most_common(1)[0][0], "zh")
        if tag.key not in tags:
            tags[tag.key] = replace(tag, score=round(score, 4))
        if len(tags) == limit:
            break
    return list(tags.values())


def merge_tags(tag_lists: Iterable[list[Tag]], limit: int = 8) -> list[Tag]:
    """A story's hashtags from its articles' tags: shared by more articles first, one per key.

    The spelling most articles use wins; the score is the number of articles that carry the
    tag plus their mean score (so it orders the result).
    """
    counts: Counter[str] = Counter()
    totals: dict[str, float] = {}
    spellings: dict[str, Counter[tuple[str, str]]] = {}
    for tags in tag_lists:
        best: dict[str, Tag] = {}
        for tag in tags:
            if tag.key and (tag.key not in best or tag.score > best[tag.key].score):
                best[tag.key] = tag
        for key, tag in best.items():
            counts[key] += 1
            totals[key] = totals.get(key, 0.0) + tag.score
            spellings.setdefault(key, Counter())[tag.name, tag.label] += 1
    ranked = sorted(counts, key=lambda key: (-counts[key], -totals[key], key))[:limit]
    merged = []
    for key in ranked:
        (name, label), _ = spellings[key].most_common(1)[0]
        score = counts[key] + totals[key] / counts[key]
        merged.append(Tag(name=name, label=label, key=key, score=round(score, 4)))
    return merged
