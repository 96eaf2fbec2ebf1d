"""WebSub end to end: a publisher feed advertising a local hub (tests/websub_hub.py), the real
app under uvicorn as the subscriber, and Tidings' own feeds as a publisher."""

from __future__ import annotations

import hmac
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from typing import TypeVar

import feedparser
import httpx
import pytest
from sqlalchemy import select

from tests.conftest import LiveServer, make_settings
from tests.test_cli import tidings
from tests.websub_hub import WebSubHub
from tidings.config import Settings
from tidings.db.models import Article, Source, WebSubSubscription
from tidings.db.session import Database
from tidings.demo.server import PublisherServer, Response
from tidings.ingest import websub
from tidings.ingest.feeds import parse_feed
from tidings.ingest.http import FetchResult
from tidings.ingest.pipeline import refresh_source
from tidings.ingest.retention import remove_source
from tidings.ingest.sources import add_source, register_source
from tidings.web.app import create_app

T = TypeVar("T")
START = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
PARAGRAPH = (
    "The harbour authority said on Thursday that the new timetable would run through the "
    "winter, with extra sailings on weekends and a review of the fares in the spring. "
)


def wait_for(check: Callable[[], T | None], timeout: float = 10.0, what: str = "it") -> T:
    """Poll `check` until it returns something truthy (new articles must come within seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:g} s for {what}")
        time.sleep(0.05)


@dataclass
class PushedFeed:
    """A publisher's feed served by the `publishers` fixture, advertising `hub` in one of the
    four ways; `add()` publishes an entry (and its page)."""

    publishers: PublisherServer
    hub: str | None
    kind: str = "rss"  # rss | atom | json | link-header
    titles: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return "/pushed/feed.json" if self.kind == "json" else "/pushed/feed.xml"

    @property
    def url(self) -> str:
        return self.publishers.url(self.path)

    def add(self, title: str) -> str:
        slug = f"story-{len(self.titles) + 1}"
        page = (
            f"<html><head><title>{escape(title)}</title></head><body><article>"
            f"<h1>{escape(title)}</h1>"
            + f"<p>{escape(title)}. {PARAGRAPH}</p>" * 4
            + "</article></body></html>"
        )
        self.publishers.site.overrides[f"/pushed/{slug}.html"] = Response(
            200, "text/html; charset=utf-8", page.encode()
        )
        self.titles.append(title)
        self.serve()
        return title

    def serve(self) -> None:
        content_type, document = self.render()
        headers: tuple[tuple[str, str], ...] = ()
        if self.kind == "link-header" and self.hub:
            headers = (("Link", f'<{self.hub}>; rel="hub", <{self.url}>; rel="self"'),)
        self.publishers.site.overrides[self.path] = Response(200, content_type, document, headers)

    def render(self, only: list[str] | None = None) -> tuple[str, bytes]:
        """(content type, document) with every entry, or only those titled in `only`."""
        entries = [
            (f"story-{n}", title, START + timedelta(hours=n))
            for n, title in enumerate(self.titles, 1)
            if only is None or title in only
        ]
        link = self.publishers.url("/pushed/{}.html").format
        if self.kind == "json":
            document: dict[str, object] = {
                "version": "https://jsonfeed.org/version/1.1",
                "title": "The Pushed Post",
                "feed_url": self.url,
                "items": [
                    {"id": slug, "url": link(slug), "title": title,
                     "content_text": f"{title}. {PARAGRAPH}", "date_published": at.isoformat()}
                    for slug, title, at in entries
                ],
            }  # fmt: skip
            if self.hub:
                document["hubs"] = [{"type": "WebSub", "url": self.hub}]
            return "application/feed+json", json.dumps(document).encode()
        in_document = self.hub and self.kind in ("rss", "atom")
        if self.kind == "atom":
            links = f'<link rel="hub" href="{self.hub}"/><link rel="self" href="{self.url}"/>'
            body = "".join(
                f"<entry><id>{slug}</id><title>{escape(title)}</title><link href='{link(slug)}'/>"
                f"<updated>{at.isoformat()}</updated><summary>{escape(title)}</summary></entry>"
                for slug, title, at in entries
            )
            return "application/atom+xml", (
                '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
                f"<title>The Pushed Post</title><id>{self.url}</id><updated>{START.isoformat()}"
                f"</updated>{links if in_document else ''}{body}</feed>"
            ).encode()
        links = f'<atom:link rel="hub" href="{self.hub}"/><atom:link rel="self" href="{self.url}"/>'
        body = "".join(
            f"<item><title>{escape(title)}</title><link>{link(slug)}</link><guid>{slug}</guid>"
            f"<pubDate>{format_datetime(at)}</pubDate><description>{escape(title)}</description></item>"
            for slug, title, at in entries
        )
        return "application/rss+xml", (
            '<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">'
            "<channel><title>The Pushed Post</title><link>http://pushed.example/</link>"
            f"{links if in_document else ''}{body}</channel></rss>"
        ).encode()


@contextmanager
def live_app(database: Database, **overrides: object) -> Iterator[tuple[LiveServer, Settings]]:
    """The real app under uvicorn, whose settings' public URL is its own address."""
    app = create_app(make_settings(database.url), database, run_scheduler=False)
    server = LiveServer(app)
    # The port is known once LiveServer has bound it: the settings follow.
    settings = make_settings(database.url, public_url=server.base_url, **overrides)
    app.state.settings = settings
    with server:
        yield server, settings


