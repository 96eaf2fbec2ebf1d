"""Follows (sources, hashtags, stories, in folders), "For you", saved and read articles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, joinedload, selectinload

from tidings.db import repository
from tidings.db.models import (
    Article,
    ArticleTag,
    Follow,
    Mute,
    ReadArticle,
    SavedArticle,
    Source,
    Story,
    Tag,
    User,
)
from tidings.errors import InvalidInputError, NotFoundError

KINDS = {"source": Source, "tag": Tag, "story": Story}


@dataclass(frozen=True, slots=True)
class Followed:
    kind: str
    target_id: int
    name: str
    href: str
    folder: str


def follow(session: Session, user: User, kind: str, target_id: int, folder: str = "") -> None:
    """Follow (or move to `folder`) a source, hashtag or story."""
    model = KINDS.get(kind)
    if model is None:
        raise InvalidInputError("follow a source, a tag or a story")
    if session.get(model, target_id) is None:
        raise NotFoundError(f"no {kind} with id {target_id}")
    folder = " ".join(folder.split())[:100]
    row = session.get(Follow, (user.id, kind, target_id))
    if row is None:
        session.add(Follow(user_id=user.id, kind=kind, target_id=target_id, folder=folder))
    else:
        row.folder = folder


def unfollow(session: Session, user: User, kind: str, target_id: int) -> None:
    session.execute(
        delete(Follow).where(
            Follow.user_id == user.id, Follow.kind == kind, Follow.target_id == target_id
        )
    )


def is_following(session: Session, user: User | None, kind: str, target_id: int) -> bool:
    return user is not None and session.get(Follow, (user.id, kind, target_id)) is not None


def follows(session: Session, user: User) -> list[Followed]:
    """Everything the reader follows, by folder and name."""
    rows = session.scalars(select(Follow).where(Follow.user_id == user.id)).all()
    found: list[Followed] = []
    for row in rows:
        target = session.get(KINDS[row.kind], row.target_id)
        if target is None:
            continue
        if isinstance(target, Source):
            name, href = target.name, f"/sources/{target.id}"
        elif isinstance(target, Tag):
            name, href = target.name, f"/tags/{target.slug}"
        else:
            assert isinstance(target, Story)
            name, href = target.title, f"/stories/{target.id}"
        found.append(Followed(row.kind, row.target_id, name, href, row.folder))
    return sorted(found, key=lambda item: (item.folder.lower(), item.kind, item.name.lower()))


def _followed(user: User, folder: str | None) -> Select[str, int]:
    query = select(Follow.kind, Follow.target_id).where(Follow.user_id == user.id)
    if folder is not None:
        query = query.where(Follow.folder == folder)
    return query


def _for_you_filter(session: Session, user: User, folder: str | None) -> ColumnElement[bool]:
    targets = session.execute(_followed(user, folder)).all()
    sources = [t for kind, t in targets if kind == "source"]
    tags = [t for kind, t in targets if kind == "tag"]
    story_ids = [t for kind, t in targets if kind == "story"]
    tagged = select(ArticleTag.article_id).where(ArticleTag.tag_id.in_(tags))
    followed = or_(
        Article.source_id.in_(sources), Article.id.in_(tagged), Article.story_id.in_(story_ids)
    )
    keywords, muted_sources = muted(session, user)
    title = func.lower(Article.title)
    return and_(
        followed,
        Article.source_id.not_in(muted_sources),
        *[~title.contains(keyword.lower(), autoescape=True) for keyword in keywords],
    )


def muted(session: Session, user: User) -> tuple[list[str], list[int]]:
    """The reader's muted headline keywords and source ids."""
    rows = session.execute(select(Mute.kind, Mute.value).where(Mute.user_id == user.id)).all()
    keywords = sorted(value for kind, value in rows if kind == "keyword")
    return keywords, [int(value) for kind, value in rows if kind == "source"]


def set_preferences(
    session: Session, user: User, *, language: str | None, keywords: list[str]
) -> None:
    """The preferred language and the muted keywords (replacing the old ones)."""
    row = session.get(User, user.id)
    assert row is not None
    row.language = language or None
    session.execute(delete(Mute).where(Mute.user_id == user.id, Mute.kind == "keyword"))
    cleaned = {" ".join(k.split())[:200] for k in keywords if k.strip()}
    session.add_all(Mute(user_id=user.id, kind="keyword", value=k) for k in sorted(cleaned))


def set_interface(
    session: Session, user: User, *, locale: str | None, time_zone: str | None
) -> None:
    """The reader's interface language and time zone (None: the browser's language, UTC)."""
    row = session.get(User, user.id)
    assert row is not None
    row.locale = locale or None
    row.time_zone = time_zone or None


def mute_source(session: Session, user: User, source_id: int, mute: bool = True) -> None:
    if session.get(Source, source_id) is None:
        raise NotFoundError(f"no source with id {source_id}")
    row = session.get(Mute, (user.id, "source", str(source_id)))
    if mute and row is None:
        session.add(Mute(user_id=user.id, kind="source", value=str(source_id)))
    elif not mute and row is not None:
        session.delete(row)


