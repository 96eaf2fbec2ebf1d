"""The Google Reader API against the real app and demo data: sign-in, streams, edits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import limits
import pytest
from lxml import etree
from sqlalchemy import func, select, update

from tests.conftest import LiveServer, make_settings
from tests.test_comments import PASSWORD, make_user
from tidings.accounts import service as accounts
from tidings.accounts import tokens
from tidings.db.models import Article, User
from tidings.db.session import Database
from tidings.readers import service as readers
from tidings.web import account_pages

API = "/api/greader/reader/api/0"
READING_LIST = "user/-/state/com.google/reading-list"
READ = "user/-/state/com.google/read"
STARRED = "user/-/state/com.google/starred"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Site:
    """The live app with three accounts; rita follows two demo sources."""

    live: LiveServer
    http: httpx.Client
    database: Database
    sources: tuple[int, int]  # rita's: the first in folder "Local", the second in none

    def login(self, email: str = "rita@example.org", password: str = PASSWORD) -> str:
        response = self.http.post(
            "/api/greader/accounts/ClientLogin", data={"Email": email, "Passwd": password}
        )
        assert response.status_code == 200, response.text
        return login_fields(response.text)["Auth"]

    def get(self, path: str, auth: str, **params: Any) -> httpx.Response:
        return self.http.get(API + path, params=params, headers=_auth(auth))

    def post(self, path: str, auth: str, data: Any = None) -> httpx.Response:
        """A change, with the edit token T as clients send it."""
        body = urlencode([*(data or []), ("T", self.get("/token", auth).text)])
        return self.http.post(API + path, content=body, headers={**_auth(auth), **FORM})

    def user(self, email: str = "rita@example.org") -> User:
        with self.database.session() as session:
            return accounts.find_user(session, email)

    def unread(self, email: str = "rita@example.org") -> int:
        with self.database.session() as session:
            return readers.unread_count(session, accounts.find_user(session, email))

    def for_you_ids(self) -> set[int]:
        with self.database.session() as session:
            found, _ = readers.for_you(session, self.user(), limit=100_000)
            return {article.id for article in found}


def login_fields(text: str) -> dict[str, str]:
    """ClientLogin's answer: `SID=…`, `LSID=…`, `Auth=…` lines."""
    return dict(line.split("=", 1) for line in text.splitlines())


def _auth(credential: str) -> dict[str, str]:
    return {"Authorization": f"GoogleLogin auth={credential}"}


def busiest_sources(database: Database, count: int = 2) -> list[int]:
    """The demo sources with the most original articles (deterministic for the corpus)."""
    with database.session() as session:
        query = (
            select(Article.source_id)
            .where(Article.duplicate_of.is_(None))
            .group_by(Article.source_id)
            .order_by(func.count(Article.id).desc(), Article.source_id)
            .limit(count)
        )
        return list(session.scalars(query))


def start_site(database: Database, **overrides: object) -> Iterator[Site]:
    from tidings.web.app import create_app

    make_user(database, "rita@example.org")
    make_user(database, "sam@example.org")
    make_user(database, "boss@example.org", "admin")
    first, second = busiest_sources(database)
    with database.session() as session:
        rita = accounts.find_user(session, "rita@example.org")
        readers.follow(session, rita, "source", first, "Local")
        readers.follow(session, rita, "source", second)
    settings = make_settings(database.url, **overrides)
    with (
        LiveServer(create_app(settings, database, run_scheduler=False)) as live,
        httpx.Client(base_url=live.base_url, timeout=20) as http,
    ):
        yield Site(live, http, database, (first, second))


@pytest.fixture
def site(demo_database: Database) -> Iterator[Site]:
    yield from start_site(demo_database)


def _ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [int(item["id"].rsplit("/", 1)[1], 16) for item in response.json()["items"]]


# -- signing in -----------------------------------------------------------------------------


