"""API tokens (scopes, revocation, CLI) and the private and search feeds."""

from __future__ import annotations

import re

import feedparser
import httpx
import pytest
from typer.testing import CliRunner

from tests.conftest import FormClient, LiveServer, make_settings
from tests.test_comments import PASSWORD, make_user
from tidings.cli import app as cli_app
from tidings.db.session import Database
from tidings.demo.corpus import load_corpus
from tidings.demo.server import PublisherServer
from tidings.demo.site import feed_path


def test_tokens_are_scoped_revocable_and_feed_for_you(demo_database: Database) -> None:
    from tidings.web.app import create_app

    make_user(demo_database, "rita@example.org")
    make_user(demo_database, "boss@example.org", "admin")
    settings = make_settings(demo_database.url)
    with LiveServer(create_app(settings, demo_database, run_scheduler=False)) as live:
        rita = FormClient(base_url=live.base_url, timeout=20)
        rita.post("/login", data={"email": "rita@example.org", "password": PASSWORD})
        rita.post("/follows", data={"kind": "source", "target_id": 1})
        made = rita.post("/account/tokens", data={"name": "reader app", "scope": ["read"]})
        read_token = re.search(r'<code class="token">([^<]+)</code>', made.text).group(1)  # type: ignore[union-attr]
        assert read_token.startswith("tdg_")
        assert read_token not in rita.get("/account").text
        denied = rita.post("/account/tokens", data={"name": "x", "scope": ["admin"]})
        assert denied.status_code == 400
        assert "only admins" in denied.text
        api = httpx.Client(base_url=live.base_url, timeout=20)
        bearer = {"Authorization": f"Bearer {read_token}"}
        follows = api.get("/api/v1/me/follows", headers=bearer)
        assert follows.status_code == 200
        assert follows.json()["items"][0]["target_id"] == 1
        read_only = api.put("/api/v1/me/saved/3", headers=bearer)
        assert read_only.status_code == 403
        assert "read-only" in read_only.json()["detail"]
        feed = feedparser.parse(api.get(f"/feeds/for-you/{read_token}.atom").content)
        assert not feed.bozo
        assert feed.entries
        assert api.get("/feeds/for-you/tdg_wrong.rss").status_code == 404
        bad = api.get("/api/v1/me/follows", headers={"Authorization": "Bearer tdg_nope"})
        assert bad.status_code == 401
        assert bad.headers["content-type"].startswith("application/problem+json")
        token_id = re.search(r"/account/tokens/(\d+)/revoke", rita.get("/account").text).group(1)  # type: ignore[union-attr]
        assert rita.post(f"/account/tokens/{token_id}/revoke").status_code == 303
        assert api.get("/api/v1/me/follows", headers=bearer).status_code == 401
        assert api.get(f"/feeds/for-you/{read_token}.rss").status_code == 404
        # Admin writes need an admin token with the admin scope.
        runner = CliRunner()
        env = {"TIDINGS_DATABASE_URL": demo_database.url}
        write = runner.invoke(
            cli_app,
            ["tokens", "create", "boss@example.org", "--scope", "read", "--scope", "write"],
            env=env,
        )
        admin = runner.invoke(
            cli_app,
            [
                "tokens",
                "create",
                "boss@example.org",
                "--scope",
                "write",
                "--scope",
                "admin",
                "--name",
                "ops",
            ],
            env=env,
        )
        assert write.exit_code == 0
        assert admin.exit_code == 0
        write_token, admin_token = write.output.split()[-1], admin.output.split()[-1]
        change = {"paused": True}
        no_scope = api.patch(
            "/api/v1/sources/1", json=change, headers={"Authorization": f"Bearer {write_token}"}
        )
        assert no_scope.status_code == 403
        allowed = api.patch(
            "/api/v1/sources/1", json=change, headers={"Authorization": f"Bearer {admin_token}"}
        )
        assert allowed.status_code == 200
        assert allowed.json()["paused"] is True
        listed = runner.invoke(cli_app, ["tokens", "list", "boss@example.org"], env=env).output
        assert "ops" in listed
        assert admin_token not in listed
        first_id = listed.split()[0]
        assert (
            runner.invoke(
                cli_app, ["tokens", "revoke", "boss@example.org", first_id], env=env
            ).exit_code
            == 0
        )
        wrong = runner.invoke(
            cli_app, ["tokens", "create", "boss@example.org", "--scope", "everything"], env=env
        )
        assert wrong.exit_code == 1
        assert "scopes are read, write, admin" in wrong.output
        api.close()
        rita.close()


@pytest.mark.parametrize("kind", ["rss", "atom", "json"])
def test_a_search_is_a_feed(client: httpx.Client, kind: str) -> None:
    response = client.get(f"/feeds/search.{kind}", params={"q": "panda"})
    assert response.status_code == 200
    if kind == "json":
        texts = [item["title"] + item["content_text"] for item in response.json()["items"]]
    else:
        parsed = feedparser.parse(response.content)
        assert not parsed.bozo
        texts = [entry.title + entry.content[0].value for entry in parsed.entries]
    assert texts
    assert all("panda" in text.lower() or "熊貓" in text for text in texts)
    assert client.get("/feeds/search.rss").status_code == 422  # the query is required


def test_sources_are_added_refreshed_and_removed_through_the_api(
    database: Database, publishers: PublisherServer
) -> None:
    from tidings.web.app import create_app

    settings = make_settings(database.url)
    with (
        LiveServer(create_app(settings, database, run_scheduler=False)) as live,
        httpx.Client(base_url=live.base_url, timeout=60) as api,
    ):
        feed = publishers.url(feed_path(load_corpus().publisher("harbour-herald")))  # type: ignore[arg-type]
        added = api.post("/api/v1/sources", json={"url": feed})
        assert added.status_code == 201, added.text
        source_id = added.json()["id"]
        again = api.post("/api/v1/sources", json={"url": feed})
        assert again.status_code == 200
        assert again.json()["id"] == source_id
        report = api.post(f"/api/v1/sources/{source_id}/refresh").json()
        assert report["status"] == "ok"
        assert report["articles_new"] > 0
        articles = api.get("/api/v1/articles", params={"source_id": source_id}).json()["items"]
        assert articles
        assert api.delete(f"/api/v1/sources/{source_id}").status_code == 204
        assert api.get(f"/api/v1/sources/{source_id}").status_code == 404
        assert api.get(f"/api/v1/articles/{articles[0]['id']}").status_code == 404
        bad = api.post("/api/v1/sources", json={"url": "not a url"})
        assert bad.status_code == 400
        assert api.post("/api/v1/sources/999/refresh").status_code == 404
