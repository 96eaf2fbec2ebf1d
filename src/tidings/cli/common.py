"""Shared pieces of the command line: the Typer app, consoles, error handling, progress."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from tidings.config import Settings, get_settings
from tidings.db.migrate import upgrade
from tidings.db.session import Database
from tidings.errors import TidingsError
from tidings.ingest.pipeline import RefreshReport

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
# The databases the running command opened, closed when it ends: a command run in-process
# (CliRunner, a REPL) must not leave connections behind.
_opened: ContextVar[list[Database] | None] = ContextVar("tidings_cli_databases", default=None)


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Print a TidingsError (or a database error) as one line on stderr and exit 1; close the
    databases the command opened."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        opened = _opened.set([])
        try:
            return command(*args, **kwargs)
        except TidingsError as error:
            err_console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except SQLAlchemyError as error:
            original = getattr(error, "orig", None)
            reason = str(original) if original else str(error).splitlines()[0]
            # PostgreSQL's messages span lines (a hint after the error): keep them on one.
            reason = " ".join(reason.split())
            err_console.print(
                f"[red]error:[/red] database: {reason}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print("interrupted: what was stored so far is kept", highlight=False)
            raise typer.Exit(130) from None
        finally:
            for database in _opened.get() or []:
                database.dispose()
            _opened.reset(opened)

    return wrapper


def database_from_env(settings: Settings | None = None) -> Database:
    """The configured database, migrated to the latest schema; closed when the command ends."""
    database = Database((settings or get_settings()).database_url)
    opened = _opened.get()
    if opened is not None:
        opened.append(database)
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


def _report_problem(report: RefreshReport) -> str:
    """The error (with when the next try is), else page problems and warnings, in words."""
    if report.error:
        when = f" — next try at {report.next_fetch_at:%H:%M} UTC" if report.next_fetch_at else ""
        return f"[red]{report.error}[/red]{when}"
    notes = []
    if report.not_modified:
        notes.append("not modified (304)")
    if report.page_errors:
        notes.append(
            f"{len(report.page_errors)} page(s) fell back to feed text: {report.page_errors[0]}"
        )
    if report.deferred:
        notes.append(f"{report.deferred} entries left for the next refresh")
    if report.warning:
        notes.append(f"[yellow]{report.warning}[/yellow]")
    return "; ".join(notes)


def print_reports(reports: list[RefreshReport], elapsed_s: float) -> None:
    table = Table(title="Refresh", title_justify="left")
    for column in ("Source", "Status", "New", "Updated", "Unchanged", "Pages", "Problems"):
        table.add_column(column)
    for report in reports:
        status = "[green]ok[/green]" if report.status == "ok" else "[red]error[/red]"
        error = _report_problem(report)
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
