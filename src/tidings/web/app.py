"""The FastAPI application: pages, API, static files, error handling and the scheduler."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from tidings import __version__
from tidings.ai.features import RateLimitedError
from tidings.ai.provider import AIBackendError, ModelRequiredError
from tidings.comments.service import CommentRateError, ForbiddenError
from tidings.config import Settings, get_settings
from tidings.db.migrate import upgrade
from tidings.db.session import Database
from tidings.enrich.service import enricher_for
from tidings.errors import InvalidInputError, NotFoundError, TidingsError
from tidings.ingest.scheduler import Scheduler
from tidings.web import (
    account_pages,
    ai_pages,
    api,
    api_ai,
    api_stories,
    caching,
    comment_pages,
    feeds_out,
    greader,
    i18n,
    job_pages,
    media,
    pages,
    reader_pages,
    reading_pages,
    site_meta,
    story_pages,
    websub,
)
from tidings.web.auth import (
    CSRFError,
    SignInRequired,
    current_user,
    login_redirect,
    needs_admin,
    remember_csrf,
    token_refusal,
)
from tidings.web.i18n import N_
from tidings.web.microcache import PageCache

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PLAIN = "public, max-age=86400"
STATIC_VERSIONED = "public, max-age=31536000, immutable"
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; media-src 'self' https: http:; "
        "style-src 'self'; "
        "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
}


def create_app(
    settings: Settings | None = None,
    database: Database | None = None,
    *,
    run_scheduler: bool | None = None,
) -> FastAPI:
    """Build the app; on start-up it upgrades the schema and (optionally) starts polling."""
    settings = settings or get_settings()
    owns_database = database is None
    database = database or Database(settings.database_url)
    scheduler = Scheduler(database, settings)
    poll = settings.scheduler_enabled if run_scheduler is None else run_scheduler

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        upgrade(database)
        enricher_for(database, settings).load_in_background()
        if poll:
            scheduler.start()
        try:
            yield
        finally:
            scheduler.stop()
            if owns_database:
                database.dispose()

    app = FastAPI(
        title="Tidings",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.scheduler = scheduler
    app.include_router(api.router)
    app.include_router(api_stories.router)
    app.include_router(api_ai.router)
    app.include_router(ai_pages.router)
    app.include_router(job_pages.router)
    app.include_router(account_pages.router)
    app.include_router(comment_pages.router)
    app.include_router(media.router)
    app.include_router(reader_pages.router)
    app.include_router(feeds_out.router)
    app.include_router(greader.router, include_in_schema=False)
    app.include_router(pages.router)
    app.include_router(story_pages.router)
    app.include_router(reading_pages.router)
    app.include_router(site_meta.router)
    app.include_router(websub.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _install_error_handlers(app)
    _api_schema_only(app)

    @app.middleware("http")
    async def headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        refusal = None
        if request.url.path.startswith("/api/") and "authorization" in request.headers:
            refusal = await run_in_threadpool(token_refusal, request)
        if refusal is not None:
            response: Response = api.problem(*refusal)
        elif settings.private and await run_in_threadpool(_private_and_signed_out, request):
            if _wants_json(request) or request.url.path.startswith("/feeds/"):
                response = api.problem(401, "this Tidings is private: sign in first")
            else:
                response = login_redirect(request.url.path)
        elif _cross_site_api_write(request):
            response = api.problem(403, "cross-site requests to the API are refused")
        elif await run_in_threadpool(needs_admin, request):
            if _wants_json(request):
                response = api.problem(403, "sign in as an admin to do this")
            else:
                response = login_redirect(request.url.path)
        else:
            response = await call_next(request)
        remember_csrf(request, response)
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/static/"):
            # Pages link /static/NAME?v=HASH (site_meta.static_url): a changed file gets a new
            # URL, so a versioned one may be kept for a year.
            versioned = "v" in request.query_params
            response.headers["Cache-Control"] = STATIC_VERSIONED if versioned else STATIC_PLAIN
        elif caching.wants_validator(request, response):
            response = await caching.with_validator(request, response)
        return response

    # Registered last, so it runs first: every page below speaks the reader's language.
    app.middleware("http")(i18n.middleware)
    # Pages, feeds, CSS and JSON go out gzipped to browsers that accept it.
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    # Outermost: repeated anonymous pages are answered from memory (web/microcache.py).
    app.add_middleware(PageCache, ttl_s=settings.page_cache_s, enabled=not settings.private)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


OPEN_IN_PRIVATE_MODE = ("/login", "/signup", "/reset/", "/static/", "/healthz", "/logout",
                        "/preferences/theme",
                        "/websub/", "/api/greader/accounts/ClientLogin")  # fmt: skip


def _private_and_signed_out(request: Request) -> bool:
    """Private mode: everything but signing in needs a signed-in reader."""
    if request.url.path.startswith(OPEN_IN_PRIVATE_MODE):
        return False
    return current_user(request) is None


def _cross_site_api_write(request: Request) -> bool:
    """A browser on another site posting to the API with this site's cookies (CSRF)."""
    if not request.url.path.startswith("/api/") or request.method in ("GET", "HEAD", "OPTIONS"):
        return False
    origin = request.headers.get("origin")
    return bool(origin) and urlsplit(origin or "").netloc != request.headers.get("host")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_page(request: Request, status: int, title: str, detail: str) -> Response:
    return pages.templates.TemplateResponse(
        request, "error.html", {"title": i18n.gettext(title), "detail": detail}, status_code=status
    )


