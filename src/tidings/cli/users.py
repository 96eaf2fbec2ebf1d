"""`tidings users`: create accounts, set roles, print password-reset links."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer
from sqlalchemy import select

from tidings.accounts import service as accounts
from tidings.accounts import tokens
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


tokens_app = typer.Typer(help="API tokens: make, list, revoke.", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")


@tokens_app.command("create")
@friendly_errors
def token_create(
    email: Annotated[str, typer.Argument(help="Whose token")],
    name: Annotated[str, typer.Option(help="What it is for")] = "cli",
    scope: Annotated[list[str] | None, typer.Option(help="read, write, admin (repeat)")] = None,
) -> None:
    """Make an API token (printed once: Authorization: Bearer TOKEN)."""
    with database_from_env().session() as session:
        user = accounts.find_user(session, email)
        row, secret = tokens.create_token(session, user, name, scope or ["read"])
        console.print(f"Token {row.id} ({row.scopes}) for {user.email}:", highlight=False)
    console.print(secret, highlight=False, markup=False)


@tokens_app.command("list")
@friendly_errors
def token_list(email: Annotated[str, typer.Argument(help="Whose tokens")]) -> None:
    """List an account's tokens (never their secrets)."""
    with database_from_env().session() as session:
        for row in tokens.list_tokens(session, accounts.find_user(session, email)):
            used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never used"
            console.print(
                f"{row.id}\t{row.name}\t{row.scopes}\t{used}", highlight=False, markup=False
            )


@tokens_app.command("revoke")
@friendly_errors
def token_revoke(
    email: Annotated[str, typer.Argument(help="Whose token")],
    token_id: Annotated[int, typer.Argument(help="The token's id (tidings tokens list)")],
) -> None:
    """Revoke a token: programs using it are refused from now on."""
    with database_from_env().session() as session:
        tokens.revoke_token(session, accounts.find_user(session, email), token_id)
    console.print(f"Revoked token {token_id}")
