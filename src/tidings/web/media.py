"""The media proxy: publisher images served from Tidings, so readers' browsers never call
the publishers (their addresses and habits stay private), as Miniflux's proxy does.

Only URLs that Tidings itself signed are fetched (HMAC with TIDINGS_SECRET_KEY), through
the same fetcher as everything else (SSRF guard, timeouts), up to TIDINGS_MEDIA_MAX_BYTES,
and only image types come back — SVG with a sandboxing CSP so it can never run script.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tidings.errors import FetchError, InvalidInputError, TidingsError
from tidings.ingest.http import Fetcher
from tidings.web.deps import settings_of

router = APIRouter()
IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "image/svg+xml"}


class MediaError(TidingsError):
    """A proxied image was refused (bad signature, not an image, too large)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _signature(secret: str, url: str) -> str:
    return hmac.new(secret.encode(), url.encode(), hashlib.sha256).hexdigest()[:32]


def media_url(request: Request, url: str | None) -> str | None:
    """The proxied address of a publisher image (None for anything but http/https)."""
    if not url or not url.startswith(("http://", "https://")):
        return None
    signature = _signature(settings_of(request).secret_key, url)
    return f"/media/{signature}?url={quote(url, safe='')}"


@router.get("/media/{signature}", include_in_schema=False)
def proxy(request: Request, signature: str, url: str) -> Response:
    settings = settings_of(request)
    if not hmac.compare_digest(signature, _signature(settings.secret_key, url)):
        raise MediaError("this media link was not made by this Tidings", 403)
    limited = settings.model_copy(update={"fetch_max_bytes": settings.media_max_bytes})
    fetcher = Fetcher(limited)
    try:
        result = fetcher.fetch(url, accept="image/avif,image/webp,image/*;q=0.9")
    except InvalidInputError as error:
        raise MediaError(str(error), 400) from error
    except FetchError as error:
        status = 413 if "larger than" in str(error) else 502
        raise MediaError(str(error), status) from error
    finally:
        fetcher.close()
    if result.content_type not in IMAGE_TYPES:
        raise MediaError(f"not an image ({result.content_type or 'no type'}): {url}", 415)
    return Response(
        result.content,
        media_type=result.content_type,
        headers={
            "Cache-Control": "public, max-age=86400",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
            "X-Content-Type-Options": "nosniff",
        },
    )
