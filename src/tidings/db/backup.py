"""Backups of the whole store and restores from them, on SQLite and PostgreSQL.

SQLite: the online backup API, so a backup taken while `tidings serve` writes is consistent;
a restore copies the backup into the live file the same way (one step, readers see the old
or the new store). PostgreSQL: `pg_dump -Fc` and `pg_restore --single-transaction`, so a
restore that fails leaves the database as it was. A backup is checked before anything is
overwritten, and a store that holds data is only overwritten with `force`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tidings.errors import TidingsError

# Tables whose rows make a store "not empty": a restore over them needs --force.
CONTENT_TABLES = ("sources", "articles", "users")


class BackupError(TidingsError):
    """A backup could not be written, or a file is not a backup that can be restored."""


@dataclass(frozen=True)
class BackupReport:
    path: Path
    size_bytes: int
    articles: int


def default_path(database_url: str) -> Path:
    """tidings-YYYYmmdd-HHMMSS.db (SQLite) or .dump (PostgreSQL) in the working directory."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    suffix = "db" if _is_sqlite(database_url) else "dump"
    return Path(f"tidings-{stamp}.{suffix}")


def backup(database_url: str, path: Path) -> BackupReport:
    """Write a consistent copy of the store at `database_url` to `path` (replaced if there)."""
    path = path.expanduser()
    if path.is_dir():
        raise BackupError(f"{path} is a directory: give a file name for the backup")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target, then renamed: a failed backup never leaves half a file.
    partial = path.with_name(path.name + ".partial")
    try:
        if _is_sqlite(database_url):
            with (
                _sqlite_connect(_sqlite_file(database_url)) as source,
                _sqlite_connect(partial) as target,
            ):
                source.backup(target)
        else:
            _run(_tool("pg_dump"), "--format=custom", f"--file={partial}",
                 f"--dbname={_libpq_url(database_url)}")  # fmt: skip
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return BackupReport(path, path.stat().st_size, article_count(database_url))


def restore(database_url: str, path: Path, *, force: bool = False) -> BackupReport:
    """Replace the store at `database_url` with the backup at `path`.

    Refuses a store that holds sources, articles or users unless `force`; refuses a file that
    is not a readable backup before touching anything.
    """
    path = path.expanduser()
    if not path.is_file():
        raise BackupError(f"no backup file at {path}")
    if _is_sqlite(database_url):
        _check_sqlite_backup(path)
    else:
        _check_postgres_backup(path)
    if not force and (held := _content_rows(database_url)):
        raise BackupError(f"the database is not empty ({held}): restore with --force to replace it")
    if _is_sqlite(database_url):
        with _sqlite_connect(path) as source, _sqlite_connect(_sqlite_file(database_url)) as target:
            source.backup(target)
    else:
        _run(_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--exit-on-error",
             "--single-transaction", f"--dbname={_libpq_url(database_url)}", str(path))  # fmt: skip
    return BackupReport(path, path.stat().st_size, article_count(database_url))


def article_count(database_url: str) -> int:
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("articles"):
                return 0
            return int(connection.scalar(text("SELECT count(*) FROM articles")) or 0)
    finally:
        engine.dispose()


def _content_rows(database_url: str) -> str:
    """What the store holds, e.g. "12 sources, 3,400 articles"; empty if nothing."""
    engine = create_engine(database_url, poolclass=NullPool)
    held = []
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            for table in CONTENT_TABLES:
                if table in tables:
                    query = text(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
                    count = int(connection.scalar(query) or 0)
                    if count:
                        held.append(f"{count:,} {table}")
    finally:
        engine.dispose()
    return ", ".join(held)


def _is_sqlite(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "sqlite"


def _sqlite_file(database_url: str) -> str:
    name = make_url(database_url).database
    if not name or name == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return name


def _sqlite_connect(file: str | Path) -> closing[sqlite3.Connection]:
    return closing(sqlite3.connect(file, timeout=30))


def _check_sqlite_backup(path: Path) -> None:
    """A SQLite file that passes its integrity check and has Tidings' schema in it."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            (verdict,) = connection.execute("PRAGMA quick_check").fetchone()
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not a SQLite backup: {error}") from None
    if verdict != "ok":
        raise BackupError(f"{path} is damaged: {verdict}")
    if not {"alembic_version", "articles"} <= tables:
        raise BackupError(f"{path} is a SQLite file but not a Tidings backup")


def _check_postgres_backup(path: Path) -> None:
    """A pg_dump archive whose table of contents lists Tidings' tables."""
    contents = _run(
        _tool("pg_restore"), "--list", str(path), what=f"{path} is not a pg_dump backup"
    )
    entries = [line.split() for line in contents.splitlines() if not line.startswith(";")]
    tables = {fields[5] for fields in entries if len(fields) > 5 and fields[3] == "TABLE"}
    if not {"articles", "alembic_version"} <= tables:
        raise BackupError(f"{path} is damaged or not a Tidings backup (no articles table in it)")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not on PATH: install the PostgreSQL client tools "
            "(Debian/Ubuntu: apt-get install postgresql-client), the same major version as "
            "the server or newer"
        )
    return found


def _run(*command: str, what: str | None = None) -> str:
    """Run a PostgreSQL client tool; its output, or a BackupError with its complaint."""
    with tempfile.TemporaryFile() as errors:
        result = subprocess.run(  # noqa: S603 - our arguments, no shell
            command, stdout=subprocess.PIPE, stderr=errors, check=False
        )
        if result.returncode != 0:
            errors.seek(0)
            reason = " ".join(errors.read().decode(errors="replace").split())[:500]
            tool = Path(command[0]).name
            raise BackupError(f"{what or tool + ' failed'}: {reason}")
    return result.stdout.decode(errors="replace")


def _libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL as libpq reads it (postgresql://, no +driver)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)
