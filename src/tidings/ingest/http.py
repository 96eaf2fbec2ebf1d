"""Outbound HTTP: timeouts, size cap, redirect limit, charset detection and the SSRF guard."""

from __future__ import annotations

import codecs
import ipaddress
import re
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import charset_normalizer
import httpx

from tidings.config import Settings
from tidings.errors import BlockedURLError, FetchError, InvalidInputError

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
    def content_type(self) -> str:
        return str(self.headers.get("content-type", "")).split(";")[0].strip().lower()

    @property
    def encoding(self) -> str:
        return detect_encoding(self.content, self.headers.get("content-type", ""))

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


class Fetcher:
    """Fetches URLs with every limit applied; one per refresh, shared by its threads."""

    def __init__(self, settings: Settings, *, user_agent: str | None = None) -> None:
        self.settings = settings
        self.guard = SSRFGuard(settings)
        timeout = httpx.Timeout(
            settings.fetch_read_timeout_s, connect=settings.fetch_connect_timeout_s
        )
        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            headers={
                "User-Agent": user_agent or settings.user_agent,
                "Accept-Encoding": "gzip, deflate, br",
            },
            limits=httpx.Limits(max_connections=settings.fetch_concurrency * 2),
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def fetch(self, url: str, *, accept: str = ACCEPT_HTML) -> FetchResult:
        """GET `url`, following up to the redirect limit, checking every hop with the guard."""
        deadline = time.monotonic() + self.settings.fetch_total_timeout_s
        seen: set[str] = set()
        current = url
        for _hop in range(self.settings.fetch_max_redirects + 1):
            if current in seen:
                raise FetchError(f"redirect loop at {current}")
            seen.add(current)
            self.guard.resolve(current)
            response = self._get(current, accept, deadline)
            if response.status_code in _REDIRECT_STATUSES:
                location = response.headers.get("location")
                if not location:
                    raise FetchError(f"HTTP {response.status_code} without Location from {current}")
                current = _absolute(current, location)
                continue
            if response.status_code >= 400:
                raise FetchError(f"HTTP {response.status_code} from {current}")
            return response
        raise FetchError(
            f"too many redirects (more than {self.settings.fetch_max_redirects}) from {url}"
        )

    def _get(self, url: str, accept: str, deadline: float) -> FetchResult:
        limit = self.settings.fetch_max_bytes
        try:
            with self._client.stream("GET", url, headers={"Accept": accept}) as response:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise FetchError(f"response from {url} is larger than {limit:,} bytes")
                chunks: list[bytes] = []
                size = 0
                if response.status_code not in _REDIRECT_STATUSES:
                    # iter_bytes() decompresses, so the cap also holds after gzip/brotli.
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > limit:
                            raise FetchError(f"response from {url} is larger than {limit:,} bytes")
                        if time.monotonic() > deadline:
                            raise FetchError(
                                f"fetching {url} took longer than "
                                f"{self.settings.fetch_total_timeout_s:g} s"
                            )
                        chunks.append(chunk)
                return FetchResult(
                    url=str(response.url),
                    status_code=response.status_code,
                    headers=response.headers,
                    content=b"".join(chunks),
                )
        except httpx.TimeoutException as error:
            raise FetchError(f"timed out fetching {url}") from error
        except httpx.DecodingError as error:
            raise FetchError(f"cannot decode the response from {url}: {error}") from error
        except httpx.HTTPError as error:
            raise FetchError(f"cannot fetch {url}: {error}") from error


def _absolute(base: str, location: str) -> str:
    joined = urljoin(base, location.strip())
    parts = urlsplit(joined)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))
