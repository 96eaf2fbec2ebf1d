"""Write enrichment results: hashtag rows and each story's summary (title, span, outlets, tags).

Every write here costs a few indexed statements whatever the size of the store: tag counts
move by the article's change instead of being recounted, and a story's summary reads
aggregates plus its newest articles instead of loading every member. The statements are
built once at import: building and caching a statement costs more than SQLite running it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from datasketch import MinHash  # type: ignore[import-untyped]
from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from tidings.db.models import Article, ArticleFeatures, ArticleTag, Story
from tidings.db.models import Tag as TagRow
from tidings.enrich import dedupe, tags
from tidings.enrich.vectors import fits, from_bytes, to_bytes

# The title is chosen among, and the hashtags merged from, at most this many of a story's
# newest original articles: a story of thousands of reports costs what one of 200 does.
STORY_SAMPLE = 200
STORED_TERMS = 200  # a story needs an article's strongest terms, not its long tail

_articles = cast(Table, Article.__table__)
_features = cast(Table, ArticleFeatures.__table__)
_article_tags = cast(Table, ArticleTag.__table__)
_stories = cast(Table, Story.__table__)
_tags = cast(Table, TagRow.__table__)

_TAGS_BY_KEY = select(_tags.c.id, _tags.c.key).where(
    _tags.c.key.in_(bindparam("keys", expanding=True))
)
_NEW_TAGS = insert(_tags).returning(_tags.c.id, _tags.c.key)
_TAGS_OF_ARTICLE = select(_article_tags.c.tag_id).where(
    _article_tags.c.article_id == bindparam("article_id")
)
_DROP_ARTICLE_TAGS = delete(_article_tags).where(
    _article_tags.c.article_id == bindparam("article_id")
)
_ADD_ARTICLE_TAGS = insert(_article_tags)
_SHIFT_COUNTS = (
    update(_tags)
    .where(_tags.c.id.in_(bindparam("ids", expanding=True)))
    .values(article_count=_tags.c.article_count + bindparam("step"))
)
_ADD_FEATURES = insert(_features)
_SET_FEATURES = (
    update(_features)
    .where(_features.c.article_id == bindparam("for_article"))
    .values(
        model=bindparam("model"),
        vector=bindparam("vector"),
        minhash=bindparam("minhash"),
        terms=bindparam("terms"),
    )
)
_original = _articles.c.duplicate_of.is_(None)
# One pass over a story's rows, grouped so the answer stays small.
_STORY_SPREAD = (
    select(
        _articles.c.source_id,
        _articles.c.language,
        _original,
        func.count(),
        func.min(_articles.c.published_at),
        func.max(_articles.c.published_at),
    )
    .where(_articles.c.story_id == bindparam("story_id"))
    .group_by(_articles.c.source_id, _articles.c.language, _original)
)
_newest = (_articles.c.published_at.desc(), _articles.c.id.desc())
_STORY_MEMBERS = (
    select(
        _articles.c.id,
        _articles.c.title,
        _articles.c.source_id,
        _articles.c.language,
        _articles.c.duplicate_of,
        _articles.c.published_at,
    )
    .where(_articles.c.story_id == bindparam("story_id"))
    .order_by(*_newest)
    .limit(STORY_SAMPLE + 1)
)
_STORY_NEWEST = (
    select(_articles.c.id, _articles.c.title)
    .where(_articles.c.story_id == bindparam("story_id"))
    .order_by(*_newest)
    .limit(STORY_SAMPLE)
)
_STORY_NEWEST_ORIGINALS = (
    select(_articles.c.id, _articles.c.title)
    .where(_articles.c.story_id == bindparam("story_id"), _original)
    .order_by(*_newest)
    .limit(STORY_SAMPLE)
)
_SAMPLE_TAGS = (
    select(
        _article_tags.c.article_id,
        _article_tags.c.label,
        _article_tags.c.score,
        _tags.c.name,
        _tags.c.key,
    )
    .join(_tags, _tags.c.id == _article_tags.c.tag_id)
    .where(_article_tags.c.article_id.in_(bindparam("ids", expanding=True)))
)
_SAMPLE_VECTORS = select(_features.c.article_id, _features.c.vector).where(
    _features.c.article_id.in_(bindparam("ids", expanding=True))
)
_STORY_COLUMNS = (
    "title",
    "lead_article_id",
    "first_published_at",
    "last_published_at",
    "article_count",
    "source_count",
    "languages",
    "tags",
    "merged_into",
    "updated_at",
)
_SET_STORY = (
    update(_stories)
    .where(_stories.c.id == bindparam("story_id"))
    .values({name: bindparam(name) for name in _STORY_COLUMNS})
)
_ADD_STORY = insert(_stories)
_EMPTY_STORY = (
    update(_stories)
    .where(_stories.c.id == bindparam("story_id"))
    .values(article_count=0, source_count=0, merged_into=bindparam("merged_into"))
)


@dataclass
class ArticleRow:
    """What enrichment reads and writes of an article."""

    id: int
    source_id: int
    url: str
    title: str
    body: str
    language: str | None
    published_at: datetime
    story_id: int | None
    duplicate_of: int | None
    enriched_at: datetime | None


_LOAD_ARTICLE = select(*(_articles.c[name] for name in ArticleRow.__dataclass_fields__)).where(
    _articles.c.id == bindparam("article_id")
)
_ENRICHED = {"story_id", "duplicate_of", "enriched_at"}
# The language only when it changed: on PostgreSQL, naming it re-indexes the article's text.
_SAVE_ARTICLE = {
    names: update(_articles)
    .where(_articles.c.id == bindparam("article_id"))
    .values({name: bindparam(name) for name in names})
    for names in (frozenset(_ENRICHED), frozenset(_ENRICHED | {"language"}))
}


def load_article(session: Session, article_id: int) -> ArticleRow | None:
    row = session.connection().execute(_LOAD_ARTICLE, {"article_id": article_id}).first()
    return None if row is None else ArticleRow(**row._mapping)


def save_article(session: Session, article: ArticleRow, *, language_changed: bool) -> None:
    """Write the enrichment columns, after the article's other writes: on SQLite, a first
    `enriched_at` is what puts the new hashtags in the search index (migration 0017)."""
    names = frozenset(_ENRICHED | ({"language"} if language_changed else set()))
    values = {name: getattr(article, name) for name in names}
    session.connection().execute(_SAVE_ARTICLE[names], [{"article_id": article.id, **values}])


def root_of(session: Session, article_id: int) -> int | None:
    """The original of a duplicate (copies point at an original); None if it was removed."""
    row = (
        session.connection()
        .execute(
            select(_articles.c.id, _articles.c.duplicate_of).where(_articles.c.id == article_id)
        )
        .first()
    )
    if row is None:
        return None
    return int(row.duplicate_of if row.duplicate_of is not None else row.id)


def article_value(session: Session, column: str, article_id: int) -> Any:
    return session.connection().scalar(
        select(_articles.c[column]).where(_articles.c.id == article_id)
    )


def adopt(session: Session, article: ArticleRow, original_id: int) -> None:
    """Make `article` the original of a copy group that was stored before it."""
    group = _copy_group(original_id, article.id)
    session.connection().execute(update(_articles).where(group).values(duplicate_of=article.id))
    article.story_id = article_value(session, "story_id", original_id)


def move(
    session: Session, article: ArticleRow, moved: dict[int, int], merged: dict[int, int]
) -> set[int]:
    """Apply the clusterer's merges/splits to stored articles and their duplicates."""
    touched: set[int] = set()
    connection = session.connection()
    for article_id, story_id in moved.items():
        group = _copy_group(article_id, article.id)
        rows = connection.execute(select(_articles.c.story_id).where(group)).all()
        for (previous,) in rows:
            if previous is not None and previous != story_id:
                touched.add(previous)
                merged[previous] = story_id
            touched.add(story_id)
        if rows:
            connection.execute(update(_articles).where(group).values(story_id=story_id))
    return touched