@dataclass
class World:
    database: Database
    settings: Settings
    publishers: PublisherServer
    hub: WebSubHub
    server: LiveServer
    feed: PushedFeed
    source_id: int

    def subscription(self) -> WebSubSubscription:
        row = subscription_of(self.database, self.source_id)
        assert row is not None
        return row

    def active(self) -> WebSubSubscription | None:
        row = subscription_of(self.database, self.source_id)
        return row if row is not None and row.state == "active" else None

    def callback(self) -> str:
        return f"{self.server.base_url}/websub/callback/{self.subscription().callback_token}"


@pytest.fixture
def world(
    request: pytest.FixtureRequest, database: Database, publishers: PublisherServer
) -> Iterator[World]:
    """A source whose feed advertises the local hub, followed by a live Tidings (not yet
    refreshed, so not yet subscribed)."""
    kind = getattr(request, "param", "rss")
    with WebSubHub() as hub, live_app(database, fetch_max_bytes=100_000) as (server, settings):
        feed = PushedFeed(publishers, hub.url, kind)
        feed.add("Ferry timetable extended for winter")
        feed.add("Fish market reopens on the quay")
        source = add_source(database, settings, feed.url).source
        yield World(database, settings, publishers, hub, server, feed, source.id)


def subscription_of(database: Database, source_id: int) -> WebSubSubscription | None:
    with database.session() as session:
        return session.scalar(
            select(WebSubSubscription).where(WebSubSubscription.source_id == source_id)
        )


def titles(database: Database) -> list[str]:
    with database.session() as session:
        return list(session.scalars(select(Article.title).order_by(Article.id)))


def subscribed(world: World) -> WebSubSubscription:
    report = refresh_source(world.database, world.settings, world.source_id)
    assert report.status == "ok", report.error
    return wait_for(world.active, what="the hub to verify the subscription")


# --- discovery ----------------------------------------------------------------------------

FEED = "http://pub.example/feed.xml"
HUB = "http://hub.example/"
RSS_LINKS = f'<atom:link rel="hub" href="{HUB}"/><atom:link rel="self" href="{FEED}"/>'


