"""Keep every version of an article whose publisher edits its title or text (NewsDiffs)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tidings.db.models import Article, ArticleRevision


def text_fingerprint(title: str, body: str) -> str:
    """What a revision is about: the title and the text readers see (not dates or images)."""
    return hashlib.sha256(f"{title}\x1f{body}".encode()).hexdigest()


def record_revision(
    session: Session, article: Article, title: str, body: str, updated_at: datetime | None
) -> ArticleRevision | None:
    """Store the new version of a stored article whose title or text changed, before the
    article row is updated; None (and nothing stored) when neither changed.

    Unedited articles keep no revisions: the first edit stores the stored version as
    revision 1 (seen when the article was first fetched) and the new one as revision 2.
    """
    fingerprint = text_fingerprint(title, body)
    if fingerprint == text_fingerprint(article.title, article.body):
        return None
    latest = session.scalar(
        select(func.max(ArticleRevision.revision)).where(ArticleRevision.article_id == article.id)
    )
    if latest is None:
        session.add(
            ArticleRevision(
                article_id=article.id,
                revision=1,
                title=article.title,
                body=article.body,
                fingerprint=text_fingerprint(article.title, article.body),
                updated_at=article.updated_at,
                seen_at=article.created_at,
            )
        )
        latest = 1
    revision = ArticleRevision(
        article_id=article.id,
        revision=latest + 1,
        title=title,
        body=body,
        fingerprint=fingerprint,
        updated_at=updated_at,
        seen_at=datetime.now(UTC),
    )
    session.add(revision)
    return revision


def revisions_of(session: Session, article_id: int) -> list[ArticleRevision]:
    """An article's versions, oldest first (empty when it was never edited)."""
    return list(
        session.scalars(
            select(ArticleRevision)
            .where(ArticleRevision.article_id == article_id)
            .order_by(ArticleRevision.revision)
        )
    )


def edited_when(revision: ArticleRevision) -> datetime:
    """When a version appeared: the publisher's own time if it gives one, else when seen."""
    if revision.updated_at is not None and revision.updated_at <= revision.seen_at:
        return revision.updated_at
    return revision.seen_at


def latest_edit(session: Session, article_id: int) -> tuple[int, datetime] | None:
    """(how many versions, when the newest appeared) for an edited article, else None."""
    newest = session.scalar(
        select(ArticleRevision)
        .where(ArticleRevision.article_id == article_id)
        .order_by(ArticleRevision.revision.desc())
        .limit(1)
    )
    return None if newest is None else (newest.revision, edited_when(newest))
