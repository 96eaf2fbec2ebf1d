"""Queries shared by the pipeline and the web layer (portable SQL only)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, joinedload, selectinload

from tidings.db.models import Article, ArticleTag, FetchLog, Meta, Source, Story, Tag
from tidings.errors import InvalidInputError, NotFoundError


def get_meta(session: Session, key: str) -> str | None:
    row = session.get(Meta, key)
    return row.value if row else None


def set_meta(session: Session, key: str, value: str) -> None:
    row = session.get(Meta, key)
    if row is None:
        session.add(Meta(key=key, value=value))
    else:
        row.value = value


def delete_meta(session: Session, key: str) -> None:
    row = session.get(Meta, key)
    if row is not None:
        session.delete(row)


def get_source(session: Session, source_id: int) -> Source:
    source = session.get(Source, source_id)
    if source is None:
        raise NotFoundError(f"no source with id {source_id}")
    return source


def find_source(session: Session, ref: str) -> Source:
    """A source by id, feed URL or (case-insensitive) name."""
    if ref.isdigit():
        return get_source(session, int(ref))
    source = session.scalar(select(Source).where(Source.feed_url == ref))
    if source is None:
        source = session.scalar(select(Source).where(func.lower(Source.name) == ref.lower()))
    if source is None:
        raise NotFoundError(f"no source matches {ref!r} (give its id, feed URL or name)")
    return source


def source_by_feed_url(session: Session, feed_url: str) -> Source | None:
    return session.scalar(select(Source).where(Source.feed_url == feed_url))


FLAG_AFTER = timedelta(days=2)  # a source failing this long is flagged


@dataclass
class SourceRow:
    """A source with the health figures the sources pages show."""

    source: Source
    article_count: int
    articles_per_day: float = 0.0
    avg_fetch_ms: int | None = None

    @property
    def failing_since(self) -> datetime | None:
        """When the source last worked (or was added), if it has been failing since."""
        if self.source.status != "error":
            return None
        return self.source.last_success_at or self.source.created_at

    @property
    def flagged(self) -> bool:
        since = self.failing_since
        return since is not None and datetime.now(UTC) - since > FLAG_AFTER


def list_sources(session: Session, source_id: int | None = None) -> list[SourceRow]:
    """Every source (or one) with its article count, articles per day and average fetch time."""
    counts = (
        select(Article.source_id, func.count(Article.id).label("n"))
        .group_by(Article.source_id)
        .subquery()
    )
    query = (
        select(Source, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.source_id == Source.id)
        .order_by(Source.name, Source.id)
    )
    if source_id is not None:
        query = query.where(Source.id == source_id)
    rows = session.execute(query).all()
    week_ago = datetime.now(UTC) - timedelta(days=7)
    recent = dict(
        session.execute(
            select(Article.source_id, func.count(Article.id))
            .where(Article.published_at >= week_ago)
            .group_by(Article.source_id)
        ).all()
    )
    durations: dict[int, list[float]] = {}
    for source_id, started, finished in session.execute(
        select(FetchLog.source_id, FetchLog.started_at, FetchLog.finished_at).where(
            FetchLog.started_at >= week_ago
        )
    ):
        durations.setdefault(source_id, []).append((finished - started).total_seconds())
    result = []
    for source, count in rows:
        times = durations.get(source.id)
        result.append(
            SourceRow(
                source,
                int(count),
                articles_per_day=round(int(recent.get(source.id, 0)) / 7, 1),
                avg_fetch_ms=int(1000 * sum(times) / len(times)) if times else None,
            )
        )
    return result


def sources_by_name(session: Session) -> list[Source]:
    """Every source, by name (for pickers: no per-source counts)."""
    return list(session.scalars(select(Source).order_by(Source.name, Source.id)))


def due_source_ids(session: Session, now: datetime) -> list[int]:
    query = select(Source.id).where(
        Source.paused.is_(False),
        or_(Source.next_fetch_at.is_(None), Source.next_fetch_at <= now),
    )
    return list(session.scalars(query.order_by(Source.next_fetch_at, Source.id)))


def last_fetches(session: Session, source_id: int, limit: int = 10) -> list[FetchLog]:
    query = (
        select(FetchLog)
        .where(FetchLog.source_id == source_id)
        .order_by(FetchLog.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def article_for_entry(
    session: Session, source_id: int, guid: str | None, urls: list[str]
) -> Article | None:
    """The stored article for a feed entry: same canonical URL, else same source and GUID.

    URL first, so an entry whose GUID changes on every fetch is still the same article; the
    GUID then catches an article that moved to a new URL.
    """
    article = None
    if urls:
        article = session.scalar(select(Article).where(Article.url.in_(urls)).limit(1))
    if article is None and guid:
        article = session.scalar(
            select(Article).where(Article.source_id == source_id, Article.guid == guid).limit(1)
        )
    return article


@dataclass
class KnownEntries:
    """Stored entry fingerprints by canonical URL and by GUID."""

    by_url: dict[str, str]
    by_guid: dict[str, str]


def entry_hashes(
    session: Session, source_id: int, urls: list[str], guids: list[str], chunk: int = 500
) -> KnownEntries:
    """What a refresh needs to skip unchanged entries, in a few queries for any feed size."""
    known = KnownEntries({}, {})
    for start in range(0, len(urls), chunk):
        rows = session.execute(
            select(Article.url, Article.entry_hash).where(
                Article.url.in_(urls[start : start + chunk])
            )
        )
        known.by_url.update((url, fingerprint) for url, fingerprint in rows)
    for start in range(0, len(guids), chunk):
        rows = session.execute(
            select(Article.guid, Article.entry_hash).where(
                Article.source_id == source_id, Article.guid.in_(guids[start : start + chunk])
            )
        )
        known.by_guid.update((guid, fingerprint) for guid, fingerprint in rows if guid)
    return known


def recent_articles(session: Session, source_id: int, limit: int) -> list[Article]:
    query = (
        select(Article)
        .where(Article.source_id == source_id)
        .order_by(Article.published_at.desc(), Article.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def get_article(session: Session, article_id: int) -> Article:
    article = session.scalar(
        select(Article)
        .options(joinedload(Article.source), selectinload(Article.tags))
        .where(Article.id == article_id)
    )
    if article is None:
        raise NotFoundError(f"no article with id {article_id}")
    return article


@dataclass(frozen=True)
class Cursor:
    """Keyset position in the (published_at DESC, id DESC) order."""

    published_at: datetime
    id: int

    def encode(self) -> str:
        raw = json.dumps([self.published_at.isoformat(), self.id]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        try:
            padded = value + "=" * (-len(value) % 4)
            published, article_id = json.loads(base64.urlsafe_b64decode(padded))
            return cls(datetime.fromisoformat(published), int(article_id))
        except (ValueError, TypeError, binascii.Error) as error:
            raise InvalidInputError(f"invalid cursor {value!r}") from error


def list_articles(
    session: Session,
    *,
    limit: int,
    cursor: Cursor | None = None,
    source_id: int | None = None,
    tag_id: int | None = None,
    originals_only: bool = False,
) -> tuple[list[Article], Cursor | None]:
    """A page of articles, newest first, with the cursor for the next page (None at the end).

    `originals_only` leaves out syndicated copies and re-posts (shown under their original).
    """
    query = _listing(session, source_id, tag_id, originals_only)
    return keyset_page(session, query, Article.published_at, Article.id, limit, cursor)


def _listing(
    session: Session, source_id: int | None, tag_id: int | None, originals_only: bool
) -> Select[Article]:
    query = select(Article).options(joinedload(Article.source), selectinload(Article.tags))
    if source_id is not None:
        query = query.where(Article.source_id == source_id)
    if tag_id is not None:
        query = where_tagged(session, query, tag_id)
    if originals_only:
        query = query.where(Article.duplicate_of.is_(None))
    return query


@dataclass
class ArticleWindow:
    """A page of a listing, newest first, with the positions of the pages either side."""

    articles: list[Article]
    older: Cursor | None  # ?cursor=: the page after this one (None at the end)
    newer: Cursor | None  # ?before=: the page before this one (None at the top)


def article_window(
    session: Session,
    *,
    limit: int,
    cursor: Cursor | None = None,
    before: Cursor | None = None,
    source_id: int | None = None,
    tag_id: int | None = None,
    originals_only: bool = False,
) -> ArticleWindow:
    """The page of articles after `cursor` (older), or the one just before `before` (newer),
    for pages with "Older" and "Newer" links; keyset both ways."""
    query = _listing(session, source_id, tag_id, originals_only)
    moment, key = Article.published_at, Article.id
    if before is not None:
        rows, more = keyset_page(session, query, moment, key, limit, before, ascending=True)
        articles = rows[::-1]
        older = _position(articles[-1]) if articles else None
        return ArticleWindow(articles, older, _position(articles[0]) if more else None)
    articles, older = keyset_page(session, query, moment, key, limit, cursor)
    if cursor is None:
        return ArticleWindow(articles, older, None)
    return ArticleWindow(articles, older, _position(articles[0]) if articles else cursor)


def _position(article: Article) -> Cursor:
    return Cursor(article.published_at, article.id)


# A hashtag on more articles than this is "popular": its newest articles are found by walking
# all articles newest first (a popular tag turns up within a few hundred); a rarer tag's are
# found from the tag's own index entries, then sorted (a few thousand at most).
POPULAR_TAG = 2_000


def where_tagged(session: Session, query: Select[Article], tag_id: int) -> Select[Article]:
    """`query` narrowed to articles with the hashtag, in the plan that stays fast for the
    tag's size (Tag.article_count, kept by enrichment): either way the cost of a page does
    not grow with the store."""
    tag = session.get(Tag, tag_id)
    if tag is not None and tag.article_count > POPULAR_TAG:
        tagged = select(ArticleTag.article_id).where(
            ArticleTag.article_id == Article.id, ArticleTag.tag_id == tag_id
        )
        return query.where(tagged.exists())
    return query.join(ArticleTag, ArticleTag.article_id == Article.id).where(
        ArticleTag.tag_id == tag_id
    )


Row = TypeVar("Row", Article, Story)


def keyset_page(
    session: Session,
    query: Select[Row],
    moment: InstrumentedAttribute[datetime],
    key: InstrumentedAttribute[int],
    limit: int,
    cursor: Cursor | None,
    *,
    ascending: bool = False,
) -> tuple[list[Row], Cursor | None]:
    """One page of `query` in (moment DESC, key DESC) order (ASC with `ascending`), and the
    cursor after it.

    Keyset, not OFFSET: every page costs the same however deep a program reads.
    """
    if cursor is not None and ascending:
        query = query.where(
            or_(moment > cursor.published_at, and_(moment == cursor.published_at, key > cursor.id))
        )
    elif cursor is not None:
        query = query.where(
            or_(moment < cursor.published_at, and_(moment == cursor.published_at, key < cursor.id))
        )
    order = (moment.asc(), key.asc()) if ascending else (moment.desc(), key.desc())
    rows = list(session.scalars(query.order_by(*order).limit(limit + 1)).unique())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, Cursor(getattr(rows[-1], moment.key), getattr(rows[-1], key.key))


def published_since(session: Session, source_id: int, since: datetime) -> int:
    query = select(func.count(Article.id)).where(
        Article.source_id == source_id, Article.published_at >= since
    )
    return int(session.scalar(query) or 0)


def count_articles(session: Session, source_id: int | None = None) -> int:
    query = select(func.count(Article.id))
    if source_id is not None:
        query = query.where(Article.source_id == source_id)
    return int(session.scalar(query) or 0)


def recount_tags(session: Session) -> None:
    """Recount every tag's articles (Tag.article_count), after articles were deleted in bulk;
    enrichment keeps the counts current article by article."""
    counted = (
        select(func.count())
        .select_from(ArticleTag)
        .where(ArticleTag.tag_id == Tag.id)
        .scalar_subquery()
    )
    session.execute(
        update(Tag).values(article_count=counted).execution_options(synchronize_session=False)
    )


def copy_group(original_id: int) -> ColumnElement[bool]:
    """An original and its syndicated copies / re-posts (copies point at the original)."""
    return or_(Article.id == original_id, Article.duplicate_of == original_id)


def copies_of(session: Session, article_ids: list[int]) -> dict[int, list[Article]]:
    """The syndicated copies and re-posts of each article, earliest first (one query)."""
    found: dict[int, list[Article]] = {}
    if not article_ids:
        return found
    query = (
        select(Article)
        .options(joinedload(Article.source))
        .where(Article.duplicate_of.in_(article_ids))
        .order_by(Article.published_at, Article.id)
    )
    for copy in session.scalars(query):
        found.setdefault(copy.duplicate_of or 0, []).append(copy)
    return found


def get_tag(session: Session, slug: str) -> Tag:
    """The tag shown as #slug (case-insensitive); the most used one if spellings collide."""
    slug = slug.lstrip("#")
    order = (Tag.article_count.desc(), Tag.id)
    tag = session.scalar(select(Tag).where(Tag.slug == slug).order_by(*order).limit(1))
    if tag is None:  # a hand-typed URL in other letter case: slower, but found
        query = select(Tag).where(func.lower(Tag.slug) == slug.lower())
        tag = session.scalar(query.order_by(*order).limit(1))
    if tag is None:
        raise NotFoundError(f"no hashtag #{slug}")
    return tag


def list_tags(
    session: Session, *, limit: int, after: int | None = None
) -> tuple[list[Tag], int | None]:
    """Tags in id order (keyset by id), for programs that read them all."""
    query = select(Tag).where(Tag.article_count > 0).order_by(Tag.id).limit(limit + 1)
    if after is not None:
        query = query.where(Tag.id > after)
    tags = list(session.scalars(query))
    if len(tags) > limit:
        return tags[:limit], tags[limit - 1].id
    return tags, None
