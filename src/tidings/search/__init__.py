"""Full-text search over articles: SQLite FTS5 (BM25, highlighted snippets), filters, paging."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from html import escape

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, joinedload

from tidings.db.models import Article
from tidings.errors import InvalidInputError
from tidings.search.cjk import spaced, unspaced

MAX_QUERY_CHARS = 300
_MARK_OPEN, _MARK_CLOSE = "\x02", "\x03"  # placeholders: snippets are escaped, then marked
_TOKEN = re.compile(r'"([^"]*)"|(\S+)')


@dataclass(frozen=True)
class SearchFilters:
    source_id: int | None = None
    language: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    sort: str = "relevance"  # or "time"


@dataclass
class Hit:
    article: Article
    snippet: str  # HTML: escaped text with <mark> around the matched words


@dataclass
class SearchPage:
    hits: list[Hit]
    next_offset: int | None


def fts_query(query: str) -> str:
    """The user's words as a safe FTS5 query: "quoted phrases" kept, every term quoted.

    Quoting each term means FTS5 operators and punctuation typed by a user are searched for,
    never interpreted; the last bare word also matches as a prefix (search as you type).
    """
    query = query.strip()
    if not query:
        raise InvalidInputError("type something to search for")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInputError(f"a search is limited to {MAX_QUERY_CHARS} characters")
    terms: list[str] = []
    for phrase, word in _TOKEN.findall(query):
        words = re.findall(r"\w+", spaced(phrase or word))
        if not words:
            continue
        terms.append('"' + " ".join(words) + '"')
    if not terms:
        raise InvalidInputError("the search has no words in it")
    if not query.endswith('"') and len(re.findall(r"\w+", terms[-1])) == 1:
        terms[-1] += "*"
    return " ".join(terms)


def search_articles(
    session: Session, query: str, filters: SearchFilters, *, limit: int, offset: int = 0
) -> SearchPage:
    """A page of matching articles, best first (or newest first), with snippets."""
    if session.get_bind().dialect.name != "sqlite":
        return _search_like(session, query, filters, limit=limit, offset=offset)
    match = fts_query(query)
    order = (
        "rank" if filters.sort == "relevance" else "articles.published_at DESC, articles.id DESC"
    )
    conditions, params = _filter_sql(filters)
    # Only fixed fragments chosen above are formatted in; every value is a bound parameter.
    # Only the fixed fragments chosen above are formatted in; every value is a bound parameter.
    sql = (
        "SELECT articles.id, snippet(articles_fts, 1, :open, :close, ' … ', 40) AS snippet "  # noqa: S608
        "FROM articles_fts JOIN articles ON articles.id = articles_fts.rowid "
        f"WHERE articles_fts MATCH :match {conditions} "
        f"ORDER BY {order} LIMIT :limit OFFSET :offset"
    )
    values: dict[str, object] = {"match": match, "open": _MARK_OPEN, "close": _MARK_CLOSE}
    values |= {"limit": limit + 1, "offset": offset, **params}
    rows = session.execute(text(sql), values).all()
    return _page(session, [(row.id, row.snippet) for row in rows], limit, offset)


def _filter_sql(filters: SearchFilters) -> tuple[str, dict[str, object]]:
    conditions: list[str] = []
    params: dict[str, object] = {}
    if filters.source_id is not None:
        conditions.append("AND articles.source_id = :source_id")
        params["source_id"] = filters.source_id
    if filters.language:
        conditions.append("AND articles.language = :language")
        params["language"] = filters.language
    if filters.since is not None:
        conditions.append("AND articles.published_at >= :since")
        params["since"] = filters.since.replace(tzinfo=None)
    if filters.until is not None:
        conditions.append("AND articles.published_at < :until")
        params["until"] = filters.until.replace(tzinfo=None)
    return " ".join(conditions), params


def _search_like(
    session: Session, query: str, filters: SearchFilters, *, limit: int, offset: int
) -> SearchPage:
    """Portable fallback until PostgreSQL's tsvector index lands: every word, anywhere."""
    fts_query(query)  # the same validation and errors
    words = re.findall(r"\w+", query)
    statement = select(Article.id)
    for word in words:
        statement = statement.where(
            func.lower(Article.title + " " + Article.body).contains(word.lower())
        )
    if filters.source_id is not None:
        statement = statement.where(Article.source_id == filters.source_id)
    if filters.language:
        statement = statement.where(Article.language == filters.language)
    if filters.since is not None:
        statement = statement.where(Article.published_at >= filters.since)
    if filters.until is not None:
        statement = statement.where(Article.published_at < filters.until)
    statement = statement.order_by(Article.published_at.desc(), Article.id.desc())
    ids = list(session.scalars(statement.limit(limit + 1).offset(offset)))
    return _page(session, [(article_id, "") for article_id in ids], limit, offset)


def _page(session: Session, found: list[tuple[int, str]], limit: int, offset: int) -> SearchPage:
    more = len(found) > limit
    found = found[:limit]
    articles = {
        a.id: a
        for a in session.scalars(
            select(Article)
            .options(joinedload(Article.source))
            .where(Article.id.in_([i for i, _ in found]))
        ).unique()
    }
    hits = [
        Hit(articles[article_id], _highlight(snippet) or escape(articles[article_id].body[:240]))
        for article_id, snippet in found
        if article_id in articles
    ]
    return SearchPage(hits, offset + limit if more else None)


def _highlight(snippet: str) -> str:
    return escape(unspaced(snippet)).replace(_MARK_OPEN, "<mark>").replace(_MARK_CLOSE, "</mark>")
