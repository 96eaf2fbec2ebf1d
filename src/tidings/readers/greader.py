"""Google Reader API semantics over a reader's Tidings: stream and item ids, listings, edits.

Streams map onto what Tidings already has: the reading list is "For you", a label is one
of the reader's folders, `feed/ID` is a followed source's part of "For you", `starred` is
saved for later and `read` the read marks. Read and saved state go through the readers
service, so the site, its API and Google Reader clients share one state.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, false, func, not_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from tidings.comments.service import ForbiddenError
from tidings.config import Settings
from tidings.db import repository
from tidings.db.models import Article, Follow, Source, User
from tidings.db.session import Database
from tidings.errors import InvalidInputError, NotFoundError
from tidings.ingest.sources import add_source
from tidings.readers import service as readers

STATE_PREFIX = "user/-/state/com.google/"
LABEL_PREFIX = "user/-/label/"
FEED_PREFIX = "feed/"
ITEM_PREFIX = "tag:google.com,2005:reader/item/"
# articles.id is a 32-bit INTEGER on PostgreSQL: a larger item id (16 hex digits allow 2**64)
# names no article, and binding it would fail the query ("integer out of range").
MAX_ARTICLE_ID = 2**31 - 1
READING_LIST = STATE_PREFIX + "reading-list"
STARRED = STATE_PREFIX + "starred"
READ = STATE_PREFIX + "read"
# States clients send that Tidings has no use for: as tags they change nothing, as streams
# they are empty.
IGNORED_STATES = frozenset(
    {"broadcast", "broadcast-friends", "like", "tracking-kept-unread", "tracking-body-link-used",
     "tracking-emailed", "tracking-item-link-used", "tracking-mobile-read", "fresh"}
)  # fmt: skip
_USER_STREAM = re.compile(r"^user/[^/]+/(state/com\.google|label)/(.+)$")


class StreamError(InvalidInputError):
    """A stream id that is not one of feed/…, user/-/label/… or user/-/state/com.google/…."""


@dataclass(frozen=True, slots=True)
class Stream:
    """A parsed stream id: kind is "state", "label" or "feed"; name is the rest."""

    kind: str
    name: str

    @property
    def id(self) -> str:
        prefix = {"state": STATE_PREFIX, "label": LABEL_PREFIX, "feed": FEED_PREFIX}[self.kind]
        return prefix + self.name


def parse_stream(stream_id: str) -> Stream:
    """`user/-/state/com.google/read`, `user/123/label/News`, `feed/12`, `feed/https://…`."""
    text = stream_id.strip()
    if text.startswith(FEED_PREFIX) and len(text) > len(FEED_PREFIX):
        return Stream("feed", text[len(FEED_PREFIX) :])
    found = _USER_STREAM.match(text)
    if found:
        return Stream("label" if found.group(1) == "label" else "state", found.group(2))
    raise StreamError(
        f"unknown stream {stream_id!r}: use feed/ID, user/-/label/FOLDER or "
        "user/-/state/com.google/(reading-list|starred|read)"
    )


def item_id(article_id: int) -> str:
    """The long form of an item id: `tag:google.com,2005:reader/item/` and 16 hex digits."""
    return f"{ITEM_PREFIX}{article_id:016x}"


def parse_item_id(text: str) -> int:
    """An article id from an item id in long form (hex), 16 bare hex digits, or decimal."""
    value = text.strip()
    try:
        if value.startswith(ITEM_PREFIX):
            return int(value[len(ITEM_PREFIX) :], 16)
        if len(value) == 16:
            return int(value, 16)
        if value.isdigit():
            return int(value)
    except ValueError:
        pass
    raise InvalidInputError(
        f"not an item id: {text!r} (use tag:google.com,2005:reader/item/<16 hex digits> "
        "or a decimal id)"
    )


def source_of(session: Session, stream: Stream) -> Source:
    """The source a feed stream names, by id (`feed/12`) or feed URL (`feed/https://…`)."""
    if stream.kind != "feed":
        raise StreamError(f"{stream.id} is not a feed: use feed/ID or feed/URL")
    found = (
        session.get(Source, int(stream.name))
        if stream.name.isdigit()
        else repository.source_by_feed_url(session, stream.name)
    )
    if found is None:
        raise NotFoundError(f"no source {stream.name!r}: subscribe to it first")
    return found


def _condition(session: Session, user: User, stream: Stream) -> ColumnElement[bool]:
    """The articles a stream holds for this reader (an SQL condition)."""
    if stream.kind == "feed":
        source = source_of(session, stream)
        return and_(Article.source_id == source.id, readers.in_for_you(session, user))
    if stream.kind == "label":
        return readers.in_for_you(session, user, stream.name)
    if stream.name == "reading-list":
        return readers.in_for_you(session, user)
    if stream.name == "starred":
        return readers.saved_by(user)
    if stream.name == "read":
        return not_(readers.unread_by(user))
    if stream.name == "kept-unread":
        return and_(readers.in_for_you(session, user), readers.unread_by(user))
    if stream.name in IGNORED_STATES:
        return false()
    raise StreamError(f"unknown state stream {stream.id!r}")


@dataclass(frozen=True)
class Listing:
    """What a client asks of a stream: filters (it/xt), time bounds (ot/nt), order, page."""

    stream: Stream
    include: tuple[Stream, ...] = ()
    exclude: tuple[Stream, ...] = ()
    newer_than: datetime | None = None
    older_than: datetime | None = None
    oldest_first: bool = False
    limit: int = 20
    continuation: str | None = None


def list_stream(session: Session, user: User, listing: Listing) -> tuple[list[Article], str | None]:
    """One page of a stream, newest first (or oldest), and the continuation after it."""
    conditions = [_condition(session, user, listing.stream)]
    conditions += [_condition(session, user, stream) for stream in listing.include]
    conditions += [not_(_condition(session, user, stream)) for stream in listing.exclude]
    if listing.newer_than is not None:
        conditions.append(Article.published_at > listing.newer_than)
    if listing.older_than is not None:
        conditions.append(Article.published_at < listing.older_than)
    query = (
        select(Article)
        .options(joinedload(Article.source), selectinload(Article.tags))
        .where(*conditions)
    )
    cursor = repository.Cursor.decode(listing.continuation) if listing.continuation else None
    rows, after = repository.keyset_page(
        session, query, Article.published_at, Article.id, listing.limit, cursor,
        ascending=listing.oldest_first,
    )  # fmt: skip
    return rows, after.encode() if after else None


def articles_by_id(session: Session, article_ids: Iterable[int]) -> list[Article]:
    """These articles in the order asked (each once; unknown ids left out)."""
    wanted = [i for i in dict.fromkeys(article_ids) if 0 < i <= MAX_ARTICLE_ID]
    query = (
        select(Article)
        .options(joinedload(Article.source), selectinload(Article.tags))
        .where(Article.id.in_(wanted))
    )
    found = {article.id: article for article in session.scalars(query).unique()}
    return [found[article_id] for article_id in wanted if article_id in found]


@dataclass(frozen=True)
class ItemStates:
    """The reader's side of a page of articles: read, saved, and the folder of each source."""

    read: set[int] = field(default_factory=set)
    saved: set[int] = field(default_factory=set)
    folders: dict[int, str] = field(default_factory=dict)


