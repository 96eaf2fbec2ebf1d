"""Feeds out: RSS 2.0, Atom and JSON Feed 1.1 of Tidings' listings, with the full text."""

from __future__ import annotations

import json
from html import escape
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from feedgen.feed import FeedGenerator

from tidings import __version__
from tidings.accounts.tokens import token_user
from tidings.ai.briefing import briefing_html, build_briefing
from tidings.db import repository
from tidings.db.models import Article
from tidings.enrich import stories
from tidings.errors import NotFoundError
from tidings.readers import service as readers
from tidings.search import SearchFilters, search_articles
from tidings.web.deps import database_of, settings_of
from tidings.web.websub import advertise_hub, feed_self_url, hub_link_header

FEED_SIZE = 50
_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}

router = APIRouter(prefix="/feeds")


def _html(article: Article) -> str:
    return "".join(
        f"<p>{escape(paragraph)}</p>" for paragraph in article.body.split("\n\n") if paragraph
    )


def _xml_feed(
    kind: str, title: str, page_url: str, self_url: str, articles: list[Article], hub: str | None
) -> bytes:
    generator = FeedGenerator()
    generator.id(self_url)
    generator.title(title)
    generator.description(f"{title}, from Tidings")
    generator.link(href=self_url, rel="self")
    advertise_hub(generator, hub)
    generator.link(href=page_url, rel="alternate")  # last: RSS takes its <link> from it
    generator.generator("Tidings", version=__version__)
    for article in reversed(articles):  # feedgen prepends: reversed keeps newest first
        entry = generator.add_entry()
        entry.id(article.url)
        entry.guid(article.url, permalink=True)
        entry.title(article.title)
        entry.link(href=article.url)
        entry.published(article.published_at)
        entry.updated(article.updated_at or article.published_at)
        entry.author(name=article.byline or article.source.name)
        entry.description(article.summary or article.body[:300])
        entry.content(_html(article), type="CDATA" if kind == "rss" else "html")
        for media in article.enclosures or []:
            entry.enclosure(
                str(media["url"]), str(media.get("length") or 0), str(media.get("type") or "")
            )
    document: bytes = (
        generator.rss_str(pretty=True) if kind == "rss" else generator.atom_str(pretty=True)
    )
    return document


def _json_feed(
    title: str, page_url: str, self_url: str, articles: list[Article], hub: str | None
) -> bytes:
    items: list[dict[str, Any]] = []
    for article in articles:
        item: dict[str, Any] = {
            "id": article.url,
            "url": article.url,
            "title": article.title,
            "content_html": _html(article),
            "content_text": article.body,
            "summary": article.summary,
            "date_published": article.published_at.isoformat(),
            "authors": [{"name": article.byline or article.source.name}],
            "language": article.language,
        }
        if article.updated_at:
            item["date_modified"] = article.updated_at.isoformat()
        if article.lead_image:
            item["image"] = article.lead_image
        if article.enclosures:
            item["attachments"] = [
                {"url": m["url"], "mime_type": m.get("type") or "application/octet-stream"}
                | ({"size_in_bytes": m["length"]} if m.get("length") else {})
                for m in article.enclosures
            ]
        items.append({key: value for key, value in item.items() if value is not None})
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "home_page_url": page_url,
        "feed_url": self_url,
        "items": items,
    }
    if hub:
        document["hubs"] = [{"type": "WebSub", "url": hub}]
    return json.dumps(document, ensure_ascii=False, indent=1).encode()


def _respond(
    request: Request, kind: str, title: str, page_path: str, articles: list[Article]
) -> Response:
    base = str(request.base_url).rstrip("/")
    self_url, page_url = feed_self_url(request), base + page_path
    private = request.url.path.startswith("/feeds/for-you/")  # its URL must not reach a hub
    hub = None if private else settings_of(request).websub_hub
    if kind == "json":
        body = _json_feed(title, page_url, self_url, articles, hub)
    else:
        body = _xml_feed(kind, title, page_url, self_url, articles, hub)
    # A reader's own feed (its token is in the URL) must not sit in a shared cache.
    cache = "private, max-age=300" if private else "public, max-age=300"
    headers = {"Cache-Control": cache, **hub_link_header(hub, self_url)}
    return Response(body, media_type=_TYPES[kind], headers=headers)


def _check_format(kind: str) -> None:
    if kind not in _TYPES:
        raise NotFoundError(f"no feed format {kind!r}: use .rss, .atom or .json")