def rss_with(channel: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">'
        f"<channel><title>T</title><link>http://pub.example/</link>{channel}"
        "<item><title>A</title><link>http://pub.example/a</link></item></channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    ("document", "link_header", "expected"),
    [
        pytest.param(rss_with(RSS_LINKS), None, (HUB, FEED), id="rss atom:link"),
        pytest.param(
            b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>'
            b'<link rel="hub" href="/hub"/><link rel="self" href="http://pub.example/atom"/>'
            b"<entry><id>1</id><title>A</title><link href='http://pub.example/a'/></entry></feed>",
            None,
            ("http://pub.example/hub", "http://pub.example/atom"),
            id="atom, relative hub",
        ),
        pytest.param(
            json.dumps(
                {
                    "version": "https://jsonfeed.org/version/1.1",
                    "title": "T",
                    "feed_url": "http://pub.example/feed.json",
                    "items": [],
                    "hubs": [{"type": "WebSub", "url": HUB}],
                }
            ).encode(),
            None,
            (HUB, "http://pub.example/feed.json"),
            id="json feed hubs",
        ),
        pytest.param(
            rss_with(""),
            f'<http://other-hub.example/>; rel="hub", <{FEED}?v=2>; rel="self"',
            ("http://other-hub.example/", f"{FEED}?v=2"),
            id="Link header only",
        ),
        pytest.param(
            rss_with(RSS_LINKS),
            '<http://header-hub.example/>; rel="hub"',
            ("http://header-hub.example/", FEED),
            id="Link header wins over the document",
        ),
        pytest.param(
            rss_with(f'<atom:link rel="hub" href="{HUB}"/>'), None, (HUB, FEED), id="no self"
        ),
        pytest.param(rss_with(""), None, None, id="no hub"),
        pytest.param(
            rss_with('<atom:link rel="hub" href="mailto:hub@example.org"/>'),
            None,
            None,
            id="not http",
        ),
    ],
)
def test_the_hub_and_topic_a_feed_advertises(
    document: bytes, link_header: str | None, expected: tuple[str, str] | None
) -> None:
    headers = httpx.Headers({"link": link_header} if link_header else {})
    feed = parse_feed(document, FEED)
    found = websub.advertised(feed, FetchResult(FEED, 200, headers, document))
    assert (None if found is None else (found.hub, found.topic)) == expected


# --- subscribing and pushes ---------------------------------------------------------------


@pytest.mark.parametrize("world", ["rss", "atom", "json", "link-header"], indirect=True)
def test_subscribes_to_the_advertised_hub_and_stores_pushed_entries_once(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tidings.ingest.websub")
    report = refresh_source(world.database, world.settings, world.source_id)
    assert (report.status, report.articles_new) == ("ok", 2), report.error
    [asked] = world.hub.requests_of("subscribe")
    assert asked["hub.topic"] == [world.feed.url]
    assert asked["hub.callback"][0].startswith(f"{world.server.base_url}/websub/callback/")
    assert len(asked["hub.secret"][0]) == 64
    assert asked["hub.lease_seconds"] == [str(world.settings.websub_lease_s)]
    row = wait_for(world.active, what="the hub to verify the subscription")
    [check] = wait_for(lambda: world.hub.checks, what="the hub to record its check")
    assert check.confirmed
    assert row.lease_seconds == world.settings.websub_lease_s
    assert row.expires_at is not None
    assert row.next_attempt_at is not None
    lease_left = row.expires_at - datetime.now(UTC)
    assert timedelta(days=9, hours=23) < lease_left <= timedelta(days=10)
    assert row.expires_at - row.next_attempt_at == timedelta(days=1)  # renewed a day ahead
    with world.database.session() as session:
        polled_at = session.get(Source, world.source_id).last_fetched_at  # type: ignore[union-attr]

    title = world.feed.add("Lighthouse keeper retires after forty years")
    assert [d.status for d in world.hub.publish(world.feed.url)] == [202]
    wait_for(lambda: title in titles(world.database), what="the pushed article")
    assert [d.status for d in world.hub.publish(world.feed.url)] == [202]  # the same again
    wait_for(lambda: len(pushes_logged(caplog)) == 2, what="the second push to be handled")
    assert titles(world.database).count(title) == 1
    assert len(titles(world.database)) == 3
    assert pushes_logged(caplog) == ["1 new, 0 updated", "0 new, 0 updated"]
    with world.database.session() as session:
        source = session.get(Source, world.source_id)
        assert source is not None
        assert source.last_fetched_at == polled_at
    assert world.subscription().last_push_at is not None


def pushes_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage().split(": ", 1)[1]
        for record in caplog.records
        if record.getMessage().startswith("WebSub push for")
    ]


def sign(method: str, secret: str, body: bytes) -> str:
    return f"{method}={hmac.new(secret.encode(), body, method).hexdigest()}"


# (case, X-Hub-Signature made how, stored?, what the subscription records when ignored)
SIGNATURES: list[tuple[str, Callable[[str, bytes], str | None], bool, str | None]] = [
    ("sha256", lambda secret, body: sign("sha256", secret, body), True, None),
    ("sha512", lambda secret, body: sign("sha512", secret, body), True, None),
    ("sha1", lambda secret, body: sign("sha1", secret, body), True, None),
    ("wrong secret", lambda _, body: sign("sha256", "not-the-secret", body), False,
     "its X-Hub-Signature does not match"),
    ("no signature", lambda _, __: None, False, "it carries no X-Hub-Signature"),
    ("md5", lambda secret, body: sign("md5", secret, body), False,
     "unknown X-Hub-Signature method 'md5'"),
    ("tampered body", lambda secret, body: sign("sha256", secret, body + b" "), False,
     "does not match"),
]  # fmt: skip


