"""API tokens: per reader, named, scoped (read / write / admin), revocable.

A token is shown once when made (`tdg_` + 32 random bytes); the database keeps its SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tidings.db.models import ApiToken, User
from tidings.errors import InvalidInputError, NotFoundError

SCOPES = ("read", "write", "admin")
PREFIX = "tdg_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session, user: User, name: str, scopes: list[str]
) -> tuple[ApiToken, str]:
    """A new token for `user`: the row and the secret (shown to the reader once)."""
    wanted = sorted(set(scopes), key=SCOPES.index) if set(scopes) <= set(SCOPES) else None
    if not wanted:
        raise InvalidInputError(f"token scopes are {', '.join(SCOPES)} (at least one)")
    if "admin" in wanted and user.role != "admin":
        raise InvalidInputError("only admins can make tokens with the admin scope")
    label = " ".join(name.split())[:100] or "token"
    secret = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=label, token_hash=_digest(secret), scopes=" ".join(wanted))
    session.add(row)
    session.flush()
    return row, secret


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    )


def revoke_token(session: Session, user: User, token_id: int) -> None:
    result = session.execute(
        delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)
    )
    if not getattr(result, "rowcount", 0):
        raise NotFoundError(f"no token {token_id} of yours")


def token_user(session: Session, secret: str) -> tuple[User, frozenset[str]] | None:
    """Whose token this is and what it may do (None: unknown or revoked)."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(secret)))
    if row is None or row.user.banned or row.user.deleted:
        return None
    row.last_used_at = datetime.now(UTC)
    return row.user, frozenset(row.scopes.split())
