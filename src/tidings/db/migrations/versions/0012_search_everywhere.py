"""search over hashtags too, and PostgreSQL full-text search (tsvector + GIN)

SQLite: the FTS5 table gains a `tags` column (hashtag names and labels), kept current by
triggers on article_tags and on source renames as well as on articles.

PostgreSQL: `articles_search` holds one weighted tsvector per article (title and hashtags A,
publisher B, text C) under the text search configuration of the article's language, with a
GIN index; triggers keep it current. CJK characters are spaced one per token, as on SQLite.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Keep in step with search/keyword.py's PG_CONFIGS and search/cjk.py's character ranges.
_CONFIGS = {
    "da": "danish",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "fi": "finnish",
    "fr": "french",
    "it": "italian",
    "nl": "dutch",
    "no": "norwegian",
    "pt": "portuguese",
    "ru": "russian",
    "sv": "swedish",
}
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
# Every statement below is assembled from the fixed fragments in this file (no input).
# ruff: noqa: S608

_SQLITE_TAGS = (
    "(SELECT group_concat(tidings_cjk(tags.name || ' ' || tags.label), ' ') "
    "FROM article_tags JOIN tags ON tags.id = article_tags.tag_id "
    "WHERE article_tags.article_id = {article})"
)
_SQLITE_ROW = (
    "INSERT INTO articles_fts (rowid, title, body, publisher, tags) "
    "SELECT articles.id, tidings_cjk(articles.title), tidings_cjk(articles.body), sources.name, "
    + _SQLITE_TAGS.format(article="articles.id")
    + " FROM articles JOIN sources ON sources.id = articles.source_id"
)
_SQLITE_OLD_TRIGGERS = ("articles_fts_insert", "articles_fts_update", "articles_fts_delete")
_SQLITE_TRIGGERS = (
    *_SQLITE_OLD_TRIGGERS,
    "articles_fts_tag_insert",
    "articles_fts_tag_delete",
    "articles_fts_source_rename",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
    elif op.get_bind().dialect.name == "postgresql":
        _postgres_upgrade()


def _sqlite_upgrade() -> None:
    for trigger in _SQLITE_OLD_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS articles_fts")
    op.execute(
        "CREATE VIRTUAL TABLE articles_fts USING fts5("
        "title, body, publisher, tags, tokenize = 'unicode61 remove_diacritics 2')"
    )
    op.execute(_SQLITE_ROW)
    op.execute(
        "CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN "
        + _SQLITE_ROW
        + " WHERE articles.id = new.id; END"
    )
    op.execute(
        "CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, body ON articles BEGIN "
        "DELETE FROM articles_fts WHERE rowid = old.id; " + _SQLITE_ROW + " WHERE articles.id = "
        "new.id; END"
    )
    op.execute(
        "CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN "
        "DELETE FROM articles_fts WHERE rowid = old.id; END"
    )
    for name, event, row in (("insert", "INSERT", "new"), ("delete", "DELETE", "old")):
        op.execute(
            f"CREATE TRIGGER articles_fts_tag_{name} AFTER {event} ON article_tags BEGIN "
            f"UPDATE articles_fts SET tags = {_SQLITE_TAGS.format(article=row + '.article_id')} "
            f"WHERE rowid = {row}.article_id; END"
        )
    op.execute(
        "CREATE TRIGGER articles_fts_source_rename AFTER UPDATE OF name ON sources BEGIN "
        "UPDATE articles_fts SET publisher = new.name "
        "WHERE rowid IN (SELECT id FROM articles WHERE source_id = new.id); END"
    )


def _postgres_upgrade() -> None:
    cases = " ".join(f"WHEN '{code}' THEN '{name}'" for code, name in _CONFIGS.items())
    op.execute(
        "CREATE FUNCTION tidings_ts_config(lang text) RETURNS regconfig "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (CASE "
        f"lower(split_part(coalesce(lang, ''), '-', 1)) {cases} ELSE 'simple' END)::regconfig $$"
    )
    op.execute(
        "CREATE FUNCTION tidings_cjk(value text) RETURNS text "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT "
        f"btrim(regexp_replace(regexp_replace(coalesce(value, ''), '([{_CJK}])', ' \\1 ', 'g'), "
        "' {2,}', ' ', 'g')) $$"
    )
    op.execute(
        "CREATE TABLE articles_search ("
        "article_id integer PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE, "
        "document tsvector NOT NULL)"
    )
    op.execute("CREATE INDEX ix_articles_search_document ON articles_search USING gin (document)")
    op.execute(
        "CREATE FUNCTION tidings_index_article(aid integer) RETURNS void LANGUAGE sql AS $$ "
        "INSERT INTO articles_search (article_id, document) "
        "SELECT a.id, "
        "setweight(to_tsvector(tidings_ts_config(a.language), tidings_cjk(a.title)), 'A') || "
        "setweight(to_tsvector(tidings_ts_config(a.language), tidings_cjk(coalesce(("
        "  SELECT string_agg(t.name || ' ' || t.label, ' ') FROM article_tags x "
        "  JOIN tags t ON t.id = x.tag_id WHERE x.article_id = a.id), ''))), 'A') || "
        "setweight(to_tsvector('simple', s.name), 'B') || "
        "setweight(to_tsvector(tidings_ts_config(a.language), tidings_cjk(a.body)), 'C') "
        "FROM articles a JOIN sources s ON s.id = a.source_id WHERE a.id = aid "
        "ON CONFLICT (article_id) DO UPDATE SET document = EXCLUDED.document $$"
    )
    op.execute(
        "CREATE FUNCTION tidings_search_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF TG_TABLE_NAME = 'articles' THEN PERFORM tidings_index_article(NEW.id); "
        "ELSIF TG_TABLE_NAME = 'sources' THEN "
        "  PERFORM tidings_index_article(id) FROM articles WHERE source_id = NEW.id; "
        "ELSIF TG_OP = 'DELETE' THEN PERFORM tidings_index_article(OLD.article_id); "
        "ELSE PERFORM tidings_index_article(NEW.article_id); END IF; "
        "RETURN NULL; END $$"
    )
    for name, when in (
        ("articles_search_index", "INSERT OR UPDATE OF title, body, language ON articles"),
        ("article_tags_search_index", "INSERT OR DELETE ON article_tags"),
        ("sources_search_index", "UPDATE OF name ON sources"),
    ):
        op.execute(
            f"CREATE TRIGGER {name} AFTER {when} "
            "FOR EACH ROW EXECUTE FUNCTION tidings_search_trigger()"
        )
    op.execute("SELECT tidings_index_article(id) FROM articles")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS articles_fts")  # 0005's downgrade finds nothing left
    elif op.get_bind().dialect.name == "postgresql":
        for trigger, table in (
            ("articles_search_index", "articles"),
            ("article_tags_search_index", "article_tags"),
            ("sources_search_index", "sources"),
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS tidings_search_trigger()")
        op.execute("DROP FUNCTION IF EXISTS tidings_index_article(integer)")
        op.execute("DROP TABLE IF EXISTS articles_search")
        op.execute("DROP FUNCTION IF EXISTS tidings_cjk(text)")
        op.execute("DROP FUNCTION IF EXISTS tidings_ts_config(text)")
