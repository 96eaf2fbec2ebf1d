"""Shared fixtures: real SQLite files, the real demo publisher server, settings for tests."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tidings.config import Settings
from tidings.db.migrate import upgrade
from tidings.db.session import Database
from tidings.demo.runner import start_demo
from tidings.demo.server import PublisherServer
from tidings.ingest.pipeline import refresh_all
from tidings.web.auth import CSRF_COOKIE

DATA = Path(__file__).parent / "data"
# A fixed anchor keeps publish times (and so listing order) the same in every run.
ANCHOR = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's .env or TIDINGS_* variables."""
    for key in list(os.environ):
        if key.startswith("TIDINGS_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "allow_private_hosts": ["127.0.0.1"],
        "scheduler_enabled": False,
        "fetch_total_timeout_s": 20.0,
        "fetch_per_host_delay_s": 0.0,  # every test publisher is on 127.0.0.1
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tidings-test.db"


@pytest.fixture
def settings(db_path: Path) -> Settings:
    return make_settings(f"sqlite:///{db_path}")


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def publishers() -> Iterator[PublisherServer]:
    """The demo publisher server on a free port, without its deliberate faults.

    Tests may override any path on `.site` to simulate changes and faults of their own.
    """
    server = PublisherServer(ANCHOR, port=0, faults=False).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the whole demo corpus ingested once per test session (copied per use)."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    # The demo's slow and oversized pages fail fast, as in `tidings demo`.
    settings = make_settings(f"sqlite:///{path}", fetch_total_timeout_s=2.0, fetch_max_bytes=2**21)
    database = Database(settings.database_url)
    setup = start_demo(database, settings, publisher_port=0)
    try:
        refresh_all(database, settings)
    finally:
        setup.server.stop()
        database.dispose()
    return path


POSTGRES_SERVER = os.environ.get(
    "TIDINGS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable() -> str | None:
    """None when the test PostgreSQL answers, else why not."""
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES_SERVER, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure means "not reachable"
        return f"PostgreSQL at {POSTGRES_SERVER} is not reachable: {error}".splitlines()[0]
    finally:
        engine.dispose()
    return None


@contextmanager
def postgres_schema(prefix: str) -> Iterator[str]:
    """A database URL whose connections use a fresh schema of their own (dropped after).

    Skips when PostgreSQL is down and CI is unset; under CI=true a missing PostgreSQL fails.
    """
    from sqlalchemy import create_engine, text

    reason = _postgres_reachable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI=true: the PostgreSQL tests must run)")
        pytest.skip(reason)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE SCHEMA {name}"))
        separator = "&" if "?" in POSTGRES_SERVER else "?"
        yield f"{POSTGRES_SERVER}{separator}options=-csearch_path%3D{name}"
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {name} CASCADE"))
    finally:
        admin.dispose()


@pytest.fixture
def pg_database() -> Iterator[Database]:
    """An empty, migrated PostgreSQL database (a schema of its own) for one test."""
    with postgres_schema("tidings_test") as url:
        database = Database(url)
        upgrade(database)
        yield database
        database.dispose()


@pytest.fixture(scope="session")
def pg_demo_database() -> Iterator[Database]:
    """The demo corpus ingested into PostgreSQL once per test session (treat as read-only)."""
    with postgres_schema("tidings_demo") as url:
        settings = make_settings(url, fetch_total_timeout_s=2.0, fetch_max_bytes=2**21)
        database = Database(url)
        setup = start_demo(database, settings, publisher_port=0)
        try:
            refresh_all(database, settings)
        finally:
            setup.server.stop()
        yield database
        database.dispose()


@pytest.fixture
def demo_database(demo_template: Path, tmp_path: Path) -> Iterator[Database]:
    """A private copy of the ingested demo database."""
    path = tmp_path / "demo-copy.db"
    shutil.copy(demo_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


class LiveServer:
    """The real app under uvicorn on a free 127.0.0.1 port, in a background thread."""

    def __init__(self, app: Any) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test web server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


@pytest.fixture
def site(demo_database: Database) -> Iterator[LiveServer]:
    """The web app over a copy of the ingested demo database, served for real."""
    from tidings.web.app import create_app

    settings = make_settings(demo_database.url)
    with LiveServer(create_app(settings, demo_database, run_scheduler=False)) as server:
        yield server


class FormClient(httpx.Client):
    """Posts forms as the site's own pages do: with the CSRF token they carry. (The CSRF
    tests use a plain httpx.Client to show what happens without it.)"""

    def post(self, url: httpx.URL | str, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        if not str(url).startswith("/api/") and "json" not in kwargs and "content" not in kwargs:
            if CSRF_COOKIE not in self.cookies:
                self.get("/login")  # any page hands out the token
            kwargs["data"] = {**(kwargs.get("data") or {}), "csrf_token": self.cookies[CSRF_COOKIE]}
        return super().post(url, **kwargs)


@pytest.fixture
def client(site: LiveServer) -> Iterator[httpx.Client]:
    with FormClient(base_url=site.base_url, timeout=10) as http:
        yield http
