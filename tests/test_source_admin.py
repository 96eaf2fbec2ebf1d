"""Source health and settings from the CLI, the admin pages and the API."""

from __future__ import annotations

import httpx

from tests.test_cli import assert_one_line_error, tidings
from tidings.demo.corpus import load_corpus
from tidings.demo.server import PublisherServer
from tidings.demo.site import feed_path


def test_cli_pause_resume_configure_and_cleanup(
    empty_database_url: str, publishers: PublisherServer
) -> None:
    db = empty_database_url
    herald = load_corpus().publisher("harbour-herald")
    assert herald is not None
    assert tidings("add", publishers.url(feed_path(herald)), db=db).returncode == 0
    assert "Paused The Harbour Herald" in tidings("pause", "1", db=db).stdout
    listing = tidings("sources", db=db)
    assert "paused" in listing.stdout
    refreshed = tidings("refresh", db=db)  # refresh all skips paused sources
    assert "The Harbour Herald" not in refreshed.stdout
    assert "Resumed" in tidings("resume", "The Harbour Herald", db=db).stdout
    configured = tidings(
        "configure",
        "1",
        "--auth",
        "reader:pw",
        "--cookies",
        "s=1",
        "--proxy",
        "http://proxy:3128",
        "--poll-interval",
        "900",
        "--retention-days",
        "30",
        "--feed-only",
        db=db,
    )
    assert configured.returncode == 0, configured.stderr
    for text in ("reader:****", "(set)", "http://proxy:3128", "900 s", "30 days", "feed text only"):
        assert text in configured.stdout
    assert "pw" not in configured.stdout.replace("****", "")  # the password is never printed
    assert_one_line_error(
        tidings("configure", "1", "--proxy", "ftp://x", db=db), "proxy URL must start"
    )
    assert_one_line_error(
        tidings("configure", "1", "--poll-interval", "5", db=db), "at least 60 seconds"
    )
    cleaned = tidings("cleanup", "--dry-run", db=db)
    assert "would remove 0 article(s)" in cleaned.stdout


def test_admin_pages_pause_settings_and_cleanup(client: httpx.Client) -> None:
    sources = client.get("/api/v1/sources").json()["items"]
    target = next(s for s in sources if s["status"] == "ok")
    source_id = target["id"]
    assert target["articles_per_day"] >= 0
    assert target["avg_fetch_ms"] is not None
    assert "has_password" in target
    assert "auth_password" not in target
    paused = client.post(f"/admin/sources/{source_id}/pause")
    assert "Paused" in client.get(paused.headers["location"]).text
    assert client.get(f"/api/v1/sources/{source_id}").json()["paused"] is True
    client.post(f"/admin/sources/{source_id}/resume")
    assert client.get(f"/api/v1/sources/{source_id}").json()["paused"] is False
    saved = client.post(
        f"/admin/sources/{source_id}/settings",
        data={
            "auth_username": "reader",
            "auth_password": "pw",
            "poll_interval_s": "600",
            "fetch_pages": "1",
        },
    )
    assert "Settings saved" in client.get(saved.headers["location"]).text
    state = client.get(f"/api/v1/sources/{source_id}").json()
    assert state["auth_username"] == "reader"
    assert state["has_password"] is True
    assert state["poll_interval_s"] == 600
    kept = client.post(
        f"/admin/sources/{source_id}/settings", data={"auth_username": "reader", "fetch_pages": "1"}
    )
    assert kept.status_code == 303
    assert (
        client.get(f"/api/v1/sources/{source_id}").json()["has_password"] is True
    )  # empty keeps it
    bad = client.post(f"/admin/sources/{source_id}/settings", data={"poll_interval_s": "soon"})
    assert "must be a whole number" in client.get(bad.headers["location"]).text
    ran = client.post("/admin/cleanup")
    assert "Cleanup:" in client.get(ran.headers["location"]).text
    assert "Last cleanup" in client.get("/admin/sources").text


def test_api_patch_settings(client: httpx.Client) -> None:
    source_id = client.get("/api/v1/sources").json()["items"][0]["id"]
    changed = client.patch(
        f"/api/v1/sources/{source_id}",
        json={
            "paused": True,
            "proxy_url": "socks5://127.0.0.1:1080",
            "page_limit": 20,
            "fetch_pages": False,
        },
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["paused"], body["proxy_url"], body["page_limit"], body["fetch_pages"]) == (
        True,
        "socks5://127.0.0.1:1080",
        20,
        False,
    )
    bad = client.patch(f"/api/v1/sources/{source_id}", json={"proxy_url": "gopher://x"})
    assert bad.status_code == 400
    assert "proxy URL must start" in bad.json()["detail"]
    invalid = client.patch(f"/api/v1/sources/{source_id}", json={"page_limit": -3})
    assert invalid.status_code == 422
    assert client.patch("/api/v1/sources/99999", json={"paused": True}).status_code == 404
