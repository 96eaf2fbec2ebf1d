"""The demo publisher server: serves the corpus's sites and feeds on 127.0.0.1."""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tidings.demo.corpus import Corpus, load_corpus
from tidings.demo.site import (
    FEED_PATHS,
    render_article_page,
    render_feed,
    render_homepage,
    render_image,
    render_index,
)


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


class PublisherSite:
    """Maps a path to a response; tests may override any path to simulate changes and faults."""

    def __init__(self, corpus: Corpus, anchor: datetime, base_url: str) -> None:
        self.corpus = corpus
        self.anchor = anchor
        self.base_url = base_url
        self.overrides: dict[str, Response] = {}
        self.requests: list[str] = []
        self._lock = threading.Lock()

    def respond(self, path: str) -> Response:
        with self._lock:
            self.requests.append(path)
            override = self.overrides.get(path)
        if override is not None:
            return override
        return self._render(path)

    def _render(self, path: str) -> Response:
        if path in ("", "/"):
            return _html(render_index(self.corpus))
        parts = path.strip("/").split("/")
        publisher = self.corpus.publisher(parts[0])
        if publisher is None:
            return _not_found()
        rest = "/".join(parts[1:])
        if rest == "":
            return _html(render_homepage(self.corpus, publisher, self.anchor))
        if rest == FEED_PATHS[publisher.feed]:
            content_type, document = render_feed(self.corpus, publisher, self.anchor, self.base_url)
            return Response(200, f"{content_type}; charset=utf-8", document.encode())
        if len(parts) == 3 and parts[1] in ("news", "images"):
            slug = parts[2].rsplit(".", 1)[0]
            article = self.corpus.article(publisher.slug, slug)
            if article is None:
                return _not_found()
            if parts[1] == "images":
                return Response(200, "image/svg+xml", render_image(article).encode())
            page = render_article_page(self.corpus, publisher, article, self.anchor, self.base_url)
            return _html(page)
        return _not_found()


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
    ) -> None:
        handler = _make_handler(self)
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.host = host
        self.port = int(self.httpd.server_address[1])
        self.site = PublisherSite(corpus or load_corpus(), anchor, self.base_url)
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
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _make_handler(server: PublisherServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out without a delayed-ACK stall

        def do_GET(self) -> None:
            response = server.site.respond(urlsplit(self.path).path)
            body = response.body
            gzipped = "gzip" in self.headers.get("Accept-Encoding", "") and len(body) > 512
            if gzipped:
                body = gzip.compress(body)
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(body)))
            if gzipped:
                self.send_header("Content-Encoding", "gzip")
            for name, value in response.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # quiet: the demo prints its own progress

    return Handler
