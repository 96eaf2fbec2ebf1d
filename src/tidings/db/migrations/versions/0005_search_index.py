"""full-text search index (SQLite FTS5, kept current by triggers; CJK spaced per character)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL full-text search (tsvector + GIN) comes with the search issue
    op.execute(
        "CREATE VIRTUAL TABLE articles_fts USING fts5("
        "title, body, publisher, tokenize = 'unicode61 remove_diacritics 2')"
    )
    op.execute(
        "INSERT INTO articles_fts (rowid, title, body, publisher) "
        "SELECT articles.id, tidings_cjk(articles.title), tidings_cjk(articles.body), sources.name "
        "FROM articles JOIN sources ON sources.id = articles.source_id"
    )
    op.execute(
        "CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN "
        "INSERT INTO articles_fts (rowid, title, body, publisher) "
        "VALUES (new.id, tidings_cjk(new.title), tidings_cjk(new.body), "
        "(SELECT name FROM sources WHERE sources.id = new.source_id)); END"
    )
    op.execute(
        "CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, body ON articles BEGIN "
        "DELETE FROM articles_fts WHERE rowid = old.id; "
        "INSERT INTO articles_fts (rowid, title, body, publisher) "
        "VALUES (new.id, tidings_cjk(new.title), tidings_cjk(new.body), "
        "(SELECT name FROM sources WHERE sources.id = new.source_id)); END"
    )
    op.execute(
        "CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN "
        "DELETE FROM articles_fts WHERE rowid = old.id; END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("articles_fts_insert", "articles_fts_update", "articles_fts_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS articles_fts")
