"""`tidings users`: create accounts, set roles, print password-reset links."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer
from sqlalchemy import select

from tidings.accounts import service as accounts
from tidings.cli.common import app, console, database_from_env, friendly_errors
from tidings.db.models import User
from tidings.db.session import Database

users_app = typer.Typer(
    help="Reader accounts: create, roles, password resets.", no_args_is_help=True
)
app.add_typer(users_app, name="users")


@users_app.command("create")
@friendly_errors
def create(
    email: Annotated[str, typer.Argument(help="The account's e-mail address")],
    name: Annotated[str | None, typer.Option(help="Display name (default: before the @)")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make it an admin")] = False,
    role: Annotated[str, typer.Option(help="reader, moderator or admin")] = "reader",
    password: Annotated[
        str | None, typer.Option(help="The password (default: a random one, printed)")
    ] = None,
) -> None:
    """Create an account; without --password a random one is made and printed once."""
    chosen = password or secrets.token_urlsafe(12)
    with database_from_env().session() as session:
        user = accounts.create_user(session, email, chosen, name or email.split("@")[0],
                                    "admin" if admin else role)  # fmt: skip
        console.print(f"Created {user.role} {user.email} (id {user.id})", highlight=False)
    if password is None:
        console.print(f"Password: {chosen}", highlight=False, markup=False)


@users_app.command("reset")
@friendly_errors
def reset(
    email: Annotated[str, typer.Argument(help="The account's e-mail address")],
    base_url: Annotated[str, typer.Option(help="Where readers reach this Tidings")] = (
        "http://127.0.0.1:8000"
    ),
) -> None:
    """Print a one-time link (valid for an hour) to set a new password; no mail needed."""
    with database_from_env().session() as session:
        token = accounts.issue_reset_token(session, email)
    console.print(f"{base_url.rstrip('/')}/reset/{token}", highlight=False, markup=False)


@users_app.command("role")
@friendly_errors
def role(
    email: Annotated[str, typer.Argument(help="The account's e-mail address")],
    new_role: Annotated[str, typer.Argument(metavar="ROLE", help="reader, moderator or admin")],
) -> None:
    """Change an account's role."""
    with database_from_env().session() as session:
        user = accounts.set_role(session, email, new_role)
        console.print(f"{user.email} is now {user.role}", highlight=False)


@users_app.command("list")
@friendly_errors
def list_users() -> None:
    """List the accounts."""
    with database_from_env().session() as session:
        for user in session.scalars(select(User).where(User.deleted.is_(False)).order_by(User.id)):
            flags = " (banned)" if user.banned else ""
            console.print(f"{user.id}\t{user.role}\t{user.email}\t{user.display_name}{flags}",
                          highlight=False, markup=False)  # fmt: skip


def ensure_admin(database: Database, email: str = "admin@tidings.local") -> str | None:
    """Create the first admin if there is none: its password (printed once), else None."""
    with database.session() as session:
        if accounts.admin_exists(session):
            return None
        password = secrets.token_urlsafe(12)
        accounts.create_user(session, email, password, "Admin", "admin")
        return password