def test_pushes_are_stored_only_with_a_valid_signature(world: World) -> None:
    subscribed(world)
    secret, callback = world.subscription().secret, world.callback()
    expected: dict[str, bool] = {}
    with httpx.Client(timeout=10) as client:
        for case, signature_of, stored, recorded in SIGNATURES:
            title = world.feed.add(f"Harbour notice signed with {case}")
            content_type, body = world.feed.render(only=[title])
            signature = signature_of(secret, body)
            headers = {"Content-Type": content_type}
            if signature is not None:
                headers["X-Hub-Signature"] = signature
            answer = client.post(callback, content=body, headers=headers)
            assert answer.status_code == 202, case  # 2xx either way, as the spec allows
            if recorded is not None:
                assert recorded in (world.subscription().last_error or ""), case
            expected[title] = stored
        gone = client.post(f"{world.server.base_url}/websub/callback/unknown", content=b"x")
        assert gone.status_code == 410  # the hub may drop a callback that is gone
        too_big = client.post(callback, content=b"x" * 100_001, headers={"X-Hub-Signature": "x"})
        assert too_big.status_code == 413
    for title, stored in expected.items():
        if stored:
            wait_for(lambda title=title: title in titles(world.database), what=title)
    time.sleep(0.5)  # give an ignored push every chance to be stored by mistake
    assert {t: t in titles(world.database) for t in expected} == expected


# (case, token, hub.mode, topic, hub.challenge, status)
VERIFICATIONS = [
    ("unknown token", "nope", "subscribe", "topic", "c1", 404),
    ("wrong topic", "ours", "subscribe", "http://elsewhere.example/feed", "c2", 404),
    ("no challenge", "ours", "subscribe", "topic", None, 400),
    ("unsubscribe nobody asked for", "ours", "unsubscribe", "topic", "c3", 404),
    ("unknown mode", "ours", "resubscribe", "topic", "c4", 400),
    ("renewal confirmed", "ours", "subscribe", "topic", "c5-challenge", 200),
    ("denied", "ours", "denied", "topic", None, 200),
]


def test_verification_of_intent_answers(world: World) -> None:
    row = subscribed(world)
    with httpx.Client(timeout=10) as client:
        page = client.get(f"{world.server.base_url}/admin/sources/{world.source_id}").text
        assert 'status-active">active</span> at ' + world.hub.url in page  # lease shown too
        for case, token, mode, topic, challenge, status in VERIFICATIONS:
            params = {
                "hub.mode": mode,
                "hub.topic": world.feed.url if topic == "topic" else topic,
                "hub.lease_seconds": "3600",
            }
            if challenge:
                params["hub.challenge"] = challenge
            if mode == "denied":
                params["hub.reason"] = "topic retired"
            used = row.callback_token if token == "ours" else token
            answer = client.get(f"{world.server.base_url}/websub/callback/{used}", params=params)
            assert answer.status_code == status, case
            if status == 200 and challenge:
                assert answer.text == challenge
                assert answer.headers["content-type"].startswith("text/plain")
                assert world.subscription().lease_seconds == 3600
    denied = world.subscription()
    assert denied.state == "denied"
    assert denied.last_error == "the hub refused the subscription: topic retired"
    schema = httpx.get(f"{world.server.base_url}/api/v1/openapi.json", timeout=10).json()
    assert not [path for path in schema["paths"] if "websub" in path]


