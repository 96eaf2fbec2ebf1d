"""Run Alembic migrations programmatically (`tidings db upgrade` and app start-up)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from tidings.db.session import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def include_object(
    obj: object, name: str | None, kind: str, reflected: bool, compare_to: object
) -> bool:
    """The search indexes (FTS5 and its shadow tables, articles_search) are managed by hand."""
    return not (kind == "table" and (name or "").startswith(("articles_fts", "articles_search")))


def alembic_config(database: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema up to `revision`; a no-op when it is already there.

    On SQLite, altering a table means rebuilding it (copy, drop, rename). Foreign keys are
    switched off meanwhile, or dropping `sources` would cascade into deleting every article;
    and a rebuild that a crash interrupted leaves only an empty `_alembic_tmp_` copy (the
    drop and rename are in the transaction that rolled back), which is cleared before retrying.
    """
    config = alembic_config(database)
    sqlite = database.engine.dialect.name == "sqlite"
    with database.engine.connect() as connection:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # outside any transaction
            for (name,) in connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE '\\_alembic\\_tmp\\_%' ESCAPE '\\'"
            ).all():
                connection.exec_driver_sql(f'DROP TABLE "{name}"')
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"foreign keys broken after migrating: {broken[:5]}")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")


def current_revision(database: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
