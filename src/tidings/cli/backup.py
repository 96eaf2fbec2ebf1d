"""`tidings backup` and `tidings restore`: the whole store to a file and back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tidings.cli.common import app, console, friendly_errors
from tidings.config import get_settings
from tidings.db import backup as backups
from tidings.db.session import printable_url


@app.command()
@friendly_errors
def backup(
    path: Annotated[
        Path | None,
        typer.Argument(help="Backup file (default: tidings-DATE.db, or .dump on PostgreSQL)"),
    ] = None,
) -> None:
    """Write a consistent backup of the database (safe while `tidings serve` runs)."""
    url = get_settings().database_url
    report = backups.backup(url, path or backups.default_path(url))
    console.print(
        f"Backed up {printable_url(url)} to [bold]{report.path}[/bold] "
        f"({report.size_bytes / 1e6:.1f} MB, {report.articles:,} articles)",
        soft_wrap=True,
    )


@app.command()
@friendly_errors
def restore(
    path: Annotated[Path, typer.Argument(help="A file written by `tidings backup`")],
    force: Annotated[
        bool, typer.Option(help="Replace a database that already holds sources or articles")
    ] = False,
) -> None:
    """Replace the database with a backup (stop the web server and workers first)."""
    url = get_settings().database_url
    report = backups.restore(url, path, force=force)
    console.print(
        f"Restored {report.path} into {printable_url(url)} ({report.articles:,} articles); "
        "run `tidings db upgrade` if the backup is from an older version",
        soft_wrap=True,
    )