def test_lease_renewal_subscribes_again_before_the_lease_ends(world: World) -> None:
    world.hub.max_lease_s = 100
    first = subscribed(world)
    assert first.lease_seconds == 100
    assert first.expires_at is not None
    assert first.next_attempt_at is not None
    assert first.expires_at - first.next_attempt_at == timedelta(seconds=10)  # 10% of the lease
    soon = datetime.now(UTC) + timedelta(seconds=30)
    assert websub.renew_due(world.database, world.settings, now=soon) == []
    due = first.next_attempt_at + timedelta(seconds=1)
    assert websub.renew_due(world.database, world.settings, now=due) == [first.id]
    assert len(world.hub.requests_of("subscribe")) == 2
    renewed = wait_for(
        lambda: (row := world.active()) and row.verified_at > first.verified_at and row,  # type: ignore[operator]
        what="the renewal to be verified",
    )
    assert renewed.expires_at is not None
    assert renewed.expires_at > first.expires_at
    assert renewed.callback_token == first.callback_token  # the same subscription


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# (case, hub URL (publishers = the publisher server), words of the recorded error)
BAD_HUBS = [
    ("unreachable", lambda _: f"http://127.0.0.1:{closed_port()}/", "cannot fetch"),
    ("private address", lambda _: "http://127.0.0.2:8080/", "refusing to fetch"),
    ("hub says no", lambda publishers: publishers.url("/hub"), "HTTP 501 from"),
]


@pytest.mark.parametrize(("case", "hub_of", "words"), BAD_HUBS, ids=[c[0] for c in BAD_HUBS])
def test_a_failing_hub_is_recorded_retried_and_polling_goes_on(
    database: Database,
    publishers: PublisherServer,
    case: str,
    hub_of: Callable[[PublisherServer], str],
    words: str,
) -> None:
    settings = make_settings(database.url, public_url="http://127.0.0.1:9")  # never called
    hub = hub_of(publishers)
    feed = PushedFeed(publishers, hub)
    feed.add("Ferry timetable extended for winter")
    source_id = add_source(database, settings, feed.url).source.id
    report = refresh_source(database, settings, source_id)
    assert report.status == "ok"
    assert report.articles_new == 1
    row = subscription_of(database, source_id)
    assert row is not None
    assert row.state == "failed"
    assert row.attempts == 1
    assert row.last_error is not None
    assert row.last_error.startswith(f"subscribing at {hub} failed: ")
    assert words in row.last_error
    assert row.next_attempt_at is not None
    wait = (row.next_attempt_at - datetime.now(UTC)).total_seconds()
    assert 0.8 * settings.retry_base_s - 5 < wait <= 1.2 * settings.retry_base_s  # back-off
    assert websub.renew_due(database, settings) == []  # not yet
    later = datetime.now(UTC) + timedelta(hours=1)
    assert websub.renew_due(database, settings, now=later) == [row.id]
    again = subscription_of(database, source_id)
    assert again is not None
    assert again.state == "failed"
    assert again.attempts == 2
    assert again.next_attempt_at is not None
    assert again.next_attempt_at > row.next_attempt_at
    feed.add("Fish market reopens on the quay")
    assert refresh_source(database, settings, source_id).articles_new == 1


