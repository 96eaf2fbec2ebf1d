"""The admin's view of the task queue: the Jobs page and its JSON twin, retry and discard."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from tidings.errors import NotFoundError
from tidings.jobs import deadletters
from tidings.jobs.queue import QueueUnavailableError
from tidings.web.deps import settings_of
from tidings.web.pages import back_to_admin, require_same_origin, templates

router = APIRouter()
BACK = "/admin/jobs"


@router.get("/admin/jobs", response_class=HTMLResponse)
def admin_jobs(request: Request, message: str | None = None, error: str | None = None) -> Response:
    settings = settings_of(request)
    try:
        jobs = deadletters.overview(settings)
    except QueueUnavailableError as failure:
        jobs, error = deadletters.JobsOverview(enabled=True), str(failure)
    context = {"jobs": jobs, "message": message, "error": error}
    return templates.TemplateResponse(request, "admin_jobs.html", context)


@router.get("/api/v1/admin/jobs", tags=["admin"])
def api_admin_jobs(request: Request) -> dict[str, Any]:
    """Queue lengths, live workers and dead letters (`enabled` false: jobs run in-process)."""
    return asdict(deadletters.overview(settings_of(request)))


@router.post("/admin/jobs/{queue}/{message_id}/retry", dependencies=[Depends(require_same_origin)])
def admin_retry_job(request: Request, queue: str, message_id: str) -> Response:
    try:
        job = deadletters.retry(settings_of(request), queue, message_id)
    except (NotFoundError, QueueUnavailableError) as failure:
        return back_to_admin(error=str(failure), path=BACK)
    return back_to_admin(message=f"Queued {job} again.", path=BACK)


@router.post(
    "/admin/jobs/{queue}/{message_id}/discard", dependencies=[Depends(require_same_origin)]
)
def admin_discard_job(request: Request, queue: str, message_id: str) -> Response:
    try:
        job = deadletters.discard(settings_of(request), queue, message_id)
    except (NotFoundError, QueueUnavailableError) as failure:
        return back_to_admin(error=str(failure), path=BACK)
    return back_to_admin(message=f"Discarded a failed {job} job.", path=BACK)