def _copy_group(original_id: int, besides: int) -> ColumnElement[bool]:
    """An original and its copies, except the article being enriched (its own row is
    written last, from what enrichment decided)."""
    in_group = or_(_articles.c.id == original_id, _articles.c.duplicate_of == original_id)
    return and_(in_group, _articles.c.id != besides)


def tag_ids(connection: Connection, found: Sequence[tags.Tag]) -> dict[str, int]:
    """The ids of these tags' entities (by key), created on first sight."""
    keys = sorted({tag.key for tag in found})
    if not keys:
        return {}
    ids: dict[str, int] = {
        key: tag_id for tag_id, key in connection.execute(_TAGS_BY_KEY, {"keys": keys})
    }
    missing = {tag.key: tag for tag in found if tag.key not in ids}
    if missing:
        rows = [
            {"key": t.key, "slug": t.slug, "name": t.name, "label": t.label, "article_count": 0}
            for t in missing.values()
        ]
        ids.update({key: tag_id for tag_id, key in connection.execute(_NEW_TAGS, rows)})
    return ids


def article_tag_ids(session: Session, article_id: int) -> list[int]:
    return list(session.connection().scalars(_TAGS_OF_ARTICLE, {"article_id": article_id}))


def store_tags(
    session: Session, article_id: int, found: Sequence[tags.Tag], *, replace: bool
) -> list[int]:
    """Write the article's hashtags (`replace`: instead of its old ones); returns their ids."""
    connection = session.connection()
    ids = tag_ids(connection, found)
    if replace:
        connection.execute(_DROP_ARTICLE_TAGS, {"article_id": article_id})
    if found:
        rows = [
            {"article_id": article_id, "tag_id": ids[t.key], "label": t.label, "score": t.score}
            for t in found
        ]
        connection.execute(_ADD_ARTICLE_TAGS, rows)
    return [ids[tag.key] for tag in found]


