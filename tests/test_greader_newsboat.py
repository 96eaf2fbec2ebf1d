"""A real Google Reader client against Tidings: newsboat, headless and in a pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select as io_select
import shutil
import sqlite3
import struct
import subprocess
import termios
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.test_comments import PASSWORD
from tests.test_greader import API, FORM, READ, READING_LIST, Site, login_fields, start_site
from tidings.db.models import Article
from tidings.db.session import Database
from tidings.readers import service as readers


@pytest.fixture
def site(demo_database: Database) -> Iterator[Site]:
    yield from start_site(demo_database)


NEWSBOAT = shutil.which("newsboat")


def _newsboat_or_skip(backend: str) -> str:
    """newsboat's path; a skip when it is missing (a failure under CI, which installs it)."""
    if NEWSBOAT is None:
        if os.environ.get("CI"):
            pytest.fail("newsboat is not installed (CI=true: `make system-deps` installs it)")
        pytest.skip("newsboat is not installed: apt-get install newsboat (or make system-deps)")
    if f"{backend}-url".encode() not in Path(NEWSBOAT).read_bytes():
        version = subprocess.run([NEWSBOAT, "--version"], capture_output=True, text=True)
        pytest.skip(f"{version.stdout.split(' - ')[0]} has no {backend} backend (2.22 added it)")
    return NEWSBOAT


