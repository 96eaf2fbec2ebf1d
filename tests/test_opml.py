"""OPML import and export from the CLI, the API and the admin page; a round trip loses nothing."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import DATA
from tests.test_cli import assert_one_line_error, tidings
from tidings.db.models import Source
from tidings.db.session import Database
from tidings.errors import InvalidInputError
from tidings.ingest.opml import export_opml, import_opml, read_opml

OPML = DATA / "subscriptions.opml"


def test_import_nested_categories_duplicates_and_invalid(database: Database) -> None:
    with OPML.open("rb") as stream:
        report = import_opml(database, stream)
    assert report.added == [
        "https://lantern.example/feed.xml",
        "https://quarry.example/atom.xml",
        "https://orchard.example/feed.json",
    ]
    assert report.skipped == ["https://lantern.example/feed.xml"]
    assert [url for url, _ in report.invalid] == ["ftp://files.example/feed", "javascript:alert(1)"]
    with database.session() as session:
        sources = {s.feed_url: s for s in session.scalars(select(Source))}
    assert sources["https://lantern.example/feed.xml"].category == "News"
    assert sources["https://lantern.example/feed.xml"].site_url == "https://lantern.example/"
    assert sources["https://quarry.example/atom.xml"].category == "Local"
    assert sources["https://orchard.example/feed.json"].category == "Food/Local"
    with OPML.open("rb") as stream:
        again = import_opml(database, stream)
    assert again.added == []  # importing twice changes nothing


def test_round_trip_loses_nothing(database: Database, empty_database_url: str) -> None:
    with OPML.open("rb") as stream:
        import_opml(database, stream)
    exported = export_opml(database)
    before = {(f.xml_url, f.title, f.html_url, f.category) for f in read_opml(io.BytesIO(exported))}
    other = Database(empty_database_url)
    from tidings.db.migrate import upgrade

    upgrade(other)
    import_opml(other, io.BytesIO(exported))
    after = {
        (f.xml_url, f.title, f.html_url, f.category)
        for f in read_opml(io.BytesIO(export_opml(other)))
    }
    assert before == after
    assert len(before) == 3
    other.dispose()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"not xml at all", "not a valid OPML file"),
        (b"<opml><body><outline", "not a valid OPML file"),
        (b"<html><body>a web page</body></html>", "not an OPML file"),
    ],
)
def test_bad_opml_is_a_clear_error(database: Database, document: bytes, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        import_opml(database, io.BytesIO(document))


def test_opml_external_entities_are_refused(database: Database) -> None:
    document = (
        b'<!DOCTYPE opml [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<opml><body><outline text="&e;" xmlUrl="https://x.example/feed"/></body></opml>'
    )
    with pytest.raises(InvalidInputError, match="external entity"):
        import_opml(database, io.BytesIO(document))
    with database.session() as session:
        assert list(session.scalars(select(Source.name))) == []


def test_cli_import_and_export(tmp_path: Path, empty_database_url: str) -> None:
    db = empty_database_url
    imported = tidings("import-opml", str(OPML), db=db)
    assert imported.returncode == 0, imported.stderr
    assert "3 added, 1 already followed, 2 invalid" in imported.stdout
    assert "skipped ftp://files.example/feed" in imported.stderr
    exported = tidings("export-opml", db=db)
    assert exported.returncode == 0
    assert 'xmlUrl="https://quarry.example/atom.xml"' in exported.stdout
    assert_one_line_error(
        tidings("import-opml", str(tmp_path / "missing.opml"), db=db), "no such file"
    )


def test_api_and_admin_import_export(client: httpx.Client) -> None:
    before = len(client.get("/api/v1/sources").json()["items"])
    response = client.post(
        "/api/v1/opml", content=OPML.read_bytes(), headers={"Content-Type": "text/x-opml"}
    )
    assert response.status_code == 200
    assert len(response.json()["added"]) == 3
    exported = client.get("/api/v1/opml")
    assert exported.headers["content-type"].startswith("text/x-opml")
    assert exported.text.count("xmlUrl=") == before + 3
    bad = client.post("/api/v1/opml", content=b"<nope")
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    uploaded = client.post(
        "/admin/opml", files={"opml": ("feeds.opml", OPML.read_bytes(), "text/x-opml")}
    )
    assert "0 added, 4 already followed, 2 invalid" in client.get(uploaded.headers["location"]).text
