"""Server-rendered HTML pages: front page, article, source and the sources admin."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, TypedDict
from urllib.parse import quote, urlsplit

import jinja2
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from tidings.ai.provider import FEATURES, LANGUAGES, STORY_FEATURES
from tidings.ai.text import paragraph_sentences
from tidings.comments import service as comments
from tidings.db import repository
from tidings.db.models import Story, User
from tidings.enrich import stories
from tidings.enrich.related import also_published, related_articles
from tidings.enrich.sections import source_sections, tag_sections
from tidings.enrich.service import enricher_for
from tidings.errors import InvalidInputError, TidingsError
from tidings.ingest.opml import import_opml
from tidings.ingest.pipeline import refresh_source
from tidings.ingest.retention import cleanup, last_report
from tidings.ingest.revisions import latest_edit
from tidings.ingest.sources import (
    SourceSettings,
    add_source,
    rules_of,
    set_extraction_rules,
    update_source_settings,
)
from tidings.ingest.websub import subscription_of
from tidings.readers import service as readers
from tidings.reading.health import source_health
from tidings.reading.length import text_length
from tidings.search import MODES as SEARCH_MODES
from tidings.search import SearchFilters, search_articles
from tidings.web import i18n
from tidings.web.auth import CSRF_FIELD, CSRFError, check_csrf, csrf_token, current_user
from tidings.web.charts import article_bars, bar_chart, fetch_bars
from tidings.web.deps import database_of, semantic_index, settings_of
from tidings.web.i18n import N_, gettext
from tidings.web.media import media_url
from tidings.web.timefmt import exact_time, relative_time

PAGE_SIZE = 30
SNIPPET_CHARS = 220

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
    )
)
# `_()` and `ngettext()` in templates speak the request's language (tidings.web.i18n).
templates.env.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.gettext, i18n.ngettext, newstyle=True
)
templates.env.globals["html_lang"] = i18n.html_lang
# A message that came back in a redirect: translated when it is one of ours, else as is.
templates.env.globals["translated"] = i18n.gettext
templates.env.globals["interface_languages"] = i18n.LOCALE_NAMES
templates.env.filters["ago"] = relative_time
templates.env.filters["exact"] = exact_time
templates.env.filters["paragraphs"] = lambda body: [p for p in (body or "").split("\n\n") if p]
templates.env.filters["sentences"] = paragraph_sentences
templates.env.globals["user_of"] = current_user
templates.env.globals["media"] = media_url


def _for_reader(request: Request, ask: Callable[[Session, User], object]) -> object:
    """A per-reader fact the templates ask for (following? saved? unread?); False signed out."""
    user = current_user(request)
    if user is None:
        return False
    with database_of(request).session() as session:
        return ask(session, user)


templates.env.globals["is_following"] = lambda request, kind, target: _for_reader(
    request, lambda session, user: readers.is_following(session, user, kind, int(target))
)
templates.env.globals["is_saved"] = lambda request, article: _for_reader(
    request, lambda session, user: readers.is_saved(session, user, int(article))
)
templates.env.globals["is_muted"] = lambda request, source: _for_reader(
    request, lambda session, user: int(source) in readers.muted(session, user)[1]
)
templates.env.globals["unread_of"] = lambda request: _for_reader(request, readers.unread_count)
templates.env.globals["csrf"] = csrf_token
templates.env.globals["can"] = comments.allowed
templates.env.globals["new_submission_id"] = lambda: secrets.token_urlsafe(16)
templates.env.filters["host"] = lambda url: urlsplit(url or "").hostname or ""
templates.env.filters["snippet"] = lambda text: _snippet(text or "")
templates.env.filters["web_url"] = lambda url: url if _is_web_url(url) else None
templates.env.filters["text_length"] = lambda text: text_length(text or "")
templates.env.globals["bar_chart"] = bar_chart
templates.env.globals["article_bars"] = article_bars
templates.env.globals["fetch_bars"] = fetch_bars

router = APIRouter()
AI_FEATURE_TITLES = {  # translated where shown
    "summary": N_("Summary"),
    "key-points": N_("Key points"),
    "explain": N_("Explain"),
    "ask": N_("Ask"),
    "translate": N_("Translate"),
}


def ai_panel(target_type: str, target_id: int) -> dict[str, object]:
    """What the "AI features" panel on an article or story page needs."""
    features = FEATURES if target_type == "article" else STORY_FEATURES
    return {
        "ai_target": target_type,
        "ai_id": target_id,
        "ai_base": f"/{'articles' if target_type == 'article' else 'stories'}/{target_id}",
        "ai_features": [
            (f, AI_FEATURE_TITLES[f]) for f in features if f not in ("ask", "translate")
        ],
        "ai_translate": "translate" in features,
        "ai_languages": LANGUAGES,
    }


def comments_context(
    request: Request, session: Session, target_type: str, target_id: int
) -> dict[str, object]:
    """What the Comments section of an article or story page needs."""
    threads = comments.thread(session, target_type, target_id, current_user(request))
    count = sum(1 + len(t.replies) for t in threads)
    return {"threads": threads, "comment_count": count,
            "comment_target": target_type, "comment_target_id": target_id}  # fmt: skip


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= SNIPPET_CHARS:
        return flat
    return flat[:SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"


def _is_web_url(url: str | None) -> bool:
    return bool(url) and urlsplit(url or "").scheme in ("http", "https")


async def require_same_origin(request: Request) -> None:
    """Refuse cross-site form posts: the CSRF token of the page, and the browser's word on
    where the request came from (Sec-Fetch-Site, Origin)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise CSRFError("cross-site form submissions are refused")
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise CSRFError("cross-site form submissions are refused")
    token = (await request.form()).get(CSRF_FIELD)
    check_csrf(request, token if isinstance(token, str) else None)


