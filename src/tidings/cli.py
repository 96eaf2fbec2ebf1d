"""The `tidings` command line (Typer + Rich): thin wrappers over the services."""

from __future__ import annotations

import functools
import gzip
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from tidings import __version__
from tidings.config import Settings, get_settings
from tidings.db import repository
from tidings.db.migrate import upgrade
from tidings.db.session import Database
from tidings.errors import InvalidInputError, TidingsError
from tidings.ingest.extract import ExtractedArticle, extract_article
from tidings.ingest.http import Fetcher, decode_body
from tidings.ingest.pipeline import RefreshReport, refresh_all, refresh_source
from tidings.ingest.sources import add_source, rules_of, set_extraction_rules
from tidings.web.timefmt import relative_time

app = typer.Typer(
    help="Tidings: a self-hosted news aggregator.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console()
err_console = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Print a TidingsError (or a database error) as one line on stderr and exit 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except TidingsError as error:
            err_console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except SQLAlchemyError as error:
            original = getattr(error, "orig", None)
            reason = str(original) if original else str(error).splitlines()[0]
            err_console.print(f"[red]error:[/red] database: {reason}", highlight=False)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print("interrupted: what was stored so far is kept", highlight=False)
            raise typer.Exit(130) from None

    return wrapper


def _database(settings: Settings) -> Database:
    database = Database(settings.database_url)
    upgrade(database)
    return database


class _RichRefreshProgress:
    """Adapts the pipeline's progress protocol to Rich progress bars (one per source)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}
        self._lock = threading.Lock()

    def started(self, source_name: str, total: int) -> None:
        with self._lock:
            task = self.progress.add_task(source_name, total=max(total, 1))
            self.tasks[source_name] = task
        if total == 0:
            self.progress.update(task, completed=1)

    def advanced(self, source_name: str, steps: int = 1) -> None:
        task = self.tasks.get(source_name)
        if task is not None:
            self.progress.advance(task, steps)


@contextmanager
def refresh_progress() -> Iterator[_RichRefreshProgress]:
    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        yield _RichRefreshProgress(progress)


def print_reports(reports: list[RefreshReport], elapsed_s: float) -> None:
    table = Table(title="Refresh", title_justify="left")
    for column in ("Source", "Status", "New", "Updated", "Unchanged", "Pages", "Error"):
        table.add_column(column)
    for report in reports:
        status = "[green]ok[/green]" if report.status == "ok" else "[red]error[/red]"
        error = report.error or (
            f"{len(report.page_errors)} page(s) failed" if report.page_errors else ""
        )
        table.add_row(
            report.source_name,
            status,
            str(report.articles_new),
            str(report.articles_updated),
            str(report.articles_unchanged),
            str(report.pages_fetched),
            error,
        )
    console.print(table)
    pages = sum(report.pages_fetched for report in reports)
    rate = pages / elapsed_s if elapsed_s > 0 else 0.0
    console.print(f"{pages} pages in {elapsed_s:.1f} s ({rate:.1f} pages/s)")


@app.command()
@friendly_errors
def add(
    url: Annotated[str, typer.Argument(help="A feed URL, or a site URL to discover its feed")],
) -> None:
    """Follow a publisher by feed URL or site URL (feed auto-discovery)."""
    settings = get_settings()
    result = add_source(_database(settings), settings, url)
    verb = "Added" if result.created else "Already following"
    console.print(
        f"{verb} [bold]{result.source.name}[/bold] (id {result.source.id}): {result.source.feed_url}"
    )


@app.command()
@friendly_errors
def refresh(
    source: Annotated[
        str | None, typer.Argument(help="Source id, feed URL or name (default: all)")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Re-fetch pages of entries that look unchanged")
    ] = False,
) -> None:
    """Fetch sources now and store their new and changed articles."""
    settings = get_settings()
    database = _database(settings)
    clock = time.monotonic()
    with refresh_progress() as progress:
        if source is None:
            reports = refresh_all(database, settings, progress=progress, force=force)
        else:
            with database.session() as session:
                source_id = repository.find_source(session, source).id
            reports = [
                refresh_source(database, settings, source_id, progress=progress, force=force)
            ]
    print_reports(reports, time.monotonic() - clock)
    if reports and all(report.status != "ok" for report in reports):
        raise typer.Exit(1)


@app.command()
@friendly_errors
def sources() -> None:
    """List followed sources with status, last fetch, last error and article count."""
    settings = get_settings()
    with _database(settings).session() as session:
        rows = repository.list_sources(session)
        if not rows:
            console.print("No sources yet. Add one with: tidings add URL")
            return
        table = Table()
        for column in ("ID", "Source", "Status", "Last fetch", "Last error", "Articles"):
            table.add_column(column)
        for row in rows:
            item = row.source
            status = {"ok": "[green]ok[/green]", "error": "[red]error[/red]"}.get(
                item.status, item.status
            )
            table.add_row(
                str(item.id),
                f"{item.name}\n[dim]{item.feed_url}[/dim]",
                status,
                relative_time(item.last_fetched_at) if item.last_fetched_at else "never",
                item.last_error or "",
                str(row.article_count),
            )
        console.print(table)


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
    settings = get_settings()
    database = _database(settings)
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


PAGE_SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz")
Record = tuple[str, dict[str, Any] | None, str | None]


def _expand_targets(targets: list[str]) -> list[str]:
    """Targets with directories replaced by the pages inside them (recursively, sorted)."""
    expanded: list[str] = []
    for target in targets:
        path = Path(target)
        if not _is_url(target) and path.is_dir():
            pages = sorted(
                str(child)
                for child in path.rglob("*")
                if child.is_file() and child.name.lower().endswith(PAGE_SUFFIXES)
            )
            if not pages:
                raise InvalidInputError(f"{target}: no .html or .html.gz files in this directory")
            expanded.extend(pages)
        else:
            expanded.append(target)
    return expanded


def _is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


def _extract_file(target: str) -> ExtractedArticle:
    path = Path(target)
    if not path.is_file():
        raise InvalidInputError("no such file")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise InvalidInputError(f"not a valid gzip file ({error})") from error
    return extract_article(decode_body(raw))


def _extract_file_record(target: str) -> Record:
    """(target, record, None) or (target, None, error); runs in worker processes, never raises."""
    try:
        return target, {"path": target, **_extract_file(target).as_json()}, None
    except TidingsError as error:
        return target, None, str(error)


def _extract_records(targets: list[str], workers: int) -> Iterator[Record]:
    """Records in input order; many files are spread over `workers` processes."""
    files = [target for target in targets if not _is_url(target)]
    done: dict[str, Record] = {}
    if workers > 1 and len(files) > workers:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            for result in pool.map(_extract_file_record, files, chunksize=8):
                done[result[0]] = result
    fetcher: Fetcher | None = None
    try:
        for target in targets:
            if target in done:
                yield done[target]
            elif _is_url(target):
                fetcher = fetcher or Fetcher(get_settings())
                try:
                    page = fetcher.fetch(target)
                    yield (
                        target,
                        {"url": target, **extract_article(page.text, page.url).as_json()},
                        None,
                    )
                except TidingsError as error:
                    yield target, None, str(error)
            else:
                yield _extract_file_record(target)
    finally:
        if fetcher is not None:
            fetcher.close()


@app.command()
@friendly_errors
def extract(
    targets: Annotated[
        list[str],
        typer.Argument(
            help="HTML files (.html, .html.gz), folders of them, or URLs", metavar="PATH_OR_URL..."
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (an array for several pages)")
    ] = False,
    as_jsonl: Annotated[
        bool, typer.Option("--jsonl", help="Print one JSON object per line")
    ] = False,
    jobs: Annotated[int, typer.Option(help="Worker processes for many files (0: all cores)")] = 0,
) -> None:
    """Extract the article text and metadata from pages (files, folders or URLs)."""
    if as_json and as_jsonl:
        raise typer.BadParameter("use either --json or --jsonl")
    expanded = _expand_targets(targets)
    workers = jobs if jobs > 0 else (os.cpu_count() or 1)
    results: list[dict[str, Any]] = []
    failures = 0
    for target, record, error in _extract_records(expanded, workers):
        if record is None:
            failures += 1
            err_console.print(
                f"[red]error:[/red] {target}: {error}", highlight=False, soft_wrap=True
            )
        elif as_jsonl:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        elif as_json:
            results.append(record)
        else:
            _print_article(target, record)
    if as_json and results:
        single = len(expanded) == 1
        sys.stdout.write(
            json.dumps(results[0] if single else results, ensure_ascii=False, indent=2) + "\n"
        )
    if failures:
        raise typer.Exit(1)


def _print_article(target: str, record: dict[str, Any]) -> None:
    console.rule(f"[bold]{record['title'] or '(no title)'}")
    for key in ("publisher", "byline", "published_at", "language", "lead_image", "standfirst"):
        if record.get(key):
            console.print(f"[dim]{key}:[/dim] {record[key]}", highlight=False)
    for caption in record.get("captions") or []:
        console.print(f"[dim]caption:[/dim] {caption}", highlight=False)
    console.print(f"[dim]source:[/dim] {target}\n", highlight=False)
    console.print(record.get("body") or "[dim](no body text found)[/dim]", highlight=False)


@app.command()
@friendly_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    scheduler: Annotated[bool, typer.Option(help="Poll sources in the background")] = True,
) -> None:
    """Serve the web site and API (and poll sources on their schedule)."""
    from tidings.demo.runner import ensure_port_free

    settings = get_settings()
    ensure_port_free(host, port, "--port")
    _serve(settings, _database(settings), host, port, scheduler)


def _serve(settings: Settings, database: Database, host: str, port: int, scheduler: bool) -> None:
    import uvicorn

    from tidings.web.app import create_app

    console.print(f"Serving Tidings at [bold]http://{host}:{port}[/bold] (Ctrl+C to stop)")
    uvicorn.run(
        create_app(settings, database, run_scheduler=scheduler),
        host=host,
        port=port,
        log_level="warning",
    )


@app.command()
@friendly_errors
def demo(
    host: Annotated[str, typer.Option(help="Interface for the site")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for the site")] = 8000,
    publisher_port: Annotated[int, typer.Option(help="Port for the demo publishers")] = 8001,
    serve_site: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the site after ingesting")
    ] = True,
) -> None:
    """Ingest the bundled demo publishers and serve the site."""
    from tidings.demo.runner import demo_settings, ensure_port_free, start_demo

    settings = demo_settings(get_settings())
    database = Database(settings.database_url)
    if serve_site:
        ensure_port_free(host, port, "--port")
    setup = start_demo(database, settings, publisher_port)
    try:
        console.print(
            f"Demo publishers at {setup.server.base_url} "
            f"(database {settings.database_url}, demo created {setup.anchor:%Y-%m-%d %H:%M} UTC)"
        )
        clock = time.monotonic()
        with refresh_progress() as progress:
            reports = refresh_all(database, settings, progress=progress)
        print_reports(reports, time.monotonic() - clock)
        with database.session() as session:
            total = repository.count_articles(session)
        console.print(f"{total} articles stored.")
        if serve_site:
            _serve(settings, database, host, port, scheduler=True)
    finally:
        setup.server.stop()


@db_app.command("upgrade")
@friendly_errors
def db_upgrade() -> None:
    """Apply database migrations up to the latest schema."""
    settings = get_settings()
    database = Database(settings.database_url)
    upgrade(database)
    from tidings.db.migrate import current_revision

    console.print(f"Database at revision {current_revision(database)} ({settings.database_url})")


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"tidings {__version__}")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()
