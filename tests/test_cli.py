"""The `tidings` command as a user runs it: real processes, real files, the real publisher server."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA
from tidings.db.migrate import current_revision
from tidings.db.session import Database
from tidings.demo.corpus import load_corpus
from tidings.demo.server import PublisherServer
from tidings.demo.site import article_path, feed_path

CONTRACT_FIELDS = {
    "title",
    "authors",
    "byline",
    "published_at",
    "updated_at",
    "language",
    "publisher",
    "canonical_url",
    "lead_image",
    "captions",
    "section",
    "body",
}


def tidings_env(db: Path | str | None = None) -> dict[str, str]:
    """The environment of a `tidings` process in a test: none of the developer's settings.

    `db` is a SQLite file's path or any database URL."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TIDINGS_")}
    env["TIDINGS_ALLOW_PRIVATE_HOSTS"] = "127.0.0.1"
    env["TIDINGS_FETCH_PER_HOST_DELAY_S"] = "0"  # every test publisher is on 127.0.0.1
    env["COLUMNS"] = "200"
    if db is not None:
        env["TIDINGS_DATABASE_URL"] = db if isinstance(db, str) else f"sqlite:///{db}"
    return env


def tidings(*args: str, db: Path | str | None = None) -> subprocess.CompletedProcess[str]:
    env = tidings_env(db)
    return subprocess.run(
        [sys.executable, "-m", "tidings", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    assert text in lines[0]


def test_extract_json_follows_the_contract(tmp_path: Path) -> None:
    page = DATA / "pages" / "inline-clutter.html"
    result = tidings("extract", "--json", str(page))
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert set(record) == CONTRACT_FIELDS | {"path", "standfirst"}  # standfirst: an addition
    assert record["path"] == str(page)
    assert record["captions"] == [
        "The old depot on Quay Road, seen from the river on Monday. Photo: Handout"
    ]
    assert record["section"] is None  # not found -> null
    assert "ADVERTISEMENT" not in record["body"]


def test_extract_jsonl_reads_gzip_and_several_files(tmp_path: Path) -> None:
    packed = tmp_path / "page.html.gz"
    packed.write_bytes(gzip.compress((DATA / "pages" / "chinese.html").read_bytes()))
    result = tidings("extract", "--jsonl", str(packed), str(DATA / "pages" / "json-ld.html"))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["title"] for r in records] == [
        "山頂纜車延長服務時間",
        "Glacier retreat measured at record pace",
    ]


def test_extract_a_url_from_the_publisher_server(publishers: PublisherServer) -> None:
    corpus = load_corpus()
    publisher = corpus.publishers[1]
    article = corpus.articles_of(publisher.slug)[0]
    url = publishers.url(article_path(publisher, article))
    result = tidings("extract", "--json", url)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["url"] == url
    assert record["title"] == article.title


def test_extract_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = tidings("extract", str(tmp_path / "missing.html"))
    assert_one_line_error(result, "missing.html: no such file")


def test_extract_bad_gzip_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html.gz"
    bad.write_bytes(b"not gzip at all")
    assert_one_line_error(tidings("extract", str(bad)), "not a valid gzip file")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not-a-url", "only http and https URLs can be fetched"),
        ("http://10.0.0.1/feed.xml", "non-public address 10.0.0.1"),
        ("http://no-such-host.invalid/feed", "cannot resolve host"),
    ],
)
def test_add_bad_url_is_a_clear_error(tmp_path: Path, url: str, message: str) -> None:
    assert_one_line_error(tidings("add", url, db=tmp_path / "t.db"), message)


def test_usage_errors_exit_2() -> None:
    result = tidings("extract")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_add_refresh_and_sources(empty_database_url: str, publishers: PublisherServer) -> None:
    db = empty_database_url
    corpus = load_corpus()
    herald = corpus.publisher("harbour-herald")
    broken = corpus.publisher("static-gazette")
    assert herald is not None
    assert broken is not None
    added = tidings("add", publishers.url("/valley-ledger/"), db=db)
    assert added.returncode == 0, added.stderr
    assert "Added Valley Ledger" in added.stdout
    again = tidings("add", publishers.url("/valley-ledger/"), db=db)
    assert "Already following Valley Ledger" in again.stdout
    assert tidings("add", publishers.url(feed_path(herald)), db=db).returncode == 0
    refreshed = tidings("refresh", db=db)
    assert refreshed.returncode == 0, refreshed.stderr
    assert "pages/s" in refreshed.stdout
    one = tidings("refresh", "Valley Ledger", db=db)
    assert one.returncode == 0
    assert "Valley Ledger" in one.stdout
    missing = tidings("refresh", "Nobody", db=db)
    assert_one_line_error(missing, "no source matches 'Nobody'")
    listing = tidings("sources", db=db)
    assert listing.returncode == 0
    for name in ("Valley Ledger", "The Harbour Herald"):
        assert name in listing.stdout
    assert str(len(corpus.articles_of("harbour-herald"))) in listing.stdout


def test_db_upgrade(empty_database_url: str) -> None:
    result = tidings("db", "upgrade", db=empty_database_url)
    assert result.returncode == 0, result.stderr
    assert "Database at revision" in result.stdout
    database = Database(empty_database_url)
    assert f"Database at revision {current_revision(database)}" in result.stdout
    database.dispose()


@pytest.mark.sqlite_only(reason="a SQLite file in a folder that does not exist")
def test_unwritable_database_is_a_clear_error(tmp_path: Path) -> None:
    result = tidings("sources", db=tmp_path / "no" / "such" / "dir" / "x.db")
    assert_one_line_error(result, "database")


def test_unreachable_postgresql_is_a_clear_error() -> None:
    result = tidings("sources", db="postgresql+psycopg://nobody@127.0.0.1:9/tidings")
    assert_one_line_error(result, "database")


def test_extract_a_folder_with_all_cores(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    (pages / "nested").mkdir(parents=True)
    for name in ("inline-clutter.html", "json-ld.html", "chinese.html"):
        (pages / name).write_bytes((DATA / "pages" / name).read_bytes())
    (pages / "nested" / "japanese.html.gz").write_bytes(
        gzip.compress((DATA / "pages" / "japanese.html").read_bytes())
    )
    (pages / "notes.txt").write_text("not a page")
    result = tidings("extract", "--jsonl", "--jobs", "2", str(pages))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(r["path"]).name for r in records] == [
        "chinese.html",
        "inline-clutter.html",
        "json-ld.html",
        "japanese.html.gz",
    ]
    assert all(r["body"] for r in records)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(tidings("extract", str(empty)), "no .html or .html.gz files")
