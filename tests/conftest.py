"""Shared fixtures: real databases (SQLite files, or PostgreSQL under TIDINGS_TEST_DATABASE),
the real demo publisher server, settings for tests."""

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
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tidings.config import Settings
from tidings.db.migrate import upgrade
from tidings.db.session import Database
from tidings.demo.runner import refresh_demo, start_demo
from tidings.demo.server import PublisherServer
from tidings.ingest import http
from tidings.ingest.polite import RobotsCache
from tidings.web.auth import CSRF_COOKIE

DATA = Path(__file__).parent / "data"
# A fixed anchor keeps publish times (and so listing order) the same in every run.
ANCHOR = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's .env or TIDINGS_* variables, nor an earlier test's
    robots.txt (the process keeps them per origin for an hour, and a publisher server on a
    free port may get a port an earlier test's server had)."""
    for key in list(os.environ):
        if key.startswith("TIDINGS_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(http, "_ROBOTS", RobotsCache())


POSTGRES_SERVER = os.environ.get(
    "TIDINGS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# Which database the core fixtures (`database`, `settings`, `demo_database`, `site`, ...) give:
# `make test` runs the suite once on each. Read once here: tests never see TIDINGS_* variables.
TEST_DATABASE = os.environ.get("TIDINGS_TEST_DATABASE", "sqlite")
ON_POSTGRESQL = TEST_DATABASE == "postgresql"
# The backends a test that compares both explicitly runs on: in the PostgreSQL pass its SQLite
# variant would only repeat the SQLite pass.
BACKENDS = ["postgresql"] if ON_POSTGRESQL else ["sqlite", "postgresql"]
# A test that reaches a database does so through one of these; the PostgreSQL pass runs only
# such tests (the others would repeat the SQLite pass exactly).
DATABASE_FIXTURES = {"database_url", "empty_database_url", "demo_template", "pg_database"}
DATABASE_FIXTURES |= {"pg_demo_database"}


def pytest_configure(config: pytest.Config) -> None:
    if TEST_DATABASE not in ("sqlite", "postgresql"):
        raise pytest.UsageError(
            f"TIDINGS_TEST_DATABASE must be sqlite or postgresql, not {TEST_DATABASE!r}"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not ON_POSTGRESQL:
        return
    chosen = [item for item in items if DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))]
    left_out = [item for item in items if item not in chosen]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = chosen
    unreachable = _postgres_reachable()
    if unreachable and os.environ.get("CI"):
        pytest.exit(f"{unreachable} (CI=true: the PostgreSQL pass must run)", returncode=1)
    for item in items:
        if unreachable:
            item.add_marker(
                pytest.mark.skip(reason=f"TIDINGS_TEST_DATABASE=postgresql: {unreachable}")
            )
        elif marker := item.get_closest_marker("sqlite_only"):
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {marker.kwargs['reason']}"))


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


class PostgresDatabases:
    """The PostgreSQL databases one test run creates, named `tidings_t<pid>_<n>`.

    Each is dropped when its test ends and whatever is left when the run ends; the next run
    drops those of a run that crashed (its process is gone).
    """

    PREFIX = "tidings_t"

    def __init__(self, server_url: str) -> None:
        self._server = make_url(server_url)
        self._admin = create_engine(self._server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self._run = f"{self.PREFIX}{os.getpid()}_"
        self._count = 0
        self._live: set[str] = set()

    def url(self, name: str) -> str:
        return self._server.set(database=name).render_as_string(hide_password=False)

    def create(self, template: str | None = None) -> str:
        """A new database (a copy of `template` when given); returns its name."""
        self._count += 1
        name = f"{self._run}{self._count}"
        copy = f" TEMPLATE {template}" if template else ""
        self._execute(f"CREATE DATABASE {name}{copy}")
        self._live.add(name)
        return name

    def drop(self, name: str) -> None:
        # FORCE ends connections a test left open (a server thread, a killed subprocess).
        self._execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self._live.discard(name)

    def drop_abandoned(self) -> None:
        """Drop the databases of earlier runs whose process is gone."""
        with self._admin.connect() as connection:
            names = connection.scalars(
                text("SELECT datname FROM pg_database WHERE datname LIKE :pattern"),
                {"pattern": f"{self.PREFIX}%\\_%"},
            ).all()
        for name in names:
            pid = name.removeprefix(self.PREFIX).split("_")[0]
            if pid.isdigit() and not _process_alive(int(pid)):
                self.drop(name)

    def close(self) -> None:
        for name in sorted(self._live):
            self.drop(name)
        self._admin.dispose()

    def _execute(self, statement: str) -> None:
        with self._admin.connect() as connection:
            connection.execute(text(statement))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    """Creates and drops this run's PostgreSQL databases (only the PostgreSQL pass uses it)."""
    databases = PostgresDatabases(POSTGRES_SERVER)
    databases.drop_abandoned()
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture(scope="session")
def migrated_template(postgres_databases: PostgresDatabases) -> str:
    """An empty PostgreSQL database at the newest revision, copied for each test."""
    name = postgres_databases.create()
    database = Database(postgres_databases.url(name))
    upgrade(database)
    database.dispose()  # no connection may stay open to a template while it is copied
    return name


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tidings-test.db"


@pytest.fixture
def database_url(request: pytest.FixtureRequest, db_path: Path) -> str:
    """Where this test's database lives: a SQLite file not yet created, or on PostgreSQL a
    fresh database already at the newest revision (a copy of a migrated template)."""
    if not ON_POSTGRESQL:
        return f"sqlite:///{db_path}"
    return _postgres_copy(request, request.getfixturevalue("migrated_template"))


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A second database for the test, empty (no tables): a SQLite path or a new PostgreSQL
    database. For the CLI, which creates its schema itself, and for copies between databases."""
    if not ON_POSTGRESQL:
        return f"sqlite:///{tmp_path / 'tidings-empty.db'}"
    return _postgres_copy(request, None)


def _postgres_copy(request: pytest.FixtureRequest, template: str | None) -> str:
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    name = databases.create(template)
    request.addfinalizer(lambda: databases.drop(name))
    return databases.url(name)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


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


def ingest_demo(database_url: str) -> None:
    """The whole demo corpus, ingested into the database at `database_url`."""
    # The demo's slow and oversized pages fail fast, as in `tidings demo`.
    settings = make_settings(database_url, fetch_total_timeout_s=2.0, fetch_max_bytes=2**21)
    database = Database(database_url)
    setup = start_demo(database, settings, publisher_port=0)
    try:
        refresh_demo(database, settings, setup)
    finally:
        setup.server.stop()
        database.dispose()


@pytest.fixture(scope="session")
def demo_template(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The whole demo corpus ingested once per test session (copied for each use): a SQLite
    file's path, or on PostgreSQL the name of a template database."""
    if not ON_POSTGRESQL:
        path = tmp_path_factory.mktemp("demo") / "demo.db"
        ingest_demo(f"sqlite:///{path}")
        return str(path)
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    name = databases.create()
    ingest_demo(databases.url(name))  # disposes its engine: templates are copied unconnected
    return name


@pytest.fixture
def demo_database(
    request: pytest.FixtureRequest, demo_template: str, tmp_path: Path
) -> Iterator[Database]:
    """A private copy of the ingested demo database."""
    if ON_POSTGRESQL:
        url = _postgres_copy(request, demo_template)
    else:
        path = tmp_path / "demo-copy.db"
        shutil.copy(demo_template, path)
        url = f"sqlite:///{path}"
    database = Database(url)
    yield database
    database.dispose()


def _postgres_reachable() -> str | None:
    """None when the test PostgreSQL answers, else why not."""
    engine = create_engine(POSTGRES_SERVER, connect_args={"connect_timeout": 3}, poolclass=NullPool)
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
def pg_database(request: pytest.FixtureRequest) -> Iterator[Database]:
    """An empty, migrated PostgreSQL database for one test, in either pass."""
    if ON_POSTGRESQL:
        yield request.getfixturevalue("database")
        return
    with postgres_schema("tidings_test") as url:
        database = Database(url)
        upgrade(database)
        yield database
        database.dispose()


@pytest.fixture(scope="session")
def pg_demo_database(request: pytest.FixtureRequest) -> Iterator[Database]:
    """The demo corpus on PostgreSQL, once per test session, in either pass (treat as read-only)."""
    if ON_POSTGRESQL:
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        name = databases.create(request.getfixturevalue("demo_template"))
        database = Database(databases.url(name))
        yield database
        database.dispose()
        return
    with postgres_schema("tidings_demo") as url:
        ingest_demo(url)
        database = Database(url)
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
