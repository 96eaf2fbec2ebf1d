"""Fetching: the SSRF guard, redirects, size cap, charsets and compression."""

from __future__ import annotations

import codecs

import pytest

from tests.conftest import make_settings
from tidings.config import Settings
from tidings.demo.server import PublisherServer, Response
from tidings.errors import BlockedURLError, FetchError, InvalidInputError
from tidings.ingest.http import Fetcher, decode_body, detect_encoding

BLOCKED = ["http://10.0.0.1/feed.xml", "http://169.254.169.254/latest/meta-data/", "http://[::1]/"]


def guarded_settings(*allowed: str) -> Settings:
    return make_settings("sqlite://", allow_private_hosts=list(allowed))


@pytest.mark.parametrize("url", [*BLOCKED, "http://127.0.0.1:9/", "http://localhost:9/"])
def test_ssrf_guard_refuses_non_public_targets(url: str) -> None:
    with Fetcher(guarded_settings()) as fetcher, pytest.raises(BlockedURLError) as caught:
        fetcher.fetch(url)
    assert "non-public address" in str(caught.value)
    assert "TIDINGS_ALLOW_PRIVATE_HOSTS" in str(caught.value)


@pytest.mark.parametrize("target", BLOCKED)
def test_ssrf_guard_refuses_a_redirect_to_a_private_address(
    publishers: PublisherServer, target: str
) -> None:
    publishers.site.overrides["/go"] = Response(302, "text/plain", b"", (("Location", target),))
    with Fetcher(guarded_settings("127.0.0.1")) as fetcher, pytest.raises(BlockedURLError):
        fetcher.fetch(publishers.url("/go"))
    assert publishers.site.requests == ["/go"]  # the private target was never contacted


def test_allow_list_accepts_cidr_ranges(publishers: PublisherServer) -> None:
    with Fetcher(guarded_settings("127.0.0.0/8", "::1/128")) as fetcher:
        assert fetcher.fetch(publishers.url("/")).status_code == 200


@pytest.mark.parametrize("url", ["ftp://example.com/feed", "file:///etc/passwd", "http:///nohost"])
def test_only_http_urls_are_fetched(url: str) -> None:
    with Fetcher(guarded_settings()) as fetcher, pytest.raises(InvalidInputError):
        fetcher.fetch(url)


def test_redirects_are_followed_up_to_the_limit(publishers: PublisherServer) -> None:
    for hop in range(8):
        publishers.site.overrides[f"/hop{hop}"] = Response(
            301, "text/plain", b"", (("Location", f"/hop{hop + 1}"),)
        )
    publishers.site.overrides["/hop8"] = Response(200, "text/plain", b"arrived")
    settings = make_settings("sqlite://", fetch_max_redirects=3)
    with Fetcher(settings) as fetcher:
        with pytest.raises(FetchError, match="too many redirects"):
            fetcher.fetch(publishers.url("/hop0"))
        assert fetcher.fetch(publishers.url("/hop6")).content == b"arrived"


def test_redirect_loop_is_reported(publishers: PublisherServer) -> None:
    publishers.site.overrides["/a"] = Response(302, "text/plain", b"", (("Location", "/b"),))
    publishers.site.overrides["/b"] = Response(302, "text/plain", b"", (("Location", "/a"),))
    with Fetcher(make_settings("sqlite://")) as fetcher, pytest.raises(FetchError, match="loop"):
        fetcher.fetch(publishers.url("/a"))


def test_response_size_cap(publishers: PublisherServer) -> None:
    publishers.site.overrides["/big"] = Response(200, "text/html", b"x" * 50_000)
    settings = make_settings("sqlite://", fetch_max_bytes=10_000)
    with Fetcher(settings) as fetcher, pytest.raises(FetchError, match="larger than 10,000 bytes"):
        fetcher.fetch(publishers.url("/big"))


def test_http_errors_are_clear(publishers: PublisherServer) -> None:
    publishers.site.overrides["/down"] = Response(503, "text/plain", b"busy")
    with Fetcher(make_settings("sqlite://")) as fetcher:
        with pytest.raises(FetchError, match="HTTP 503"):
            fetcher.fetch(publishers.url("/down"))
        with pytest.raises(FetchError, match="HTTP 404"):
            fetcher.fetch(publishers.url("/no/such/page"))


def test_gzip_is_decoded_and_the_user_agent_names_tidings(publishers: PublisherServer) -> None:
    with Fetcher(make_settings("sqlite://")) as fetcher:
        result = fetcher.fetch(publishers.url("/harbour-herald/rss.xml"))
    assert result.headers.get("content-encoding") == "gzip"
    assert result.content.startswith(b"<?xml")
    assert fetcher.settings.user_agent.startswith("Tidings/")


PANGRAM = "Café «Déjà vu» — 港灣日報"


@pytest.mark.parametrize(
    ("raw", "content_type", "encoding"),
    [
        (PANGRAM.encode("utf-8"), "text/html; charset=utf-8", "utf-8"),
        (codecs.BOM_UTF8 + PANGRAM.encode("utf-8"), "text/html; charset=iso-8859-1", "utf-8"),
        (codecs.BOM_UTF16_LE + PANGRAM.encode("utf-16-le"), "text/html", "utf-16"),
        (
            b'<html><head><meta charset="big5"></head>' + "港灣日報".encode("big5"),
            "text/html",
            "big5",
        ),
        (b'<?xml version="1.0" encoding="ISO-8859-1"?><rss>caf\xe9</rss>', "", "iso8859-1"),
        ("Café crème".encode("cp1252"), "text/html; charset=windows-1252", "cp1252"),
    ],
)
def test_charset_detection(raw: bytes, content_type: str, encoding: str) -> None:
    assert detect_encoding(raw, content_type) == encoding
    assert "\ufeff" not in decode_body(raw, content_type)


def test_undeclared_legacy_charset_is_guessed() -> None:
    text = "奧雷利亞港的海港渡輪下月起加價，乘客團體發起聯署反對，議員要求政府考慮直接資助。" * 4
    assert decode_body(text.encode("big5")) == text
