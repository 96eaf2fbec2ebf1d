"""SQLite search index: a new article's hashtags are indexed once, not once per tag

0012's triggers on article_tags rewrite the article's whole FTS5 row (title and body
tokenised again, twice) for every tag inserted or deleted: the first enrichment of an article
writing six tags rewrote it six times, ~2 ms per article. Now they skip articles never
enriched, and recording the first `enriched_at` (which enrichment does after writing the
tags, in the same transaction) indexes the final set once. Tags added to an enriched
article still reach the index at once. PostgreSQL keeps its row triggers.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every statement below is assembled from the fixed fragments in this file (no input).
# ruff: noqa: S608
_SQLITE_TAGS = (
    "(SELECT group_concat(tidings_cjk(tags.name || ' ' || tags.label), ' ') "
    "FROM article_tags JOIN tags ON tags.id = article_tags.tag_id "
    "WHERE article_tags.article_id = {article})"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _tag_triggers(
        "WHEN (SELECT enriched_at FROM articles WHERE id = {row}.article_id) IS NOT NULL "
    )
    op.execute(
        "CREATE TRIGGER articles_fts_tags AFTER UPDATE OF enriched_at ON articles "
        "WHEN old.enriched_at IS NULL BEGIN "
        f"UPDATE articles_fts SET tags = {_SQLITE_TAGS.format(article='new.id')} "
        "WHERE rowid = new.id; END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS articles_fts_tags")
    _tag_triggers("")


def _tag_triggers(condition: str) -> None:
    """0012's triggers on article_tags, firing only when `condition` holds (if any)."""
    for name, event, row in (("insert", "INSERT", "new"), ("delete", "DELETE", "old")):
        op.execute(f"DROP TRIGGER IF EXISTS articles_fts_tag_{name}")
        op.execute(
            f"CREATE TRIGGER articles_fts_tag_{name} AFTER {event} ON article_tags "
            + condition.format(row=row)
            + "BEGIN "
            f"UPDATE articles_fts SET tags = {_SQLITE_TAGS.format(article=row + '.article_id')} "
            f"WHERE rowid = {row}.article_id; END"
        )
