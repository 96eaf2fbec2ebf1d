"""Comment forms (post, edit, delete, report), the moderation queue, and the comments API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tidings.comments import service as comments
from tidings.db.models import Comment
from tidings.errors import NotFoundError
from tidings.web.auth import check_csrf, current_user, local_path
from tidings.web.deps import client_address, database_of
from tidings.web.pages import templates

router = APIRouter()
Text = Annotated[str, Form()]


def _back(comment: Comment) -> str:
    base = "articles" if comment.target_type == "article" else "stories"
    return f"/{base}/{comment.target_id}#comment-{comment.id}"


@router.post("/comments")
def post_comment(request: Request, target_type: Text, target_id: Annotated[int, Form()],
                 body: Text, submission_id: Text, parent_id: Annotated[int | None, Form()] = None,
                 csrf_token: Text = "") -> Response:  # fmt: skip
    check_csrf(request, csrf_token)
    with database_of(request).session() as session:
        comment = comments.post_comment(
            session, current_user(request), target_type, target_id, body,
            submission_id=submission_id, parent_id=parent_id, address=client_address(request),
            scope=database_of(request).url,
        )  # fmt: skip
        target = _back(comment)
    return RedirectResponse(target, status_code=303)


@router.post("/comments/{comment_id}/edit")
def edit_comment(request: Request, comment_id: int, body: Text, csrf_token: Text = "") -> Response:
    check_csrf(request, csrf_token)
    with database_of(request).session() as session:
        target = _back(comments.edit_comment(session, current_user(request), comment_id, body))
    return RedirectResponse(target, status_code=303)


@router.post("/comments/{comment_id}/delete")
def delete_comment(request: Request, comment_id: int, csrf_token: Text = "") -> Response:
    check_csrf(request, csrf_token)
    with database_of(request).session() as session:
        target = _back(comments.delete_comment(session, current_user(request), comment_id))
    return RedirectResponse(target, status_code=303)


@router.post("/comments/{comment_id}/report")
def report_comment(
    request: Request, comment_id: int, reason: Text = "", csrf_token: Text = ""
) -> Response:
    check_csrf(request, csrf_token)
    with database_of(request).session() as session:
        comments.report_comment(session, current_user(request), comment_id, reason)
        target = _back(comments.get_comment(session, comment_id))
    return RedirectResponse(target.replace("#", "?reported=1#"), status_code=303)


@router.get("/moderation", response_class=HTMLResponse)
def moderation_page(request: Request) -> Response:
    user = current_user(request)
    if not comments.allowed(user, "queue"):
        raise comments.ForbiddenError("the moderation queue is for moderators")
    with database_of(request).session() as session:
        queue = comments.moderation_queue(session)
        context = {"queue": queue, "back": _back}
        return templates.TemplateResponse(request, "moderation.html", context)


@router.post("/moderation/comments/{comment_id}/{action}")
def moderate(request: Request, comment_id: int, action: str, csrf_token: Text = "",
             next: Text = "/moderation") -> Response:  # fmt: skip
    check_csrf(request, csrf_token)
    with database_of(request).session() as session:
        comments.moderate(session, current_user(request), comment_id, action)
    return RedirectResponse(local_path(next, "/moderation"), status_code=303)


@router.post("/moderation/users/{user_id}/ban")
def ban(request: Request, user_id: int, csrf_token: Text = "") -> Response:
    check_csrf(request, csrf_token)
    with database_of(request).session() as session:
        comments.ban_user(session, current_user(request), user_id)
    return RedirectResponse("/moderation", status_code=303)


def _comment_out(comment: Comment) -> dict[str, Any]:
    removed = comment.status != "visible"
    return {
        "id": comment.id,
        "parent_id": comment.parent_id,
        "author": None if removed else comment.user.display_name,
        "html": None if removed else comment.html,
        "status": comment.status,
        "created_at": comment.created_at.isoformat(),
        "edited_at": comment.edited_at.isoformat() if comment.edited_at else None,
    }


@router.get("/api/v1/{target}/{target_id}/comments", tags=["v1"])
def comments_api(request: Request, target: str, target_id: int) -> dict[str, Any]:
    """The comments of an article or story (`target`: articles | stories), threaded."""
    target_type = {"articles": "article", "stories": "story"}.get(target)
    if target_type is None:
        raise NotFoundError(f"there is nothing at {request.url.path}")
    with database_of(request).session() as session:
        threads = comments.thread(session, target_type, target_id)
        return {
            "items": [
                {**_comment_out(t.comment), "replies": [_comment_out(r) for r in t.replies]}
                for t in threads
            ]
        }
