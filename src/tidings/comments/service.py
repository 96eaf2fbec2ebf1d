"""Comments as services: post (once per form, rate-limited), edit, delete, report, moderate.

Who may do what is decided here, in `allowed()`, and nowhere else: the pages and the API
ask it, and the authorisation tests walk its whole matrix.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import limits
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tidings.comments.render import MAX_CHARS, render_comment
from tidings.db.models import Article, Comment, CommentReport, Story, User, UserSession
from tidings.errors import InvalidInputError, NotFoundError, TidingsError

EDIT_WINDOW = timedelta(minutes=15)
DUPLICATE_WINDOW = timedelta(minutes=2)  # the same text again this soon is the same post
USER_RATE = limits.parse("6/minute")
ADDRESS_RATE = limits.parse("20/minute")
MODERATORS = ("moderator", "admin")
ACTIONS = ("post", "edit", "delete", "report", "hide", "restore", "remove", "ban", "queue")


class ForbiddenError(TidingsError):
    """The reader may not do this (not signed in, not theirs, not a moderator, banned)."""


class CommentRateError(TidingsError):
    """Too many comments from one reader or one address."""


_limiter = limits.strategies.MovingWindowRateLimiter(limits.storage.MemoryStorage())
_limiter_lock = threading.Lock()


def allowed(user: User | None, action: str, comment: Comment | None = None) -> bool:
    """The authorisation rule for every comment action."""
    if user is None or user.banned or user.deleted:
        return False
    moderator = user.role in MODERATORS
    if action in ("post", "report"):
        return action == "post" or (comment is not None and comment.user_id != user.id)
    if action in ("hide", "restore", "remove", "ban", "queue"):
        return moderator
    if action in ("edit", "delete") and comment is not None:
        own_in_time = (
            comment.user_id == user.id
            and comment.status == "visible"
            and datetime.now(UTC) - comment.created_at <= EDIT_WINDOW
        )
        return own_in_time or (action == "delete" and moderator)
    return False


def _require(user: User | None, action: str, comment: Comment | None = None) -> User:
    if not allowed(user, action, comment):
        if user is None:
            raise ForbiddenError("sign in to do that")
        if user.banned:
            raise ForbiddenError("this account has been banned by a moderator")
        if action in ("edit", "delete") and comment is not None and comment.user_id == user.id:
            raise ForbiddenError("comments can be changed for 15 minutes after posting")
        raise ForbiddenError("you may not do that")
    assert user is not None
    return user


def _target_exists(session: Session, target_type: str, target_id: int) -> None:
    model = {"article": Article, "story": Story}.get(target_type)
    if model is None:
        raise InvalidInputError("comments are on articles or stories")
    if session.get(model, target_id) is None:
        raise NotFoundError(f"no {target_type} with id {target_id}")


def _clean_body(body: str) -> str:
    text = body.replace("\r\n", "\n").strip()
    if not text:
        raise InvalidInputError("a comment needs some text")
    if len(text) > MAX_CHARS:
        raise InvalidInputError(f"comments are limited to {MAX_CHARS:,} characters")
    return text


def _rate_check(scope: str, user: User, address: str | None) -> None:
    with _limiter_lock:
        ok = _limiter.hit(USER_RATE, scope, "user", str(user.id))
        if address:
            ok = _limiter.hit(ADDRESS_RATE, scope, "address", address) and ok
    if not ok:
        raise CommentRateError("you are commenting too fast: wait a minute and try again")


def post_comment(
    session: Session,
    user: User | None,
    target_type: str,
    target_id: int,
    body: str,
    *,
    submission_id: str,
    parent_id: int | None = None,
    address: str | None = None,
    scope: str = "",
) -> Comment:
    """A new comment, or the one this form already posted (a double click posts once)."""
    author = _require(user, "post")
    text = _clean_body(body)
    if not submission_id or len(submission_id) > 64:
        raise InvalidInputError("the comment form is incomplete: reload the page")
    earlier = session.scalar(
        select(Comment).where(Comment.user_id == author.id, Comment.submission_id == submission_id)
    )
    if earlier is not None:
        return earlier
    _target_exists(session, target_type, target_id)
    if parent_id is not None:
        parent = session.get(Comment, parent_id)
        if parent is None or (parent.target_type, parent.target_id) != (target_type, target_id):
            raise InvalidInputError("the comment replied to is not on this page")
        parent_id = parent.parent_id or parent.id  # two levels: a reply to a reply joins the thread
    recent = session.scalar(
        select(Comment).where(
            Comment.user_id == author.id, Comment.target_type == target_type,
            Comment.target_id == target_id, Comment.body == text,
            Comment.created_at > datetime.now(UTC) - DUPLICATE_WINDOW,
        )
    )  # fmt: skip
    if recent is not None:
        return recent
    _rate_check(scope, author, address)
    comment = Comment(target_type=target_type, target_id=target_id, parent_id=parent_id,
                      user_id=author.id, body=text, html=render_comment(text),
                      submission_id=submission_id, client_address=address)  # fmt: skip
    session.add(comment)
    try:
        session.flush()
    except IntegrityError:  # the same form posted twice at the same moment
        session.rollback()
        found = session.scalar(
            select(Comment).where(
                Comment.user_id == author.id, Comment.submission_id == submission_id
            )
        )
        if found is None:
            raise
        return found
    recount(session, target_type, target_id)
    return comment


def get_comment(session: Session, comment_id: int) -> Comment:
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise NotFoundError(f"no comment with id {comment_id}")
    return comment


def edit_comment(session: Session, user: User | None, comment_id: int, body: str) -> Comment:
    comment = get_comment(session, comment_id)
    _require(user, "edit", comment)
    comment.body = _clean_body(body)
    comment.html = render_comment(comment.body)
    comment.edited_at = datetime.now(UTC)
    return comment


def delete_comment(session: Session, user: User | None, comment_id: int) -> Comment:
    comment = get_comment(session, comment_id)
    _require(user, "delete", comment)
    return _set_status(session, comment, "deleted")


def report_comment(session: Session, user: User | None, comment_id: int, reason: str = "") -> None:
    comment = get_comment(session, comment_id)
    reporter = _require(user, "report", comment)
    if session.get(CommentReport, (comment.id, reporter.id)) is None:
        session.add(CommentReport(comment_id=comment.id, user_id=reporter.id, reason=reason[:500]))


def moderate(session: Session, user: User | None, comment_id: int, action: str) -> Comment:
    """hide / restore / remove a comment (moderators); reports on it are cleared."""
    comment = get_comment(session, comment_id)
    _require(user, action, comment)
    status = {"hide": "hidden", "restore": "visible", "remove": "deleted"}.get(action)
    if status is None:
        raise InvalidInputError("moderation actions are hide, restore and remove")
    session.execute(delete(CommentReport).where(CommentReport.comment_id == comment.id))
    return _set_status(session, comment, status)


def ban_user(session: Session, user: User | None, user_id: int) -> User:
    """Ban a reader: signed out, can no longer sign in or post, their comments hidden."""
    _require(user, "ban")
    target = session.get(User, user_id)
    if target is None:
        raise NotFoundError(f"no user with id {user_id}")
    if target.role in MODERATORS:
        raise ForbiddenError("moderators and admins cannot be banned; change their role first")
    target.banned = True
    session.execute(delete(UserSession).where(UserSession.user_id == target.id))
    touched = session.execute(
        select(Comment.target_type, Comment.target_id)
        .where(Comment.user_id == target.id, Comment.status == "visible").distinct()
    ).all()  # fmt: skip
    session.execute(
        update(Comment)
        .where(Comment.user_id == target.id, Comment.status == "visible")
        .values(status="hidden")
    )
    for target_type, target_id in touched:
        recount(session, target_type, target_id)
    return target


def _set_status(session: Session, comment: Comment, status: str) -> Comment:
    comment.status = status
    session.flush()
    recount(session, comment.target_type, comment.target_id)
    return comment


def recount(session: Session, target_type: str, target_id: int) -> None:
    """Keep the denormalised count of visible comments shown on listings."""
    count = session.scalar(
        select(func.count(Comment.id)).where(
            Comment.target_type == target_type, Comment.target_id == target_id,
            Comment.status == "visible",
        )
    )  # fmt: skip
    model = Article if target_type == "article" else Story
    session.execute(update(model).where(model.id == target_id).values(comment_count=count or 0))


@dataclass(slots=True)
class Thread:
    comment: Comment
    replies: list[Comment] = field(default_factory=list)


def thread(
    session: Session, target_type: str, target_id: int, viewer: User | None = None
) -> list[Thread]:
    """Top-level comments, oldest first, each with its replies; moderators also see hidden
    ones. A removed comment that has replies stays as a placeholder so the thread reads."""
    rows = session.scalars(
        select(Comment)
        .where(Comment.target_type == target_type, Comment.target_id == target_id)
        .order_by(Comment.created_at, Comment.id)
    ).all()
    moderator = viewer is not None and viewer.role in MODERATORS
    shown = [c for c in rows if c.status == "visible" or (moderator and c.status == "hidden")]
    has_replies = {c.parent_id for c in shown if c.parent_id is not None}
    threads: dict[int, Thread] = {}
    for comment in rows:
        if comment.parent_id is None and (comment in shown or comment.id in has_replies):
            threads[comment.id] = Thread(comment)
    for comment in shown:
        if comment.parent_id is not None and comment.parent_id in threads:
            threads[comment.parent_id].replies.append(comment)
    return list(threads.values())


def moderation_queue(session: Session) -> list[tuple[Comment, int]]:
    """Reported or hidden comments, most reported first, with their report counts."""
    reports = (
        select(CommentReport.comment_id, func.count().label("reports"))
        .group_by(CommentReport.comment_id)
        .subquery()
    )
    rows = session.execute(
        select(Comment, func.coalesce(reports.c.reports, 0))
        .outerjoin(reports, reports.c.comment_id == Comment.id)
        .where((reports.c.reports > 0) | (Comment.status == "hidden"))
        .order_by(func.coalesce(reports.c.reports, 0).desc(), Comment.created_at.desc())
        .limit(200)
    ).all()
    return [(comment, int(count)) for comment, count in rows]
