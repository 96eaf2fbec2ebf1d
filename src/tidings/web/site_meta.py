"""What pages tell browsers, search engines and link previews: the theme, canonical URLs,
OpenGraph/Twitter cards, JSON-LD structured data and robots.txt."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from markupsafe import Markup

from tidings.db.models import Article, Story
from tidings.web.auth import CSRFError, local_path
from tidings.web.deps import settings_of
from tidings.web.media import media_url
from tidings.web.pages import templates

THEME_COOKIE = "tidings_theme"
THEME_COOKIE_AGE = 365 * 24 * 3600
THEMES = ("auto", "light", "dark")
SITE_NAME = "Tidings"
STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter()


def theme_of(request: Request) -> str | None:
    """The theme the reader chose ("light" or "dark"); None follows the system setting."""
    theme = request.cookies.get(THEME_COOKIE)
    return theme if theme in ("light", "dark") else None


def site_url(request: Request) -> str:
    """This Tidings' address: TIDINGS_PUBLIC_URL, else the one the request came to."""
    return settings_of(request).public_url or str(request.base_url).rstrip("/")


def absolute_url(request: Request, path: str | None) -> str | None:
    """`path` (a path on this site, or already a full URL) as an absolute URL."""
    if not path:
        return None
    if path.startswith(("http://", "https://")):
        return path
    return site_url(request) + path


def canonical_url(request: Request) -> str:
    """The address of this page: the site's address, the path and the query."""
    query = f"?{request.url.query}" if request.url.query else ""
    return site_url(request) + request.url.path + query


def image_url(request: Request, article: Article) -> str | None:
    """The article's lead image as served by this Tidings (the media proxy), absolute."""
    return absolute_url(request, media_url(request, article.lead_image))


@cache
def static_url(name: str) -> str:
    """/static/NAME?v=HASH: the URL changes with the file, so browsers may keep it a year."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


def json_ld(data: dict[str, Any]) -> Markup:
    """`data` as a JSON-LD script element, safe inside HTML: `<`, `>` and `&` are escaped so
    no text in it can close the element or start a comment."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup('<script type="application/ld+json">' + text + "</script>")  # noqa: S704


def news_article(request: Request, article: Article) -> Markup:
    """schema.org NewsArticle for an article page."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": article.title[:110],
        "url": canonical_url(request),
        "mainEntityOfPage": canonical_url(request),
        "datePublished": article.published_at.isoformat(),
        "dateModified": (article.updated_at or article.published_at).isoformat(),
        "isBasedOn": article.original_url,
        "publisher": {"@type": "Organization", "name": article.source.name},
    }
    if article.source.site_url:
        data["publisher"]["url"] = article.source.site_url
    authors = article.authors or ([article.byline] if article.byline else [])
    if authors:
        data["author"] = [{"@type": "Person", "name": name} for name in authors]
    if article.language:
        data["inLanguage"] = article.language
    if article.summary:
        data["description"] = article.summary
    image = image_url(request, article)
    if image:
        data["image"] = [image]
    return json_ld(data)


def item_list(request: Request, items: Iterable[Article | Story]) -> Markup:
    """schema.org ItemList of the articles or stories a page lists, in order."""
    elements = [
        {
            "@type": "ListItem",
            "position": position,
            "url": absolute_url(request, _path_of(item)),
            "name": item.title,
        }
        for position, item in enumerate(items, start=1)
    ]
    return json_ld(
        {"@context": "https://schema.org", "@type": "ItemList", "itemListElement": elements}
    )


def _path_of(item: Article | Story) -> str:
    return f"/articles/{item.id}" if isinstance(item, Article) else f"/stories/{item.id}"


templates.env.globals["theme_of"] = theme_of
templates.env.globals["static_url"] = static_url
templates.env.globals["canonical_url"] = canonical_url
templates.env.globals["absolute_url"] = absolute_url
templates.env.globals["image_url"] = image_url
templates.env.globals["news_article_ld"] = news_article
templates.env.globals["item_list_ld"] = item_list
templates.env.globals["site_name"] = SITE_NAME


def same_site_only(request: Request) -> None:
    """Refuse a theme form posted from another site, on the browser's word (Sec-Fetch-Site,
    Origin). The switch carries no CSRF token on purpose: a form token would make every
    page `private` (web/caching.py), and a forged theme change harms no one."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise CSRFError("cross-site form submissions are refused")
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise CSRFError("cross-site form submissions are refused")


@router.post("/preferences/theme", dependencies=[Depends(same_site_only)])
def set_theme(
    request: Request, theme: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    """Remember the reader's theme in a cookie and go back to the page they were on."""
    response = RedirectResponse(local_path(next), status_code=303)
    if theme in ("light", "dark"):
        response.set_cookie(THEME_COOKIE, theme, max_age=THEME_COOKIE_AGE, httponly=True,
                            samesite="lax", secure=request.url.scheme == "https", path="/")  # fmt: skip
    else:  # "auto", or anything unknown: follow the system again
        response.delete_cookie(THEME_COOKIE, path="/")
    return response


@router.get("/robots.txt", include_in_schema=False)
def robots(request: Request) -> Response:
    """Pages may be indexed; the API, the admin pages and the forms may not."""
    lines = [
        "User-agent: *",
        "Disallow: /admin",
        "Disallow: /api/",
        "Disallow: /login",
        "Disallow: /signup",
        "Disallow: /preferences/",
        "Allow: /",
        "",
    ]
    return PlainTextResponse("\n".join(lines), headers={"Cache-Control": "public, max-age=3600"})