def item_states(session: Session, user: User, articles: list[Article]) -> ItemStates:
    return ItemStates(
        readers.read_ids(session, user, articles),
        readers.saved_ids(session, user, articles),
        source_folders(session, user),
    )


def source_folders(session: Session, user: User) -> dict[int, str]:
    """Followed source id → the folder it is in ("" for none)."""
    rows = session.execute(
        select(Follow.target_id, Follow.folder).where(
            Follow.user_id == user.id, Follow.kind == "source"
        )
    )
    return {row[0]: row[1] for row in rows}


def subscriptions(session: Session, user: User) -> list[tuple[Source, str]]:
    """The sources the reader follows, with the folder of each, by folder and name."""
    rows = session.execute(
        select(Source, Follow.folder)
        .join(Follow, and_(Follow.kind == "source", Follow.target_id == Source.id))
        .where(Follow.user_id == user.id)
    ).all()
    found = [(source, folder) for source, folder in rows]
    return sorted(found, key=lambda row: (row[1].lower(), row[0].name.lower(), row[0].id))


def folder_names(session: Session, user: User) -> list[str]:
    """The reader's named folders (the unnamed one is no label)."""
    names = session.scalars(
        select(Follow.folder).where(Follow.user_id == user.id, Follow.folder != "").distinct()
    )
    return sorted(names, key=str.lower)


@dataclass(frozen=True, slots=True)
class UnreadCount:
    stream_id: str
    count: int
    newest: datetime | None


def unread_counts(session: Session, user: User) -> list[UnreadCount]:
    """Unread articles per followed source, per folder and in the reading list."""
    unread = and_(readers.in_for_you(session, user), readers.unread_by(user))
    per_source = session.execute(
        select(Article.source_id, func.count(Article.id), func.max(Article.published_at))
        .where(unread, Article.source_id.in_(list(source_folders(session, user))))
        .group_by(Article.source_id)
    )
    counts = [
        UnreadCount(f"{FEED_PREFIX}{source_id}", n, newest) for source_id, n, newest in per_source
    ]
    for name in folder_names(session, user):
        in_folder = and_(readers.in_for_you(session, user, name), readers.unread_by(user))
        counts.append(UnreadCount(LABEL_PREFIX + name, *_count(session, in_folder)))
    counts.append(UnreadCount(READING_LIST, *_count(session, unread)))
    return counts


