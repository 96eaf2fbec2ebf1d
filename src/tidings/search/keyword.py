"""Full-text ranking on each database: SQLite FTS5 (BM25) and PostgreSQL tsvector + GIN.

The indexes themselves are built and kept current by triggers (migrations 0005 and 0012):
title, text, publisher and hashtags, CJK spaced one character per token on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Text,
    case,
    cast,
    column,
    func,
    literal_column,
    select,
    table,
)
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
    forms = _pg_forms(session, parsed, language)
    if not any(forms.values()):
        return []
    query = _any_of(*forms.values())
    # Materialised, so PostgreSQL takes the matches from the GIN index first instead of
    # walking the newest articles and testing each one (seconds when nothing matches).
    matched = (
        select(_PG.c.article_id)
        .where(_PG.c.document.op("@@")(query))
        .cte("matched")
        .prefix_with("MATERIALIZED")
    )
    # The query under every configuration finds candidates; each must also match under its
    # own language's configuration (or 'simple', as publisher names are indexed): otherwise
    # a stem made by another language's rules matches words it shouldn't ("panda" is 'pand'
    # in French, and the prefix 'pand':* would find an English "pandemic"). Checked on the
    # window only (it reads each document), with constant queries per configuration.
    simple = forms.get("simple", "")
    own = case(
        {name: _any_of(form, simple) for name, form in forms.items()},
        value=cast(func.tidings_ts_config(Article.language), Text),
        else_=_any_of(simple),
    )
    window = select(matched.c.article_id.label("id"))
    if conditions:
        window = window.join(Article, Article.id == matched.c.article_id).where(*conditions)
    recent = window.order_by(matched.c.article_id.desc()).limit(RANK_WINDOW).cte("recent")
    statement = (
        select(Article.id)
        .join(recent, recent.c.id == Article.id)
        .join(_PG, _PG.c.article_id == Article.id)
        .where(_PG.c.document.op("@@")(own))
    )
    order: tuple[Any, ...] = (Article.published_at.desc(), Article.id.desc())
    if sort == "relevance":
        # Normalised by the log of the length (1), as BM25 is on SQLite.
        order = (func.ts_rank(_PG.c.document, query, 1).desc(), Article.id.desc())
    return list(session.scalars(statement.order_by(*order).limit(limit).offset(offset)))


def _pg_forms(session: Session, parsed: ParsedQuery, language: str | None) -> dict[str, str]:
    """The query as PostgreSQL writes it under each configuration an article may have been
    indexed with (one when the language is known, and 'simple'); "" where every word is a
    stop word. One small query, so the searches themselves use constants."""
    if language:
        configs = [PG_CONFIGS.get(language.split("-")[0].lower(), "simple"), "simple"]
    else:
        configs = [*sorted(set(PG_CONFIGS.values())), "simple"]
    config: ColumnElement[Any] = column("config")
    rows = session.execute(
        select(config.cast(Text), func.to_tsquery(config, tsquery(parsed)).cast(Text)).select_from(
            func.unnest(cast(sorted(set(configs)), ARRAY(REGCONFIG))).alias("config")
        )
    )
    return {str(name): str(form or "") for name, form in rows}


def _any_of(*forms: str) -> ColumnElement[Any]:
    """One constant tsquery matching any of `forms` (so the planner can estimate it and the
    GIN index serve it)."""
    kept = sorted({f"({form})" for form in forms if form})
    return cast(" | ".join(kept), TSQUERY)