class Positions(TypedDict):
    cursor: repository.Cursor | None
    before: repository.Cursor | None


def positions(cursor: str | None, before: str | None) -> Positions:
    """A listing page's ?cursor= (older than) or ?before= (newer than), decoded."""
    return {
        "cursor": repository.Cursor.decode(cursor) if cursor else None,
        "before": repository.Cursor.decode(before) if before else None,
    }


def window_links(page: repository.ArticleWindow) -> dict[str, str | None]:
    """What _article_list.html needs for its "Older" and "Newer" links."""
    return {
        "next_cursor": page.older.encode() if page.older else None,
        "newer_cursor": page.newer.encode() if page.newer else None,
    }


@router.get("/", response_class=HTMLResponse)
def front_page(request: Request, cursor: str | None = None, before: str | None = None) -> Response:
    with database_of(request).session() as session:
        page = repository.article_window(
            session, limit=PAGE_SIZE, originals_only=True, **positions(cursor, before)
        )
        articles, position = page.articles, cursor or before
        # The first page is the front page proper: top stories, then sections by hashtag and
        # by source (leaving out the articles the story cards already show).
        top = [] if position else stories.top_stories(session)
        shown = {a.id for card in top for a in (card.lead, *card.others)}
        return templates.TemplateResponse(
            request,
            "index.html",
            {
                "top_stories": top,
                "tag_sections": [] if position else tag_sections(session, exclude=shown),
                "source_sections": [] if position else source_sections(session, exclude=shown),
                "articles": articles,
                "copies": repository.copies_of(session, [a.id for a in articles]),
                **window_links(page),
                "heading": gettext("Latest news"),
            },
        )


@router.get("/articles/{article_id}", response_class=HTMLResponse)
def article_page(request: Request, article_id: int) -> Response:
    database = database_of(request)
    with database.session() as session:
        article = repository.get_article(session, article_id)
        reader = current_user(request)
        if reader is not None:  # opening an article marks it read
            readers.mark_read(session, reader, article.id)
        story = session.get(Story, article.story_id) if article.story_id else None
        related = related_articles(session, enricher_for(database, settings_of(request)), article)
        context = {
            "article": article,
            "story": story if story and story.article_count > 1 else None,
            "also_published": also_published(session, article),
            "related": related,
            "edit": latest_edit(session, article.id),  # (versions, when) if edited since stored
            **ai_panel("article", article.id),
            **comments_context(request, session, "article", article.id),
        }
        return templates.TemplateResponse(request, "article.html", context)


@router.get("/sources/{source_id}", response_class=HTMLResponse)
def source_page(
    request: Request, source_id: int, cursor: str | None = None, before: str | None = None
) -> Response:
    with database_of(request).session() as session:
        source = repository.get_source(session, source_id)
        page = repository.article_window(
            session, limit=PAGE_SIZE, source_id=source_id, **positions(cursor, before)
        )
        return templates.TemplateResponse(
            request,
            "source.html",
            {
                "source": source,
                "articles": page.articles,
                **window_links(page),
                "article_count": repository.count_articles(session, source_id),
                "health": source_health(session, source_id),
            },
        )


