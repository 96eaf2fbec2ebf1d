"""`tidings backup` / `tidings restore` on SQLite and PostgreSQL, through the real CLI."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from tests.test_cli import assert_one_line_error, tidings
from tidings.db.models import Article, Source
from tidings.db.session import Database


def add_article(database: Database, number: int) -> None:
    with database.session() as session:
        source = session.scalar(select(Source).limit(1))
        if source is None:
            source = Source(name="Backup Daily", feed_url="http://127.0.0.1/backup.xml")
            session.add(source)
            session.flush()
        url = f"http://127.0.0.1/backup/{number}"
        session.add(
            Article(
                source_id=source.id,
                url=url,
                original_url=url,
                title=f"Story {number}",
                body="Text.",
                entry_hash="e",
                content_hash="c",
                published_at=datetime(2026, 11, 20, 12, number, tzinfo=UTC),
            )
        )


def titles(database: Database) -> list[str]:
    with database.session() as session:
        return list(session.scalars(select(Article.title).order_by(Article.id)))


def test_backup_then_restore_brings_back_the_store_as_it_was(
    database: Database, tmp_path: Path
) -> None:
    add_article(database, 1)
    add_article(database, 2)
    target = tmp_path / "backups" / "tidings.backup"

    made = tidings("backup", str(target), db=database.url)
    assert made.returncode == 0, made.stderr
    assert "2 articles" in made.stdout
    assert target.stat().st_size > 0

    add_article(database, 3)
    assert titles(database) == ["Story 1", "Story 2", "Story 3"]
    refused = tidings("restore", str(target), db=database.url)
    assert_one_line_error(refused, "--force")
    assert len(titles(database)) == 3

    restored = tidings("restore", str(target), "--force", db=database.url)
    assert restored.returncode == 0, restored.stderr
    database.engine.dispose()  # pooled connections may predate the restore
    assert titles(database) == ["Story 1", "Story 2"]
    add_article(database, 4)  # the restored store takes writes (sequences, schema intact)
    assert titles(database)[-1] == "Story 4"


def test_restore_into_an_empty_store_needs_no_force(
    database: Database, empty_database_url: str, tmp_path: Path
) -> None:
    add_article(database, 1)
    target = tmp_path / "one.backup"
    assert tidings("backup", str(target), db=database.url).returncode == 0
    restored = tidings("restore", str(target), db=empty_database_url)
    assert restored.returncode == 0, restored.stderr
    copy = Database(empty_database_url)
    try:
        assert titles(copy) == ["Story 1"]
    finally:
        copy.dispose()


def test_a_damaged_backup_is_refused_and_the_store_left_alone(
    database: Database, tmp_path: Path
) -> None:
    add_article(database, 1)
    good = tmp_path / "good.backup"
    assert tidings("backup", str(good), db=database.url).returncode == 0
    damaged = tmp_path / "damaged.backup"
    data = good.read_bytes()
    damaged.write_bytes(data[:100] + b"\x00garbage" * 64 + data[len(data) // 2 :])
    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("these are not the rows you are looking for\n" * 100)

    for path in (damaged, not_a_backup, tmp_path / "missing.backup"):
        result = tidings("restore", str(path), "--force", db=database.url)
        assert_one_line_error(result, path.name)
        with database.session() as session:
            assert session.scalar(select(func.count(Article.id))) == 1
    assert titles(database) == ["Story 1"]
