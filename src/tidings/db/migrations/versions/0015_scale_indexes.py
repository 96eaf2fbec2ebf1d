"""Indexes for listings at volume: a story's, a hashtag's and a reader's saved articles, copies

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (name, table, columns): each serves one listing's WHERE + ORDER BY without a sort or a scan.
INDEXES = (
    # A story page and story cards: the story's articles, newest first.
    ("ix_articles_story_published_id", "articles", ["story_id", "published_at", "id"]),
    # A hashtag page: the tag's article ids straight from the index (no table lookups).
    ("ix_article_tags_tag_article", "article_tags", ["tag_id", "article_id"]),
    # "Saved": one reader's saved articles, newest first.
    ("ix_saved_articles_user_created", "saved_articles", ["user_id", "created_at"]),
)


# Copies of a page of articles (`duplicate_of IN (...)`): almost every article has NULL
# there, so statistics on a full index tell the planner a lookup returns the whole table and
# it walks the articles instead. A partial index holds the copies alone.
COPIES = "ix_articles_copies"
COPIES_WHERE = "duplicate_of IS NOT NULL"


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    where = sa.text(COPIES_WHERE)
    op.create_index(
        COPIES, "articles", ["duplicate_of"], sqlite_where=where, postgresql_where=where
    )


def downgrade() -> None:
    op.drop_index(COPIES, table_name="articles")
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