@router.get("/latest.{kind}", include_in_schema=False)
def latest_feed(request: Request, kind: str) -> Response:
    _check_format(kind)
    with database_of(request).session() as session:
        articles, _ = repository.list_articles(session, limit=FEED_SIZE)
        return _respond(request, kind, "Tidings — latest news", "/", articles)


@router.get("/sources/{source_id}.{kind}", include_in_schema=False)
def source_feed(request: Request, source_id: int, kind: str) -> Response:
    _check_format(kind)
    with database_of(request).session() as session:
        source = repository.get_source(session, source_id)
        articles, _ = repository.list_articles(session, limit=FEED_SIZE, source_id=source_id)
        return _respond(
            request, kind, f"{source.name} — Tidings", f"/sources/{source_id}", articles
        )


@router.get("/tags/{slug}.{kind}", include_in_schema=False)
def tag_feed(request: Request, slug: str, kind: str) -> Response:
    _check_format(kind)
    with database_of(request).session() as session:
        tag = repository.get_tag(session, slug)
        articles, _ = repository.list_articles(
            session, limit=FEED_SIZE, tag_id=tag.id, originals_only=True
        )
        return _respond(
            request, kind, f"{tag.name} — Tidings", f"/tags/{quote(tag.slug)}", articles
        )


@router.get("/stories/{story_id}.{kind}", include_in_schema=False)
def story_feed(request: Request, story_id: int, kind: str) -> Response:
    _check_format(kind)
    with database_of(request).session() as session:
        story = stories.get_story(session, story_id)
        articles = stories.coverage(session, story.id)[::-1][:FEED_SIZE]
        return _respond(request, kind, f"{story.title} — Tidings", f"/stories/{story.id}", articles)


@router.get("/search.{kind}", include_in_schema=False)
def search_feed(request: Request, kind: str, q: str, tag: str | None = None) -> Response:
    """A saved search as a feed: the newest matches first."""
    _check_format(kind)
    filters = SearchFilters(sort="time", tag=tag.lstrip("#") if tag else None)
    with database_of(request).session() as session:
        results = search_articles(session, q, filters, limit=FEED_SIZE)
        articles = [hit.article for hit in results.hits]
        return _respond(request, kind, f"“{q}” — Tidings search", f"/search?q={quote(q)}", articles)


@router.get("/for-you/{token}.{kind}", include_in_schema=False)
def for_you_feed(request: Request, token: str, kind: str) -> Response:
    """A reader's "For you" as a feed, at a private URL carrying one of their API tokens."""
    _check_format(kind)
    with database_of(request).session() as session:
        found = token_user(session, token)
        if found is None or "read" not in found[1]:
            raise NotFoundError("no feed here: the token is unknown, revoked or not a read token")
        articles, _ = readers.for_you(session, found[0], limit=FEED_SIZE)
        return _respond(request, kind, "For you — Tidings", "/for-you", articles)


@router.get("/briefing.{kind}", include_in_schema=False)
def briefing_feed(request: Request, kind: str) -> Response:
    """The daily briefing as a feed: one entry per day, the stories and summaries inside."""
    _check_format(kind)
    base = str(request.base_url).rstrip("/")
    briefing = build_briefing(database_of(request), settings_of(request))
    day = briefing.generated_at
    entry_id = f"{base}/briefing#{day:%Y-%m-%d}"
    title = f"Daily briefing — {day:%-d %B %Y}"
    html = briefing_html(briefing, base)
    if kind == "json":
        document = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "Tidings daily briefing",
            "home_page_url": f"{base}/briefing",
            "feed_url": str(request.url),
            "items": [{"id": entry_id, "url": f"{base}/briefing", "title": title,
                       "content_html": html, "date_published": day.isoformat()}],
        }  # fmt: skip
        body = json.dumps(document, ensure_ascii=False, indent=1).encode()
    else:
        generator = FeedGenerator()
        generator.id(str(request.url))
        generator.title("Tidings daily briefing")
        generator.description("The day's top stories, each summarised across its outlets")
        generator.link(href=str(request.url), rel="self")
        generator.link(href=f"{base}/briefing", rel="alternate")
        entry = generator.add_entry()
        entry.id(entry_id)
        entry.guid(entry_id, permalink=False)
        entry.title(title)
        entry.link(href=f"{base}/briefing")
        entry.published(day)
        entry.updated(day)
        entry.description(", ".join(story.title for story in briefing.stories) or "No stories yet")
        entry.content(html, type="CDATA" if kind == "rss" else "html")
        body = generator.rss_str(pretty=True) if kind == "rss" else generator.atom_str(pretty=True)
    return Response(body, media_type=_TYPES[kind], headers={"Cache-Control": "public, max-age=300"})
