"""A reader's follows, "For you", unread counts, read state and saved articles."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select, text

from tests.conftest import FormClient, LiveServer, make_settings
from tests.test_comments import PASSWORD, make_user
from tidings.db.models import Article, ArticleTag, Story
from tidings.db.session import Database


@pytest.fixture
def reader(demo_database: Database) -> Iterator[tuple[FormClient, FormClient]]:
    """Two signed-in readers on the live app."""
    from tidings.web.app import create_app

    make_user(demo_database, "rita@example.org")
    make_user(demo_database, "sam@example.org")
    settings = make_settings(demo_database.url)
    with LiveServer(create_app(settings, demo_database, run_scheduler=False)) as live:
        clients = []
        for email in ("rita@example.org", "sam@example.org"):
            http = FormClient(base_url=live.base_url, timeout=20)
            assert (
                http.post("/login", data={"email": email, "password": PASSWORD}).status_code == 303
            )
            clients.append(http)
        yield clients[0], clients[1]
        for http in clients:
            http.close()


def _unread(http: FormClient, path: str = "/for-you") -> int:
    return int(re.search(r"(\d+) unread", http.get(path).text).group(1))  # type: ignore[union-attr]


def test_following_sources_tags_and_stories_fills_for_you(
    reader: tuple[FormClient, FormClient], demo_database: Database
) -> None:
    rita, sam = reader
    with demo_database.session() as session:
        tag_id = session.scalar(select(ArticleTag.tag_id).limit(1))
        story_id = session.scalar(select(Story.id).where(Story.source_count >= 3).limit(1))
        source_count = session.scalar(
            text("select count(*) from articles where source_id = 1 and duplicate_of is null")
        )
    assert "You follow nothing yet" in rita.get("/for-you").text
    for kind, target, folder in (
        ("source", 1, "Local"),
        ("tag", tag_id, "Topics"),
        ("story", story_id, ""),
    ):
        page = {"source": f"/sources/{target}", "tag": None, "story": f"/stories/{target}"}[kind]
        if page:
            assert "Follow</button>" in rita.get(page).text
        done = rita.post(
            "/follows",
            data={"kind": kind, "target_id": target, "folder": folder, "next": "/for-you"},
        )
        assert done.status_code == 303
    follows = rita.get("/api/v1/me/follows").json()["items"]
    assert {(f["kind"], f["folder"]) for f in follows} == {
        ("source", "Local"),
        ("tag", "Topics"),
        ("story", ""),
    }
    assert sam.get("/api/v1/me/follows").json()["items"] == []  # follows are each reader's own
    with demo_database.session() as session:
        tagged = select(ArticleTag.article_id).where(ArticleTag.tag_id == tag_id)
        followed = (
            (Article.source_id == 1) | (Article.story_id == story_id) | Article.id.in_(tagged)
        )
        query = select(Article.id).where(Article.duplicate_of.is_(None), followed)
        expected = set(session.scalars(query))
    everything = rita.get("/api/v1/me/for-you", params={"limit": 200}).json()
    assert {item["id"] for item in everything["items"]} == expected
    assert everything["unread"] == len(expected)
    local = rita.get("/api/v1/me/for-you", params={"folder": "Local", "limit": 200}).json()
    assert len(local["items"]) == source_count
    assert "Local (" in rita.get("/for-you").text
    rita.post("/follows", data={"kind": "source", "target_id": 1, "unfollow": "1"})
    assert len(rita.get("/api/v1/me/for-you", params={"limit": 200}).json()["items"]) < len(
        expected
    )


def test_reading_marks_and_mark_all_read(reader: tuple[FormClient, FormClient]) -> None:
    rita, sam = reader
    rita.post("/follows", data={"kind": "source", "target_id": 2})
    sam.post("/follows", data={"kind": "source", "target_id": 2})
    before = _unread(rita)
    first = rita.get("/api/v1/me/for-you").json()["items"][0]["id"]
    rita.get(f"/articles/{first}")  # opening it reads it
    assert _unread(rita) == before - 1
    assert _unread(sam) == before  # the other reader's state is untouched
    assert "article-item read" in rita.get("/for-you").text
    unread_only = rita.get("/api/v1/me/for-you", params={"unread": "true", "limit": 200}).json()
    assert first not in {item["id"] for item in unread_only["items"]}
    assert f"For you ({before - 1})" in rita.get("/").text
    assert rita.post("/for-you/read-all").status_code == 303
    assert _unread(rita) == 0
    assert (
        rita.post(f"/articles/{first}/read", data={"read": "0"}).status_code == 303
    )  # mark unread
    assert _unread(rita) == 1


def test_saving_for_later(reader: tuple[FormClient, FormClient]) -> None:
    rita, sam = reader
    assert "Nothing saved yet" in rita.get("/saved").text
    assert "Save for later" in rita.get("/articles/4").text
    rita.post("/articles/4/save", data={"saved": "1"})
    assert "Saved ✓" in rita.get("/articles/4").text
    assert rita.put("/api/v1/me/saved/5").status_code == 204
    assert {a["id"] for a in rita.get("/api/v1/me/saved").json()["items"]} == {4, 5}
    assert sam.get("/api/v1/me/saved").json()["items"] == []
    assert rita.delete("/api/v1/me/saved/4").status_code == 204
    assert [a["id"] for a in rita.get("/api/v1/me/saved").json()["items"]] == [5]
    assert rita.put("/api/v1/me/saved/999999").status_code == 404


def test_signed_out_readers_are_asked_to_sign_in(demo_database: Database) -> None:
    from tidings.web.app import create_app

    settings = make_settings(demo_database.url)
    with LiveServer(create_app(settings, demo_database, run_scheduler=False)) as live:
        anonymous = FormClient(base_url=live.base_url, timeout=20)
        assert (
            anonymous.get("/for-you", follow_redirects=False).headers["location"]
            == "/login?next=/for-you"
        )
        assert anonymous.get("/api/v1/me/follows").status_code == 403
        assert (
            anonymous.post("/follows", data={"kind": "source", "target_id": 1}).status_code == 403
        )
        assert anonymous.put("/api/v1/me/saved/1").status_code == 403
        assert "to follow this source" in anonymous.get("/sources/1").text
        bad = anonymous.post("/api/v1/me/follows", json={"kind": "planet", "target_id": 1})
        assert bad.status_code == 403
        anonymous.close()


def test_export_holds_follows_saved_and_an_opml_of_followed_sources(
    reader: tuple[FormClient, FormClient],
) -> None:
    from lxml import etree

    rita, _ = reader
    rita.post("/follows", data={"kind": "source", "target_id": 1, "folder": "Wire"})
    rita.post("/follows", data={"kind": "story", "target_id": 1})
    rita.post("/articles/4/save", data={"saved": "1"})
    exported = rita.get("/account/export").json()
    assert {(f["kind"], f["folder"]) for f in exported["follows"]} >= {("source", "Wire")}
    assert [a["id"] for a in exported["saved"]] == [4]
    opml = etree.fromstring(rita.get("/account/follows.opml").content)
    folder = opml.find("body/outline")
    assert folder is not None
    assert folder.get("text") == "Wire"
    assert len(folder.findall("outline")) == 1


def test_muted_sources_and_words_stay_out_of_for_you(
    reader: tuple[FormClient, FormClient], demo_database: Database
) -> None:
    rita, _ = reader
    with demo_database.session() as session:
        story_id = session.scalar(select(Story.id).where(Story.source_count >= 3).limit(1))
        members = session.execute(
            select(Article.source_id, Article.title).where(
                Article.story_id == story_id, Article.duplicate_of.is_(None)
            )
        ).all()
    rita.post("/follows", data={"kind": "story", "target_id": story_id})
    everything = rita.get("/api/v1/me/for-you").json()["items"]
    assert len(everything) == len(members)
    muted_source = members[0][0]
    assert (
        rita.post("/mutes/source", data={"source_id": muted_source, "next": "/for-you"}).status_code
        == 303
    )
    assert "Unmute this source" in rita.get(f"/sources/{muted_source}").text
    left = rita.get("/api/v1/me/for-you").json()["items"]
    assert {a["source_id"] for a in left} == {s for s, _ in members} - {muted_source}
    word = left[0]["title"].split()[0]
    saved = rita.post(
        "/account/preferences",
        data={"language": "zh-Hant", "muted_keywords": word},
        follow_redirects=True,
    )
    assert "Preferences saved" in saved.text
    titles = [a["title"] for a in rita.get("/api/v1/me/for-you").json()["items"]]
    assert all(word.lower() not in title.lower() for title in titles)
    preferences = rita.get("/api/v1/me/preferences").json()
    assert preferences == {
        "language": "zh-Hant",
        "muted_keywords": [word],
        "muted_sources": [muted_source],
    }
    assert '<option value="zh-Hant" selected>' in rita.get("/articles/1").text  # translate picker
    cleared = rita.put(
        "/api/v1/me/preferences", json={"language": None, "muted_keywords": [], "muted_sources": []}
    )
    assert cleared.json() == {"language": None, "muted_keywords": [], "muted_sources": []}
    assert len(rita.get("/api/v1/me/for-you").json()["items"]) == len(members)
    assert rita.post("/account/preferences", data={"language": "xx"}).status_code == 400
