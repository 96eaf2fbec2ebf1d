"""readers' follows, mutes, saved and read articles, preferred language

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _user_column() -> sa.Column[int]:
    return sa.Column(
        "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


def _article_column() -> sa.Column[int]:
    return sa.Column(
        "article_id",
        sa.Integer(),
        sa.ForeignKey("articles.id", ondelete="CASCADE"),
        primary_key=True,
    )


def upgrade() -> None:
    op.add_column("users", sa.Column("language", sa.String(length=20), nullable=True))
    op.create_table(
        "mutes",
        _user_column(),
        sa.Column("kind", sa.String(length=10), primary_key=True),
        sa.Column("value", sa.String(length=200), primary_key=True),
    )
    op.create_table(
        "follows",
        _user_column(),
        sa.Column("kind", sa.String(length=10), primary_key=True),
        sa.Column("target_id", sa.Integer(), primary_key=True),
        sa.Column("folder", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "saved_articles",
        _user_column(),
        _article_column(),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_saved_articles_article_id", "saved_articles", ["article_id"])
    op.create_table(
        "read_articles",
        _user_column(),
        _article_column(),
        sa.Column("read_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("read_articles")
    op.drop_index("ix_saved_articles_article_id", table_name="saved_articles")
    op.drop_table("saved_articles")
    op.drop_table("follows")
    op.drop_table("mutes")
    op.drop_column("users", "language")
