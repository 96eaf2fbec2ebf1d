"""JSON API for the AI features: ask for a result, poll for it, test the provider."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tidings.ai.config import load_ai_settings
from tidings.ai.features import AIRun, ai_service_for
from tidings.ai.features import Request as AIRequest
from tidings.ai.provider import AIError
from tidings.web.api import ERRORS, problem
from tidings.web.deps import client_address, database_of, settings_of

router = APIRouter(prefix="/api/v1", tags=["ai"])
AI_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    202: {"description": "Still generating: poll the URL in `poll`"},
    422: {"description": "The feature needs a language model (built-in provider)"},
    429: {"description": "Too many generations from this client"},
    503: {"description": "The AI backend is unreachable, slow or failed"},
}
WAIT_S = 2.0  # an API call waits this long for a model before answering 202


class AIRequestIn(BaseModel):
    question: str | None = Field(default=None, max_length=500)
    language: str | None = Field(default=None, description="BCP 47: en, zh-Hant, zh-Hans, …")


def run_response(run: AIRun) -> JSONResponse:
    """A run as the contract wants it: 200 result, 202 pending, or a problem."""
    if run.status == "done" and run.result is not None:
        return JSONResponse({"id": run.id, "status": "done", **run.result})
    if run.status == "pending":
        return JSONResponse(
            {"id": run.id, "status": "pending", "poll": f"/api/v1/ai/results/{run.id}"},
            status_code=202,
        )
    return problem(422 if run.error_kind == "model_required" else 503, run.error or "AI failed")


def _request(
    request: Request, target: str, target_id: int, feature: str, body: AIRequestIn
) -> JSONResponse:
    service = ai_service_for(database_of(request), settings_of(request))
    ask = AIRequest(target, target_id, feature, body.language, body.question)
    return run_response(service.request(ask, client=client_address(request), wait_s=WAIT_S))


@router.post("/articles/{article_id}/ai/{feature}", responses=AI_ERRORS)
def article_ai(
    request: Request, article_id: int, feature: str, body: AIRequestIn | None = None
) -> JSONResponse:
    """summary, key-points, explain, ask (`question`) or translate (`language`) an article."""
    return _request(request, "article", article_id, feature, body or AIRequestIn())


@router.post("/stories/{story_id}/ai/{feature}", responses=AI_ERRORS)
def story_ai(
    request: Request, story_id: int, feature: str, body: AIRequestIn | None = None
) -> JSONResponse:
    """A multi-source summary (agreed / only / differ), key points, explain or ask."""
    return _request(request, "story", story_id, feature, body or AIRequestIn())


@router.get("/ai/results/{result_id}", responses=AI_ERRORS)
def ai_result(request: Request, result_id: int) -> JSONResponse:
    """Poll a result: 200 when done, 202 while generating."""
    return run_response(ai_service_for(database_of(request), settings_of(request)).get(result_id))


@router.get("/ai/provider")
def ai_provider(request: Request) -> dict[str, Any]:
    """The provider in use (never its API key)."""
    ai = load_ai_settings(database_of(request), settings_of(request))
    return {
        "provider": ai.provider,
        "base_url": ai.base_url,
        "model": ai.model,
        "timeout_s": ai.timeout_s,
        "max_tokens": ai.max_tokens,
        "source": ai.source,
    }


@router.post("/ai/provider/test", responses=AI_ERRORS)
def test_provider(request: Request) -> JSONResponse:
    """Test connection: what the provider answered, or 503 with why it did not."""
    service = ai_service_for(database_of(request), settings_of(request))
    service.forget_provider()
    _ai, provider = service.provider()
    try:
        return JSONResponse({"ok": True, "detail": provider.check()})
    except AIError as error:
        return problem(503, str(error))
