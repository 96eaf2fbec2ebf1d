"""Accounts and comments against the real app: XSS, CSRF, who may do what, limits."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import limits
import lxml.html
import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from tests.conftest import DATA, FormClient, LiveServer, make_settings
from tidings.accounts import service as accounts
from tidings.cli import app as cli_app
from tidings.comments import service as comments
from tidings.db.models import Article, Comment, User
from tidings.db.session import Database
from tidings.demo.server import PublisherServer
from tidings.ingest.extract import extract_article
from tidings.web.auth import CSRF_COOKIE, SESSION_COOKIE

VECTORS = [line for line in (DATA / "xss-vectors.txt").read_text().splitlines() if line.strip()]
PASSWORD = "a long enough password"
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "data", "background", "dynsrc",
                  "lowsrc", "poster", "xlink:href", "{http://www.w3.org/1999/xlink}href")  # fmt: skip
FORBIDDEN_TAGS = {"iframe", "frame", "frameset", "object", "embed", "svg", "math", "base",
                  "style", "applet", "bgsound", "isindex", "template", "xmp", "marquee"}  # fmt: skip


def _json_data(element: lxml.html.HtmlElement) -> bool:
    """A JSON-LD block that is only JSON (a script element browsers never execute)."""
    if (element.get("type") or "").lower() != "application/ld+json" or element.get("src"):
        return False
    try:
        json.loads(element.text or "")
    except ValueError:
        return False
    return True


def executable_parts(html: str) -> list[str]:
    """What in a page could run script: script elements (but our own file), event handlers,
    script URLs, CSS expressions, and elements that load or embed other documents."""
    found: list[str] = []
    root = lxml.html.document_fromstring(html)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        tag = element.tag.lower()
        own = (element.get("src") or "").startswith("/static/") and not element.text
        if tag == "script" and not own and not _json_data(element):
            # Our own script files are the only scripts (JSON-LD is data, never run).
            found.append(lxml.html.tostring(element, encoding="unicode")[:120])
        if tag in FORBIDDEN_TAGS:
            found.append(f"<{tag}>")
        if tag == "meta" and (element.get("http-equiv") or "").lower() == "refresh":
            found.append("<meta refresh>")
        loads = (element.get("rel") or "").lower() not in ("canonical", "alternate")
        if tag == "link" and loads and not (element.get("href") or "").startswith("/"):
            found.append(f"<link href={element.get('href')}>")  # a style or script from elsewhere
        for name, value in element.attrib.items():
            if name.lower().startswith("on"):
                found.append(f"{tag}@{name}")
            flat = re.sub(r"[\x00-\x20]", "", value).lower()
            if name.lower() in URL_ATTRIBUTES and flat.startswith(
                ("javascript:", "vbscript:", "data:")
            ):
                found.append(f"{tag}@{name}={value[:40]}")
            if name.lower() == "style" and re.search(r"expression|javascript:|binding", flat):
                found.append(f"{tag}@style")
    return found


class Server(LiveServer):
    """The live app, closing every client a test opened on it."""

    clients: list[httpx.Client]

    def client(self) -> FormClient:
        http = FormClient(base_url=self.base_url, timeout=20)
        self.clients.append(http)
        return http


@pytest.fixture
def server(demo_database: Database) -> Iterator[Server]:
    from tidings.web.app import create_app

    settings = make_settings(demo_database.url)
    live = Server(create_app(settings, demo_database, run_scheduler=False))
    live.clients = []
    with live:
        yield live
    for http in live.clients:
        http.close()


def make_user(database: Database, email: str, role: str = "reader", name: str | None = None) -> int:
    with database.session() as session:
        return accounts.create_user(session, email, PASSWORD, name or email.split("@")[0], role).id


def signed_in(server: Server, email: str) -> FormClient:
    http = server.client()
    response = http.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 303, response.text
    return http


def token_of(http: httpx.Client, path: str) -> str:
    """The form's submission id (a signed-out reader has no form: a made-up one)."""
    found = re.findall(r'name="submission_id" value="([^"]+)"', http.get(path).text)
    return found[0] if found else "no-form-on-the-page"


