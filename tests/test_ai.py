"""AI features with the built-in provider: sentences, grounding, service, API, pages, CLI."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from tests.conftest import DATA, LiveServer, make_settings
from tidings.ai.features import AIService, Request, ai_service_for
from tidings.ai.grounding import parse_lines, validate
from tidings.ai.provider import Answer, Document, Item, Task
from tidings.ai.sources import article_task
from tidings.ai.text import split_sentences
from tidings.cli import app
from tidings.db.models import AIResult, Article, Story
from tidings.db.session import Database


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Mr. Smith met Dr. Jones on Jan. 5. They talked.", ["Mr. Smith met Dr. Jones on Jan. 5.", "They talked."]),
        ("J. K. Rowling wrote it. The U.S. Senate agreed.", ["J. K. Rowling wrote it.", "The U.S. Senate agreed."]),
        ("It cost $3.5 billion. Few objected.", ["It cost $3.5 billion.", "Few objected."]),
        ('"We won," she said. Then she left.', ['"We won," she said.', "Then she left."]),
        ("First paragraph ends here\n\nSecond one.", ["First paragraph ends here", "Second one."]),
        ("市政府今天宣布新政策。市民表示支持！", ["市政府今天宣布新政策。", "市民表示支持！"]),
        ("", []),
    ],
)  # fmt: skip
def test_sentences_split_where_readers_would(body: str, expected: list[str]) -> None:
    sentences = split_sentences(body)
    assert [s.text for s in sentences] == expected
    assert [s.id for s in sentences] == [f"s{n}" for n in range(1, len(expected) + 1)]


@pytest.mark.parametrize(
    ("output", "texts", "citations"),
    [
        ("- The zoo had a cub. [s1]\n- It is healthy [s2][s3]", ["The zoo had a cub.", "It is healthy"], [["s1"], ["s2", "s3"]]),
        ("1. Both agree [a12s3, a15s1]", ["Both agree"], [["a12s3", "a15s1"]]),
        ("No citations here", ["No citations here"], [[]]),
        ("\n\n  \n", [], []),
    ],
)  # fmt: skip
def test_model_output_is_parsed_into_cited_items(
    output: str, texts: list[str], citations: list[list[str]]
) -> None:
    items = parse_lines(output)
    assert [item.text for item in items] == texts
    assert [item.citations for item in items] == citations


def _task(body: str) -> Task:
    from datetime import UTC, datetime

    document = Document(1, "Title", "Outlet", "en", datetime.now(UTC), split_sentences(body))
    return Task("summary", "article", [document], "en")


def test_citations_to_missing_sentences_are_dropped_and_unsupported_lines_marked() -> None:
    task = _task("The council approved the park budget on Tuesday. Libraries get more money.")
    answer = Answer(
        [
            Item("The council approved the park budget.", ["s1", "s9"]),
            Item("Aliens landed in the harbour yesterday evening.", ["s2"]),
            Item("Libraries get more money.", ["s7"]),
        ]
    )
    checked = validate(answer, task)
    assert checked.items[0].citations == ["s1"]
    assert checked.items[0].supported
    assert checked.items[0].outlets == ["Outlet"]
    assert not checked.items[1].supported  # cites a sentence that does not say it
    assert checked.items[2].citations == []
    assert not checked.items[2].supported


@pytest.fixture
def service(demo_database: Database) -> Iterator[AIService]:
    return ai_service_for(demo_database, make_settings(demo_database.url))


def _ids(database: Database, sql: str) -> list[int]:
    with database.session() as session:
        return [row[0] for row in session.execute(text(sql))]


def test_builtin_summaries_and_key_points_quote_the_article(
    service: AIService, demo_database: Database
) -> None:
    for article_id in _ids(
        demo_database, "select id from articles where duplicate_of is null limit 40"
    ):
        with demo_database.session() as session:
            sentences = {
                s.id: s.text for s in split_sentences(session.get(Article, article_id).body)
            }
        for feature, sizes in (("summary", (1, 2, 3)), ("key-points", (1, 2, 3, 4, 5))):
            run = service.request(Request("article", article_id, feature))
            assert run.status == "done"
            assert run.result is not None
            items = run.result["items"]
            assert len(items) in sizes
            assert len(items) >= min(2, len(sentences)) or feature == "summary"
            for item in items:
                assert len(item["citations"]) == 1
                assert item["supported"]
                assert item["text"] == sentences[item["citations"][0]]
                assert run.result["sentences"][item["citations"][0]] == item["text"]


def test_ask_answers_from_the_article_or_says_it_doesnt(
    service: AIService, demo_database: Database
) -> None:
    article_id = _ids(
        demo_database,
        "select id from articles where title like '%panda%' and language = 'en' limit 1",
    )[0]
    found = service.request(
        Request("article", article_id, "ask", question="How old is the mother?")
    )
    assert found.result is not None
    first = found.result["items"][0]
    assert "11-year-old" in first["text"]
    assert first["citations"]
    gist = service.request(Request("article", article_id, "ask", question="What happened?"))
    assert gist.result is not None
    assert gist.result["items"][0]["citations"] == ["s1"]  # the lead, not a word match
    missing = service.request(
        Request("article", article_id, "ask", question="What is the price of bananas in Peru?")
    )
    assert missing.result is not None
    assert missing.result["items"] == []
    assert missing.result["note"] == "The article doesn't say."


def test_translation_between_chinese_scripts_and_a_clear_refusal_otherwise(
    service: AIService, demo_database: Database
) -> None:
    zh = _ids(demo_database, "select id from articles where language = 'zh-Hant' limit 1")[0]
    run = service.request(Request("article", zh, "translate", language="zh-Hans"))
    assert run.result is not None
    joined = "".join(item["text"] for item in run.result["items"])
    assert "渡轮" in joined or "这" in joined or len(joined) > 50
    with demo_database.session() as session:
        body = session.get(Article, zh).body
    assert len(run.result["items"]) == len(split_sentences(body))
    en = _ids(demo_database, "select id from articles where language = 'en' limit 1")[0]
    refused = service.request(Request("article", en, "translate", language="zh-Hant"))
    assert refused.status == "error"
    assert refused.error_kind == "model_required"
    assert "needs a language model" in (refused.error or "")


def test_story_summary_says_which_outlets_agree(
    service: AIService, demo_database: Database
) -> None:
    story_id = _ids(
        demo_database, "select id from stories where source_count >= 3 order by id limit 1"
    )[0]
    run = service.request(Request("story", story_id, "summary"))
    assert run.result is not None
    agreed = [item for item in run.result["items"] if item["kind"] == "agreed"]
    assert agreed, run.result
    for item in agreed:
        assert len(item["outlets"]) >= 2
        cited_articles = {cid.split("s")[0] for cid in item["citations"]}
        assert len(cited_articles) >= 2
        assert all(cid in run.result["sentences"] for cid in item["citations"])
    assert all(item["outlets"] for item in run.result["items"])


def test_explain_reads_earlier_coverage(service: AIService, demo_database: Database) -> None:
    with demo_database.session() as session:
        story = session.scalars(select(Story).where(Story.source_count >= 3)).first()
        assert story is not None
        latest = session.scalars(
            select(Article).where(Article.story_id == story.id, Article.duplicate_of.is_(None))
            .order_by(Article.published_at.desc())
        ).first()  # fmt: skip
        assert latest is not None
        latest_id = latest.id
    run = service.request(Request("article", latest_id, "explain"))
    assert run.result is not None
    assert run.result["items"]
    assert any(cid.startswith("a") for item in run.result["items"] for cid in item["citations"])


def test_results_are_cached_and_renewed_when_the_text_changes(
    service: AIService, demo_database: Database
) -> None:
    article_id = _ids(demo_database, "select id from articles where language = 'en' limit 1")[0]
    first = service.request(Request("article", article_id, "summary"))
    again = service.request(Request("article", article_id, "summary"))
    assert again.id == first.id
    assert again.result == first.result
    with demo_database.session() as session:
        article = session.get(Article, article_id)
        article.body = (
            "A completely new first sentence about the harbour tunnel opening.\n\n" + article.body
        )
        session.commit()
    edited = service.request(Request("article", article_id, "summary"))
    assert edited.id == first.id  # the same cache slot, renewed
    assert edited.result is not None
    assert edited.result != first.result
    with demo_database.session() as session:
        assert session.scalar(select(AIResult).where(AIResult.id == first.id)).status == "done"


def test_the_builtin_provider_is_fast(service: AIService, demo_database: Database) -> None:
    """Behaviour, not timing: every feature of a long article answers without a model."""
    article_id = _ids(demo_database, "select id from articles order by length(body) desc limit 1")[
        0
    ]
    with demo_database.session() as session:
        task = article_task(session, article_id, "key-points", None, None)
    assert len(task.documents[0].sentences) > 10


def test_api_follows_the_contract(client: httpx.Client) -> None:
    response = client.post("/api/v1/articles/1/ai/summary", json={})
    assert response.status_code == 200
    body = response.json()
    assert {"feature", "provider", "model", "language", "items", "sentences"} <= set(body)
    assert body["feature"] == "summary"
    assert body["provider"] == "builtin"
    assert all(set(item) >= {"text", "citations"} for item in body["items"])
    asked = client.post("/api/v1/articles/1/ai/ask", json={"question": "Who announced it?"})
    assert asked.status_code == 200
    for path, payload, status, words in [
        ("/api/v1/articles/1/ai/bogus", {}, 400, "unknown AI feature"),
        ("/api/v1/articles/1/ai/ask", {}, 400, "needs a question"),
        ("/api/v1/articles/1/ai/translate", {"language": "xx"}, 400, "unsupported language"),
        ("/api/v1/articles/999999/ai/summary", {}, 404, "no article"),
        ("/api/v1/stories/2/ai/translate", {"language": "en"}, 400, "unknown AI feature"),
    ]:
        failed = client.post(path, json=payload)
        assert failed.status_code == status, failed.text
        assert failed.headers["content-type"].startswith("application/problem+json")
        assert words in failed.json()["detail"]
    assert client.get("/api/v1/ai/results/999999").status_code == 404
    polled = client.get(f"/api/v1/ai/results/{body['id']}")
    assert polled.status_code == 200
    assert polled.json()["items"] == body["items"]


def test_pages_offer_ai_features_and_work_without_javascript(client: httpx.Client) -> None:
    page = client.get("/articles/1").text
    assert "AI features" in page
    assert 'id="s1"' in page
    assert 'class="sentence"' in page
    assert 'href="/articles/1/ai/summary"' in page
    assert 'action="/articles/1/ai/ask"' in page
    result = client.get("/articles/1/ai/summary")
    assert result.status_code == 200
    assert 'href="/articles/1#s1"' in result.text
    assert 'class="footnotes"' in result.text
    asked = client.get("/articles/1/ai/ask", params={"question": "bananas in Peru?"})
    assert "The article doesn&#39;t say." in asked.text or "The article doesn't say." in asked.text
    refused = client.get("/articles/1/ai/translate", params={"language": "zh-Hant"})
    assert refused.status_code == 422
    assert "needs a language model" in refused.text
    story = client.get("/api/v1/stories", params={"limit": 1}).json()["items"][0]["id"]
    story_page = client.get(f"/stories/{story}").text
    assert "AI features" in story_page
    assert f"/stories/{story}/ai/summary" in story_page
    story_result = client.get(f"/stories/{story}/ai/summary")
    assert story_result.status_code == 200
    assert "/articles/" in story_result.text


def test_hostile_questions_are_escaped(client: httpx.Client) -> None:
    hostile = '<script>alert("x")</script>'
    response = client.get("/articles/1/ai/ask", params={"question": hostile})
    assert "<script>alert" not in response.text
    assert "&lt;script&gt;" in response.text


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_model_server_gets_a_clear_message_and_pages_still_render(
    demo_database: Database,
) -> None:
    from tidings.web.app import create_app

    url = f"http://127.0.0.1:{_closed_port()}/v1"
    settings = make_settings(demo_database.url, ai_provider="openai", ai_base_url=url,
                             ai_model="any", ai_rate_limit="3/minute")  # fmt: skip
    with LiveServer(create_app(settings, demo_database, run_scheduler=False)) as server:
        http = httpx.Client(base_url=server.base_url, timeout=30)
        assert http.get("/articles/1").status_code == 200
        response = http.post("/api/v1/articles/1/ai/summary", json={})
        if response.status_code == 202:
            response = http.get(response.json()["poll"])
        assert response.status_code == 503
        assert response.json()["detail"] == f"AI backend unreachable at {url}: connection refused"
        test = http.post("/api/v1/ai/provider/test")
        assert test.status_code == 503
        assert "unreachable" in test.json()["detail"]
        statuses = [
            http.post(f"/api/v1/articles/{n}/ai/key-points", json={}).status_code for n in (2, 3, 4)
        ]
        assert statuses[-1] == 429
        http.close()
    with demo_database.session() as session:
        assert not session.scalars(select(AIResult).where(AIResult.status == "done")).all()


def test_admin_page_saves_tests_and_resets_the_provider(client: httpx.Client) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    saved = client.post("/admin/ai", data={"action": "save", "provider": "openai", "base_url": url,
                                           "model": "llama3.2"}, follow_redirects=True)  # fmt: skip
    assert "Saved: openai-compatible llama3.2" in saved.text
    assert client.get("/api/v1/ai/provider").json()["source"] == "saved"
    tested = client.post("/admin/ai", data={"action": "test"}, follow_redirects=True)
    assert "unreachable" in tested.text
    assert "connection refused" in tested.text
    invalid = client.post("/admin/ai", data={"action": "save", "provider": "openai", "base_url": "nope",
                                             "model": "m"}, follow_redirects=True)  # fmt: skip
    assert "needs a base URL" in invalid.text
    reset = client.post("/admin/ai", data={"action": "reset"}, follow_redirects=True)
    assert "builtin" in reset.text
    assert client.get("/api/v1/ai/provider").json() == {
        "provider": "builtin", "base_url": None, "model": None, "timeout_s": 60.0,
        "max_tokens": 512, "source": "environment",
    }  # fmt: skip


def test_briefing_page_and_feed(client: httpx.Client) -> None:
    page = client.get("/briefing")
    assert page.status_code == 200
    assert "Daily briefing" in page.text
    assert "Agreed" in page.text
    for kind in ("rss", "atom", "json"):
        feed = client.get(f"/feeds/briefing.{kind}")
        assert feed.status_code == 200
        if kind == "json":
            assert "Agreed" in feed.json()["items"][0]["content_html"]
        else:
            parsed = feedparser.parse(feed.content)
            assert not parsed.bozo
            assert "Agreed" in parsed.entries[0].content[0].value


def test_briefing_is_emailed_through_a_real_smtp_server(
    demo_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    received: list[bytes] = []

    class Keep(Sink):
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            received.append(envelope.content)  # type: ignore[attr-defined]
            return "250 OK"

    controller = Controller(Keep(), hostname="127.0.0.1", port=_closed_port())
    controller.start()
    try:
        monkeypatch.setenv("TIDINGS_DATABASE_URL", demo_database.url)
        monkeypatch.setenv("TIDINGS_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("TIDINGS_SMTP_PORT", str(controller.port))
        result = CliRunner().invoke(app, ["briefing", "--send-to", "reader@example.org"])
        assert result.exit_code == 0, result.output
        assert "Sent the briefing" in result.output
    finally:
        controller.stop()
    assert len(received) == 1
    message = received[0].decode()
    assert "Tidings daily briefing" in message
    assert "reader@example.org" in message
    unconfigured = CliRunner().invoke(
        app, ["briefing", "--send-to", "x@example.org"], env={"TIDINGS_SMTP_HOST": ""}
    )
    assert unconfigured.exit_code == 1
    assert "TIDINGS_SMTP_HOST" in unconfigured.output


def test_cli_summarize_and_ask_a_single_page(tmp_path: Path) -> None:
    page = next(
        path for path in sorted((DATA / "pages").glob("*.html")) if path.stat().st_size > 2000
    )
    runner = CliRunner()
    result = runner.invoke(app, ["summarize", str(page), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["feature"] == "summary"
    assert body["items"]
    assert all(cid in body["sentences"] for item in body["items"] for cid in item["citations"])
    asked = runner.invoke(app, ["ask", str(page), "What is the price of bananas in Peru?"])
    assert asked.exit_code == 0
    assert "doesn't say" in asked.output
    missing = runner.invoke(app, ["summarize", str(tmp_path / "nope.html")])
    assert missing.exit_code == 1
    assert "no such file" in missing.output


def test_cli_configures_and_tests_the_provider(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIDINGS_DATABASE_URL", empty_database_url)
    runner = CliRunner()
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    shown = runner.invoke(
        app, ["ai", "configure", "--provider", "openai", "--base-url", url, "--model", "m"]
    )
    assert shown.exit_code == 0
    assert f"m at {url}" in shown.output.replace("\n", "")
    tested = runner.invoke(app, ["ai", "test"])
    assert tested.exit_code == 1
    assert "connection refused" in tested.output
    bad = runner.invoke(app, ["ai", "configure", "--timeout", "0"])
    assert bad.exit_code == 1
    assert "timeout" in bad.output
    reset = runner.invoke(app, ["ai", "configure", "--reset"])
    assert reset.exit_code == 0
    assert "builtin" in reset.output


def test_retention_takes_the_cached_answers_of_removed_articles(
    service: AIService, demo_database: Database
) -> None:
    from tidings.ingest.retention import cleanup

    ids = _ids(demo_database, "select id from articles order by published_at limit 2")
    newest = _ids(demo_database, "select id from articles order by published_at desc limit 1")
    for article_id in [*ids, *newest]:
        service.request(Request("article", article_id, "summary"))
    with demo_database.session() as session:
        session.execute(text("update sources set retention_days = 1"))
        session.execute(
            text("update articles set published_at = '2000-01-01 00:00:00' where id in (:a, :b)"),
            {"a": ids[0], "b": ids[1]},
        )
        session.commit()
    cleanup(demo_database, make_settings(demo_database.url))
    with demo_database.session() as session:
        left = {row.target_id for row in session.scalars(select(AIResult))}
    assert newest[0] in left
    assert not left & set(ids)


@pytest.mark.parametrize(
    ("title", "question", "expected"),
    [
        ("%panda%", "How old is the mother?", "11-year-old"),
        ("%panda%", "Who is the zoo director?", "Petra Holm"),
        ("%渡輪%", "公司去年虧損多少？", "虧損"),
        ("%渡輪%", "誰反對加價？", "反對加價"),
        ("%渡轮%", "公司去年亏损多少？", "虧損"),  # a Simplified question finds Traditional text
    ],
)
def test_questions_find_the_sentence_that_answers_them(
    service: AIService, demo_database: Database, title: str, question: str, expected: str
) -> None:
    from tidings.enrich.lang import convert_chinese

    pattern = convert_chinese(title, "zh-Hant") if "%" in title else title
    found = _ids(demo_database, f"select id from articles where title like '{pattern}' limit 1")
    run = service.request(Request("article", found[0], "ask", question=question))
    assert run.result is not None
    assert expected in run.result["items"][0]["text"]
