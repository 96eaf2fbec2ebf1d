"""The demo publisher server: serves the corpus's sites and feeds on 127.0.0.1."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import threading
import wave
from dataclasses import dataclass
from datetime import datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tidings.demo.corpus import Corpus, DemoArticle, Publisher, load_corpus
from tidings.demo.site import (
    FEED_PATHS,
    render_article_page,
    render_feed,
    render_homepage,
    render_image,
    render_index,
    render_robots,
)


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    drip_s: float = 0.0  # seconds between single bytes: a server that drips its answer
    cacheable: bool = False  # sends ETag/Last-Modified and answers conditional GETs with 304
    require_auth: tuple[str, str] | None = None  # HTTP basic credentials, else 401
    require_cookie: str | None = None  # a "name=value" the request must carry, else 403
    delay_s: float = 0.0  # seconds before answering at all: a slow server
    declared_length: int | None = None  # a Content-Length that is not the body's: a liar


# Pages and feeds of the demo's deliberately broken publishers and faulty pages.
SLOW_DRIP_S = 0.5
OVERSIZED_PAGE_BYTES = 3 * 1024 * 1024


class PublisherSite:
    """Maps a path to a response; tests may override any path to simulate changes and faults."""

    def __init__(
        self,
        corpus: Corpus,
        anchor: datetime,
        base_url: str,
        *,
        faults: bool = True,
        edits_published: bool = True,
    ) -> None:
        self.edited_corpus = corpus
        self.original_corpus = corpus.before_edits()
        # Off: edited articles are served as first published, until the demo publishes the
        # edits (demo/runner.py), so that a refresh finds them changed.
        self.edits_published = edits_published
        self.anchor = anchor
        self.base_url = base_url
        self.faults = faults  # off: every publisher behaves (tests that are not about faults)
        self.overrides: dict[str, Response] = {}
        self.requests: list[str] = []
        self.request_headers: list[dict[str, str]] = []
        self._lock = threading.Lock()

    @property
    def corpus(self) -> Corpus:
        return self.edited_corpus if self.edits_published else self.original_corpus

    def respond(self, path: str, headers: dict[str, str] | None = None) -> Response:
        with self._lock:
            self.requests.append(path)
            self.request_headers.append(headers or {})
            override = self.overrides.get(path)
        if override is not None:
            return override
        return self._render(path)

    def _render(self, path: str) -> Response:
        if path in ("", "/"):
            return _html(render_index(self.corpus))
        if path == "/robots.txt":
            robots = render_robots(self.corpus, self.base_url)
            return Response(200, "text/plain; charset=utf-8", robots.encode(), cacheable=True)
        parts = path.strip("/").split("/")
        publisher = self.corpus.publisher(parts[0])
        if publisher is None:
            return _not_found()
        rest = "/".join(parts[1:])
        if rest == "":
            return _html(render_homepage(self.corpus, publisher, self.anchor))
        if rest == FEED_PATHS[publisher.feed]:
            return self._feed(publisher)
        if len(parts) == 3 and parts[1] in ("news", "images", "audio"):
            slug = parts[2].rsplit(".", 1)[0]
            article = self.corpus.article(publisher.slug, slug)
            if article is None:
                return _not_found()
            if parts[1] == "images":
                return Response(
                    200, "image/svg+xml", render_image(article).encode(), cacheable=True
                )
            if parts[1] == "audio":
                return Response(200, "audio/wav", _silence(), cacheable=True)
            return self._page(publisher, article)
        return _not_found()

    def _feed(self, publisher: Publisher) -> Response:
        if not self.faults:
            content_type, document = render_feed(self.corpus, publisher, self.anchor, self.base_url)
            return Response(
                200, f"{content_type}; charset=utf-8", document.encode(), cacheable=True
            )
        if publisher.feed == "missing":
            return _not_found()
        if publisher.feed == "failing":
            return Response(500, "text/html; charset=utf-8", b"<h1>Internal Server Error</h1>")
        content_type, document = render_feed(self.corpus, publisher, self.anchor, self.base_url)
        if publisher.feed == "slow":
            return Response(200, content_type, document.encode(), drip_s=SLOW_DRIP_S)
        # A UTF-8 feed whose server declares Latin-1: Tidings must notice and say so.
        charset = "iso-8859-1" if "wrong-charset" in publisher.faults else "utf-8"
        return Response(
            200, f"{content_type}; charset={charset}", document.encode(), cacheable=True
        )

    def _page(self, publisher: Publisher, article: DemoArticle) -> Response:
        page = render_article_page(self.corpus, publisher, article, self.anchor, self.base_url)
        newest = self.faults and self.corpus.articles_of(publisher.slug)[0].slug == article.slug
        if newest and "slow-page" in publisher.faults:
            return Response(200, "text/html; charset=utf-8", page.encode(), drip_s=SLOW_DRIP_S)
        if newest and "oversized-page" in publisher.faults:
            padding = "<!-- " + "x" * OVERSIZED_PAGE_BYTES + " -->"
            page = page.replace("</body>", padding + "</body>")
        response = _html(page)
        response.cacheable = True
        return response


def _check_credentials(response: Response, authorization: str, cookie: str) -> Response:
    if response.require_auth is not None:
        user, password = response.require_auth
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        if authorization != expected:
            return Response(
                401, "text/plain", b"login required", (("WWW-Authenticate", 'Basic realm="feed"'),)
            )
    if response.require_cookie is not None and response.require_cookie not in cookie:
        return Response(403, "text/plain", b"cookie required")
    return response


def _silence(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A short silent WAV: the demo's podcast enclosures."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(1)
        audio.setframerate(rate)
        audio.writeframes(b"\x80" * int(seconds * rate))
    return buffer.getvalue()


def _html(text: str) -> Response:
    return Response(200, "text/html; charset=utf-8", text.encode())


def _not_found() -> Response:
    return Response(404, "text/html; charset=utf-8", b"<h1>Not found</h1>")


class PublisherServer:
    """A threaded HTTP server for a PublisherSite; start() returns once it listens."""

    def __init__(
        self,
        anchor: datetime,
        host: str = "127.0.0.1",
        port: int = 8001,
        corpus: Corpus | None = None,
        *,
        faults: bool = True,
        edits_published: bool = True,
    ) -> None:
        handler = _make_handler(self)
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.host = host
        self.port = int(self.httpd.server_address[1])
        self.site = PublisherSite(
            corpus or load_corpus(),
            anchor,
            self.base_url,
            faults=faults,
            edits_published=edits_published,
        )
        self.last_modified = formatdate(anchor.timestamp(), usegmt=True)
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> PublisherServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05,), name="demo-publishers", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # ends dripping responses
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _make_handler(server: PublisherServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out without a delayed-ACK stall

        def do_GET(self) -> None:
            # A proxy request carries the absolute URL ("GET http://host/path"): kept in headers.
            headers = {**dict(self.headers.items()), "X-Request-Target": self.path}
            response = server.site.respond(urlsplit(self.path).path, headers)
            if response.delay_s and server.stopping.wait(response.delay_s):
                return
            response = _check_credentials(
                response, self.headers.get("Authorization", ""), self.headers.get("Cookie", "")
            )
            body = response.body
            validators: list[tuple[str, str]] = []
            if response.cacheable and response.status == 200:
                etag = '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest()[:20] + '"'
                validators = [("ETag", etag), ("Last-Modified", server.last_modified)]
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    for name, value in validators:
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            gzipped = (
                "gzip" in self.headers.get("Accept-Encoding", "")
                and len(body) > 512
                and not response.drip_s
                and not any(name.lower() == "content-encoding" for name, _ in response.headers)
            )
            if gzipped:
                body = gzip.compress(body)
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            length = len(body) if response.declared_length is None else response.declared_length
            self.send_header("Content-Length", str(length))
            if gzipped:
                self.send_header("Content-Encoding", "gzip")
            for name, value in (*response.headers, *validators):
                self.send_header(name, value)
            self.end_headers()
            try:
                if response.drip_s:
                    for index in range(len(body)):
                        if server.stopping.wait(response.drip_s):
                            return
                        self.wfile.write(body[index : index + 1])
                        self.wfile.flush()
                else:
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                return  # the client gave up, as it should on a drip

        def log_message(self, format: str, *args: object) -> None:
            return  # quiet: the demo prints its own progress

    return Handler