@router.get("/admin/sources", response_class=HTMLResponse)
def admin_sources(
    request: Request, message: str | None = None, error: str | None = None
) -> Response:
    with database_of(request).session() as session:
        rows = repository.list_sources(session)
    return templates.TemplateResponse(
        request,
        "admin_sources.html",
        {
            "rows": rows,
            "message": message,
            "error": error,
            "cleanup": last_report(database_of(request)),
            "settings": settings_of(request),
        },
    )


def back_to_admin(
    *, message: str | None = None, error: str | None = None, path: str = "/admin/sources"
) -> RedirectResponse:
    """Back to an admin page, which shows the message (or the error) at its top."""
    key, text = ("error", error) if error else ("message", message or "")
    return RedirectResponse(f"{path}?{key}={quote(text[:500])}", status_code=303)


@router.post("/admin/sources", dependencies=[Depends(require_same_origin)])
def admin_add_source(request: Request, url: Annotated[str, Form()]) -> Response:
    try:
        result = add_source(database_of(request), settings_of(request), url)
    except TidingsError as error:
        return back_to_admin(error=str(error))
    note = (
        gettext("Added %(source)s") if result.created else gettext("Already following %(source)s")
    )
    return back_to_admin(message=note % {"source": result.source.name})


@router.post("/admin/sources/{source_id}/refresh", dependencies=[Depends(require_same_origin)])
def admin_refresh_source(request: Request, source_id: int) -> Response:
    report = refresh_source(database_of(request), settings_of(request), source_id)
    if report.status != "ok":
        return back_to_admin(error=f"{report.source_name}: {report.error}")
    note = gettext("%(source)s: %(new)d new, %(updated)d updated, %(unchanged)d unchanged")
    return back_to_admin(
        message=note
        % {
            "source": report.source_name,
            "new": report.articles_new,
            "updated": report.articles_updated,
            "unchanged": report.articles_unchanged,
        }
    )


@router.get("/admin/sources/{source_id}", response_class=HTMLResponse)
def admin_source(
    request: Request, source_id: int, message: str | None = None, error: str | None = None
) -> Response:
    with database_of(request).session() as session:
        source = repository.get_source(session, source_id)
        return templates.TemplateResponse(
            request,
            "admin_source.html",
            {
                "source": source,
                "rules": rules_of(source),
                "fetches": repository.last_fetches(session, source_id),
                "article_count": repository.count_articles(session, source_id),
                "websub": subscription_of(database_of(request), source_id),
                "message": message,
                "error": error,
            },
        )


@router.post("/admin/sources/{source_id}/rules", dependencies=[Depends(require_same_origin)])
def admin_set_rules(
    request: Request,
    source_id: int,
    body_selector: Annotated[str, Form()] = "",
    remove_selectors: Annotated[str, Form()] = "",
) -> Response:
    back = f"/admin/sources/{source_id}"
    try:
        set_extraction_rules(
            database_of(request), source_id, body_selector, remove_selectors.splitlines()
        )
    except InvalidInputError as error:
        return back_to_admin(error=str(error), path=back)
    note = gettext(
        "Rules saved. They apply to pages fetched from now on (tidings refresh --force re-fetches)."
    )
    return back_to_admin(message=note, path=back)


@router.post("/admin/sources/{source_id}/pause", dependencies=[Depends(require_same_origin)])
def admin_pause(request: Request, source_id: int) -> Response:
    source = update_source_settings(database_of(request), source_id, SourceSettings(paused=True))
    note = gettext("Paused %(source)s: it will not be polled until resumed")
    return back_to_admin(message=note % {"source": source.name})


@router.post("/admin/sources/{source_id}/resume", dependencies=[Depends(require_same_origin)])
def admin_resume(request: Request, source_id: int) -> Response:
    source = update_source_settings(database_of(request), source_id, SourceSettings(paused=False))
    return back_to_admin(message=gettext("Resumed %(source)s") % {"source": source.name})


