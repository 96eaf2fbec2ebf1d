"""`tidings websub`: list push subscriptions, renew them now."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from tidings.cli.common import app, console, database_from_env, friendly_errors
from tidings.config import get_settings
from tidings.ingest import websub

websub_app = typer.Typer(help="WebSub push subscriptions: list, renew.", no_args_is_help=True)
app.add_typer(websub_app, name="websub")


@websub_app.command("list")
@friendly_errors
def list_subscriptions() -> None:
    """Every source's hub, subscription state, lease end and last problem."""
    settings = get_settings()
    rows = websub.list_subscriptions(database_from_env(settings))
    if not settings.public_url:
        console.print("TIDINGS_PUBLIC_URL is not set: Tidings does not subscribe (polling only).")
    if not rows:
        console.print("No source advertises a WebSub hub.")
        return
    table = Table()
    for column in ("Source", "Hub", "State", "Lease until", "Next attempt", "Last push", "Error"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            f"{row.source_name} ({row.source_id})\n[dim]{row.topic}[/dim]",
            row.hub,
            row.state,
            _time(row.expires_at),
            _time(row.next_attempt_at),
            _time(row.last_push_at),
            row.last_error or "",
        )
    console.print(table)


@websub_app.command("renew")
@friendly_errors
def renew(
    every: Annotated[
        bool, typer.Option("--all", help="Renew every subscription, not only the due ones")
    ] = False,
) -> None:
    """Subscribe again where a lease ends soon or a request failed (as the scheduler does)."""
    settings = get_settings()
    if not settings.public_url:
        console.print("TIDINGS_PUBLIC_URL is not set: nothing to renew (polling only).")
        raise typer.Exit(1)
    asked = websub.renew_due(database_from_env(settings), settings, every=every)
    console.print(f"Asked the hubs of {len(asked)} subscription(s); they confirm by calling back.")


def _time(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else ""