def test_without_a_public_url_nothing_is_subscribed_and_the_source_says_why(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    with WebSubHub() as hub:
        feed = PushedFeed(publishers, hub.url)
        feed.add("Ferry timetable extended for winter")
        source_id = add_source(database, settings, feed.url).source.id
        assert refresh_source(database, settings, source_id).articles_new == 1
        assert refresh_source(database, settings, source_id).status == "ok"
        assert websub.renew_due(database, settings, every=True) == []
        assert hub.requests == []
    row = subscription_of(database, source_id)
    assert row is not None
    assert row.state == "off"
    assert row.hub == hub.url
    assert row.last_error == websub.NO_PUBLIC_URL
    listed = tidings("websub", "list", db=database.url)
    assert listed.returncode == 0, listed.stderr
    assert "TIDINGS_PUBLIC_URL is not set" in listed.stdout
    assert "The Pushed Post" in listed.stdout
    assert " off " in listed.stdout
    renew = tidings("websub", "renew", db=database.url)
    assert renew.returncode == 1
    assert "TIDINGS_PUBLIC_URL is not set" in renew.stdout


def test_leaving_a_hub_when_the_feed_drops_it_or_the_source_is_removed(world: World) -> None:
    row = subscribed(world)
    world.feed.hub = None  # the publisher stops advertising its hub
    world.feed.serve()
    assert refresh_source(world.database, world.settings, world.source_id).status == "ok"
    assert subscription_of(world.database, world.source_id) is None
    assert len(world.hub.requests_of("unsubscribe")) == 1

    world.feed.hub = world.hub.url  # back again: a new subscription, new token and secret
    world.feed.serve()
    refresh_source(world.database, world.settings, world.source_id)
    again = wait_for(world.active, what="the new subscription")
    assert again.callback_token != row.callback_token
    answer = httpx.delete(f"{world.server.base_url}/api/v1/sources/{world.source_id}", timeout=10)
    assert answer.status_code == 204
    assert len(world.hub.requests_of("unsubscribe")) == 2

    # The hub checks after the rows are gone (404 both times); its next pushes to either
    # callback are answered 410 Gone, and it drops them.
    def both_checked() -> bool:
        return [c.status for c in world.hub.checks if c.mode == "unsubscribe"] == [404, 404]

    wait_for(both_checked, what="the hub to check both unsubscriptions")
    assert [d.status for d in world.hub.publish(world.feed.url)] == [410, 410]
    assert world.hub.subscriber(world.feed.url) is None


# --- Tidings as a publisher ---------------------------------------------------------------


def test_own_feeds_advertise_the_hub_and_new_articles_ping_it(
    database: Database, publishers: PublisherServer
) -> None:
    with WebSubHub() as hub, live_app(database, websub_hub=hub.url) as (server, settings):
        feed = PushedFeed(publishers, None)
        feed.add("Ferry timetable extended for winter")
        source_id = add_source(database, settings, feed.url).source.id
        assert refresh_source(database, settings, source_id).articles_new == 1
        [ping] = wait_for(lambda: hub.requests_of("publish"), what="the hub ping")
        own = [f"{server.base_url}/feeds/{name}" for name in ("latest", f"sources/{source_id}")]
        assert ping["hub.url"] == [
            f"{url}.{kind}" for url in own for kind in ("rss", "atom", "json")
        ]
        assert refresh_source(database, settings, source_id).articles_new == 0
        assert len(hub.requests_of("publish")) == 1  # nothing new, no ping

        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            for kind in ("rss", "atom", "json"):
                answer = client.get(f"/feeds/latest.{kind}")
                self_url = f"{server.base_url}/feeds/latest.{kind}"
                assert answer.headers["link"] == f'<{hub.url}>; rel="hub", <{self_url}>; rel="self"'
                found = websub.advertised(
                    parse_feed(answer.content, self_url, answer.headers["content-type"]),
                    FetchResult(self_url, 200, httpx.Headers(), answer.content),
                )
                assert found == websub.Advert(hub.url, self_url), kind
                if kind != "json":
                    parsed = feedparser.parse(answer.content)
                    assert not parsed.bozo, parsed.get("bozo_exception")
                    assert {link.rel for link in parsed.feed.links} >= {"hub", "self"}
                    assert parsed.feed.link.endswith("/")  # still the page, not the hub


def test_subscription_bookkeeping_on_postgresql(pg_database: Database) -> None:
    """The same SQL on PostgreSQL (skipped where none runs): a subscription from off to
    failed to active, a push, a renewal, and the cascade when its source goes."""
    hub = f"http://127.0.0.1:{closed_port()}/"
    document = rss_with(f'<atom:link rel="hub" href="{hub}"/>')
    feed, response = parse_feed(document, FEED), FetchResult(FEED, 200, httpx.Headers(), document)
    source_id = register_source(pg_database, FEED).source.id
    websub.follow_hubs(pg_database, make_settings(pg_database.url), source_id, feed, response)
    assert websub.list_subscriptions(pg_database)[0].state == "off"
    settings = make_settings(pg_database.url, public_url="http://127.0.0.1:9")
    websub.follow_hubs(pg_database, settings, source_id, feed, response)
    row = subscription_of(pg_database, source_id)
    assert row is not None
    assert row.state == "failed"
    check = websub.Verification("subscribe", FEED, "c", "3600")
    assert websub.verify_intent(pg_database, settings, row.callback_token, check) == "c"
    signature = sign("sha256", row.secret, document)
    push = websub.accept_push(pg_database, row.callback_token, document, "", signature)
    assert push is not None
    assert push.source_id == source_id
    later = datetime.now(UTC) + timedelta(hours=2)
    assert websub.renew_due(pg_database, settings, now=later) == [row.id]
    renewing = subscription_of(pg_database, source_id)
    assert renewing is not None
    assert renewing.state == "active"  # a failed renewal keeps a lease that still runs
    assert "failed" in (renewing.last_error or "")
    remove_source(pg_database, source_id, settings)
    assert websub.list_subscriptions(pg_database) == []