def shift_tag_counts(session: Session, before: Iterable[int], after: Iterable[int]) -> None:
    """Keep Tag.article_count (denormalised for tag listings) current after an article's tags
    changed from `before` to `after`: one statement per direction, never a recount."""
    old, new = set(before), set(after)
    for changed, step in ((new - old, 1), (old - new, -1)):
        if changed:
            session.connection().execute(_SHIFT_COUNTS, {"ids": sorted(changed), "step": step})


def store_features(
    session: Session,
    article_id: int,
    model: str,
    vector: npt.NDArray[np.floating],
    minhash: MinHash,
    terms: Counter[str],
    *,
    first: bool,
) -> None:
    """What a restart needs to put the article back in the in-memory indexes (`first`: the
    article was never enriched, so it has none yet)."""
    connection = session.connection()
    values = {
        "model": model,
        "vector": to_bytes(vector),
        "minhash": dedupe.to_bytes(minhash),
        "terms": {term: float(weight) for term, weight in terms.most_common(STORED_TERMS)},
    }
    if not first:
        result = connection.execute(_SET_FEATURES, {"for_article": article_id, **values})
        if not isinstance(result, CursorResult) or result.rowcount > 0:
            return
    connection.execute(_ADD_FEATURES, [{"article_id": article_id, **values}])


def next_story_id(session: Session) -> int:
    return int(session.scalar(select(func.max(Story.id))) or 0) + 1


def refresh_stories(
    session: Session, story_ids: Iterable[int], *, dim: int, merged: dict[int, int] | None = None
) -> None:
    """Recompute each story's summary from its articles; a story left empty by a merge
    remembers where its articles went (old links redirect there)."""
    merged = merged or {}
    connection = session.connection()
    for story_id in sorted(set(story_ids)):
        summary = _summary(connection, story_id, dim)
        if summary is None:
            connection.execute(
                _EMPTY_STORY, [{"story_id": story_id, "merged_into": merged.get(story_id)}]
            )
            continue
        result = connection.execute(_SET_STORY, {"story_id": story_id, **summary})
        if isinstance(result, CursorResult) and result.rowcount == 0:
            connection.execute(_ADD_STORY, [{"id": story_id, **summary}])


def _summary(connection: Connection, story_id: int, dim: int) -> dict[str, Any] | None:
    """The story's summary columns; None when it has no articles."""
    members: list[Any] = list(connection.execute(_STORY_MEMBERS, {"story_id": story_id}))
    if not members:
        return None
    spread: Sequence[Any]
    if len(members) <= STORY_SAMPLE:  # the whole story is at hand: no aggregate query
        spread = [
            (
                row.source_id,
                row.language,
                row.duplicate_of is None,
                1,
                row.published_at,
                row.published_at,
            )
            for row in members
        ]
        originals = sum(1 for row in members if row.duplicate_of is None)
        sample = [row for row in members if row.duplicate_of is None or not originals][::-1]
    else:
        spread = connection.execute(_STORY_SPREAD, {"story_id": story_id}).all()
        originals = sum(row[3] for row in spread if row[2])
        newest = _STORY_NEWEST_ORIGINALS if originals else _STORY_NEWEST
        sample = list(connection.execute(newest, {"story_id": story_id}))[::-1]
    lead = _central(connection, sample, dim)
    found: dict[int, list[tags.Tag]] = {row.id: [] for row in sample}
    for article_id, label, score, name, key in connection.execute(
        _SAMPLE_TAGS, {"ids": list(found)}
    ):
        found[article_id].append(tags.Tag(name=name, label=label, key=key, score=score))
    return {
        "title": lead.title,
        "lead_article_id": lead.id,
        "first_published_at": min(row[4] for row in spread),
        "last_published_at": max(row[5] for row in spread),
        "article_count": originals or sum(row[3] for row in spread),
        "source_count": len({row[0] for row in spread}),
        "languages": sorted({row[1] for row in spread if row[1]}),
        "tags": [
            {"name": tag.name, "label": tag.label, "slug": tag.slug}
            for tag in tags.merge_tags(found.values())
        ],
        "merged_into": None,
        "updated_at": datetime.now(UTC),
    }


def _central(connection: Connection, sample: Sequence[Any], dim: int) -> Any:
    """The article closest to the sample's mean vector: its most representative headline."""
    if len(sample) <= 2:
        return sample[0]
    ids = [row.id for row in sample]
    stored: dict[int, bytes] = dict(connection.execute(_SAMPLE_VECTORS, {"ids": ids}).all())
    with_vectors = [row for row in sample if row.id in stored and fits(stored[row.id], dim)]
    if len(with_vectors) <= 2:
        return sample[0]
    matrix = np.stack([from_bytes(stored[row.id], dim) for row in with_vectors])
    scores = matrix @ matrix.mean(axis=0)
    return with_vectors[int(np.argmax(scores))]
