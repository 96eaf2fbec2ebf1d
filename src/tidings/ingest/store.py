"""Store one extracted article: insert by canonical URL, or update it in place, keeping edits."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.db import repository
from tidings.db.models import Article
from tidings.ingest.revisions import record_revision

StoreOutcome = Literal["new", "updated", "unchanged"]
_CONTENT_FIELDS = (
    "title",
    "byline",
    "authors",
    "section",
    "language",
    "lead_image",
    "captions",
    "summary",
    "body",
    "published_at",
    "updated_at",
    "enclosures",
)


@dataclass
class ArticleData:
    """An article as the pipeline hands it to storage."""

    url: str
    original_url: str
    guid: str | None
    title: str
    byline: str | None
    authors: list[str]
    section: str | None
    language: str | None
    lead_image: str | None
    captions: list[str]
    summary: str | None
    body: str
    extracted_from: str
    published_at: datetime | None  # None: neither feed nor page says; storage decides
    updated_at: datetime | None
    entry_hash: str
    enclosures: list[dict[str, object]] = field(default_factory=list)

    def content_hash(self) -> str:
        values = asdict(self)
        return content_hash({key: values[key] for key in _CONTENT_FIELDS})


def content_hash(content: dict[str, object]) -> str:
    """A fingerprint of what readers see of an article (dates compared in UTC)."""

    def plain(value: object) -> object:
        return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value

    normalized = {key: plain(value) for key, value in content.items()}
    return hashlib.sha256(json.dumps(normalized, default=str, sort_keys=True).encode()).hexdigest()


def stored_content_hash(article: Article) -> str:
    """The fingerprint of a stored row, comparable with ArticleData.content_hash()."""
    return content_hash({key: getattr(article, key) for key in _CONTENT_FIELDS})


def store_article(session: Session, source_id: int, data: ArticleData) -> StoreOutcome:
    """Insert or update; the same data stored twice changes nothing the second time."""
    article = repository.article_for_entry(session, source_id, data.guid, [data.url])
    if data.published_at is None:
        # An undated entry keeps the time it was first seen, so re-fetches do not move it.
        data.published_at = article.published_at if article else datetime.now(UTC)
    content_hash = data.content_hash()
    if article is None:
        session.add(Article(source_id=source_id, content_hash=content_hash, **_columns(data)))
        session.flush()
        return "new"
    if article.source_id != source_id:
        return "unchanged"  # another source already carries this exact URL; keep the first
    article.entry_hash = data.entry_hash
    if article.content_hash == content_hash:
        return "unchanged"
    # A changed title or text is an edit by the publisher: keep the version being replaced.
    record_revision(session, article, data.title, data.body, data.updated_at)
    columns = _columns(data)
    if article.url != data.url:
        taken = session.scalar(select(Article.id).where(Article.url == data.url))
        if taken is not None:
            columns.pop("url")  # the new URL belongs to another row: keep ours
    for key, value in columns.items():
        setattr(article, key, value)
    article.content_hash = content_hash
    article.fetched_at = datetime.now(UTC)
    return "updated"


def _columns(data: ArticleData) -> dict[str, object]:
    return asdict(data)