CLIENT_LOGINS = [  # e-mail, password, status, what the answer says
    ("rita@example.org", PASSWORD, 200, "Auth="),
    ("RITA@example.org ", PASSWORD, 200, "Auth="),
    ("rita@example.org", "not the password", 401, "wrong e-mail or password"),
    ("nobody@example.org", PASSWORD, 401, "wrong e-mail or password"),
    ("rita@example.org", "", 401, "send Email and Passwd"),
    ("rita@example.org", "TOKEN", 200, "Auth=tdg_"),
    ("sam@example.org", "TOKEN", 401, "wrong e-mail or password"),  # rita's token
]


def test_client_login(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(account_pages, "LOGIN_RATE", limits.parse("1000/minute"))
    with site.database.session() as session:
        _row, token = tokens.create_token(session, site.user(), "app", ["read", "write"])
    for method in ("POST", "GET"):  # some clients send the fields in the query string
        for email, password, status, says in CLIENT_LOGINS:
            fields = {"Email": email, "Passwd": token if password == "TOKEN" else password}
            response = site.http.request(
                method, "/api/greader/accounts/ClientLogin",
                **({"data": fields} if method == "POST" else {"params": fields}),  # type: ignore[arg-type]
            )  # fmt: skip
            case = f"{method} {email} {password}"
            assert response.status_code == status, case
            assert response.headers["content-type"].startswith("text/plain"), case
            assert says in response.text, case
            if status == 200:
                lines = login_fields(response.text)
                assert set(lines) == {"SID", "LSID", "Auth"}
                user = site.get("/user-info", lines["Auth"]).json()
                assert user["userEmail"] == "rita@example.org", case
    # The sign-in page's limit of attempts per address counts these too.
    monkeypatch.setattr(account_pages, "LOGIN_RATE", limits.parse("3/minute"))
    answers = [
        site.http.post("/api/greader/accounts/ClientLogin", data={"Email": "x", "Passwd": "y"})
        for _ in range(4)
    ]
    assert [answer.status_code for answer in answers] == [401, 401, 401, 429]


def test_wrong_passwords_lock_the_account_and_a_new_password_ends_the_login(site: Site) -> None:
    auth = site.login()
    assert site.login() == auth  # the same every time: nothing piles up
    for _ in range(accounts.MAX_FAILED_LOGINS):
        wrong = site.http.post(
            "/api/greader/accounts/ClientLogin", data={"Email": "rita@example.org", "Passwd": "x"}
        )
        assert wrong.status_code == 401
    locked = site.http.post(
        "/api/greader/accounts/ClientLogin",
        data={"Email": "rita@example.org", "Passwd": PASSWORD},
    )
    assert locked.status_code == 401
    assert "locked" in locked.text
    assert site.get("/subscription/list", auth).status_code == 200  # signed in before: still in
    with site.database.session() as session:
        user = accounts.find_user(session, "rita@example.org")
        accounts.change_password(session, user, PASSWORD, "another long password")
    stale = site.get("/subscription/list", auth)
    assert stale.status_code == 401
    assert "sign in again" in stale.json()["detail"]


ENDPOINTS = [
    ("GET", "/token"),
    ("GET", "/user-info"),
    ("GET", "/subscription/list"),
    ("GET", "/tag/list"),
    ("GET", "/unread-count"),
    ("GET", f"/stream/contents/{READING_LIST}"),
    ("GET", "/stream/items/ids"),
    ("POST", "/stream/items/contents"),
    ("POST", "/edit-tag"),
    ("POST", "/mark-all-as-read"),
    ("POST", "/subscription/edit"),
    ("POST", "/subscription/quickadd"),
    ("POST", "/rename-tag"),
    ("GET", "/../atom/feed/1"),
]


def test_requests_without_a_valid_login_get_401(site: Site) -> None:
    for header in (None, "GoogleLogin auth=1/forged", "GoogleLogin auth=tdg_x", "Basic eDp5"):
        for method, path in ENDPOINTS:
            url = (API + path).replace("/api/0/../", "/")
            headers = {"Authorization": header} if header else {}
            response = site.http.request(method, url, headers=headers)
            assert response.status_code == 401, f"{method} {path} with {header}"


def test_browser_sessions_do_not_open_the_api(site: Site) -> None:
    """A cookie alone is not a login here, so other sites' forms cannot make changes."""
    site.http.get("/login")
    login = {"email": "rita@example.org", "password": PASSWORD}
    site.http.post("/login", data={**login, "csrf_token": site.http.cookies["tidings_csrf"]})
    assert "tidings_session" in site.http.cookies
    assert site.http.get(API + "/subscription/list").status_code == 401
    site.http.cookies.clear()


def test_token_scopes_and_the_edit_token(site: Site) -> None:
    with site.database.session() as session:
        _row, read_only = tokens.create_token(session, site.user(), "phone", ["read"])
    auth = site.login(password=read_only)
    assert auth == read_only
    assert site.get("/subscription/list", auth).status_code == 200
    first = site.for_you_ids().pop()
    contents = site.http.post(API + "/stream/items/contents", data={"i": str(first)},
                              headers=_auth(auth))  # fmt: skip
    assert _ids(contents) == [first]  # a POST that only reads
    refused = site.post("/edit-tag", auth, [("i", str(first)), ("a", READ)])
    assert refused.status_code == 403
    assert "read-only" in refused.json()["detail"]
    bearer = site.http.get(API + "/user-info", headers={"Authorization": f"Bearer {read_only}"})
    assert bearer.status_code == 200
    full = site.login()
    no_token = site.http.post(API + "/edit-tag", data={"i": str(first), "a": READ},
                              headers=_auth(full))  # fmt: skip
    assert no_token.status_code == 401
    assert no_token.headers["x-reader-google-bad-token"] == "true"
    wrong = site.http.post(API + "/edit-tag", data={"i": str(first), "a": READ, "T": "x" * 40},
                           headers=_auth(full))  # fmt: skip
    assert wrong.status_code == 401
    assert site.get("/token", read_only).text != site.get("/token", full).text
    assert site.post("/edit-tag", full, [("i", str(first)), ("a", READ)]).text == "OK"


def test_private_instances_still_let_clients_sign_in(demo_database: Database) -> None:
    for site in start_site(demo_database, private=True):
        assert site.http.get(API + "/subscription/list").status_code == 401
        auth = site.login()
        assert len(site.get("/subscription/list", auth).json()["subscriptions"]) == 2


# -- subscriptions, folders, counts -------------------------------------------------------


def test_subscriptions_folders_and_unread_counts(site: Site) -> None:
    auth = site.login()
    first, second = site.sources
    subscriptions = site.get("/subscription/list", auth, output="json").json()["subscriptions"]
    assert [(s["id"], [c["label"] for c in s["categories"]]) for s in subscriptions] == [
        (f"feed/{second}", []),
        (f"feed/{first}", ["Local"]),
    ]
    assert all(s["url"].startswith("http") and s["title"] for s in subscriptions)
    assert site.get("/tag/list", auth).json()["tags"] == [
        {"id": STARRED},
        {"id": "user/-/label/Local", "label": "Local", "type": "folder"},
    ]
    unread_counts = site.get("/unread-count", auth).json()["unreadcounts"]
    assert all(int(c["newestItemTimestampUsec"]) > 1_700_000_000_000_000 for c in unread_counts)
    counts = {c["id"]: c["count"] for c in unread_counts}
    assert counts[READING_LIST] == site.unread() > 0
    assert counts[f"feed/{first}"] + counts[f"feed/{second}"] == site.unread()
    assert counts["user/-/label/Local"] == counts[f"feed/{first}"]
    sam = site.login("sam@example.org")
    assert site.get("/subscription/list", sam).json() == {"subscriptions": []}


def test_subscribing_moving_and_unsubscribing(site: Site) -> None:
    auth = site.login()
    first, _second = site.sources
    folders = lambda: {  # noqa: E731 - a short read-back
        s["id"]: [c["label"] for c in s["categories"]]
        for s in site.get("/subscription/list", auth).json()["subscriptions"]
    }
    third = next(i for i in range(1, 100) if i not in site.sources)
    edit = [("ac", "subscribe"), ("s", f"feed/{third}"), ("a", "user/-/label/Tech")]
    assert site.post("/subscription/edit", auth, edit).text == "OK"
    assert folders()[f"feed/{third}"] == ["Tech"]
    site.post("/subscription/edit", auth, [("ac", "edit"), ("s", f"feed/{third}"),
                                           ("r", "user/-/label/Tech")])  # fmt: skip
    assert folders()[f"feed/{third}"] == []
    site.post("/subscription/edit", auth, [("ac", "edit"), ("s", f"feed/{third}"),
                                           ("a", "user/-/label/Local")])  # fmt: skip
    site.post("/rename-tag", auth, [("s", "user/-/label/Local"), ("dest", "user/-/label/Home")])
    assert folders()[f"feed/{first}"] == folders()[f"feed/{third}"] == ["Home"]
    site.post("/disable-tag", auth, [("s", "user/-/label/Home")])
    assert folders()[f"feed/{first}"] == []
    site.post("/subscription/edit", auth, [("ac", "unsubscribe"), ("s", f"feed/{third}")])
    assert f"feed/{third}" not in folders()
    missing = site.post("/subscription/edit", auth, [("ac", "subscribe"), ("s", "feed/99999")])
    assert missing.status_code == 404
    bad = site.post("/subscription/edit", auth, [("ac", "explode"), ("s", f"feed/{first}")])
    assert bad.status_code == 400


def test_new_sources_need_an_admin(site: Site, publishers: Any) -> None:
    from tidings.demo.corpus import load_corpus
    from tidings.demo.site import feed_path

    feed = publishers.url(feed_path(load_corpus().publisher("harbour-herald")))
    refused = site.post("/subscription/quickadd", site.login(), [("quickadd", feed)])
    assert refused.status_code == 403
    assert "only an admin can add sources" in refused.json()["detail"]
    boss = site.login("boss@example.org")
    added = site.post("/subscription/quickadd", boss, [("quickadd", feed)])
    assert added.status_code == 200, added.text
    assert added.json()["numResults"] == 1
    listed = site.get("/subscription/list", boss).json()["subscriptions"]
    assert [s["id"] for s in listed] == [added.json()["streamId"]]
    again = site.post("/subscription/quickadd", site.login(), [("quickadd", feed)])
    assert again.json()["streamId"] == added.json()["streamId"]  # now it exists: anyone may


# -- streams --------------------------------------------------------------------------------


def test_stream_contents_hold_for_you_as_items(site: Site) -> None:
    auth = site.login()
    first, _second = site.sources
    with site.database.session() as session:
        session.execute(
            update(Article)
            .where(Article.id == max(site.for_you_ids()))
            .values(body='A <b>bold</b> claim & "quotes"\n\nSecond paragraph')
        )
    body = site.get(f"/stream/contents/{READING_LIST}", auth, n=1000).json()
    assert {int(i["id"][-16:], 16) for i in body["items"]} == site.for_you_ids()
    assert "continuation" not in body
    item = next(i for i in body["items"] if int(i["id"][-16:], 16) == max(site.for_you_ids()))
    assert re.fullmatch(r"tag:google\.com,2005:reader/item/[0-9a-f]{16}", item["id"])
    assert item["summary"]["content"] == (
        "<p>A &lt;b&gt;bold&lt;/b&gt; claim &amp; &quot;quotes&quot;</p><p>Second paragraph</p>"
    )
    assert isinstance(item["published"], int)
    assert item["timestampUsec"] == str(item["published"] * 1_000_000)
    assert item["canonical"][0]["href"].startswith("http")
    assert item["origin"]["streamId"].startswith("feed/")
    assert READING_LIST in item["categories"]
    feed = site.get(f"/stream/contents/feed/{first}", auth, n=1000).json()
    assert {i["origin"]["streamId"] for i in feed["items"]} == {f"feed/{first}"}
    assert all("user/-/label/Local" in i["categories"] for i in feed["items"])
    label = site.get("/stream/contents/user/-/label/Local", auth, n=1000).json()
    assert [i["id"] for i in label["items"]] == [i["id"] for i in feed["items"]]
    by_query = site.get("/stream/contents", auth, s=f"feed/{first}", n=1000).json()
    assert by_query["items"] == feed["items"]
    assert site.get("/stream/contents/user/-/state/com.google/nonsense", auth).status_code == 400
    assert site.get("/stream/contents/feed/99999", auth).status_code == 404


@pytest.mark.parametrize("order", ["", "o"])
@pytest.mark.parametrize("endpoint", ["/stream/contents", "/stream/items/ids"])
def test_continuations_page_through_every_item_once(site: Site, order: str, endpoint: str) -> None:
    auth = site.login()
    seen: list[int] = []
    times: list[int] = []
    continuation = None
    for _ in range(100):
        params = {
            "s": READING_LIST,
            "n": 7,
            "r": order,
            **({"c": continuation} if continuation else {}),
        }
        body = site.get(endpoint, auth, **params).json()
        key = "items" if endpoint == "/stream/contents" else "itemRefs"
        refs = body[key]
        seen += [int(r["id"][-16:], 16) if "/" in r["id"] else int(r["id"]) for r in refs]
        times += [int(r["timestampUsec"]) for r in refs]
        continuation = body.get("continuation")
        if not continuation:
            break
    assert len(seen) == len(set(seen))
    assert set(seen) == site.for_you_ids()
    assert times == sorted(times, reverse=order != "o")
    assert site.get(endpoint, auth, s=READING_LIST, c="not a cursor").status_code == 400


def test_filters_and_time_bounds(site: Site) -> None:
    auth = site.login()
    everything = _ids(site.get(f"/stream/contents/{READING_LIST}", auth, n=1000))
    read, starred = everything[:3], everything[3:5]
    with site.database.session() as session:
        user = site.user()
        for article_id in read:
            readers.mark_read(session, user, article_id)
        for article_id in starred:
            readers.save(session, user, article_id)
    unread = _ids(site.get(f"/stream/contents/{READING_LIST}", auth, n=1000, xt=READ))
    assert unread == [i for i in everything if i not in read]
    assert _ids(site.get(f"/stream/contents/{READ}", auth, n=1000)) == read
    assert _ids(site.get(f"/stream/contents/{STARRED}", auth, n=1000)) == starred
    assert _ids(site.get(f"/stream/contents/{READING_LIST}", auth, n=1000, it=STARRED)) == starred
    items = site.get(f"/stream/contents/{READING_LIST}", auth, n=1000).json()["items"]
    middle = items[len(items) // 2]["published"]
    newer = site.get(f"/stream/contents/{READING_LIST}", auth, n=1000, ot=middle).json()
    older = site.get(f"/stream/contents/{READING_LIST}", auth, n=1000, nt=middle).json()
    assert all(i["published"] >= middle for i in newer["items"])
    assert all(i["published"] < middle for i in older["items"])
    assert site.get(f"/stream/contents/{READING_LIST}", auth, ot="yesterday").status_code == 400


# -- read and starred, both ways ----------------------------------------------------------


def test_edit_tag_and_tidings_share_read_and_saved_state(site: Site) -> None:
    auth = site.login()
    first, second, third = sorted(site.for_you_ids())[:3]
    long_id = f"tag:google.com,2005:reader/item/{first:016x}"
    # newsboat's freshrss backend marks read and unread with exactly these bodies
    assert site.post("/edit-tag", auth, [("i", long_id), ("a", READ),
                                         ("r", "user/-/state/com.google/kept-unread"),
                                         ("ac", "edit")]).text == "OK"  # fmt: skip
    assert site.post("/edit-tag", auth, [("i", str(second)), ("i", f"{third:016x}"),
                                         ("a", READ), ("a", STARRED)]).text == "OK"  # fmt: skip
    with site.database.session() as session:
        user = site.user()
        articles = [session.get(Article, i) for i in (first, second, third)]
        assert readers.read_ids(session, user, articles) == {first, second, third}  # type: ignore[arg-type]
        assert readers.saved_ids(session, user, articles) == {second, third}  # type: ignore[arg-type]
    site.post("/edit-tag", auth, [("i", long_id), ("r", READ),
                                  ("a", "user/-/state/com.google/kept-unread"),
                                  ("a", "user/-/state/com.google/tracking-kept-unread")])  # fmt: skip
    site.post("/edit-tag", auth, [("i", str(third)), ("r", STARRED)])
    with site.database.session() as session:
        user = site.user()
        assert not readers.is_saved(session, user, third)
        assert readers.read_ids(session, user, [session.get(Article, first)]) == set()  # type: ignore[list-item]
        readers.mark_read(session, user, first)  # and the other way: Tidings marks it read
        readers.save(session, user, first)
    contents = site.http.post(API + "/stream/items/contents", headers=_auth(auth),
                              data={"i": [long_id, str(second), "00000000deadbeef"]}).json()  # fmt: skip
    categories = {int(i["id"][-16:], 16): i["categories"] for i in contents["items"]}
    assert list(categories) == [first, second]
    assert {READ, STARRED} <= set(categories[first])
    assert READ in categories[second]
    for bad in ([("i", "nonsense"), ("a", READ)], [("i", str(first)), ("a", READ), ("r", READ)],
                [("i", str(first)), ("a", "user/-/label/Local")], [("a", READ)]):  # fmt: skip
        assert site.post("/edit-tag", auth, bad).status_code == 400
    assert site.post("/edit-tag", auth, [("i", "99999999"), ("a", READ)]).status_code == 404


def test_mark_all_as_read(site: Site) -> None:
    auth = site.login()
    first, second = site.sources

    def counts() -> dict[str, int]:
        found = site.get("/unread-count", auth).json()["unreadcounts"]
        return {c["id"]: c["count"] for c in found}

    before = counts()
    assert site.post("/mark-all-as-read", auth, [("s", f"feed/{first}"), ("ts", "1")]).text == "OK"
    assert counts() == before  # nothing was there that early
    assert site.post("/mark-all-as-read", auth, [("s", f"feed/{first}")]).text == "OK"
    after = counts()
    assert after.get(f"feed/{first}", 0) == 0
    assert after.get(f"feed/{second}") == before[f"feed/{second}"]
    assert after[READING_LIST] == site.unread() == before[f"feed/{second}"]
    ts = str(10**16)  # microseconds, far ahead
    assert (
        site.post("/mark-all-as-read", auth, [("s", "user/-/label/Local"), ("ts", ts)]).text == "OK"
    )
    assert site.post("/mark-all-as-read", auth, [("s", READING_LIST), ("ts", ts)]).text == "OK"
    assert site.unread() == 0


def test_the_atom_view(site: Site) -> None:
    auth = site.login()
    first, _second = site.sources
    with site.database.session() as session:
        originals = Article.source_id == first, Article.duplicate_of.is_(None)
        titles = set(session.scalars(select(Article.title).where(*originals)))
        newest = session.scalar(select(func.max(Article.id)).where(*originals))
        readers.mark_read(session, site.user(), newest)  # type: ignore[arg-type]
    response = site.http.get(f"/api/greader/reader/atom/feed%2F{first}", params={"n": 1000},
                             headers=_auth(auth))  # fmt: skip
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = etree.fromstring(response.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = feed.findall("a:entry", ns)
    assert {e.findtext("a:title", namespaces=ns) for e in entries} == titles
    labels = {e.findtext("a:id", namespaces=ns): {c.get("label") for c in e.findall("a:category", ns)}
              for e in entries}  # fmt: skip
    for item, found in labels.items():
        assert ("read" in found) == (int(item[-16:], 16) == newest)
        assert ("fresh" in found) != ("read" in found)
