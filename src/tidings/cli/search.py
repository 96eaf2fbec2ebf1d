"""`tidings search`: the search page and API, from the command line."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tidings.cli.common import app, console, database_from_env, friendly_errors
from tidings.config import get_settings
from tidings.search import MODES, SearchFilters, SemanticIndex, search_articles
from tidings.web.schemas import ArticleOut, SearchHit
from tidings.web.timefmt import relative_time

_MARK = re.compile(r"</?mark>")


@app.command()
@friendly_errors
def search(
    query: Annotated[str, typer.Argument(help='Words, "an exact phrase", #hashtag')],
    tag: Annotated[str | None, typer.Option(help="Only articles with this hashtag")] = None,
    language: Annotated[str | None, typer.Option(help="en, zh-Hant, zh-Hans, …")] = None,
    source_id: Annotated[int | None, typer.Option(help="Only this source's articles")] = None,
    since: Annotated[datetime | None, typer.Option(help="Published at or after")] = None,
    newest: Annotated[bool, typer.Option("--newest", help="Newest first, not best match")] = False,
    mode: Annotated[str, typer.Option(help="hybrid, keyword or semantic")] = "hybrid",
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="One API search hit per line")] = False,
) -> None:
    """Search titles, text, publishers and hashtags (and meaning, with the e5 embeddings)."""
    if mode not in MODES:
        raise typer.BadParameter(f"use one of {', '.join(MODES)}", param_hint="--mode")
    settings = get_settings()
    database = database_from_env(settings)
    semantic: SemanticIndex | None = None
    if mode != "keyword":
        from tidings.enrich.service import enricher_for

        enricher = enricher_for(database, settings)
        if mode == "semantic" or enricher.understands_meaning:
            enricher.ensure_current()  # a server loads it in the background; here we wait
            semantic = enricher
    filters = SearchFilters(
        source_id=source_id,
        language=language,
        since=since.astimezone() if since else None,
        sort="time" if newest else "relevance",
        tag=tag.lstrip("#") if tag else None,
        mode=mode,
    )
    with database.session() as session:
        page = search_articles(session, query, filters, limit=limit, semantic=semantic)
        if as_json:
            for hit in page.hits:
                out = SearchHit(
                    **ArticleOut.of(hit.article).model_dump(),
                    snippet=hit.snippet,
                    matched=hit.matched,
                )
                print(json.dumps(out.model_dump(mode="json"), ensure_ascii=False))
            return
        if not page.hits:
            console.print(f"Nothing found for “{query}”.")
            return
        table = Table("id", "article", "publisher", "published", "match")
        for hit in page.hits:
            passage = html.unescape(_MARK.sub("", hit.snippet))
            table.add_row(
                str(hit.article.id),
                f"[bold]{escape(hit.article.title)}[/bold]\n{escape(passage[:200])}",
                hit.article.source.name,
                relative_time(hit.article.published_at),
                hit.matched,
            )
    console.print(table)