class Newsboat:
    """newsboat with its own config, cache and home in a folder, pointed at Tidings."""

    def __init__(self, binary: str, folder: Path, backend: str, server_url: str) -> None:
        self.binary, self.folder = binary, folder
        self.cache = folder / "cache.db"
        (folder / "urls").touch()
        (folder / "config").write_text(
            f'urls-source "{backend}"\n'
            f'{backend}-url "{server_url}"\n'
            f'{backend}-login "rita@example.org"\n'
            f'{backend}-password "{PASSWORD}"\n'
            f"{backend}-min-items 1000\n"
            f"{backend}-show-special-feeds no\n"
            "download-retries 1\n"
            "bind-key j down\nbind-key k up\n"  # the pty splits arrow keys' escape sequences
        )

    def run(self, *commands: str) -> str:
        args = ["-C", "config", "-c", "cache.db", "-u", "urls", "-x", *commands]
        done = subprocess.run(
            [self.binary, *args], cwd=self.folder, capture_output=True, text=True, timeout=120,
            env={**os.environ, "HOME": str(self.folder)},
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def unread(self) -> int:
        found = re.search(r"(\d+) unread articles", self.run("print-unread"))
        assert found, "print-unread said nothing countable"
        return int(found.group(1))

    def items(self) -> dict[str, tuple[str, bool]]:
        """guid → (title, unread) in newsboat's cache."""
        with closing(sqlite3.connect(self.cache)) as cache:
            rows = cache.execute("SELECT guid, title, unread FROM rss_item").fetchall()
        return {guid: (title, bool(unread)) for guid, title, unread in rows}


@pytest.mark.parametrize("backend", ["feedhq", "freshrss"])
def test_newsboat_reads_and_follows_tidings(site: Site, tmp_path: Path, backend: str) -> None:
    """newsboat's Google Reader backends: FeedHQ (Atom view, every packaged version) and
    FreshRSS (JSON streams, newsboat 2.22 and later)."""
    newsboat = Newsboat(_newsboat_or_skip(backend), tmp_path, backend,
                        f"{site.live.base_url}/api/greader")  # fmt: skip
    newsboat.run("reload")
    assert newsboat.unread() == site.unread() > 0
    with site.database.session() as session:
        found, _ = readers.for_you(session, site.user(), limit=100_000)
        expected = {f"tag:google.com,2005:reader/item/{a.id:016x}": a.title for a in found}
    items = newsboat.items()
    assert {guid: title for guid, (title, _unread) in items.items()} == expected
    assert all(unread for _title, unread in items.values())
    read_in_tidings = sorted(expected)[:3]
    with site.database.session() as session:
        for guid in read_in_tidings:
            readers.mark_read(session, site.user(), int(guid[-16:], 16))
    newsboat.run("reload")
    assert newsboat.unread() == site.unread() == len(expected) - 3
    assert {guid for guid, (_title, unread) in newsboat.items().items() if not unread} == set(
        read_in_tidings
    )


def test_newsboat_marks_read_in_tidings(site: Site, tmp_path: Path) -> None:
    """newsboat's own UI (in a pseudo-terminal): "mark feed read" and opening an article
    reach Tidings through token, mark-all-as-read and edit-tag."""
    newsboat = Newsboat(_newsboat_or_skip("feedhq"), tmp_path, "feedhq",
                        f"{site.live.base_url}/api/greader")  # fmt: skip
    newsboat.run("reload")
    first, second = site.sources  # the feed list shows `second` (no folder) first
    counts = lambda: {  # noqa: E731 - a short read-back
        c["id"]: c["count"] for c in site.get("/unread-count", auth).json()["unreadcounts"]
    }
    auth = site.login()
    before = counts()
    assert before[f"feed/{first}"] > 0
    assert before[f"feed/{second}"] > 0
    with Terminal(newsboat) as terminal:
        terminal.wait_for(lambda: "unread" in terminal.screen)
        terminal.press("A")  # mark the selected feed read: token, then mark-all-as-read
        terminal.wait_for(lambda: f"feed/{second}" not in counts())
        terminal.press("j", "\r")  # open the other feed's article list
        terminal.press("N")  # toggle the first article read: token, then edit-tag
        terminal.wait_for(lambda: counts()[f"feed/{first}"] == before[f"feed/{first}"] - 1)
        terminal.press("k", "N")  # and unread again
        terminal.wait_for(lambda: counts()[f"feed/{first}"] == before[f"feed/{first}"])
        terminal.press("q", "q")
    after = counts()
    assert f"feed/{second}" not in after
    assert after[f"feed/{first}"] == after[READING_LIST] == before[f"feed/{first}"]


class Terminal:
    """newsboat's curses UI on a pseudo-terminal: keys in, the screen's text out."""

    def __init__(self, newsboat: Newsboat) -> None:
        self.newsboat = newsboat
        self.screen = ""

    def __enter__(self) -> Terminal:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.process = subprocess.Popen(
            [self.newsboat.binary, "-C", "config", "-c", "cache.db", "-u", "urls"],
            cwd=self.newsboat.folder, stdin=slave, stdout=slave, stderr=slave,
            env={**os.environ, "HOME": str(self.newsboat.folder), "TERM": "xterm"},
            start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        return self

    def _drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = io_select.select([self.master], [], [], left)
            if not ready:
                return
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # the other end closed: newsboat has quit
                return
            self.screen += chunk.decode("utf-8", "replace")

    def press(self, *keys: str) -> None:
        """Each key (or escape sequence) in one write, then time for newsboat to act."""
        for key in keys:
            os.write(self.master, key.encode())
            self._drain(0.5)

    def wait_for(self, condition: Callable[[], bool], seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, (
                f"newsboat did not get there: {self.screen[-2000:]!r}"
            )
            self._drain(0.2)

    def __exit__(self, *_exc: object) -> None:
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


def test_the_calls_of_newsboats_freshrss_backend(site: Site) -> None:
    """Byte for byte what newsboat 2.22+ sends with `urls-source "freshrss"` (its
    freshrssapi.cpp), for newsboat builds too old to run it for real."""
    login = site.http.post(
        "/api/greader/accounts/ClientLogin",
        content="service=reader&Email=rita%40example.org&Passwd=a%20long%20enough%20password"
        "&source=newsboat%2F2.36&accountType=HOSTED_OR_GOOGLE&continue=http://www.google.com/",
        headers=FORM,
    )
    auth = {"Authorization": f"GoogleLogin auth={login_fields(login.text)['Auth']}"}
    listed = site.http.get(API + "/subscription/list?output=json", headers=auth).json()
    unread = 0
    for subscription in listed["subscriptions"]:
        escaped = quote(subscription["id"], safe="")  # curl_easy_escape
        feed = site.http.get(f"{API}/stream/contents/{escaped}?n=1000", headers=auth).json()
        for item in feed["items"]:
            assert item["title"]
            assert item["canonical"][0]["href"]
            assert isinstance(item["published"], int)
            assert next(iter(sorted(item["summary"].items())))[1]  # the first value it finds
            unread += READ not in item["categories"]
    assert unread == site.unread()
    token = site.http.get(API + "/token", headers=auth).text
    guid = f"tag:google.com,2005:reader/item/{min(site.for_you_ids()):016x}"
    bodies = [
        f"i={guid}&a=user/-/state/com.google/read&r=user/-/state/com.google/kept-unread"
        f"&ac=edit&T={token}",
        f"i={guid}&a=user/-/state/com.google/starred&ac=edit&T={token}",
        f"i={guid}&a=user/-/state/com.google/broadcast&ac=edit&T={token}",
        f"s=feed/{site.sources[1]}&T={token}",
    ]
    for path, body in zip(["/edit-tag"] * 3 + ["/mark-all-as-read"], bodies, strict=True):
        answer = site.http.post(API + path, content=body, headers={**auth, **FORM})
        assert answer.text == "OK", body
    with site.database.session() as session:
        article = session.get(Article, int(guid[-16:], 16))
        assert readers.read_ids(session, site.user(), [article]) == {article.id}  # type: ignore[list-item]
        assert readers.is_saved(session, site.user(), article.id)  # type: ignore[union-attr]
    counts = site.get("/unread-count", login_fields(login.text)["Auth"]).json()["unreadcounts"]
    assert f"feed/{site.sources[1]}" not in {count["id"] for count in counts}