@router.post("/admin/sources/{source_id}/settings", dependencies=[Depends(require_same_origin)])
def admin_source_settings(
    request: Request,
    source_id: int,
    user_agent: Annotated[str, Form()] = "",
    auth_username: Annotated[str, Form()] = "",
    auth_password: Annotated[str, Form()] = "",
    cookies: Annotated[str, Form()] = "",
    clear_secrets: Annotated[str, Form()] = "",
    proxy_url: Annotated[str, Form()] = "",
    poll_interval_s: Annotated[str, Form()] = "",
    page_limit: Annotated[str, Form()] = "",
    retention_days: Annotated[str, Form()] = "",
    fetch_pages: Annotated[str, Form()] = "",
) -> Response:
    back = f"/admin/sources/{source_id}"
    try:
        changes = SourceSettings(
            user_agent=user_agent,
            auth_username=auth_username,
            # Empty secret fields keep what is stored; the checkbox removes them.
            auth_password="" if clear_secrets else (auth_password or None),
            cookies="" if clear_secrets else (cookies or None),
            proxy_url=proxy_url,
            poll_interval_s=_form_int(poll_interval_s, N_("poll interval")),
            page_limit=_form_int(page_limit, N_("page limit")),
            retention_days=_form_int(retention_days, N_("retention")),
            fetch_pages=bool(fetch_pages),
        )
        update_source_settings(database_of(request), source_id, changes)
    except InvalidInputError as error:
        return back_to_admin(error=str(error), path=back)
    return back_to_admin(message=gettext("Settings saved."), path=back)


def _form_int(value: str, name: str) -> int:
    text = value.strip()
    if not text:
        return 0
    if not text.isdigit():
        message = gettext("%(field)s must be a whole number, not %(value)s")
        raise InvalidInputError(message % {"field": gettext(name), "value": repr(text)})
    return int(text)


@router.post("/admin/cleanup", dependencies=[Depends(require_same_origin)])
def admin_cleanup(request: Request) -> Response:
    report = cleanup(database_of(request), settings_of(request))
    return back_to_admin(message=f"Cleanup: {report.summary()}")


@router.post("/admin/opml", dependencies=[Depends(require_same_origin)])
async def admin_import_opml(request: Request, opml: Annotated[UploadFile, File()]) -> Response:
    try:
        report = await run_in_threadpool(import_opml, database_of(request), opml.file)
    except InvalidInputError as error:
        return back_to_admin(error=str(error))
    invalid = "".join(f"; {url}: {reason}" for url, reason in report.invalid[:3])
    return back_to_admin(message=f"OPML import: {report.summary()}{invalid}")


_DATE_ERRORS = {
    "from": N_("the 'from' date must look like 2026-11-26"),
    "to": N_("the 'to' date must look like 2026-11-26"),
}


def _day(value: str, name: str, *, end: bool = False) -> datetime | None:
    """A date from the search form (YYYY-MM-DD, UTC): its start, or with `end` the start of
    the next day (so "to" includes the day); a clear error for anything else."""
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInputError(gettext(_DATE_ERRORS[name])) from None
    return day + timedelta(days=1) if end else day


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    q: str = "",
    source: str = "",
    language: str = "",
    tag: str = "",
    since: str = "",
    until: str = "",
    sort: str = "relevance",
    mode: str = "hybrid",
    cursor: str = "",
) -> Response:
    mode = mode if mode in SEARCH_MODES else "hybrid"
    context: dict[str, object] = {
        "q": q,
        "source": source,
        "language": language,
        "tag": tag.lstrip("#"),
        "since": since,
        "until": until,
        "sort": sort,
        "mode": mode,
    }
    with database_of(request).session() as session:
        context["sources"] = repository.sources_by_name(session)
        if q.strip():
            try:
                filters = SearchFilters(
                    source_id=int(source) if source.isdigit() else None,
                    language=language or None,
                    sort="time" if sort == "time" else "relevance",
                    tag=tag.lstrip("#") or None,
                    mode=mode,
                    since=_day(since, "from"),
                    until=_day(until, "to", end=True),
                )
                offset = int(cursor) if cursor.isdigit() else 0
                context["page"] = search_articles(
                    session,
                    q,
                    filters,
                    limit=PAGE_SIZE,
                    offset=offset,
                    semantic=semantic_index(request),
                )
            except InvalidInputError as error:
                context["error"] = str(error)
        return templates.TemplateResponse(request, "search.html", context)
