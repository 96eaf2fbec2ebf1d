"""WebSub over HTTP: the callback hubs call (intent checks, pushes) and our feeds' hub links."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import PlainTextResponse, Response
from feedgen.ext.base import BaseExtension
from lxml import etree
from starlette.concurrency import run_in_threadpool

from tidings.ingest import websub
from tidings.web.deps import database_of, settings_of

ATOM = "http://www.w3.org/2005/Atom"

router = APIRouter(prefix=websub.CALLBACK_PATH.rstrip("/"), include_in_schema=False)


@router.get("/{token}")
def verify(request: Request, token: str) -> Response:
    """The hub checks that we asked for this (un)subscription: echo its challenge."""
    query = request.query_params
    check = websub.Verification(
        mode=query.get("hub.mode", ""),
        topic=query.get("hub.topic", ""),
        challenge=query.get("hub.challenge"),
        lease_seconds=query.get("hub.lease_seconds"),
        reason=query.get("hub.reason"),
    )
    challenge = websub.verify_intent(database_of(request), settings_of(request), token, check)
    return PlainTextResponse(challenge)


@router.post("/{token}")
async def receive(request: Request, token: str, background: BackgroundTasks) -> Response:
    """Content distribution: a signed feed, stored after the answer (hubs want it fast).
    A bad signature gets 202 too, as the spec allows, and is ignored."""
    limit = settings_of(request).fetch_max_bytes
    body = await _body_within(request, limit)
    if body is None:
        return PlainTextResponse(f"larger than {limit:,} bytes", status_code=413)
    try:
        push = await run_in_threadpool(
            websub.accept_push,
            database_of(request),
            token,
            body,
            request.headers.get("content-type", ""),
            request.headers.get("x-hub-signature"),
        )
    except websub.SubscriptionGoneError:
        return PlainTextResponse("no subscription here any more", status_code=410)
    if push is not None:
        background.add_task(websub.ingest_push, database_of(request), settings_of(request), push)
    return Response(status_code=202)


async def _body_within(request: Request, limit: int) -> bytes | None:
    """The request body, or None once it passes `limit` bytes (not read further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def feed_self_url(request: Request) -> str:
    """A feed's own URL as hubs and subscribers know it: under TIDINGS_PUBLIC_URL when set."""
    public = settings_of(request).public_url
    if not public:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{public}{request.url.path}{query}"


def hub_link_header(hub: str | None, self_url: str) -> dict[str, str]:
    """The `Link` header that advertises TIDINGS_WEBSUB_HUB for a feed (none if unset)."""
    if not hub:
        return {}
    return {"Link": f'<{hub}>; rel="hub", <{self_url}>; rel="self"'}


def advertise_hub(generator: Any, hub: str | None) -> None:
    """Add `<link rel="hub">` to a feedgen feed: Atom, and RSS as `<atom:link>` (feedgen by
    itself writes only the self link there)."""
    if hub:
        generator.register_extension("websub", _HubLink)
        generator.websub.hub = hub


class _HubLink(BaseExtension):  # type: ignore[misc]  # feedgen has no type hints
    hub = ""

    def extend_ns(self) -> dict[str, str]:
        return {"atom": ATOM}

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        channel = feed.find("channel")
        if channel is not None:
            etree.SubElement(channel, f"{{{ATOM}}}link", href=self.hub, rel="hub")
        return feed

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        etree.SubElement(feed, f"{{{ATOM}}}link", href=self.hub, rel="hub")
        return feed
