"""Polite and hardened fetching against small handlers on the local publisher server."""

from __future__ import annotations

import gzip
import itertools
import time
import zlib
from datetime import UTC, datetime

import brotli
import pytest

from tests.conftest import make_settings
from tidings.demo.server import PublisherServer, Response
from tidings.errors import FetchError
from tidings.ingest.http import Fetcher, FetchOptions
from tidings.ingest.polite import (
    BoundedDecoder,
    HostGate,
    RateLimitedError,
    RobotsDisallowedError,
    adaptive_interval,
    backoff_delay,
    cache_max_age,
    parse_retry_after,
)


def fetcher(**overrides: object) -> Fetcher:
    return Fetcher(make_settings("sqlite://", **overrides))


def test_conditional_get_downloads_nothing_the_second_time(publishers: PublisherServer) -> None:
    url = publishers.url("/harbour-herald/rss.xml")
    with fetcher() as client:
        first = client.fetch(url)
        etag = first.headers["etag"]
        again = client.fetch(url, options=FetchOptions(etag=etag))
    assert first.status_code == 200
    assert again.not_modified
    assert again.content == b""


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"), [(429, "7", 7.0), (503, "120", 120.0), (429, None, None)]
)
def test_retry_after_is_honoured(
    publishers: PublisherServer, status: int, retry_after: str | None, expected: float | None
) -> None:
    headers = (("Retry-After", retry_after),) if retry_after else ()
    publishers.site.overrides["/busy"] = Response(status, "text/plain", b"busy", headers)
    with fetcher() as client:
        with pytest.raises(RateLimitedError) as caught:
            client.fetch(publishers.url("/busy"))
        assert caught.value.retry_after_s == expected
        assert f"HTTP {status}" in str(caught.value)
        if expected:
            # The host is held: no second request goes out before the wait is over.
            requests = len(publishers.site.requests)
            with pytest.raises(RateLimitedError, match="asked us to wait"):
                client.fetch(publishers.url("/harbour-herald/"))
            assert len(publishers.site.requests) == requests
            client.gate.hold(f"127.0.0.1:{publishers.port}", 0)


def test_retry_after_as_http_date() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 25 Nov 2026 12:01:30 GMT", now) == 90.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("999999999", now) == 24 * 3600  # capped


def test_per_host_gate_limits_concurrency_and_spaces_requests() -> None:
    gate = HostGate(concurrency=1, min_delay_s=0.05)
    starts = []
    for _ in range(3):
        with gate.slot("example.com"):
            starts.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(gap >= 0.045 for gap in gaps)


def test_robots_txt_is_respected_for_pages(publishers: PublisherServer) -> None:
    publishers.site.overrides["/robots.txt"] = Response(
        200, "text/plain", b"User-agent: *\nDisallow: /harbour-herald/news/\n"
    )
    page = publishers.url("/harbour-herald/news/anything.html")
    with fetcher() as client:
        with pytest.raises(RobotsDisallowedError, match=r"robots\.txt"):
            client.fetch(page, check_robots=True)
        feed = client.fetch(publishers.url("/harbour-herald/rss.xml"), check_robots=True)
        assert feed.status_code == 200  # only what robots.txt names is refused


def test_a_dripping_server_is_cut_off(publishers: PublisherServer) -> None:
    publishers.site.overrides["/drip"] = Response(200, "text/html", b"x" * 200, drip_s=0.2)
    clock = time.monotonic()
    with (
        fetcher(fetch_total_timeout_s=1.0) as client,
        pytest.raises(FetchError, match="longer than 1 s"),
    ):
        client.fetch(publishers.url("/drip"))
    assert time.monotonic() - clock < 5


def test_a_gzip_bomb_is_refused_without_inflating_it(publishers: PublisherServer) -> None:
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100_000
    publishers.site.overrides["/bomb"] = Response(
        200, "text/html", bomb, (("Content-Encoding", "gzip"),)
    )
    with (
        fetcher(fetch_max_bytes=1_000_000) as client,
        pytest.raises(FetchError, match="larger than 1,000,000 bytes once decompressed"),
    ):
        client.fetch(publishers.url("/bomb"))


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("br", brotli.compress),
    ],
)
def test_bounded_decoder(encoding: str, pack: object) -> None:
    data = b"news " * 10_000
    packed = pack(data)  # type: ignore[operator]
    assert BoundedDecoder(encoding, len(data), "u").feed(packed) == data
    with pytest.raises(FetchError, match="once decompressed"):
        BoundedDecoder(encoding, len(data) - 1, "u").feed(packed)


def test_invalid_gzip_is_a_clear_error(publishers: PublisherServer) -> None:
    publishers.site.overrides["/badzip"] = Response(
        200, "text/html", b"not gzip at all", (("Content-Encoding", "gzip"),)
    )
    with fetcher() as client, pytest.raises(FetchError, match="cannot decompress"):
        client.fetch(publishers.url("/badzip"))


def test_basic_auth_cookies_and_user_agent_per_request(publishers: PublisherServer) -> None:
    publishers.site.overrides["/private.xml"] = Response(
        200, "application/rss+xml", b"<rss/>", require_auth=("reader", "s3cret")
    )
    publishers.site.overrides["/members.xml"] = Response(
        200, "application/rss+xml", b"<rss/>", require_cookie="session=abc"
    )
    with fetcher() as client:
        with pytest.raises(FetchError, match="HTTP 401"):
            client.fetch(publishers.url("/private.xml"))
        ok = client.fetch(
            publishers.url("/private.xml"), options=FetchOptions(auth=("reader", "s3cret"))
        )
        assert ok.content == b"<rss/>"
        with pytest.raises(FetchError, match="HTTP 403"):
            client.fetch(publishers.url("/members.xml"))
        members = client.fetch(
            publishers.url("/members.xml"),
            options=FetchOptions(cookies="session=abc", user_agent="MyReader/2"),
        )
        assert members.content == b"<rss/>"
    assert publishers.site.request_headers[-1]["User-Agent"] == "MyReader/2"


@pytest.mark.parametrize(
    ("per_week", "hint", "expected"),
    [
        (168, None, 3600),  # hourly publisher: hourly polls
        (1, None, 6 * 3600),  # quiet publisher: the slowest bound
        (10_000, None, 300),  # torrent: the fastest bound
        (168, 7200, 7200),  # the feed says it changes every two hours
    ],
)
def test_adaptive_polling(per_week: int, hint: int | None, expected: int) -> None:
    assert adaptive_interval(per_week, 300, 6 * 3600, hint) == expected


def test_backoff_grows_with_failures_and_has_jitter() -> None:
    delays = [backoff_delay(n, 300, 24 * 3600) for n in range(1, 7)]
    assert 240 <= delays[0] <= 360
    assert 2 * 240 <= delays[1] <= 2 * 360
    assert delays[-1] <= 24 * 3600 * 1.2
    assert len({round(backoff_delay(3, 300, 86400)) for _ in range(20)}) > 1


def test_cache_control_max_age() -> None:
    assert cache_max_age("public, max-age=600") == 600
    assert cache_max_age("s-maxage=60, max-age=10") == 60
    assert cache_max_age("no-cache") is None


def test_gate_hold_expires() -> None:
    gate = HostGate(2, 0)
    gate.hold("h", 0.05)
    with pytest.raises(RateLimitedError), gate.slot("h"):
        pass
    time.sleep(0.06)
    with gate.slot("h"):
        pass
    assert gate.held_for("h") == 0
