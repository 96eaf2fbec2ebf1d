"""AI features through a real OpenAI-compatible model server (llama.cpp + a GGUF from PyPI).

The model is tiny and its prose poor; these tests check the plumbing: prompts that number
the sentences, streaming, timeouts, citation validation, caching, jobs and polling, errors.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LiveServer, make_settings
from tests.llm_server import MODEL_ID, llm_available, running_llm_server
from tidings.ai.features import Request, ai_service_for
from tidings.ai.openai import OpenAIConfig, OpenAIProvider, prompt
from tidings.ai.provider import AIBackendError
from tidings.ai.sources import article_task, story_task
from tidings.db.session import Database


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    reason = llm_available()
    if reason and not os.environ.get("CI"):
        pytest.skip(f"no local model server: {reason}")
    with running_llm_server() as url:
        yield url


def _poll(http: httpx.Client, response: httpx.Response, deadline_s: float = 240) -> httpx.Response:
    deadline = time.monotonic() + deadline_s
    while response.status_code == 202 and time.monotonic() < deadline:
        assert response.json()["status"] == "pending"
        time.sleep(0.5)
        response = http.get(response.json()["poll"])
    return response


def _check_grounding(body: dict[str, object]) -> None:
    items = body["items"]
    sentences = body["sentences"]
    assert isinstance(items, list)
    assert isinstance(sentences, dict)
    for item in items:
        for cid in item["citations"]:
            assert cid in sentences  # every citation kept points at a real sentence
        if not item["citations"]:
            assert item["supported"] is False  # an uncited line is marked, never passed off


@pytest.mark.timeout(600)
def test_every_feature_runs_through_the_model_server(
    model_url: str, demo_database: Database
) -> None:
    from tidings.web.app import create_app

    settings = make_settings(demo_database.url, ai_provider="openai", ai_base_url=model_url,
                             ai_model=MODEL_ID, ai_max_tokens=48, ai_timeout_s=120,
                             ai_max_source_chars=800)  # fmt: skip
    app = create_app(settings, demo_database, run_scheduler=False)
    with LiveServer(app) as server, httpx.Client(base_url=server.base_url, timeout=60) as http:
        story = http.get("/api/v1/stories", params={"limit": 1}).json()["items"][0]["id"]
        zh = http.get("/api/v1/articles", params={"language": "zh-Hant", "limit": 1}).json()
        zh_id = zh["items"][0]["id"] if zh["items"] else 1
        requests = [
            ("/api/v1/articles/1/ai/summary", {}),
            ("/api/v1/articles/1/ai/key-points", {}),
            ("/api/v1/articles/1/ai/explain", {}),
            ("/api/v1/articles/1/ai/ask", {"question": "Who is the mother?"}),
            (f"/api/v1/articles/{zh_id}/ai/translate", {"language": "en"}),
            (f"/api/v1/stories/{story}/ai/summary", {}),
        ]
        for path, payload in requests:
            response = _poll(http, http.post(path, json=payload))
            if response.status_code == 503:  # the tiny model may produce nothing usable
                assert "returned no usable text" in response.json()["detail"], response.text
                continue
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["provider"] == "openai"
            assert body["model"] == MODEL_ID
            _check_grounding(body)
            again = http.post(path, json=payload)  # cached: answered at once, same result
            assert again.status_code == 200
            assert again.json()["id"] == body["id"]
        page = http.get("/articles/1/ai/summary")  # no JavaScript: a page, done or refreshing
        assert page.status_code in (200, 503)
        assert "Summary" in page.text


def test_the_provider_checks_the_connection(model_url: str) -> None:
    provider = OpenAIProvider(OpenAIConfig(base_url=model_url, model=MODEL_ID, timeout_s=60))
    assert MODEL_ID in provider.check()


def test_a_slow_model_is_cut_off_with_a_clear_message(
    model_url: str, demo_database: Database
) -> None:
    provider = OpenAIProvider(
        OpenAIConfig(
            base_url=model_url, model=MODEL_ID, timeout_s=1.0, max_tokens=400, max_source_chars=1500
        )
    )
    with demo_database.session() as session:
        task = article_task(session, 1, "key-points", None, None)
    started = time.monotonic()
    with pytest.raises(AIBackendError, match=r"(too slow|timed out)"):
        provider.run(task)
    assert time.monotonic() - started < 15


def test_prompts_number_every_source_sentence(demo_database: Database) -> None:
    with demo_database.session() as session:
        article = article_task(session, 1, "ask", None, "Who?")
        story_id = session.execute(
            __import__("sqlalchemy").text("select id from stories where source_count > 1 limit 1")
        ).scalar_one()
        story = story_task(session, story_id, "summary", None, None)
    text = prompt(article)
    assert "[s1] " in text
    assert "Question: Who?" in text
    assert "doesn't say" in text
    story_text = prompt(story)
    assert "Agreed:" in story_text
    assert all(f"[{s.id}]" in story_text for s in story.documents[0].sentences[:3])


@pytest.mark.timeout(300)
def test_jobs_never_block_a_page(model_url: str, demo_database: Database) -> None:
    settings = make_settings(demo_database.url, ai_provider="openai", ai_base_url=model_url,
                             ai_model=MODEL_ID, ai_max_tokens=48, ai_timeout_s=120,
                             ai_max_source_chars=800)  # fmt: skip
    service = ai_service_for(demo_database, settings)
    started = time.monotonic()
    run = service.request(Request("article", 2, "summary"), wait_s=0)
    assert time.monotonic() - started < 2
    assert run.status in ("pending", "done")
    deadline = time.monotonic() + 240
    while run.status == "pending" and time.monotonic() < deadline:
        time.sleep(0.5)
        run = service.get(run.id)
    assert run.status in ("done", "error")