# The error titles pages show, for extraction (api.TITLES stays English in the JSON API).
_PAGE_TITLES = (N_("Bad Request"), N_("Unauthorized"), N_("Forbidden"), N_("Not Found"),
                N_("Unprocessable Content"), N_("Too Many Requests"), N_("Bad Gateway"),
                N_("Service Unavailable"), N_("Method Not Allowed"), N_("Error"))  # fmt: skip


def _respond(request: Request, status: int, title: str, detail: str) -> Response:
    if _wants_json(request):
        return api.problem(status, detail, title)
    return _error_page(request, status, title, detail)


# Errors a person can act on, and the status each gets (the first match wins).
ERROR_STATUS: tuple[tuple[type[TidingsError], int], ...] = (
    (NotFoundError, 404),
    (InvalidInputError, 400),
    (RateLimitedError, 429),
    (CommentRateError, 429),
    (ModelRequiredError, 422),
    (AIBackendError, 503),
    (CSRFError, 403),
    (ForbiddenError, 403),
)


def _api_schema_only(app: FastAPI) -> None:
    """The OpenAPI schema describes the JSON API under /api/v1, not the HTML pages and forms
    (some of which share a router with their API twins)."""

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            full = get_openapi(title=app.title, version=app.version, routes=app.routes)
            full["paths"] = {
                path: item for path, item in full["paths"].items() if path.startswith("/api/v1/")
            }
            app.openapi_schema = full
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]


def _install_error_handlers(app: FastAPI) -> None:
    for error_type, status in ERROR_STATUS:

        async def handler(request: Request, error: Exception, status: int = status) -> Response:
            return _respond(request, status, api.TITLES.get(status, "Error"), str(error))

        app.add_exception_handler(error_type, handler)

    async def out_of_range(request: Request, error: Exception) -> Response:
        # An id or number past what the database stores (SQLite: 64 bits, PostgreSQL
        # integer: 32): no such thing can exist, so say so instead of failing.
        detail = "a number in the request is out of range"
        status = 404 if request.method == "GET" else 400
        return _respond(request, status, api.TITLES[status], detail)

    app.add_exception_handler(OverflowError, out_of_range)
    app.add_exception_handler(DataError, out_of_range)

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, error: SignInRequired) -> Response:
        return login_redirect(error.next_path)

    @app.exception_handler(media.MediaError)
    async def media_error(request: Request, error: media.MediaError) -> Response:
        return PlainTextResponse(str(error), status_code=error.status)

    @app.exception_handler(TidingsError)
    async def other(request: Request, error: TidingsError) -> Response:
        return _respond(request, 502, "Bad Gateway", str(error))

    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, error: RequestValidationError) -> Response:
        detail = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()
        )
        return _respond(request, 422, "Unprocessable Content", detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        titles = {404: "Not Found", 405: "Method Not Allowed"}
        detail = str(error.detail)
        if error.status_code == 404 and detail == "Not Found":
            detail = f"there is nothing at {request.url.path}"
        return _respond(request, error.status_code, titles.get(error.status_code, "Error"), detail)
