"""HTTP caching of pages and feeds: ETag, 304 on If-None-Match, Cache-Control, Vary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select, update

from tests.conftest import FormClient, LiveServer
from tidings.accounts.service import create_user
from tidings.db.models import Article, Source
from tidings.db.session import Database

PAGES = ["/", "/articles/1", "/search?q=strike", "/feeds/latest.rss", "/feeds/latest.json"]


@contextmanager
def signed_in_reader(site: LiveServer, database: Database, email: str) -> Iterator[FormClient]:
    """A new reader, signed in on the site."""
    with database.session() as session:
        create_user(session, email, "a reader's password", email.split("@")[0])
    with FormClient(base_url=site.base_url, timeout=10) as reader:
        signed = reader.post("/login", data={"email": email, "password": "a reader's password"})
        assert signed.status_code == 303
        yield reader


@pytest.mark.parametrize("path", PAGES)
def test_a_repeated_request_gets_304_without_a_body(client: httpx.Client, path: str) -> None:
    first = client.get(path)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    assert {"Cookie", "Accept-Language"} <= {v.strip() for v in first.headers["vary"].split(",")}

    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert client.get(path, headers={"If-None-Match": 'W/"other"'}).status_code == 200


def test_feeds_are_public_for_a_while_and_pages_carrying_a_form_token_private(
    client: httpx.Client,
) -> None:
    assert client.get("/feeds/latest.atom").headers["cache-control"] == "public, max-age=300"
    page = client.get("/")
    control = page.headers["cache-control"]
    if "csrf_token" in page.text:  # a form for this browser: no shared cache may keep it
        assert control.startswith("private")
    else:
        assert control.startswith("public")
    assert client.get("/static/style.css").headers["cache-control"] == "public, max-age=86400"
    assert "etag" not in client.get("/api/v1/articles").headers


def test_a_new_article_changes_the_etag(client: httpx.Client, demo_database: Database) -> None:
    before = client.get("/")
    with demo_database.session() as session:
        source = session.scalars(select(Source).order_by(Source.id)).first()
        assert source is not None
        url = "http://127.0.0.1/caching/fresh"
        session.add(
            Article(
                source_id=source.id,
                url=url,
                original_url=url,
                title="Fresh off the press",
                body="New.",
                entry_hash="e",
                content_hash="c",
                published_at=datetime.now(UTC),
            )
        )
    after = client.get("/", headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert "Fresh off the press" in after.text
    assert after.headers["etag"] != before.headers["etag"]


def test_signed_in_pages_are_private_and_never_match_another_readers(
    site: LiveServer, demo_database: Database, client: httpx.Client
) -> None:
    with signed_in_reader(site, demo_database, "cache@example.org") as reader:
        mine = reader.get("/")
        assert mine.headers["cache-control"] == "private, no-cache"
        anonymous = client.get("/")
        assert anonymous.headers["etag"] != mine.headers["etag"]
        theirs = client.get("/", headers={"If-None-Match": mine.headers["etag"]})
        assert theirs.status_code == 200


def test_anonymous_pages_are_answered_from_memory_until_a_write(
    client: httpx.Client, demo_database: Database
) -> None:
    first = client.get("/stories/1")
    again = client.get("/stories/1")
    assert "x-tidings-cache" not in first.headers
    assert again.headers["x-tidings-cache"] == "hit"
    assert again.content == first.content
    assert (
        client.get("/stories/1", headers={"If-None-Match": first.headers["etag"]}).status_code
        == 304
    )
    # Another language or theme is another page.
    chinese = client.get("/stories/1", headers={"Accept-Language": "zh-TW"})
    assert "x-tidings-cache" not in chinese.headers
    assert 'lang="zh-Hant"' in chinese.text
    # Any write committed by the app's process empties the cache.
    with demo_database.session() as session:
        article = session.scalars(select(Article).order_by(Article.id)).first()
        assert article is not None
        article.title = article.title  # no change: nothing written, the cache stays
        session.commit()
    assert client.get("/stories/1").headers.get("x-tidings-cache") == "hit"
    with demo_database.session() as session:
        session.execute(update(Source).values(name=Source.name + " "))
        session.commit()
    assert "x-tidings-cache" not in client.get("/stories/1").headers


def test_signed_in_readers_and_cookie_setting_pages_skip_the_memory(
    site: LiveServer, demo_database: Database, client: httpx.Client
) -> None:
    with signed_in_reader(site, demo_database, "memory@example.org") as reader:
        reader.get("/")
        assert "x-tidings-cache" not in reader.get("/").headers
    # The language switch sets a cookie: never kept.
    client.get("/?lang=zh-Hans")
    assert "x-tidings-cache" not in httpx.get(site.base_url + "/?lang=zh-Hans").headers


def test_the_memory_expires(demo_database: Database) -> None:
    import time

    from tests.conftest import make_settings
    from tidings.web.app import create_app

    for ttl_s, hit_at_once in ((0.3, True), (0.0, False)):  # 0: turned off
        app = create_app(make_settings(demo_database.url, page_cache_s=ttl_s), demo_database,
                         run_scheduler=False)  # fmt: skip
        with LiveServer(app) as server, httpx.Client(base_url=server.base_url) as http:
            http.get("/")
            assert ("x-tidings-cache" in http.get("/").headers) is hit_at_once
            time.sleep(0.5)
            assert "x-tidings-cache" not in http.get("/").headers
