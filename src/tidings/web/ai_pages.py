"""AI pages: a result page per feature (works without JavaScript) and the AI admin page."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from tidings.ai.briefing import build_briefing
from tidings.ai.config import load_ai_settings, save_ai_settings
from tidings.ai.features import AIRun, ai_service_for
from tidings.ai.features import Request as AIRequest
from tidings.ai.provider import AIError
from tidings.db import repository
from tidings.enrich import stories
from tidings.errors import InvalidInputError
from tidings.web.deps import client_address, database_of, settings_of
from tidings.web.i18n import N_
from tidings.web.pages import AI_FEATURE_TITLES, back_to_admin, require_same_origin, templates

router = APIRouter()
PAGE_WAIT_S = 0.5  # a page waits this long for a model, then shows "Generating…"
KIND_LABELS = {
    "agreed": N_("Agreed"),
    "only": N_("Only one outlet"),
    "differ": N_("Accounts differ"),
}


@dataclass(slots=True)
class Footnote:
    number: int
    sentence_id: str
    text: str
    href: str
    publisher: str | None


@dataclass(slots=True)
class ShownItem:
    text: str
    kind: str | None
    outlets: list[str]
    supported: bool
    footnotes: list[Footnote] = field(default_factory=list)


def sentence_href(sentence_id: str, target_type: str, target_id: int) -> str:
    """Where a cited sentence lives: "s3" on the article itself, "a12s3" on article 12."""
    if sentence_id.startswith("a"):
        article_id, _, number = sentence_id[1:].partition("s")
        return f"/articles/{article_id}#s{number}"
    if target_type == "article":
        return f"/articles/{target_id}#{sentence_id}"
    return f"#{sentence_id}"


def present(
    result: dict[str, Any], target_type: str, target_id: int
) -> tuple[list[ShownItem], list[Footnote]]:
    """Items with numbered footnotes, one number per distinct cited sentence."""
    notes: dict[str, Footnote] = {}
    articles = result.get("articles", {})
    shown: list[ShownItem] = []
    for item in result.get("items", []):
        entry = ShownItem(
            item["text"], item.get("kind"), item.get("outlets", []), item.get("supported", True)
        )
        for cid in item.get("citations", []):
            if cid not in notes:
                article = articles.get(cid[1:].partition("s")[0]) if cid.startswith("a") else None
                notes[cid] = Footnote(
                    len(notes) + 1, cid, result.get("sentences", {}).get(cid, ""),
                    sentence_href(cid, target_type, target_id),
                    article["publisher"] if article else None,
                )  # fmt: skip
            entry.footnotes.append(notes[cid])
        shown.append(entry)
    return shown, list(notes.values())


def _result_page(request: Request, target_type: str, target_id: int, feature: str,
                 language: str | None, question: str | None) -> Response:  # fmt: skip
    database = database_of(request)
    with database.session() as session:
        if target_type == "article":
            target = repository.get_article(session, target_id)
            title, back = target.title, f"/articles/{target_id}"
        else:
            story = stories.get_story(session, target_id)
            title, back = story.title, f"/stories/{story.id}"
    service = ai_service_for(database, settings_of(request))
    ask = AIRequest(target_type, target_id, feature, language or None, question or None)
    run: AIRun | None = None
    error: str | None = None
    status = 200
    try:
        run = service.request(ask, client=client_address(request), wait_s=PAGE_WAIT_S)
    except InvalidInputError as failure:  # shown on the page, with the way back
        error, status = str(failure), 400
    if run is not None and run.status == "error":
        error, status = run.error, 422 if run.error_kind == "model_required" else 503
    items, footnotes = (
        present(run.result, target_type, target_id) if run and run.result else ([], [])
    )
    context = {
        "target_type": target_type, "target_id": target_id, "target_title": title, "back": back,
        "feature": feature, "feature_title": AI_FEATURE_TITLES.get(feature, feature),
        "run": run, "error": error, "items": items,
        "footnotes": footnotes, "result": run.result if run else None, "kinds": KIND_LABELS,
        "question": question, "language": language,
    }  # fmt: skip
    return templates.TemplateResponse(request, "ai_result.html", context, status_code=status)


@router.get("/articles/{article_id}/ai/{feature}", response_class=HTMLResponse)
def article_ai_page(request: Request, article_id: int, feature: str,
                    language: str | None = None, question: str | None = None) -> Response:  # fmt: skip
    return _result_page(request, "article", article_id, feature, language, question)


@router.get("/stories/{story_id}/ai/{feature}", response_class=HTMLResponse)
def story_ai_page(request: Request, story_id: int, feature: str,
                  language: str | None = None, question: str | None = None) -> Response:  # fmt: skip
    return _result_page(request, "story", story_id, feature, language, question)


@router.get("/briefing", response_class=HTMLResponse)
def briefing_page(request: Request) -> Response:
    briefing = build_briefing(database_of(request), settings_of(request), wait_s=PAGE_WAIT_S)
    context = {"briefing": briefing, "kinds": KIND_LABELS,
               "pending": any(story.pending for story in briefing.stories)}  # fmt: skip
    return templates.TemplateResponse(request, "briefing.html", context)


@router.get("/admin/ai", response_class=HTMLResponse)
def admin_ai(request: Request, message: str | None = None, error: str | None = None) -> Response:
    ai = load_ai_settings(database_of(request), settings_of(request))
    context = {"ai": ai, "message": message, "error": error}
    return templates.TemplateResponse(request, "admin_ai.html", context)


@router.post("/admin/ai", dependencies=[Depends(require_same_origin)])
def save_admin_ai(
    request: Request,
    action: Annotated[str, Form()],
    provider: Annotated[str, Form()] = "builtin",
    base_url: Annotated[str, Form()] = "",
    model: Annotated[str, Form()] = "",
    api_key: Annotated[str, Form()] = "",
    timeout_s: Annotated[float, Form()] = 60.0,
    max_tokens: Annotated[int, Form()] = 512,
) -> Response:
    database, settings = database_of(request), settings_of(request)
    service = ai_service_for(database, settings)
    try:
        if action == "reset":
            save_ai_settings(database, None)
            message = "Back to the environment's settings."
        elif action == "save":
            current = load_ai_settings(database, settings)
            candidate = replace(
                current, provider=provider, base_url=base_url.strip() or None,
                model=model.strip() or None, api_key=api_key or current.api_key,
                timeout_s=timeout_s, max_tokens=max_tokens,
            )  # fmt: skip
            save_ai_settings(database, candidate)
            message = f"Saved: {candidate.describe()}."
        else:
            service.forget_provider()
            message = "Connection OK: " + service.provider()[1].check()
        service.forget_provider()
    except (AIError, InvalidInputError) as failure:
        return back_to_admin(error=str(failure), path="/admin/ai")
    return back_to_admin(message=message, path="/admin/ai")
