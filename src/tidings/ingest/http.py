"""Outbound HTTP: timeouts, size cap, redirect limit, charset detection and the SSRF guard."""

from __future__ import annotations

import codecs
import ipaddress
import re
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import charset_normalizer
import httpx

from tidings.config import Settings
from tidings.errors import BlockedURLError, FetchError, InvalidInputError
from tidings.ingest.polite import (
    BoundedDecoder,
    HostGate,
    RateLimitedError,
    RobotsCache,
    RobotsDisallowedError,
    RobotsEntry,
    allowed_by,
    parse_retry_after,
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ACCEPT_FEED = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.8, */*;q=0.5"
)
ACCEPT_HTML = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
_REDIRECT_STATUSES = {301, 302, 303, 307, 308}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_\-.]+)["']""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class FetchResult:
    """A complete, successful response (after redirects)."""

    url: str
    status_code: int
    headers: httpx.Headers
    content: bytes

    @property
    def not_modified(self) -> bool:
        return self.status_code == 304

    @property
    def content_type(self) -> str:
        return str(self.headers.get("content-type", "")).split(";")[0].strip().lower()

    @property
    def text(self) -> str:
        return decode_body(self.content, self.headers.get("content-type", ""))


def detect_encoding(content: bytes, content_type: str = "") -> str:
    """The charset of `content`: BOM, then HTTP header, then in-document declaration, then a guess."""
    for bom, name in _BOMS:
        if content.startswith(bom):
            return name
    header = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_\-:.]+)", content_type, re.I)
    candidates = [header.group(1)] if header else []
    head = content[:4096]
    for pattern in (_XML_ENCODING, _META_CHARSET):
        found = pattern.search(head)
        if found:
            candidates.append(found.group(1).decode("ascii", "ignore"))
    for candidate in candidates:
        try:
            return codecs.lookup(candidate).name
        except LookupError:
            continue
    guess = charset_normalizer.from_bytes(content[:65536]).best()
    return str(guess.encoding) if guess is not None else "utf-8"


def decode_body(content: bytes, content_type: str = "") -> str:
    """Text of a response body, decoded by `detect_encoding` and stripped of any BOM."""
    encoding = detect_encoding(content, content_type)
    text = content.decode(encoding, errors="replace")
    return text.removeprefix("\ufeff")


class SSRFGuard:
    """Refuses non-public targets after DNS resolution unless the owner allow-listed them."""

    def __init__(self, settings: Settings) -> None:
        self._networks = settings.private_networks
        self._names = settings.private_host_names

    def resolve(self, url: str) -> list[IPAddress]:
        """The addresses `url` may be fetched from; raises BlockedURLError if any is refused."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise InvalidInputError(f"only http and https URLs can be fetched, not {url!r}")
        host = (parts.hostname or "").lower()
        if not host:
            raise InvalidInputError(f"URL has no host: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise FetchError(f"cannot resolve host {host!r}: {error.strerror}") from error
        addresses: list[IPAddress] = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if not self._allowed(host, address):
                raise BlockedURLError(
                    f"refusing to fetch {url}: {host} resolves to non-public address {address}"
                    " (allow it with TIDINGS_ALLOW_PRIVATE_HOSTS)"
                )
            if address not in addresses:
                addresses.append(address)
        return addresses

    def _allowed(self, host: str, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.is_global and not address.is_multicast:
            return True
        if host in self._names:
            return True
        return any(address in network for network in self._networks)


@dataclass(frozen=True)
class FetchOptions:
    """Per-request settings: conditional GET validators and a source's own credentials."""

    etag: str | None = None
    last_modified: str | None = None
    user_agent: str | None = None
    auth: tuple[str, str] | None = None
    cookies: str | None = None


class Fetcher:
    """Fetches URLs with every limit applied; shared by a refresh's threads.

    Politeness lives here too: a per-host concurrency limit and minimum delay, Retry-After
    holds after 429/503, and robots.txt for article pages (`check_robots=True`).
    """

    def __init__(
        self, settings: Settings, *, user_agent: str | None = None, proxy: str | None = None
    ) -> None:
        self.settings = settings
        self.guard = SSRFGuard(settings)
        self.user_agent = user_agent or settings.user_agent
        self.gate = _shared_gate(settings)
        timeout = httpx.Timeout(
            settings.fetch_read_timeout_s, connect=settings.fetch_connect_timeout_s
        )
        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate, br"},
            limits=httpx.Limits(max_connections=settings.fetch_concurrency * 2),
            proxy=proxy,
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def fetch(
        self,
        url: str,
        *,
        accept: str = ACCEPT_HTML,
        options: FetchOptions | None = None,
        check_robots: bool = False,
    ) -> FetchResult:
        """GET `url`, following up to the redirect limit, checking every hop with the guard.

        Returns a 304 result (empty content) when `options` carry validators that still hold.
        """
        options = options or FetchOptions()
        # The total-time budget covers talking to servers, not waiting for a per-host slot.
        budget = self.settings.fetch_total_timeout_s
        seen: set[str] = set()
        current = url
        for _hop in range(self.settings.fetch_max_redirects + 1):
            if current in seen:
                raise FetchError(f"redirect loop at {current}")
            seen.add(current)
            self.guard.resolve(current)
            if check_robots:
                self._check_robots(current, options)
            host = urlsplit(current).netloc
            with self.gate.slot(host):
                began = time.monotonic()
                response = self._get(current, accept, began + budget, options)
                budget -= time.monotonic() - began
            status = response.status_code
            if status in _REDIRECT_STATUSES:
                location = response.headers.get("location")
                if not location:
                    raise FetchError(f"HTTP {status} without Location from {current}")
                current = _absolute(current, location)
                continue
            if status in (429, 503):
                wait = parse_retry_after(response.headers.get("retry-after"))
                if wait is not None:
                    self.gate.hold(host, wait)
                after = f"; it asks us to retry after {wait:.0f} s" if wait is not None else ""
                raise RateLimitedError(f"HTTP {status} from {current}{after}", retry_after_s=wait)
            if status >= 400:
                raise FetchError(f"HTTP {status} from {current}")
            return response
        raise FetchError(
            f"too many redirects (more than {self.settings.fetch_max_redirects}) from {url}"
        )

    def robots_for(self, url: str, options: FetchOptions | None = None) -> RobotsEntry:
        """The (cached) robots.txt of `url`'s origin."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        entry = _ROBOTS.get(origin)
        if entry is not None:
            return entry
        try:
            response = self.fetch(f"{origin}/robots.txt", accept="text/plain", options=options)
            return _ROBOTS.store(origin, response.status_code, response.text)
        except RateLimitedError:
            return _ROBOTS.store(origin, None, "")
        except FetchError as error:
            status = re.search(r"HTTP (\d{3})", str(error))
            return _ROBOTS.store(origin, int(status.group(1)) if status else None, "")

    def _check_robots(self, url: str, options: FetchOptions) -> None:
        user_agent = options.user_agent or self.user_agent
        if not allowed_by(self.robots_for(url, options), user_agent, url):
            raise RobotsDisallowedError(f"robots.txt of {urlsplit(url).netloc} disallows {url}")

    def post_form(self, url: str, form: dict[str, str | list[str]]) -> FetchResult:
        """POST a form (a WebSub hub request), with the SSRF guard, host gate and time limits.

        Redirects are not followed; any answer but 2xx raises FetchError with the server's words.
        """
        self.guard.resolve(url)
        host = urlsplit(url).netloc
        with self.gate.slot(host):
            deadline = time.monotonic() + self.settings.fetch_total_timeout_s
            response = self._send("POST", url, {"Accept": "*/*"}, deadline, data=form)
        if not 200 <= response.status_code < 300:
            said = " ".join(response.text.split())[:200]
            raise FetchError(
                f"HTTP {response.status_code} from {url}" + (f": {said}" if said else "")
            )
        return response

    def _get(self, url: str, accept: str, deadline: float, options: FetchOptions) -> FetchResult:
        headers = {"Accept": accept}
        if options.etag:
            headers["If-None-Match"] = options.etag
        if options.last_modified:
            headers["If-Modified-Since"] = options.last_modified
        if options.user_agent:
            headers["User-Agent"] = options.user_agent
        if options.cookies:
            headers["Cookie"] = options.cookies
        return self._send("GET", url, headers, deadline, auth=options.auth)

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        deadline: float,
        *,
        auth: tuple[str, str] | None = None,
        data: dict[str, str | list[str]] | None = None,
    ) -> FetchResult:
        limit = self.settings.fetch_max_bytes
        # No single wait (connecting, the first byte, the next byte) may outlast what is left
        # of the total budget: a server that accepts and then says nothing is cut off in time.
        left = max(0.1, deadline - time.monotonic())
        timeout = httpx.Timeout(
            min(self.settings.fetch_read_timeout_s, left),
            connect=min(self.settings.fetch_connect_timeout_s, left),
        )
        try:
            with self._client.stream(
                method, url, headers=headers, auth=auth, data=data, timeout=timeout
            ) as response:
                declared = response.headers.get("content-length", "")
                encoding = response.headers.get("content-encoding", "")
                if declared.isdigit() and int(declared) > limit and not encoding:
                    raise FetchError(f"response from {url} is larger than {limit:,} bytes")
                chunks: list[bytes] = []
                if response.status_code not in _REDIRECT_STATUSES | {304}:
                    decoder = BoundedDecoder(encoding, limit, url)
                    for raw in response.iter_raw():
                        if time.monotonic() > deadline:
                            raise FetchError(
                                f"fetching {url} took longer than "
                                f"{self.settings.fetch_total_timeout_s:g} s"
                            )
                        chunks.append(decoder.feed(raw))
                return FetchResult(
                    url=str(response.url),
                    status_code=response.status_code,
                    headers=response.headers,
                    content=b"".join(chunks),
                )
        except httpx.TimeoutException as error:
            raise FetchError(f"timed out fetching {url}") from error
        except httpx.HTTPError as error:
            raise FetchError(f"cannot fetch {url}: {error}") from error


_ROBOTS = RobotsCache()
_GATES: dict[tuple[int, float, str | None], HostGate] = {}
_GATES_LOCK = threading.Lock()


def _shared_gate(settings: Settings) -> HostGate:
    """One host gate per process and setting, shared by every fetcher (and so every refresh).

    With Redis configured the gate lives there, so the limits hold across every worker."""
    key = (settings.fetch_per_host_concurrency, settings.fetch_per_host_delay_s, settings.redis_url)
    with _GATES_LOCK:
        if key not in _GATES:
            if settings.redis_url:
                # The shared limiter belongs to the jobs layer (DESIGN: jobs/ratelimit).
                from tidings.jobs.ratelimit import RedisHostGate

                _GATES[key] = RedisHostGate(settings.redis_url, *key[:2])
            else:
                _GATES[key] = HostGate(*key[:2])
        return _GATES[key]


def _absolute(base: str, location: str) -> str:
    joined = urljoin(base, location.strip())
    parts = urlsplit(joined)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))