def unread_by(user: User) -> ColumnElement[bool]:
    """Articles the reader has not read (an SQL condition)."""
    return ~exists().where(ReadArticle.user_id == user.id, ReadArticle.article_id == Article.id)


def saved_by(user: User) -> ColumnElement[bool]:
    """Articles the reader saved for later (an SQL condition)."""
    return exists().where(SavedArticle.user_id == user.id, SavedArticle.article_id == Article.id)


def in_for_you(session: Session, user: User, folder: str | None = None) -> ColumnElement[bool]:
    """Articles of "For you" (or of one folder): originals of what the reader follows, less
    what they muted (an SQL condition)."""
    return and_(Article.duplicate_of.is_(None), _for_you_filter(session, user, folder))


def for_you(
    session: Session,
    user: User,
    *,
    limit: int,
    cursor: repository.Cursor | None = None,
    folder: str | None = None,
    unread_only: bool = False,
) -> tuple[list[Article], repository.Cursor | None]:
    """Articles from what the reader follows, newest first (originals only)."""
    query = (
        select(Article)
        .options(joinedload(Article.source), selectinload(Article.tags))
        .where(in_for_you(session, user, folder))
    )
    if unread_only:
        query = query.where(unread_by(user))
    return repository.keyset_page(session, query, Article.published_at, Article.id, limit, cursor)


def unread_count(session: Session, user: User, folder: str | None = None) -> int:
    query = select(func.count(Article.id)).where(in_for_you(session, user, folder), unread_by(user))
    return int(session.scalar(query) or 0)


def folders(session: Session, user: User) -> list[tuple[str, int]]:
    """The reader's folders with their unread counts ("" is the unnamed one)."""
    names = session.scalars(
        select(Follow.folder).where(Follow.user_id == user.id).distinct().order_by(Follow.folder)
    ).all()
    return [(name, unread_count(session, user, name)) for name in names]


def read_ids(session: Session, user: User | None, articles: list[Article]) -> set[int]:
    """Which of these articles the reader has read."""
    return _marked_ids(session, ReadArticle, user, articles)


def saved_ids(session: Session, user: User | None, articles: list[Article]) -> set[int]:
    """Which of these articles the reader has saved."""
    return _marked_ids(session, SavedArticle, user, articles)


def _marked_ids(
    session: Session,
    mark: type[ReadArticle] | type[SavedArticle],
    user: User | None,
    articles: list[Article],
) -> set[int]:
    if user is None or not articles:
        return set()
    ids = [article.id for article in articles]
    return set(
        session.scalars(
            select(mark.article_id).where(mark.user_id == user.id, mark.article_id.in_(ids))
        )
    )


def rename_folder(session: Session, user: User, old: str, new: str) -> int:
    """Move everything in folder `old` to `new` ("" is the unnamed one); how many follows."""
    result = session.execute(
        update(Follow)
        .where(Follow.user_id == user.id, Follow.folder == old)
        .values(folder=" ".join(new.split())[:100])
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _mark(
    session: Session,
    model: type[ReadArticle] | type[SavedArticle],
    user: User,
    article_id: int,
    on: bool,
) -> None:
    repository.get_article(session, article_id)
    row = session.get(model, (user.id, article_id))
    if on and row is None:
        session.add(model(user_id=user.id, article_id=article_id))
    elif not on and row is not None:
        session.delete(row)


def mark_read(session: Session, user: User, article_id: int, read: bool = True) -> None:
    _mark(session, ReadArticle, user, article_id, read)


def mark_all_read(session: Session, user: User, folder: str | None = None) -> int:
    """Mark every unread article of "For you" (or of one folder) read; how many."""
    return mark_read_where(session, user, in_for_you(session, user, folder))


def mark_read_where(session: Session, user: User, condition: ColumnElement[bool]) -> int:
    """Mark every unread article that meets `condition` read, in one statement; how many."""
    unread = select(literal(user.id), Article.id, literal(datetime.now(UTC))).where(
        condition, unread_by(user)
    )
    result = session.execute(
        insert(ReadArticle).from_select(["user_id", "article_id", "read_at"], unread)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def save(session: Session, user: User, article_id: int, saved: bool = True) -> None:
    _mark(session, SavedArticle, user, article_id, saved)


def is_saved(session: Session, user: User | None, article_id: int) -> bool:
    return user is not None and session.get(SavedArticle, (user.id, article_id)) is not None


def saved_articles(
    session: Session, user: User, *, limit: int, cursor: repository.Cursor | None = None
) -> tuple[list[Article], repository.Cursor | None]:
    query = (
        select(Article)
        .options(joinedload(Article.source), selectinload(Article.tags))
        .join(SavedArticle, SavedArticle.article_id == Article.id)
        .where(SavedArticle.user_id == user.id)
    )
    return repository.keyset_page(session, query, Article.published_at, Article.id, limit, cursor)
