"""A reader's search words, parsed once and written out for each index's query language.

Nothing a reader types is ever interpreted as an operator: every term is quoted (FTS5) or
reduced to word characters (PostgreSQL tsquery) before it reaches the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tidings.errors import InvalidInputError
from tidings.search.cjk import has_cjk, spaced

MAX_QUERY_CHARS = 300
_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
_HASHTAG = re.compile(r"#(\w+)")


@dataclass(frozen=True)
class ParsedQuery:
    """Terms that must all match (each one word or an exact phrase), and hashtags."""

    terms: tuple[tuple[str, ...], ...]
    prefix: bool  # the last term is a bare word that also matches as a prefix
    hashtags: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The words alone, for embedding the query."""
        return " ".join(" ".join(term) for term in self.terms)


def parse_query(query: str) -> ParsedQuery:
    """Split `query` into terms: "quoted phrases" stay together, #hashtags become filters,
    and a CJK word becomes a phrase of its characters (the way the index stores it)."""
    query = query.strip()
    if not query:
        raise InvalidInputError("type something to search for")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInputError(f"a search is limited to {MAX_QUERY_CHARS} characters")
    terms: list[tuple[str, ...]] = []
    hashtags: list[str] = []
    last_is_word = False
    for phrase, word in _TOKEN.findall(query):
        tag = _HASHTAG.fullmatch(word)
        if tag and not phrase:
            hashtags.append(tag.group(1))
            continue
        words = tuple(re.findall(r"\w+", spaced(phrase or word)))
        if words:
            terms.append(words)
            last_is_word = not phrase and len(words) == 1
    if not terms and not hashtags:
        raise InvalidInputError("the search has no words in it")
    prefix = last_is_word and not query.endswith('"') and not has_cjk(terms[-1][0])
    return ParsedQuery(tuple(terms), prefix, tuple(hashtags))


def fts5_match(parsed: ParsedQuery) -> str:
    """The FTS5 MATCH expression: every term quoted, the last bare word also as a prefix."""
    quoted = ['"' + " ".join(term) + '"' for term in parsed.terms]
    if parsed.prefix:
        quoted[-1] += "*"
    return " ".join(quoted)


def tsquery(parsed: ParsedQuery) -> str:
    """The PostgreSQL `to_tsquery` text: terms joined by &, phrase words by <->, prefix :*.

    Only word characters reach it, each single-quoted, so no tsquery operator can be typed.
    """
    parts = []
    for term in parsed.terms:
        parts.append(" <-> ".join(f"'{word}'" for word in term))
    if parsed.prefix:
        parts[-1] += ":*"
    return " & ".join(f"({part})" for part in parts)


def fts_query(query: str) -> str:
    """The user's words as a safe FTS5 query (parsing and writing in one step)."""
    return fts5_match(parse_query(query))
