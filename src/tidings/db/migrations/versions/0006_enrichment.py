"""enrichment: stories, hashtags, per-article features, story/duplicate links on articles

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch rebuild): the articles table keeps its rows and its
    # full-text triggers untouched.
    op.add_column("articles", sa.Column("story_id", sa.Integer(), nullable=True))
    op.add_column("articles", sa.Column("duplicate_of", sa.Integer(), nullable=True))
    op.add_column("articles", sa.Column("enriched_at", sa.DateTime(), nullable=True))
    op.create_index("ix_articles_story_id", "articles", ["story_id"])
    op.create_index("ix_articles_duplicate_of", "articles", ["duplicate_of"])
    op.create_index("ix_articles_enriched_at", "articles", ["enriched_at"])
    op.create_table(
        "article_features",
        sa.Column(
            "article_id",
            sa.Integer(),
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("minhash", sa.LargeBinary(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
    )
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("lead_article_id", sa.Integer(), nullable=True),
        sa.Column("first_published_at", sa.DateTime(), nullable=False),
        sa.Column("last_published_at", sa.DateTime(), nullable=False),
        sa.Column("article_count", sa.Integer(), nullable=False),
        sa.Column("source_count", sa.Integer(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("merged_into", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_stories_last_published_id", "stories", ["last_published_at", "id"])
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(length=300), nullable=False, unique=True),
        sa.Column("slug", sa.String(length=300), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("article_count", sa.Integer(), nullable=False),
    )
    op.create_index("ix_tags_slug", "tags", ["slug"])
    op.create_table(
        "article_tags",
        sa.Column(
            "article_id",
            sa.Integer(),
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "tag_id", sa.Integer(), sa.ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
    )
    op.create_index("ix_article_tags_tag_id", "article_tags", ["tag_id"])


def downgrade() -> None:
    op.drop_table("article_tags")
    op.drop_table("tags")
    op.drop_table("stories")
    op.drop_table("article_features")
    for column in ("enriched_at", "duplicate_of", "story_id"):
        op.drop_index(f"ix_articles_{column}", table_name="articles")
        op.drop_column("articles", column)
