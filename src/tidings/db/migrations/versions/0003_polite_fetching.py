"""polite fetching: conditional GET, back-off, source kinds and credentials, retention, enclosures

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SOURCE_COLUMNS: list[sa.Column[Any]] = [
    sa.Column("kind", sa.String(length=20), nullable=False, server_default="feed"),
    sa.Column("page_limit", sa.Integer(), nullable=True),
    sa.Column("fetch_pages", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("etag", sa.String(length=500), nullable=True),
    sa.Column("last_modified", sa.String(length=100), nullable=True),
    sa.Column("failure_count", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("feed_ttl_s", sa.Integer(), nullable=True),
    sa.Column("last_warning", sa.Text(), nullable=True),
    sa.Column("user_agent", sa.String(length=500), nullable=True),
    sa.Column("auth_username", sa.String(length=300), nullable=True),
    sa.Column("auth_password", sa.String(length=300), nullable=True),
    sa.Column("cookies", sa.Text(), nullable=True),
    sa.Column("proxy_url", sa.String(length=500), nullable=True),
    sa.Column("retention_days", sa.Integer(), nullable=True),
]


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        for column in _SOURCE_COLUMNS:
            batch_op.add_column(column)
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("enclosures", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column("saved", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index(batch_op.f("ix_articles_saved"), ["saved"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_articles_saved"))
        batch_op.drop_column("saved")
        batch_op.drop_column("enclosures")
    with op.batch_alter_table("sources", schema=None) as batch_op:
        for column in reversed(_SOURCE_COLUMNS):
            batch_op.drop_column(column.name)
