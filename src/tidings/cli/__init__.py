"""The `tidings` command line (Typer + Rich): thin wrappers over the services."""

from __future__ import annotations

import logging
import time
from typing import Annotated

import typer

from tidings import __version__
from tidings.cli.common import (
    app,
    console,
    database_from_env,
    db_app,
    friendly_errors,
    print_reports,
    refresh_progress,
)
from tidings.config import Settings, get_settings
from tidings.db import repository
from tidings.db.migrate import current_revision, upgrade
from tidings.db.session import Database, printable_url
from tidings.enrich import stories
from tidings.ingest.pipeline import refresh_all, refresh_source
from tidings.ingest.sources import add_source


@app.command()
@friendly_errors
def add(
    url: Annotated[str, typer.Argument(help="A feed URL, or a site URL to discover its feed")],
) -> None:
    """Follow a publisher by feed URL or site URL (feed auto-discovery)."""
    settings = get_settings()
    result = add_source(database_from_env(settings), settings, url)
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
    database = database_from_env(settings)
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
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    scheduler: Annotated[bool, typer.Option(help="Poll sources in the background")] = True,
) -> None:
    """Serve the web site and API (and poll sources on their schedule)."""
    from tidings.demo.runner import ensure_port_free

    settings = get_settings()
    ensure_port_free(host, port, "--port")
    _serve(settings, database_from_env(settings), host, port, scheduler)


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
    from tidings.demo.runner import demo_settings, ensure_port_free, refresh_demo, start_demo

    settings = demo_settings(get_settings())
    database = Database(settings.database_url)
    if serve_site:
        ensure_port_free(host, port, "--port")
    setup = start_demo(database, settings, publisher_port)
    try:
        console.print(
            f"Demo publishers at {setup.server.base_url} "
            f"(database {printable_url(settings.database_url)}, demo created {setup.anchor:%Y-%m-%d %H:%M} UTC)"
        )
        clock = time.monotonic()
        with refresh_progress() as progress:
            reports = refresh_demo(database, settings, setup, progress=progress)
        print_reports(reports, time.monotonic() - clock)
        from tidings.enrich.service import enricher_for

        enricher_for(database, settings).enrich_pending()  # e.g. a database from before enrichment
        with database.session() as session:
            total = repository.count_articles(session)
            story_count = stories.count_stories(session, min_sources=2)
        console.print(f"{total} articles stored, {story_count} stories covered by several outlets.")
        from tidings.cli.users import ensure_admin

        password = ensure_admin(database)
        if password:
            console.print(
                f"Admin account: admin@tidings.local, password {password} "
                "(sign in at /login; change it at /account)",
                highlight=False,
                markup=False,
            )
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
    shown = printable_url(settings.database_url)
    console.print(f"Database at revision {current_revision(database)} ({shown})")
    database.dispose()


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"tidings {__version__}")


from tidings.cli import ai as _ai_commands  # noqa: E402,F401 - registers commands
from tidings.cli import backup as _backup_commands  # noqa: E402,F401 - registers commands
from tidings.cli import enrich as _enrich_commands  # noqa: E402,F401 - registers commands
from tidings.cli import extract as _extract_commands  # noqa: E402,F401 - registers commands
from tidings.cli import search as _search_commands  # noqa: E402,F401 - registers commands
from tidings.cli import sources as _source_commands  # noqa: E402,F401 - registers commands
from tidings.cli import users as _user_commands  # noqa: E402,F401 - registers commands
from tidings.cli import websub as _websub_commands  # noqa: E402,F401 - registers commands
from tidings.cli import worker as _worker_commands  # noqa: E402,F401 - registers commands


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()
