"""Full-text ranking on each database: SQLite FTS5 (BM25) and PostgreSQL tsvector + GIN.

The indexes themselves are built and kept current by triggers (migrations 0005 and 0012):
title, text, publisher and hashtags, CJK spaced one character per token on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Text, cast, column, func, literal_column, select, table
from sqlalchemy.dialects.postgresql import REGCONFIG, TSQUERY, TSVECTOR
from sqlalchemy.orm import Session

from tidings.db.models import Article
from tidings.search.query import ParsedQuery, fts5_match, tsquery

# BM25 column weights on SQLite (title, body, publisher, hashtags); PostgreSQL gets the same
# emphasis from tsvector weight classes (title and hashtags A, publisher B, body C).
_BM25: ColumnElement[float] = literal_column("bm25(articles_fts, 10.0, 1.0, 2.0, 5.0)")
_FTS = table("articles_fts", column("rowid"))
_FTS_TABLE: ColumnElement[str] = literal_column("articles_fts")
RANK_WINDOW = 2_000
_PG = table("articles_search", column("article_id"), column("document", TSVECTOR))

# PostgreSQL's text search configuration per language (the primary subtag); other languages
# are indexed with 'simple' (lower-cased words, no stemming). Mirrors tidings_ts_config() in
# migration 0012, which the index triggers use.
PG_CONFIGS = {
    "da": "danish",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "fi": "finnish",
    "fr": "french",
    "it": "italian",
    "nl": "dutch",
    "no": "norwegian",
    "pt": "portuguese",
    "ru": "russian",
    "sv": "swedish",
}


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def search(
    session: Session,
    parsed: ParsedQuery,
    conditions: Sequence[ColumnElement[bool]],
    sort: str,
    limit: int,
    offset: int,
    language: str | None = None,
) -> list[int]:
    """Matching article ids, best (or newest) first.

    Both orders look at the RANK_WINDOW most recently stored matches (those passing the
    filters), not at every one: a query made of everyday words matches half of a large
    store, and scoring or sorting all of it took 250-400 ms at 100k articles
    (bench/search.py). A rarer query has fewer matches than that and is ranked in full.
    """
    newest = (Article.published_at.desc(), Article.id.desc())
    if not parsed.terms:  # only hashtags: every tagged article, newest first
        statement = select(Article.id).where(*conditions).order_by(*newest)
        return list(session.scalars(statement.limit(limit).offset(offset)))
    if _postgres(session):
        return _postgres_search(session, parsed, conditions, sort, limit, offset, language)
    match = _FTS_TABLE.op("MATCH")(fts5_match(parsed))
    floor = (
        select(_FTS.c.rowid)
        .join(Article, Article.id == _FTS.c.rowid)
        .where(match, *conditions)
        .order_by(_FTS.c.rowid.desc())
        .limit(1)
        .offset(RANK_WINDOW - 1)
        .scalar_subquery()
    )
    statement = (
        select(Article.id)
        .join(_FTS, _FTS.c.rowid == Article.id)
        .where(match, _FTS.c.rowid >= func.coalesce(floor, 0), *conditions)
    )
    order = (_BM25, Article.id.desc()) if sort == "relevance" else newest
    return list(session.scalars(statement.order_by(*order).limit(limit).offset(offset)))


def _postgres_search(
    session: Session,
    parsed: ParsedQuery,
    conditions: Sequence[ColumnElement[bool]],
    sort: str,
    limit: int,
    offset: int,
    language: str | None,
) -> list[int]:
    query = _pg_query(session, parsed, language)
    if query is None:
        return []
    # The query under every configuration finds candidates; each must also match under its
    # own language's configuration (or 'simple', as publisher names are indexed): otherwise
    # a stem made by another language's rules matches words it shouldn't ("panda" is 'pand'
    # in French, and the prefix 'pand':* would find an English "pandemic").
    words = tsquery(parsed)
    own = func.to_tsquery(func.tidings_ts_config(Article.language), words).op("||")(
        func.to_tsquery(cast("simple", REGCONFIG), words)
    )
    # Materialised, so PostgreSQL takes the matches from the GIN index first instead of
    # walking the newest articles and testing each one (seconds when nothing matches).
    matched = (
        select(_PG.c.article_id)
        .join(Article, Article.id == _PG.c.article_id)
        .where(_PG.c.document.op("@@")(query), _PG.c.document.op("@@")(own))
        .cte("matched")
        .prefix_with("MATERIALIZED")
    )
    window = select(matched.c.article_id.label("id"))
    if conditions:
        window = window.join(Article, Article.id == matched.c.article_id).where(*conditions)
    recent = window.order_by(matched.c.article_id.desc()).limit(RANK_WINDOW).cte("recent")
    statement = select(Article.id).join(recent, recent.c.id == Article.id)
    order: tuple[Any, ...] = (Article.published_at.desc(), Article.id.desc())
    if sort == "relevance":
        statement = statement.join(_PG, _PG.c.article_id == Article.id)
        # Normalised by the log of the length (1), as BM25 is on SQLite.
        order = (func.ts_rank(_PG.c.document, query, 1).desc(), Article.id.desc())
    return list(session.scalars(statement.order_by(*order).limit(limit).offset(offset)))


def _pg_query(
    session: Session, parsed: ParsedQuery, language: str | None
) -> ColumnElement[Any] | None:
    """The query under every configuration an article may have been indexed with (one when
    the language is known), OR-ed, as one constant tsquery so the planner can estimate it
    and the GIN index serve it; None when every word is a stop word."""
    if language:
        configs = [PG_CONFIGS.get(language.split("-")[0].lower(), "simple")]
    else:
        configs = [*sorted(set(PG_CONFIGS.values())), "simple"]
    config: ColumnElement[Any] = column("config")
    variants = session.scalars(
        select(func.to_tsquery(config, tsquery(parsed)).cast(Text))
        .select_from(func.unnest(cast(configs, ARRAY(REGCONFIG))).alias("config"))
        .distinct()
    )
    kept = sorted({f"({variant})" for variant in variants if variant})
    return cast(" | ".join(kept), TSQUERY) if kept else None
