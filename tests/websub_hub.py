"""A small WebSub hub on 127.0.0.1 for tests, following W3C WebSub §5–7.

It takes subscribe/unsubscribe requests (202, then checks intent with a GET to the callback
carrying a random challenge, which must come back as the body), keeps subscribers with their
secret and lease, and distributes a topic on `hub.mode=publish` or `publish(topic)`: it
fetches the topic and POSTs it to every subscriber, signed with `X-Hub-Signature: sha256=…`.
A subscriber answering 410 Gone is dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import httpx

DEFAULT_LEASE_S = 10 * 24 * 3600


@dataclass
class Subscriber:
    topic: str
    callback: str
    secret: str | None
    lease_seconds: int
    expires_at: float


@dataclass
class Check:
    """One verification of intent the hub made, and whether the subscriber confirmed it."""

    mode: str
    topic: str
    callback: str
    status: int
    confirmed: bool


@dataclass
class Delivery:
    callback: str
    status: int


class WebSubHub:
    """The hub; `with WebSubHub() as hub:` serves it until the block ends."""

    def __init__(self, *, max_lease_s: int = DEFAULT_LEASE_S) -> None:
        self.max_lease_s = max_lease_s
        self.deny: set[str] = set()  # topics whose subscriptions are refused (hub.mode=denied)
        self.requests: list[dict[str, list[str]]] = []  # every form POSTed to the hub
        self.checks: list[Check] = []
        self.deliveries: list[Delivery] = []
        self.subscribers: dict[tuple[str, str], Subscriber] = {}  # (topic, callback)
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05,), name="websub-hub", daemon=True
        )

    def __enter__(self) -> WebSubHub:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(timeout=15)

    def requests_of(self, mode: str) -> list[dict[str, list[str]]]:
        with self._lock:
            return [form for form in self.requests if form.get("hub.mode") == [mode]]

    def subscriber(self, topic: str) -> Subscriber | None:
        with self._lock:
            return next((s for s in self.subscribers.values() if s.topic == topic), None)

    def handle(self, form: dict[str, list[str]]) -> tuple[int, str]:
        """A POST to the hub: the status and body of its answer."""
        with self._lock:
            self.requests.append(form)
        mode = _first(form, "hub.mode")
        if mode in ("subscribe", "unsubscribe"):
            topic, callback = _first(form, "hub.topic"), _first(form, "hub.callback")
            if not topic or not callback.startswith(("http://", "https://")):
                return 400, "hub.topic and an http(s) hub.callback are required"
            secret = _first(form, "hub.secret") or None
            if secret is not None and len(secret.encode()) >= 200:
                return 400, "hub.secret must be shorter than 200 bytes"
            asked = _first(form, "hub.lease_seconds")
            lease = min(int(asked), self.max_lease_s) if asked.isdigit() else self.max_lease_s
            self._later(self._verify, mode, topic, callback, secret, lease)
            return 202, ""
        if mode == "publish":
            urls = form.get("hub.url", []) + form.get("hub.topic", [])
            if not urls:
                return 400, "hub.url is required"
            for url in urls:
                self._later(self.publish, url)
            return 204, ""
        return 400, f"unknown hub.mode {mode!r}"

    def publish(self, topic: str) -> list[Delivery]:
        """Fetch `topic` and POST it to each of its subscribers (content distribution, §7)."""
        with httpx.Client(timeout=10) as client:
            try:
                content = client.get(topic)
            except httpx.HTTPError:
                return []
            now = time.time()
            with self._lock:
                targets = [s for s in self.subscribers.values() if s.topic == topic]
            results: list[Delivery] = []
            for target in targets:
                if target.expires_at < now:
                    continue
                headers = {
                    "Content-Type": content.headers.get("content-type", "application/xml"),
                    "Link": f'<{self.url}>; rel="hub", <{topic}>; rel="self"',
                }
                if target.secret:
                    digest = hmac.new(target.secret.encode(), content.content, hashlib.sha256)
                    headers["X-Hub-Signature"] = f"sha256={digest.hexdigest()}"
                try:
                    status = client.post(
                        target.callback, content=content.content, headers=headers
                    ).status_code
                except httpx.HTTPError:
                    status = 0
                if status == 410:
                    with self._lock:
                        self.subscribers.pop((topic, target.callback), None)
                results.append(Delivery(target.callback, status))
        with self._lock:
            self.deliveries.extend(results)
        return results

    def _verify(self, mode: str, topic: str, callback: str, secret: str | None, lease: int) -> None:
        """Verification of intent (§5.3), or a denial (§5.2) for a topic in `deny`."""
        challenge = secrets.token_urlsafe(16)
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if mode == "subscribe" and topic in self.deny:
            params = {"hub.mode": "denied", "hub.topic": topic, "hub.reason": "not on this hub"}
        elif mode == "subscribe":
            params["hub.lease_seconds"] = str(lease)
        try:
            with httpx.Client(timeout=10) as client:
                answer = client.get(callback, params=params)
            status, body = answer.status_code, answer.text
        except httpx.HTTPError:
            status, body = 0, ""
        confirmed = params["hub.mode"] != "denied" and 200 <= status < 300 and body == challenge
        with self._lock:
            self.checks.append(Check(params["hub.mode"], topic, callback, status, confirmed))
            if confirmed and mode == "subscribe":
                expires_at = time.time() + lease
                self.subscribers[(topic, callback)] = Subscriber(
                    topic, callback, secret, lease, expires_at
                )
            elif confirmed:
                self.subscribers.pop((topic, callback), None)

    def _later(self, work: Callable[..., object], *args: object) -> None:
        """Work done after the answer, as a hub does (the subscriber may be the caller)."""
        worker = threading.Thread(target=work, args=args, name="websub-hub-work", daemon=True)
        with self._lock:
            self._workers.append(worker)
        worker.start()


def _first(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0]


def _handler(hub: WebSubHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
            status, text = hub.handle(form)
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler
