"""Commands about sources: list, rules, settings, pause and resume, cleanup."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tidings.cli.common import app, console, database_from_env, err_console, friendly_errors
from tidings.config import get_settings
from tidings.db import repository
from tidings.errors import InvalidInputError
from tidings.ingest.opml import export_opml, import_opml
from tidings.ingest.retention import cleanup
from tidings.ingest.sources import (
    SourceSettings,
    rules_of,
    set_extraction_rules,
    update_source_settings,
)
from tidings.web.timefmt import relative_time


@app.command()
@friendly_errors
def sources() -> None:
    """List sources with their health: status, last success, error, next poll, pace, fetch time."""
    with database_from_env().session() as session:
        rows = repository.list_sources(session)
        if not rows:
            console.print("No sources yet. Add one with: tidings add URL")
            return
        table = Table()
        for column in (
            "ID",
            "Source",
            "Status",
            "Last success",
            "Next poll",
            "Per day",
            "Avg fetch",
            "Articles",
            "Last error / warning",
        ):
            table.add_column(column)
        for row in rows:
            item = row.source
            table.add_row(
                str(item.id),
                f"{item.name}\n[dim]{item.feed_url}[/dim]",
                _status(row),
                relative_time(item.last_success_at) if item.last_success_at else "never",
                "paused"
                if item.paused
                else (f"{item.next_fetch_at:%Y-%m-%d %H:%M} UTC" if item.next_fetch_at else "now"),
                f"{row.articles_per_day:g}",
                f"{row.avg_fetch_ms} ms" if row.avg_fetch_ms is not None else "",
                str(row.article_count),
                item.last_error
                or (f"[yellow]{item.last_warning}[/yellow]" if item.last_warning else ""),
            )
        console.print(table)


def _status(row: repository.SourceRow) -> str:
    if row.source.paused:
        return "[dim]paused[/dim]"
    if row.flagged and row.failing_since is not None:
        return f"[red bold]failing since {row.failing_since:%Y-%m-%d}[/red bold]"
    return {"ok": "[green]ok[/green]", "error": "[red]error[/red]"}.get(
        row.source.status, row.source.status
    )


@app.command()
@friendly_errors
def pause(source: Annotated[str, typer.Argument(help="Source id, feed URL or name")]) -> None:
    """Stop polling a source (its articles stay)."""
    _set_paused(source, paused=True)


@app.command()
@friendly_errors
def resume(source: Annotated[str, typer.Argument(help="Source id, feed URL or name")]) -> None:
    """Poll a paused source again."""
    _set_paused(source, paused=False)


def _set_paused(ref: str, *, paused: bool) -> None:
    database = database_from_env()
    with database.session() as session:
        found = repository.find_source(session, ref)
        source_id, name = found.id, found.name
    update_source_settings(database, source_id, SourceSettings(paused=paused))
    console.print(f"{'Paused' if paused else 'Resumed'} {name}", highlight=False)


@app.command()
@friendly_errors
def configure(
    source: Annotated[str, typer.Argument(help="Source id, feed URL or name")],
    user_agent: Annotated[
        str | None, typer.Option(help="User-Agent for this source ('' for the default)")
    ] = None,
    auth: Annotated[
        str | None, typer.Option(help="HTTP basic auth as USER:PASSWORD ('' to remove)")
    ] = None,
    cookies: Annotated[
        str | None, typer.Option(help="Cookie header, e.g. 'session=abc' ('' to remove)")
    ] = None,
    proxy: Annotated[
        str | None, typer.Option(help="Proxy URL, http(s):// or socks5:// ('' to remove)")
    ] = None,
    page_limit: Annotated[
        int | None, typer.Option(help="Sitemap pages taken per refresh (0: default)")
    ] = None,
    poll_interval: Annotated[
        int | None, typer.Option(help="Fixed poll interval in seconds (0: adaptive)")
    ] = None,
    retention_days: Annotated[
        int | None, typer.Option(help="Days to keep articles (0: global setting)")
    ] = None,
    fetch_pages: Annotated[
        bool | None,
        typer.Option(
            "--fetch-pages/--feed-only", help="Fetch each article's page, or keep the feed's text"
        ),
    ] = None,
) -> None:
    """Set a source's fetching options: feeds behind a login, proxies, limits, retention."""
    username = password = None
    if auth is not None:
        username, _, password = auth.partition(":")
    database = database_from_env()
    with database.session() as session:
        source_id = repository.find_source(session, source).id
    updated = update_source_settings(
        database,
        source_id,
        SourceSettings(
            user_agent=user_agent,
            auth_username=username,
            auth_password=password,
            cookies=cookies,
            proxy_url=proxy,
            page_limit=page_limit,
            poll_interval_s=poll_interval,
            retention_days=retention_days,
            fetch_pages=fetch_pages,
        ),
    )
    facts = {
        "pages": "fetched and extracted" if updated.fetch_pages else "feed text only",
        "user agent": updated.user_agent or "(default)",
        "basic auth": f"{updated.auth_username}:****" if updated.auth_username else "(none)",
        "cookies": "(set)" if updated.cookies else "(none)",
        "proxy": updated.proxy_url or "(none)",
        "page limit": str(updated.page_limit or "(default)"),
        "poll interval": f"{updated.poll_interval_s} s"
        if updated.poll_interval_s
        else "(adaptive)",
        "retention": f"{updated.retention_days} days" if updated.retention_days else "(global)",
    }
    console.print(f"[bold]{updated.name}[/bold] (id {updated.id})", highlight=False)
    for key, value in facts.items():
        console.print(f"{key + ':':<15}{value}", highlight=False)


@app.command("cleanup")
@friendly_errors
def cleanup_command(
    dry_run: Annotated[bool, typer.Option(help="Only count what would be removed")] = False,
) -> None:
    """Remove articles past their retention or over the disk budget (saved ones never)."""
    settings = get_settings()
    report = cleanup(database_from_env(settings), settings, dry_run=dry_run)
    console.print(report.summary(), highlight=False)


@app.command()
@friendly_errors
def rules(
    source: Annotated[str, typer.Argument(help="Source id, feed URL or name")],
    body: Annotated[str | None, typer.Option(help="CSS selector of the article body")] = None,
    remove: Annotated[
        list[str] | None, typer.Option(help="CSS selector of elements to remove (repeatable)")
    ] = None,
    clear: Annotated[bool, typer.Option(help="Remove this source's rules")] = False,
) -> None:
    """Show or set a source's extraction rules (CSS selectors), like Miniflux's scraper rules."""
    database = database_from_env()
    with database.session() as session:
        found = repository.find_source(session, source)
        source_id, name, current = found.id, found.name, rules_of(found)
    if clear or body is not None or remove is not None:
        current = set_extraction_rules(
            database,
            source_id,
            None if clear else (body if body is not None else current.body_selector),
            [] if clear else (remove if remove is not None else list(current.remove_selectors)),
        )
    console.print(f"[bold]{name}[/bold] (id {source_id})", highlight=False)
    console.print(f"body selector:    {current.body_selector or '(automatic)'}", highlight=False)
    console.print(
        f"remove selectors: {', '.join(current.remove_selectors) or '(none)'}", highlight=False
    )


@app.command("import-opml")
@friendly_errors
def import_opml_command(
    path: Annotated[Path, typer.Argument(help="An OPML file exported from another reader")],
) -> None:
    """Follow every feed of an OPML file (folders become categories; duplicates skipped)."""
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file")
    with path.open("rb") as stream:
        report = import_opml(database_from_env(), stream)
    for url, reason in report.invalid:
        err_console.print(f"skipped {url}: {reason}", highlight=False)
    console.print(f"{report.summary()}. Fetch them now with: tidings refresh", highlight=False)


@app.command("export-opml")
@friendly_errors
def export_opml_command(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here instead of stdout")
    ] = None,
) -> None:
    """Write every source as OPML 2.0, to move to (or back up for) another reader."""
    document = export_opml(database_from_env())
    if output is None:
        sys.stdout.write(document.decode())
    else:
        output.write_bytes(document)
        console.print(f"Wrote {output}", highlight=False)
