"""Politeness: per-host limits, Retry-After, robots.txt, back-off and adaptive poll intervals.

A reader that hammers publishers gets blocked. These pieces keep Tidings well-mannered
within one process; the scale-out work moves the host limits to Redis for many workers.
"""

from __future__ import annotations

import random
import re
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.robotparser import RobotFileParser

import brotli

from tidings.errors import FetchError

_MAX_RETRY_AFTER_S = 24 * 3600


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), capped."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(min(int(text), _MAX_RETRY_AFTER_S))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, min(seconds, _MAX_RETRY_AFTER_S))


def cache_max_age(cache_control: str | None) -> int | None:
    """max-age (or s-maxage) from a Cache-Control header, in seconds."""
    if not cache_control:
        return None
    found = re.search(r"(?:s-maxage|max-age)\s*=\s*(\d+)", cache_control, re.IGNORECASE)
    return int(found.group(1)) if found else None


class HostGate:
    """Per-host concurrency limit, minimum delay between requests, and Retry-After holds."""

    def __init__(self, concurrency: int, min_delay_s: float) -> None:
        self.concurrency = max(1, concurrency)
        self.min_delay_s = max(0.0, min_delay_s)
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}
        self._next_start: dict[str, float] = {}
        self._held_until: dict[str, float] = {}

    def refuse_if_held(self, host: str) -> None:
        """Raise if `host` asked us (Retry-After) to wait longer than now."""
        held = self.held_for(host)
        if held > 0:
            raise RateLimitedError(
                f"{host} asked us to wait {held:.0f} s more (Retry-After)", retry_after_s=held
            )

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        """Wait for a free slot on `host` and its minimum delay; raise if the host asked us to wait."""
        self.refuse_if_held(host)
        with self._lock:
            semaphore = self._slots.setdefault(host, threading.Semaphore(self.concurrency))
        with semaphore:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next_start.get(host, now))
                self._next_start[host] = start + self.min_delay_s
            if start > now:
                time.sleep(start - now)
            yield

    def hold(self, host: str, seconds: float) -> None:
        with self._lock:
            self._held_until[host] = max(
                self._held_until.get(host, 0.0), time.monotonic() + seconds
            )

    def held_for(self, host: str) -> float:
        with self._lock:
            return max(0.0, self._held_until.get(host, 0.0) - time.monotonic())


class RateLimitedError(FetchError):
    """The server answered 429/503 (or an earlier Retry-After still holds)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RobotsDisallowedError(FetchError):
    """robots.txt disallows fetching this page for Tidings' user agent."""


@dataclass
class RobotsEntry:
    parser: RobotFileParser | None  # None: everything allowed
    disallow_all: bool
    fetched: float
    sitemaps: list[str]


class RobotsCache:
    """robots.txt per origin, kept for an hour (RFC 9309: 4xx allows all, 5xx disallows)."""

    TTL_S = 3600.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, RobotsEntry] = {}

    def get(self, origin: str) -> RobotsEntry | None:
        with self._lock:
            entry = self._entries.get(origin)
        if entry is None or time.monotonic() - entry.fetched > self.TTL_S:
            return None
        return entry

    def store(self, origin: str, status: int | None, text: str) -> RobotsEntry:
        if status is not None and 200 <= status < 300:
            parser = RobotFileParser()
            parser.parse(text.splitlines())
            sitemaps = list(parser.site_maps() or [])
            entry = RobotsEntry(parser, False, time.monotonic(), sitemaps)
        else:
            entry = RobotsEntry(None, status is None or status >= 500, time.monotonic(), [])
        with self._lock:
            self._entries[origin] = entry
        return entry


def allowed_by(entry: RobotsEntry, user_agent: str, url: str) -> bool:
    if entry.disallow_all:
        return False
    return entry.parser is None or entry.parser.can_fetch(user_agent, url)


def backoff_delay(failures: int, base_s: float, max_s: float) -> float:
    """Exponential back-off with ±20% jitter: base, 2×base, 4×base … up to max."""
    delay = float(min(max_s, base_s * 2.0 ** max(0, failures - 1)))
    return delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security


def adaptive_interval(
    published_last_week: int, min_s: int, max_s: int, feed_hint_s: int | None = None
) -> int:
    """Poll about as often as the source publishes (as Miniflux's entry-frequency scheduler).

    A source that published 168 articles last week is polled hourly, one that published once
    is polled at the slowest bound; the feed's own TTL/updatePeriod/max-age is a floor.
    """
    week = 7 * 24 * 3600
    interval = week // max(1, published_last_week)
    if feed_hint_s:
        interval = max(interval, feed_hint_s)
    return int(max(min_s, min(max_s, interval)))


class BoundedDecoder:
    """Decompresses gzip/deflate/br chunk by chunk, refusing to produce more than `limit` bytes.

    httpx inflates each network chunk whole, so a small gzip bomb becomes a huge allocation
    before any size check; here the output is capped as it is produced. Stacked encodings
    ("gzip, br") are undone in reverse order.
    """

    def __init__(self, encoding: str, limit: int, url: str) -> None:
        self.limit = limit
        self.url = url
        self.produced = 0
        names = [name.strip().lower() for name in encoding.split(",")]
        self._stages = [
            _Stage(name, url) for name in reversed(names) if name not in ("", "identity")
        ]

    def feed(self, data: bytes) -> bytes:
        out = data
        for stage in self._stages:
            out = stage.feed(out, self.limit - self.produced + 1)
            if stage.overflowed:
                raise self._too_large()
        self.produced += len(out)
        if self.produced > self.limit:
            raise self._too_large()
        return out

    def _too_large(self) -> FetchError:
        return FetchError(
            f"response from {self.url} is larger than {self.limit:,} bytes once decompressed"
        )


class _Stage:
    """One content coding of a response."""

    def __init__(self, name: str, url: str) -> None:
        self.url = url
        self.overflowed = False
        self._zlib: zlib._Decompress | None = None
        self._brotli: brotli.Decompressor | None = None
        if name in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif name == "deflate":
            self._zlib = zlib.decompressobj()
        elif name == "br":
            self._brotli = brotli.Decompressor()
        else:
            raise FetchError(f"unsupported Content-Encoding {name!r} from {url}")

    def feed(self, data: bytes, room: int) -> bytes:
        try:
            if self._zlib is not None:
                inflated = self._zlib.decompress(data, room)
                self.overflowed = bool(self._zlib.unconsumed_tail)
                return inflated
            assert self._brotli is not None
            out: bytes = self._brotli.process(data, output_buffer_limit=room)
            self.overflowed = not self._brotli.can_accept_more_data()
            return out
        except (zlib.error, brotli.error) as error:
            raise FetchError(f"cannot decompress the response from {self.url}: {error}") from error
