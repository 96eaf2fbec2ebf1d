"""Hostile and unusual publishers through the whole pipeline: each case gets a clear error or
a correct result, and the other sources keep refreshing."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.conftest import ANCHOR, make_settings
from tidings.config import Settings
from tidings.db.models import Article, Source
from tidings.db.session import Database
from tidings.demo.server import PublisherServer, Response
from tidings.ingest.pipeline import refresh_all, refresh_source
from tidings.ingest.retention import cleanup
from tidings.ingest.scheduler import Scheduler
from tidings.ingest.sources import (
    SourceSettings,
    add_source,
    register_source,
    update_source_settings,
)

NOW = datetime.now(UTC)


def rss(items: list[tuple[str, str, str | None]], extra: str = "") -> bytes:
    """A small RSS document: (guid, link, pubDate or None) per item."""
    body = "".join(
        f"<item><title>Item {guid}</title><link>{link}</link><guid>{guid}</guid>"
        + (f"<pubDate>{date}</pubDate>" if date else "")
        + f"<description>Summary of {guid}.</description>{extra}</item>"
        for guid, link, date in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Test feed</title><link>http://x/</link>{body}</channel></rss>'.encode()


def serve_feed(server: PublisherServer, path: str, document: bytes, **response: object) -> str:
    server.site.overrides[path] = Response(200, "application/rss+xml", document, **response)  # type: ignore[arg-type]
    return server.url(path)


def article_count(database: Database, source_id: int | None = None) -> int:
    with database.session() as session:
        query = select(func.count(Article.id))
        if source_id is not None:
            query = query.where(Article.source_id == source_id)
        return int(session.scalar(query) or 0)


@pytest.fixture
def healthy(database: Database, settings: Settings) -> Iterator[int]:
    """A well-behaved source on another host beside the faulty one: it must keep refreshing.

    (Another host: a Retry-After rightly holds back every request to the host that sent it.)
    """
    other = PublisherServer(ANCHOR, port=0, faults=False).start()
    try:
        yield add_source(database, settings, other.url("/meridian-times/atom.xml")).source.id
    finally:
        other.stop()


def assert_healthy_refreshes(database: Database, settings: Settings, source_id: int) -> None:
    report = refresh_source(database, settings, source_id, force=True)
    assert report.status == "ok"
    assert article_count(database, source_id) > 0


def test_conditional_get_skips_unchanged_feeds(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    source = add_source(database, settings, publishers.url("/gangwan-daily/rss.xml")).source
    first = refresh_source(database, settings, source.id)
    second = refresh_source(database, settings, source.id)
    assert first.articles_new > 0
    assert second.not_modified
    assert second.entries_seen == 0
    assert second.pages_fetched == 0
    forced = refresh_source(database, settings, source.id, force=True)
    assert not forced.not_modified  # --force skips the validators


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (Response(429, "text/plain", b"", (("Retry-After", "3600"),)), "HTTP 429"),
        (Response(503, "text/plain", b"", (("Retry-After", "600"),)), "HTTP 503"),
        (Response(500, "text/plain", b"oops"), "HTTP 500"),
        (Response(502, "text/plain", b"bad gateway"), "HTTP 502"),
        (Response(200, "application/rss+xml", b"Database unavailable, try later"), "not a valid"),
        (
            Response(
                200,
                "application/feed+json",
                b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
            ),
            "not a valid JSON feed",
        ),
        (
            Response(
                200,
                "application/rss+xml",
                gzip.compress(b"\0" * 30_000_000),
                (("Content-Encoding", "gzip"),),
            ),
            "once decompressed",
        ),
        (
            Response(200, "application/rss+xml", b"x" * 3000, (("Content-Encoding", "gzip"),)),
            "cannot decompress",
        ),
        (Response(200, "application/rss+xml", b"<rss/>" * 200, drip_s=0.05), "took longer than"),
        (Response(200, "application/rss+xml", b"<rss/>", delay_s=60), "timed out fetching"),
        # A Content-Length longer than the body: the rest never comes.
        (
            Response(200, "application/rss+xml", b"<rss><channel>", declared_length=90_000),
            "timed out",
        ),
        # Shorter than the body: what it declares is all that is read.
        (Response(200, "application/rss+xml", b"<rss/>" * 50, declared_length=10), "not a valid"),
        (Response(301, "text/plain", b"", (("Location", "/loop"),)), "redirect loop"),
        (
            Response(302, "text/plain", b"", (("Location", "http://169.254.169.254/"),)),
            "non-public address",
        ),
    ],
)
def test_feed_faults_mark_only_that_source(
    database: Database,
    publishers: PublisherServer,
    healthy: int,
    response: Response,
    message: str,
) -> None:
    settings = make_settings(database.url, fetch_total_timeout_s=2.0, fetch_max_bytes=5_000_000)
    publishers.site.overrides["/loop"] = response
    source = register_source(database, publishers.url("/loop")).source
    clock = time.monotonic()
    report = refresh_source(database, settings, source.id)
    assert time.monotonic() - clock < 15  # no hang past the limits
    assert report.status == "error"
    assert message in (report.error or "")
    assert report.next_fetch_at is not None
    assert report.next_fetch_at > datetime.now(UTC)
    with database.session() as session:
        stored = session.get(Source, source.id)
        assert stored is not None
        assert stored.status == "error"
        assert stored.failure_count == 1
        retry = dict(response.headers).get("Retry-After")
        if retry:  # the server's wait is honoured
            assert stored.next_fetch_at >= datetime.now(UTC) + timedelta(seconds=int(retry) - 5)
    assert_healthy_refreshes(database, settings, healthy)


def test_truncated_xml_is_recovered_and_reported(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    link = publishers.url("/harbour-herald/")
    document = rss([("a", link, None), ("b", link + "?b", None)])[:-40]  # cut mid-item
    url = serve_feed(publishers, "/cut.xml", document)
    source = register_source(database, url).source
    report = refresh_source(database, settings, source.id)
    assert report.status == "ok"
    assert report.articles_new >= 1
    assert "recovered" in (report.warning or "")


def test_backoff_grows_and_success_resets_it(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    publishers.site.overrides["/flaky.xml"] = Response(500, "text/plain", b"down")
    source = register_source(database, publishers.url("/flaky.xml")).source
    waits = []
    for _ in range(3):
        report = refresh_source(database, settings, source.id)
        assert report.next_fetch_at is not None
        waits.append((report.next_fetch_at - datetime.now(UTC)).total_seconds())
    assert waits[0] < waits[1] < waits[2]  # 300 s, 600 s, 1200 s (±20%)
    serve_feed(publishers, "/flaky.xml", rss([("a", publishers.url("/harbour-herald/"), None)]))
    assert refresh_source(database, settings, source.id).status == "ok"
    with database.session() as session:
        stored = session.get(Source, source.id)
        assert stored is not None
        assert stored.failure_count == 0


def test_robots_disallowed_pages_fall_back_to_the_feed(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    publishers.site.overrides["/robots.txt"] = Response(
        200, "text/plain", b"User-agent: *\nDisallow: /northwind-wire/news/\n"
    )
    source = add_source(database, settings, publishers.url("/northwind-wire/feed.json")).source
    report = refresh_source(database, settings, source.id)
    assert report.status == "ok"
    assert report.pages_fetched == 0
    assert all("robots.txt" in error for error in report.page_errors)
    assert not any("/northwind-wire/news/" in path for path in publishers.site.requests)
    with database.session() as session:
        kinds = set(
            session.scalars(select(Article.extracted_from).where(Article.source_id == source.id))
        )
    assert kinds == {"feed"}  # the wire's own full text


def test_dates_guids_and_relative_links(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    future = format_datetime(NOW + timedelta(days=30))
    page = "/harbour-herald/"
    items = [
        ("same-guid", "/a.html", None),  # missing date, relative link
        ("same-guid", "/b.html", future),  # duplicate GUID, future date
        ("c", "/c.html", format_datetime(NOW - timedelta(hours=2))),
    ]
    for name in ("a", "b", "c"):
        publishers.site.overrides[f"/{name}.html"] = publishers.site.respond(page)
    url = serve_feed(publishers, "/odd.xml", rss(items))
    source = add_source(database, settings, url).source
    refresh_source(database, settings, source.id)
    with database.session() as session:
        stored = {a.original_url.rsplit("/", 1)[1]: a for a in session.scalars(select(Article))}
    assert set(stored) == {"a.html", "b.html", "c.html"}  # the repeated GUID overwrote nothing
    assert stored["b.html"].published_at <= datetime.now(UTC) + timedelta(minutes=16)  # clamped
    first_seen = stored["a.html"].published_at
    # GUIDs that change on every fetch: same links, so the same articles.
    changed = [(f"{guid}-v2", link, date) for guid, link, date in items]
    serve_feed(publishers, "/odd.xml", rss(changed))
    refresh_source(database, settings, source.id, force=True)
    assert article_count(database, source.id) == 3
    with database.session() as session:
        again = session.scalar(select(Article).where(Article.original_url.endswith("/a.html")))
        assert again is not None
        assert again.published_at == first_seen  # an undated entry keeps its first-seen time


def test_wrong_declared_charset_is_read_right_and_reported(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    document = rss([("q", publishers.url("/harbour-herald/"), None)]).replace(
        b"<title>Test feed</title>", "<title>Café “Quotes” — 港灣</title>".encode()
    )
    publishers.site.overrides["/latin.xml"] = Response(
        200, "application/rss+xml; charset=iso-8859-1", document
    )
    source = add_source(database, settings, publishers.url("/latin.xml")).source
    assert source.name == "Café “Quotes” — 港灣"
    report = refresh_source(database, settings, source.id)
    assert report.status == "ok"
    assert "declares charset iso-8859-1, but the feed is UTF-8" in (report.warning or "")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig"])
def test_bom_and_utf16_feeds(
    database: Database, settings: Settings, publishers: PublisherServer, encoding: str
) -> None:
    text = (
        rss([("z", publishers.url("/harbour-herald/"), None)])
        .decode()
        .replace("Test feed", "Ünïcödé feed")
        .replace(
            '<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding.split("-sig")[0]}"?>'
        )
    )
    publishers.site.overrides["/bom.xml"] = Response(
        200, "application/rss+xml", text.encode(encoding)
    )
    source = add_source(database, settings, publishers.url("/bom.xml")).source
    assert source.name == "Ünïcödé feed"


_MEASURE = r"""
import json, re, sys
from pathlib import Path
from tidings.db.session import Database
from tidings.ingest.pipeline import refresh_source
from tests.conftest import make_settings
settings = make_settings(sys.argv[1], fetch_max_pages_per_refresh=40)
report = refresh_source(Database(sys.argv[1]), settings, int(sys.argv[2]))
# VmHWM, not ru_maxrss: a child inherits the parent's ru_maxrss across fork and exec.
peak_kb = int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))
print(json.dumps({"status": report.status, "seen": report.entries_seen, "new": report.articles_new,
                  "deferred": report.deferred, "peak_mb": peak_kb / 1024}))