def post(http: FormClient, body: str, target: str = "article", target_id: int = 1,
         parent_id: int | None = None) -> httpx.Response:  # fmt: skip
    data: dict[str, object] = {"target_type": target, "target_id": target_id, "body": body,
                               "submission_id": token_of(http, f"/{target}s/{target_id}" if target == "article" else f"/stories/{target_id}")}  # fmt: skip
    if parent_id is not None:
        data["parent_id"] = parent_id
    return http.post("/comments", data=data)


@pytest.fixture
def no_rate_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(comments, "USER_RATE", limits.parse("10000/minute"))
    monkeypatch.setattr(comments, "ADDRESS_RATE", limits.parse("10000/minute"))


def test_xss_vectors_in_comments_never_reach_the_page(
    server: Server, demo_database: Database, no_rate_limits: None
) -> None:
    make_user(demo_database, "ann@example.org")
    http = signed_in(server, "ann@example.org")
    for vector in VECTORS:
        assert post(http, vector).status_code == 303
    page = http.get("/articles/1").text
    assert page.count('class="comment"') == len(VECTORS)
    assert executable_parts(page) == []
    api = http.get("/api/v1/articles/1/comments").json()["items"]
    assert len(api) == len(VECTORS)
    assert executable_parts("<div>" + "".join(item["html"] for item in api) + "</div>") == []
    assert 'rel="nofollow ugc noopener"' in page  # links that survive are marked


def test_xss_vectors_as_display_names_are_escaped(server: Server, demo_database: Database) -> None:
    with demo_database.session() as session:
        for number, vector in enumerate(VECTORS):
            user = accounts.create_user(session, f"u{number}@example.org", PASSWORD,
                                        vector[:80].strip() or "x")  # fmt: skip
            session.add(Comment(target_type="article", target_id=2, user_id=user.id, body="hi",
                                html="<p>hi</p>", submission_id=f"s{number}"))  # fmt: skip
    page = server.client().get("/articles/2").text
    assert page.count('class="comment-author"') == len(VECTORS)
    assert executable_parts(page) == []


def test_xss_vectors_in_publisher_html_are_dropped(server: Server, demo_database: Database) -> None:
    bodies = []
    for number, vector in enumerate(VECTORS):
        html = (f"<html><head><title>Hostile {vector} page</title></head><body><article>"
                f"<h1>Hostile page {number}</h1><p>Paragraph {number} opens a story long enough "
                f"to keep.</p><p>It goes on {vector} with more text.</p><p>Closing paragraph "
                f"{number} of the story.</p></article></body></html>")  # fmt: skip
        bodies.append(extract_article(html, f"https://publisher.example/{number}").body)
    kept = sum(f"Paragraph {n} opens" in body for n, body in enumerate(bodies))
    assert kept >= len(VECTORS) * 0.9  # the story survives its hostile markup
    with demo_database.session() as session:
        article = session.get(Article, 3)
        assert article is not None
        article.title = "Hostile <script>alert(1)</script> page"
        article.body = "\n\n".join(body for body in bodies if body)
        article.lead_image = "javascript:alert(1)"
        article.captions = ["<img src=x onerror=alert(1)>"]
    page = server.client().get("/articles/3").text
    assert "Paragraph 40 opens a story" in page
    assert executable_parts(page) == []