def _count(session: Session, condition: ColumnElement[bool]) -> tuple[int, datetime | None]:
    query = select(func.count(Article.id), func.max(Article.published_at)).where(condition)
    count, newest = session.execute(query).one()
    return int(count or 0), newest


def _wanted(add: list[Stream], remove: list[Stream]) -> tuple[bool | None, bool | None]:
    """(read, starred) as the tags to add and remove ask (None: leave as is)."""
    read: bool | None = None
    starred: bool | None = None
    changes = [(stream, True) for stream in add] + [(stream, False) for stream in remove]
    for stream, on in changes:
        if stream.kind != "state":
            raise InvalidInputError(
                f"cannot tag articles with {stream.id}: Tidings keeps folders for "
                "subscriptions (subscription/edit), not labels on articles"
            )
        if stream.name in ("read", "kept-unread"):
            value = on if stream.name == "read" else not on
            if read is not None and read != value:
                raise InvalidInputError("the request both marks the items read and unread")
            read = value
        elif stream.name == "starred":
            if starred is not None and starred != on:
                raise InvalidInputError("the request both stars and unstars the items")
            starred = on
        elif stream.name not in IGNORED_STATES:
            raise StreamError(f"unknown state {stream.id!r}")
    return read, starred


def edit_tags(
    session: Session, user: User, article_ids: list[int], add: list[Stream], remove: list[Stream]
) -> None:
    """Mark items read or unread and star (save) or unstar them."""
    if not article_ids:
        raise InvalidInputError("no items: send one or more i=<item id>")
    read, starred = _wanted(add, remove)
    for article_id in dict.fromkeys(article_ids):
        if not 0 < article_id <= MAX_ARTICLE_ID:
            continue  # no such article
        if read is not None:
            readers.mark_read(session, user, article_id, read)
        if starred is not None:
            readers.save(session, user, article_id, starred)


def mark_stream_read(
    session: Session, user: User, stream: Stream, before: datetime | None = None
) -> int:
    """Mark a stream's unread items read, only those Tidings had by `before` if given."""
    condition = _condition(session, user, stream)
    if before is not None:
        condition = and_(condition, Article.created_at <= before)
    return readers.mark_read_where(session, user, condition)


def subscribe(
    database: Database,
    settings: Settings,
    user: User,
    target: str,
    folder: str = "",
    *,
    may_add_sources: bool,
) -> Source:
    """Follow a source by stream id (`feed/12`, `feed/URL`) or URL, into `folder`.

    A URL Tidings does not follow yet becomes a new source (as the sources API adds it, feed
    discovery included), which only admins may do once an admin exists.
    """
    stream = parse_stream(target) if target.startswith(FEED_PREFIX) else Stream("feed", target)
    with database.session() as session:
        try:
            source_id = source_of(session, stream).id
        except NotFoundError:
            if stream.name.isdigit():
                raise
            source_id = None
    if source_id is None:
        if not may_add_sources:
            raise ForbiddenError(
                f"{stream.name} is not a Tidings source yet, and only an admin can add "
                "sources: ask one to add it, then subscribe"
            )
        source_id = add_source(database, settings, stream.name).source.id
    with database.session() as session:
        readers.follow(session, user, "source", source_id, folder)
        source = session.get(Source, source_id)
        assert source is not None
        return source


def move_subscription(
    session: Session, user: User, stream: Stream, add: Stream | None, remove: Stream | None
) -> None:
    """Put a followed source into the folder of label `add`, or out of label `remove`."""
    source = source_of(session, stream)
    for label in (add, remove):
        if label is not None and label.kind != "label":
            raise InvalidInputError(f"folders are labels (user/-/label/NAME), not {label.id}")
    current = source_folders(session, user).get(source.id)
    if add is not None:
        readers.follow(session, user, "source", source.id, add.name)
    elif remove is not None and current == remove.name:
        readers.follow(session, user, "source", source.id, "")


def unsubscribe(session: Session, user: User, stream: Stream) -> None:
    """Stop following a source (the source and its articles stay in Tidings)."""
    readers.unfollow(session, user, "source", source_of(session, stream).id)


def rename_label(session: Session, user: User, label: Stream, new_name: str) -> int:
    """Rename a folder ("" empties it: its follows move to no folder)."""
    if label.kind != "label":
        raise InvalidInputError(f"only folders (user/-/label/NAME) can be renamed, not {label.id}")
    return readers.rename_folder(session, user, label.name, new_name)