"""


def measured_refresh(database: Database, source_id: int) -> dict[str, Any]:
    """Refresh one source in its own process, so the peak memory measured is that refresh's."""
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, database.url, str(source_id)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=Path(__file__).parent.parent,
    )
    assert result.returncode == 0, result.stderr
    outcome: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return outcome


def test_a_10000_entry_feed_in_bounded_memory(
    database: Database, settings: Settings, publishers: PublisherServer, healthy: int
) -> None:
    link = publishers.url("/harbour-herald/news/{}.html")
    items = [
        (f"g{n}", link.format(n), format_datetime(NOW - timedelta(minutes=n)))
        for n in range(10_000)
    ]
    url = serve_feed(publishers, "/huge.xml", rss(items))
    source = register_source(database, url).source
    outcome = measured_refresh(database, source.id)
    assert outcome["status"] == "ok"
    assert outcome["seen"] == 10_000
    assert outcome["new"] == 40  # newest first, the rest next time
    assert outcome["deferred"] == 9_960
    assert outcome["peak_mb"] < 400
    assert_healthy_refreshes(database, settings, healthy)


def test_a_12_mb_article_page_is_cut_off_and_the_feed_text_kept(
    database: Database, settings: Settings, publishers: PublisherServer, healthy: int
) -> None:
    """A page past the 10 MB cap: the download stops at the cap, the article keeps the feed's
    summary, and the refresh's peak memory stays bounded (measured: 288 MB, of which ~280 MB
    is the imports — the same process with a 100 kB page peaks at 279 MB)."""
    paragraph = b"<p>" + b"Harbour works continue through the night. " * 40 + b"</p>\n"
    page = b"<html><body><article>" + paragraph * (12_000_000 // len(paragraph)) + b"</article>"
    publishers.site.overrides["/huge-page.html"] = Response(200, "text/html", page)
    url = serve_feed(
        publishers, "/big-page.xml", rss([("big", publishers.url("/huge-page.html"), None)])
    )
    source = register_source(database, url).source
    outcome = measured_refresh(database, source.id)
    assert (outcome["status"], outcome["new"]) == ("ok", 1)
    assert outcome["peak_mb"] < 400  # as for the 10k-entry feed: about 280 MB is the imports
    with database.session() as session:
        article = session.scalars(select(Article).where(Article.source_id == source.id)).one()
        assert article.body == "Summary of big."
    assert_healthy_refreshes(database, settings, healthy)


def test_sitemaps_and_sitemap_indexes(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    def urlset(paths: list[str]) -> bytes:
        entries = "".join(
            f"<url><loc>{publishers.url(path)}</loc><lastmod>{(NOW - timedelta(hours=i)).isoformat()}</lastmod></url>"
            for i, path in enumerate(paths)
        )
        return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'.encode()

    pages = [f"/harbour-herald/news/{a}.html" for a in ("x", "y", "z")]
    for path in pages:
        publishers.site.overrides[path] = publishers.site.respond("/harbour-herald/")
    publishers.site.overrides["/s1.xml"] = Response(200, "application/xml", urlset(pages[:2]))
    publishers.site.overrides["/s2.xml"] = Response(200, "application/xml", urlset(pages[2:]))
    index = f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>{publishers.url("/s1.xml")}</loc></sitemap><sitemap><loc>{publishers.url("/s2.xml")}</loc></sitemap></sitemapindex>'
    publishers.site.overrides["/index.xml"] = Response(200, "application/xml", index.encode())
    source = add_source(database, settings, publishers.url("/index.xml")).source
    assert source.kind == "sitemap"
    update_source_settings(database, source.id, SourceSettings(page_limit=2))
    report = refresh_source(database, settings, source.id)
    assert report.status == "ok"
    assert report.articles_new == 2  # the per-source page limit


def test_site_without_feed_found_through_its_sitemap(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    source = add_source(database, settings, publishers.url("/eastbank-echo/")).source
    assert source.kind == "sitemap"
    assert source.name == "The Eastbank Echo"
    assert source.feed_url.endswith("/eastbank-echo/news-sitemap.xml")


def test_feed_behind_a_login(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    document = publishers.site.respond("/harbour-herald/rss.xml").body
    publishers.site.overrides["/members.xml"] = Response(
        200, "application/rss+xml", document, require_auth=("reader", "pw"), require_cookie="s=1"
    )
    source = register_source(database, publishers.url("/members.xml")).source
    assert "HTTP 401" in (refresh_source(database, settings, source.id).error or "")
    update_source_settings(
        database,
        source.id,
        SourceSettings(
            auth_username="reader", auth_password="pw", cookies="s=1", user_agent="Tidings-test"
        ),
    )
    report = refresh_source(database, settings, source.id)
    assert report.status == "ok"
    assert report.articles_new > 0


def test_settings_are_validated(database: Database) -> None:
    source = register_source(database, "http://example.com/feed.xml").source
    from tidings.errors import InvalidInputError

    for bad in (
        SourceSettings(proxy_url="ftp://proxy"),
        SourceSettings(page_limit=5000),
        SourceSettings(poll_interval_s=5),
        SourceSettings(cookies="a=b\r\nX-Injected: 1"),
    ):
        with pytest.raises(InvalidInputError):
            update_source_settings(database, source.id, bad)


def test_enclosures_are_stored(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    enclosure = '<enclosure url="/ep1.mp3" type="audio/mpeg" length="12345"/>'
    url = serve_feed(
        publishers,
        "/pod.xml",
        rss([("ep1", publishers.url("/harbour-herald/"), None)], extra=enclosure),
    )
    source = add_source(database, settings, url).source
    refresh_source(database, settings, source.id)
    with database.session() as session:
        article = session.scalars(select(Article).where(Article.source_id == source.id)).one()
        assert article.enclosures == [
            {"url": publishers.url("/ep1.mp3"), "type": "audio/mpeg", "length": 12345}
        ]


def test_paused_sources_are_not_polled(
    database: Database, settings: Settings, publishers: PublisherServer, healthy: int
) -> None:
    update_source_settings(database, healthy, SourceSettings(paused=True))
    assert Scheduler(database, settings).run_due() == []
    assert refresh_all(database, settings) == []
    update_source_settings(database, healthy, SourceSettings(paused=False))
    assert [r.status for r in Scheduler(database, settings).run_due()] == ["ok"]


def test_retention_keeps_saved_articles(
    database: Database, publishers: PublisherServer, healthy: int
) -> None:
    settings = make_settings(database.url, retention_days=2)
    refresh_source(database, settings, healthy)
    total = article_count(database)
    with database.session() as session:
        old = session.scalars(select(Article).order_by(Article.published_at)).first()
        assert old is not None
        old.saved = True
        old.published_at = datetime.now(UTC) - timedelta(days=30)
        session.execute(
            update(Article)
            .where(Article.id != old.id)
            .values(published_at=datetime.now(UTC) - timedelta(days=5))
        )
        keep = session.scalars(select(Article).where(Article.id != old.id)).first()
        assert keep is not None
        keep.published_at = datetime.now(UTC)
    dry = cleanup(database, settings, dry_run=True)
    assert dry.removed_by_age == total - 2
    assert article_count(database) == total  # a dry run removes nothing
    report = cleanup(database, settings)
    assert report.removed_by_age == total - 2
    assert report.saved_kept == 1
    assert article_count(database) == 2
    budget = cleanup(database, make_settings(database.url, disk_budget_mb=0.0001))  # type: ignore[arg-type]
    assert budget.removed_by_budget == 1
    assert article_count(database) == 1  # only the saved one is left


def test_a_source_fetched_through_its_proxy(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    # The publisher server also answers proxy requests (absolute-form request targets).
    source = add_source(database, settings, publishers.url("/coastline-post/index.rdf")).source
    update_source_settings(database, source.id, SourceSettings(proxy_url=publishers.base_url))
    report = refresh_source(database, settings, source.id)
    assert report.status == "ok"
    targets = [headers.get("X-Request-Target", "") for headers in publishers.site.request_headers]
    assert publishers.url("/coastline-post/index.rdf") in targets  # sent to the proxy in full


def test_scheduler_runs_cleanup_once_a_day(database: Database) -> None:
    quiet = Scheduler(database, make_settings(database.url))
    assert quiet.cleanup_if_due() is None  # no retention configured: nothing to do
    scheduler = Scheduler(database, make_settings(database.url, retention_days=30))
    first = scheduler.cleanup_if_due()
    assert first is not None
    assert not first.dry_run
    assert scheduler.cleanup_if_due() is None  # not again within the interval