def test_every_form_refuses_a_missing_or_wrong_csrf_token(
    server: Server, demo_database: Database
) -> None:
    make_user(demo_database, "ann@example.org")
    victim = make_user(demo_database, "bob@example.org")
    make_user(demo_database, "mod@example.org", "moderator")
    http = signed_in(server, "mod@example.org")
    assert post(http, "a comment to act on").status_code == 303
    with demo_database.session() as session:
        comment_id = session.scalar(select(Comment.id))
        reset = accounts.issue_reset_token(session, "ann@example.org")
    raw = httpx.Client(base_url=server.base_url, timeout=10)
    server.clients.append(raw)
    raw.cookies.set(SESSION_COOKIE, http.cookies[SESSION_COOKIE])
    raw.cookies.set(CSRF_COOKIE, http.cookies[CSRF_COOKIE])
    forms = [
        (
            "/comments",
            {"target_type": "article", "target_id": "1", "body": "x", "submission_id": "z"},
        ),
        (f"/comments/{comment_id}/edit", {"body": "changed"}),
        (f"/comments/{comment_id}/delete", {}),
        (f"/comments/{comment_id}/report", {}),
        (f"/moderation/comments/{comment_id}/hide", {}),
        (f"/moderation/users/{victim}/ban", {}),
        ("/account/password", {"current": PASSWORD, "new": "another long password"}),
        ("/account/delete", {"password": PASSWORD}),
        ("/logout", {}),
        ("/signup", {"email": "eve@example.org", "display_name": "Eve", "password": PASSWORD}),
        ("/login", {"email": "ann@example.org", "password": PASSWORD}),
        (f"/reset/{reset}", {"password": "another long password"}),
        ("/admin/sources", {"url": "https://example.com/feed.xml"}),
        ("/admin/cleanup", {}),
        ("/admin/ai", {"action": "reset"}),
        ("/admin/sources/1/pause", {}),
        ("/follows", {"kind": "source", "target_id": "1"}),
        ("/articles/1/save", {"saved": "1"}),
        ("/articles/2/read", {"read": "1"}),
        ("/for-you/read-all", {}),
    ]
    for path, data in forms:
        for token in (None, "forged-token"):
            sent = {**data, **({"csrf_token": token} if token else {})}
            response = raw.post(path, data=sent)
            assert response.status_code == 403, (path, token, response.status_code)
    with demo_database.session() as session:
        assert session.scalar(select(func.count(Comment.id))) == 1
        comment = session.get(Comment, comment_id)
        assert comment is not None
        assert comment.status == "visible"
        assert comment.body == "a comment to act on"
        assert not session.scalar(select(func.count(User.id)).where(User.banned.is_(True)))
        assert (
            session.scalar(select(func.count(User.id)).where(User.email == "eve@example.org")) == 0
        )
        assert accounts.authenticate(session, "mod@example.org", PASSWORD)
        paused = session.execute(text("select paused from sources where id = 1")).scalar()
        assert not paused
        for table in ("follows", "saved_articles"):
            assert session.execute(text(f"select count(*) from {table}")).scalar() == 0
        read = text("select count(*) from read_articles where article_id = 2")
        assert session.execute(read).scalar() == 0
    assert http.get("/account").status_code == 200  # still signed in: logout was refused too


ROLES = ("anonymous", "author", "other", "moderator", "admin")
# action → the roles allowed to do it to the author's comment
MATRIX = {
    "post": {"author", "other", "moderator", "admin"},
    "reply": {"author", "other", "moderator", "admin"},
    "edit": {"author"},
    "delete": {"author", "moderator", "admin"},
    "report": {"other", "moderator", "admin"},
    "hide": {"moderator", "admin"},
    "restore": {"moderator", "admin"},
    "remove": {"moderator", "admin"},
    "ban": {"moderator", "admin"},
    "queue": {"moderator", "admin"},
    "admin-page": {"admin"},
}


