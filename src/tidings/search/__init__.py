"""Search over articles: full text (SQLite FTS5 or PostgreSQL tsvector), meaning (the
enrichment's embeddings), and both fused by reciprocal rank; filters, snippets, paging."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Protocol

from sqlalchemy import ColumnElement, Select, exists, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from tidings.db.models import Article, ArticleTag, Tag
from tidings.errors import InvalidInputError
from tidings.search import keyword
from tidings.search.query import MAX_QUERY_CHARS, ParsedQuery, fts_query, parse_query
from tidings.search.snippets import MARK_CLOSE, MARK_OPEN, snippet

__all__ = [
    "MAX_QUERY_CHARS",
    "MODES",
    "Hit",
    "SearchFilters",
    "SearchPage",
    "SemanticIndex",
    "fts_query",
    "search_articles",
]

MODES = ("hybrid", "keyword", "semantic")
RRF_K = 60  # reciprocal rank fusion's constant (Cormack et al. 2009): 1 / (60 + rank)
CANDIDATES = 100  # per ranking, before fusion
MAX_OFFSET = 10_000


@dataclass(frozen=True)
class SearchFilters:
    source_id: int | None = None
    language: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    sort: str = "relevance"  # or "time"
    tag: str | None = None  # a hashtag's slug (the name without "#")
    mode: str = "hybrid"  # or "keyword" / "semantic"


@dataclass
class Hit:
    article: Article
    snippet: str  # HTML: escaped text with <mark> around the matched words
    matched: str = "words"  # "words", "meaning" or "both"


@dataclass
class SearchPage:
    hits: list[Hit]
    next_offset: int | None
    semantic: bool = False  # whether meaning took part in the ranking


class SemanticIndex(Protocol):
    """What semantic search needs from the enrichment (enrich/service.py's Enricher)."""

    @property
    def understands_meaning(self) -> bool:
        """False for vectors of hashed words: hybrid search then ranks by words alone, since
        the full-text index matches wording better (stemming, phrases) and a hashed query of
        one unknown word would only find hash collisions."""
        ...

    def nearest(self, text: str, k: int) -> list[tuple[int, float]]:
        """Article ids nearest in meaning to `text`, best first, with their similarity; an
        empty list while the index is not ready."""
        ...


def search_articles(
    session: Session,
    query: str,
    filters: SearchFilters,
    *,
    limit: int,
    offset: int = 0,
    semantic: SemanticIndex | None = None,
) -> SearchPage:
    """A page of matching articles, best first (or newest first), with snippets.

    Hybrid (the default) fuses the full-text ranking with the embedding ranking by reciprocal
    rank, so an article that says "ferry prices" is found for "boat fares"; newest-first
    order, phrases and a missing index fall back to words alone.
    """
    if filters.mode not in MODES:
        raise InvalidInputError(f"search mode must be one of {', '.join(MODES)}")
    if offset > MAX_OFFSET:
        raise InvalidInputError(f"results stop after {MAX_OFFSET}: narrow the search")
    parsed = parse_query(query)
    conditions = _conditions(filters, parsed)
    use_meaning = (
        semantic is not None
        and (
            filters.mode == "semantic"
            or (filters.mode == "hybrid" and semantic.understands_meaning)
        )
        and filters.sort == "relevance"
        and bool(parsed.terms)
        and not any(len(term) > 1 for term in parsed.terms)  # a phrase asks for exact words
    )
    if not use_meaning:
        if filters.mode == "semantic":
            raise InvalidInputError(
                "search by meaning needs the enrichment index and plain words (no phrases)"
            )
        found = keyword.search(
            session, parsed, conditions, filters.sort, limit + 1, offset, filters.language
        )
        return _page(session, parsed, filters, found, {}, limit, offset)
    assert semantic is not None
    depth = max(CANDIDATES, offset + limit + 1)
    words = (
        keyword.search(session, parsed, conditions, "relevance", depth, 0, filters.language)
        if filters.mode == "hybrid"
        else []
    )
    meaning = _allowed(session, semantic.nearest(parsed.text, depth), conditions)
    fused = fuse([words, meaning])[offset : offset + limit + 1]
    by_words, by_meaning = set(words), set(meaning)
    matched = {
        i: "both" if i in by_words and i in by_meaning else "words" if i in by_words else "meaning"
        for i in fused
    }
    return _page(session, parsed, filters, fused, matched, limit, offset)


def fuse(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[int]:
    """Reciprocal rank fusion: each id scores the sum of 1 / (k + rank) over the rankings
    it appears in; ties keep the order of first appearance."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda item: -scores[item])


def _conditions(filters: SearchFilters, parsed: ParsedQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.source_id is not None:
        conditions.append(Article.source_id == filters.source_id)
    if filters.language:
        conditions.append(Article.language == filters.language)
    if filters.since is not None:
        conditions.append(Article.published_at >= filters.since)
    if filters.until is not None:
        conditions.append(Article.published_at < filters.until)
    for slug in ([filters.tag] if filters.tag else []) + list(parsed.hashtags):
        tagged = (
            select(ArticleTag.article_id)
            .join(Tag, Tag.id == ArticleTag.tag_id)
            .where(ArticleTag.article_id == Article.id, func.lower(Tag.slug) == slug.lower())
        )
        conditions.append(exists(tagged))
    return conditions


def _allowed(
    session: Session, nearest: list[tuple[int, float]], conditions: list[ColumnElement[bool]]
) -> list[int]:
    """The semantic neighbours that pass the filters, in their order."""
    if not nearest:
        return []
    statement: Select[int] = select(Article.id).where(
        Article.id.in_([i for i, _ in nearest]), *conditions
    )
    allowed = set(session.scalars(statement))
    return [i for i, _ in nearest if i in allowed]


def _page(
    session: Session,
    parsed: ParsedQuery,
    filters: SearchFilters,
    found: list[int],
    matched: dict[int, str],
    limit: int,
    offset: int,
) -> SearchPage:
    more = len(found) > limit
    found = found[:limit]
    articles = {
        a.id: a
        for a in session.scalars(
            select(Article)
            # Hashtags in one more query, not one per hit (the API lists them per article).
            .options(joinedload(Article.source), selectinload(Article.tags))
            .where(Article.id.in_(found))
        ).unique()
    }
    hits = []
    for i in found:
        if i not in articles:
            continue
        article = articles[i]
        passage = snippet(article.body, parsed, article.language) if parsed.terms else None
        shown = _highlight(passage) if passage else escape(article.body[:240])
        hits.append(Hit(article, shown, matched.get(i, "words")))
    return SearchPage(hits, offset + limit if more else None, semantic=bool(matched))


def _highlight(passage: str) -> str:
    """Escape the passage, then turn its markers into <mark> elements (joining the marks of
    adjacent CJK characters)."""
    text = escape(passage).replace(MARK_CLOSE + MARK_OPEN, "")
    return text.replace(MARK_OPEN, "<mark>").replace(MARK_CLOSE, "</mark>")