def test_authorisation_matrix(
    server: Server, demo_database: Database, no_rate_limits: None
) -> None:
    emails = {"author": "author@example.org", "other": "other@example.org",
              "moderator": "mod@example.org", "admin": "admin@example.org"}  # fmt: skip
    author = make_user(demo_database, emails["author"])
    make_user(demo_database, emails["other"])
    make_user(demo_database, emails["moderator"], "moderator")
    make_user(demo_database, emails["admin"], "admin")
    clients = {role: signed_in(server, email) for role, email in emails.items()}
    clients["anonymous"] = server.client()
    checked = 0
    for action, allowed_roles in MATRIX.items():
        for role in ROLES:
            with demo_database.session() as session:
                comment = Comment(target_type="article", target_id=1, user_id=author, body="original",
                                  html="<p>original</p>", submission_id=f"{action}-{role}",
                                  status="hidden" if action == "restore" else "visible")  # fmt: skip
                session.add(comment)
                session.flush()
                comment_id = comment.id
                victim = accounts.create_user(
                    session, f"victim-{action}-{role}@example.org", PASSWORD, "v"
                ).id
            http = clients[role]
            if action in ("post", "reply"):
                response = post(
                    http, f"{action} by {role}", parent_id=comment_id if action == "reply" else None
                )
            elif action == "edit":
                response = http.post(f"/comments/{comment_id}/edit", data={"body": "edited"})
            elif action in ("delete", "report"):
                response = http.post(f"/comments/{comment_id}/{action}")
            elif action in ("hide", "restore", "remove"):
                response = http.post(f"/moderation/comments/{comment_id}/{action}")
            elif action == "ban":
                response = http.post(f"/moderation/users/{victim}/ban")
            elif action == "queue":
                response = http.get("/moderation")
            else:
                response = http.get("/admin/sources", follow_redirects=False)
            allowed = role in allowed_roles
            expected = {200, 303} if allowed else {403, 303}
            assert response.status_code in expected, (action, role, response.status_code)
            with demo_database.session() as session:
                row = session.get(Comment, comment_id)
                banned = session.get(User, victim).banned
                effect = {
                    "edit": row.body == "edited",
                    "delete": row.status == "deleted",
                    "hide": row.status == "hidden",
                    "restore": row.status == "visible",
                    "remove": row.status == "deleted",
                    "ban": banned,
                    "report": bool(session.execute(text("select count(*) from comment_reports where comment_id = :c"), {"c": comment_id}).scalar()),
                    "post": bool(session.scalar(select(func.count(Comment.id)).where(Comment.body == f"post by {role}"))),
                    "reply": bool(session.scalar(select(func.count(Comment.id)).where(Comment.parent_id == comment_id))),
                    "queue": response.status_code == 200,
                    "admin-page": response.status_code == 200,
                }[action]  # fmt: skip
            assert effect == allowed, (action, role)
            checked += 1
    assert checked == len(MATRIX) * len(ROLES) == 55


def test_rate_limits_double_posts_and_the_edit_window(
    server: Server, demo_database: Database
) -> None:
    make_user(demo_database, "ann@example.org")
    http = signed_in(server, "ann@example.org")
    submission = token_of(http, "/articles/1")
    data = {"target_type": "article", "target_id": 1, "body": "once", "submission_id": submission}
    assert http.post("/comments", data=data).status_code == 303
    assert http.post("/comments", data=data).status_code == 303  # a double click
    assert (
        http.post("/comments", data={**data, "submission_id": "other"}).status_code == 303
    )  # resent
    with demo_database.session() as session:
        assert session.scalar(select(func.count(Comment.id)).where(Comment.body == "once")) == 1
    statuses = [post(http, f"comment {n}").status_code for n in range(8)]
    assert statuses[:5] == [303] * 5
    assert statuses[-1] == 429
    with demo_database.session() as session:
        first = session.scalar(select(Comment).where(Comment.body == "once"))
        assert first is not None
        first.created_at = datetime.now(UTC) - timedelta(minutes=16)
        first_id = first.id
    late = http.post(f"/comments/{first_id}/edit", data={"body": "too late"})
    assert late.status_code == 403
    assert "15 minutes" in late.text


def test_deleting_an_account_keeps_the_threads_readable(
    server: Server, demo_database: Database
) -> None:
    make_user(demo_database, "ann@example.org", name="Ann")
    make_user(demo_database, "bob@example.org", name="Bob")
    ann, bob = signed_in(server, "ann@example.org"), signed_in(server, "bob@example.org")
    assert post(ann, "Ann's point").status_code == 303
    with demo_database.session() as session:
        parent = session.scalar(select(Comment.id).where(Comment.body == "Ann's point"))
    assert post(bob, "Bob's reply", parent_id=parent).status_code == 303
    assert ann.post("/account/delete", data={"password": PASSWORD}).status_code == 303
    page = bob.get("/articles/1").text
    assert "[deleted]" in page
    assert "Ann's point" in page
    assert "Bob's reply" in page
    assert "Ann</strong>" not in page
    thread = bob.get("/api/v1/articles/1/comments").json()["items"][0]
    assert thread["author"] == "[deleted]"
    assert thread["replies"][0]["author"] == "Bob"
    relogin = server.client().post(
        "/login", data={"email": "ann@example.org", "password": PASSWORD}
    )
    assert relogin.status_code == 401


def test_sign_up_in_out_lockout_password_change_and_reset(
    server: Server, demo_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    http = server.client()
    signup = http.post("/signup", data={"email": "Ann@Example.org", "display_name": "Ann",
                                         "password": PASSWORD, "next": "//evil.example/"})  # fmt: skip
    assert signup.status_code == 303
    assert signup.headers["location"] == "/"
    cookie = next(c for c in signup.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Ann" in http.get("/").text
    again = http.post(
        "/signup", data={"email": "ann@example.org", "display_name": "A2", "password": PASSWORD}
    )
    assert again.status_code == 400
    assert "already exists" in again.text
    weak = http.post(
        "/signup", data={"email": "b@example.org", "display_name": "B", "password": "short"}
    )
    assert weak.status_code == 400
    assert "at least 10 characters" in weak.text
    assert http.post("/logout").status_code == 303
    assert http.get("/account", follow_redirects=False).status_code == 303
    for _ in range(accounts.MAX_FAILED_LOGINS):
        wrong = http.post("/login", data={"email": "ann@example.org", "password": "wrong password"})
        assert wrong.status_code == 401
        assert "wrong e-mail or password" in wrong.text
    locked = http.post("/login", data={"email": "ann@example.org", "password": PASSWORD})
    assert locked.status_code == 401
    assert "locked" in locked.text
    monkeypatch.setenv("TIDINGS_DATABASE_URL", demo_database.url)
    link = CliRunner().invoke(cli_app, ["users", "reset", "ann@example.org"]).output.strip()
    token = link.rsplit("/", 1)[1].replace("\n", "")
    assert (
        http.post(f"/reset/{token}", data={"password": "a brand new password"}).status_code == 303
    )
    assert (
        http.post(f"/reset/{token}", data={"password": "a brand new password"}).status_code == 400
    )
    changed = http.post(
        "/account/password", data={"current": "a brand new password", "new": PASSWORD + "!"}
    )
    assert changed.status_code == 303
    fresh = server.client()
    assert (
        fresh.post(
            "/login", data={"email": "ann@example.org", "password": PASSWORD + "!"}
        ).status_code
        == 303
    )
    attempts = [fresh.post("/login", data={"email": "x@example.org", "password": "p"}).status_code
                for _ in range(12)]  # fmt: skip
    assert attempts[-1] == 429


def test_admin_pages_need_an_admin_once_one_exists(server: Server, demo_database: Database) -> None:
    anonymous = server.client()
    assert anonymous.get("/admin/sources").status_code == 200  # setting up: no admin yet
    make_user(demo_database, "admin@example.org", "admin")
    make_user(demo_database, "ann@example.org")
    assert (
        anonymous.get("/admin/sources", follow_redirects=False).headers["location"]
        == "/login?next=/admin/sources"
    )
    assert (
        signed_in(server, "ann@example.org").get("/admin/ai", follow_redirects=False).status_code
        == 303
    )
    refused = anonymous.patch("/api/v1/sources/1", json={"paused": True})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    admin = signed_in(server, "admin@example.org")
    assert admin.get("/admin/sources").status_code == 200
    assert admin.patch("/api/v1/sources/1", json={"paused": True}).status_code == 200
    cross = admin.patch(
        "/api/v1/sources/1", json={"paused": False}, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    assert (
        anonymous.post("/api/v1/articles/1/ai/summary", json={}).status_code == 200
    )  # readers' AI


def test_cli_creates_users_and_changes_roles(
    demo_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIDINGS_DATABASE_URL", demo_database.url)
    runner = CliRunner()
    created = runner.invoke(cli_app, ["users", "create", "boss@example.org", "--admin"])
    assert created.exit_code == 0
    assert "Created admin boss@example.org" in created.output
    password = created.output.split("Password: ")[1].strip()
    with demo_database.session() as session:
        assert accounts.authenticate(session, "boss@example.org", password).role == "admin"
    assert runner.invoke(cli_app, ["users", "role", "boss@example.org", "moderator"]).exit_code == 0
    duplicate = runner.invoke(cli_app, ["users", "create", "boss@example.org"])
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.output
    assert re.search(
        r"moderator\s+boss@example.org", runner.invoke(cli_app, ["users", "list"]).output
    )


def test_publisher_images_come_through_the_signed_media_proxy(
    demo_database: Database, publishers: PublisherServer
) -> None:
    from tidings.web.app import create_app
    from tidings.web.media import _signature

    settings = make_settings(demo_database.url, media_max_bytes=200_000)
    image = publishers.url("/harbour-herald/images/x.svg")
    with demo_database.session() as session:
        article = session.get(Article, 1)
        assert article is not None
        real = re.sub(r"^https?://[^/]+", publishers.base_url, article.lead_image or "")
        article.lead_image = real
    with (
        LiveServer(create_app(settings, demo_database, run_scheduler=False)) as live,
        httpx.Client(base_url=live.base_url, timeout=20) as http,
    ):
        page = http.get("/articles/1")
        src = re.search(r'<img src="([^"]+)"', page.text)
        assert src is not None
        assert src.group(1).startswith("/media/")
        assert publishers.base_url not in page.text.split("<main")[1].split("Read the original")[0]
        assert "img-src 'self' data:" in page.headers["content-security-policy"]
        served = http.get(src.group(1).replace("&amp;", "&"))
        assert served.status_code == 200
        assert served.headers["content-type"] == "image/svg+xml"
        assert "sandbox" in served.headers["content-security-policy"]
        forged = http.get(f"/media/{'0' * 32}", params={"url": image})
        assert forged.status_code == 403
        page_url = publishers.url("/harbour-herald/")
        not_image = http.get(
            f"/media/{_signature(settings.secret_key, page_url)}", params={"url": page_url}
        )
        assert not_image.status_code == 415
        private = "http://10.0.0.1/x.png"
        blocked = http.get(
            f"/media/{_signature(settings.secret_key, private)}", params={"url": private}
        )
        assert blocked.status_code == 502
        assert "non-public" in blocked.text


def test_private_mode_lets_only_signed_in_readers_read(demo_database: Database) -> None:
    from tidings.web.app import create_app

    settings = make_settings(demo_database.url, private=True)
    make_user(demo_database, "ann@example.org")
    with LiveServer(create_app(settings, demo_database, run_scheduler=False)) as live:
        anonymous = FormClient(base_url=live.base_url, timeout=20)
        for path in ("/", "/articles/1", "/search?q=panda", "/briefing"):
            response = anonymous.get(path, follow_redirects=False)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next=")
        assert anonymous.get("/api/v1/articles").status_code == 401
        assert anonymous.get("/feeds/latest.rss").status_code == 401
        assert anonymous.get("/login").status_code == 200
        assert (
            anonymous.post(
                "/login", data={"email": "ann@example.org", "password": PASSWORD}
            ).status_code
            == 303
        )
        assert anonymous.get("/articles/1").status_code == 200
        exported = anonymous.get("/account/export").json()
        assert exported["account"]["email"] == "ann@example.org"
        assert exported["comments"] == []
        anonymous.close()
