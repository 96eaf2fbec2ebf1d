"""Accounts as services: sign up, sign in (with lock-out), sessions, passwords, roles.

Passwords are hashed with argon2id (argon2-cffi's defaults). A session cookie carries a
random token; the database stores only its SHA-256, so a leaked database does not sign
anyone in. Reset tokens work the same way and are printed by `tidings users reset`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tidings.db.models import User, UserSession
from tidings.errors import InvalidInputError, NotFoundError, TidingsError

ROLES = ("reader", "moderator", "admin")
MIN_PASSWORD = 10
MAX_FAILED_LOGINS = 5  # then the account is locked for LOCKOUT
LOCKOUT = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(days=30)
RESET_LIFETIME = timedelta(hours=1)
_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
_hasher = PasswordHasher()


class AuthError(TidingsError):
    """Wrong e-mail or password, a locked or banned account, an expired token."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInputError(f"passwords need at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise InvalidInputError("passwords are limited to 1,024 characters")


def _clean_name(name: str) -> str:
    cleaned = " ".join("".join(ch for ch in name if ch.isprintable()).split())
    if not 1 <= len(cleaned) <= 80:
        raise InvalidInputError("display names need 1 to 80 characters")
    return cleaned


def create_user(
    session: Session, email: str, password: str, display_name: str, role: str = "reader"
) -> User:
    """A new account; InvalidInputError for a bad e-mail, a weak password or a taken e-mail."""
    address = email.strip().lower()
    if not _EMAIL.match(address) or len(address) > 320:
        raise InvalidInputError(f"not an e-mail address: {email!r}")
    if role not in ROLES:
        raise InvalidInputError(f"role must be one of {', '.join(ROLES)}")
    _check_password(password)
    if session.scalar(select(User.id).where(User.email == address)) is not None:
        raise InvalidInputError(f"an account for {address} already exists")
    user = User(email=address, display_name=_clean_name(display_name),
                password_hash=_hasher.hash(password), role=role)  # fmt: skip
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or user.deleted:
        raise NotFoundError(f"no account for {email.strip().lower()}")
    return user


def authenticate(session: Session, email: str, password: str) -> User:
    """The user whose password this is; failures count towards a lock-out."""
    now = datetime.now(UTC)
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or user.deleted:
        _hasher.hash(password)  # the same work either way: no timing oracle for e-mails
        raise AuthError("wrong e-mail or password")
    if user.locked_until is not None and user.locked_until > now:
        raise AuthError("too many failed sign-ins: this account is locked for a few minutes")
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until, user.failed_logins = now + LOCKOUT, 0
        session.commit()
        raise AuthError("wrong e-mail or password") from None
    if user.banned:
        raise AuthError("this account has been banned by a moderator")
    user.failed_logins, user.locked_until = 0, None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def start_session(session: Session, user: User) -> str:
    """A new session for `user`: the token for the cookie."""
    token = secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=_digest(token), user_id=user.id,
                            expires_at=datetime.now(UTC) + SESSION_LIFETIME))  # fmt: skip
    return token


def session_user(session: Session, token: str | None) -> User | None:
    if not token:
        return None
    row = session.get(UserSession, _digest(token))
    if row is None or row.expires_at < datetime.now(UTC):
        return None
    user = row.user
    return None if user.banned or user.deleted else user


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(UserSession).where(UserSession.token_hash == _digest(token)))


def change_password(session: Session, user: User, current: str, new: str) -> None:
    try:
        _hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise AuthError("the current password is wrong") from None
    _check_password(new)
    user.password_hash = _hasher.hash(new)
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))  # sign out all


def issue_reset_token(session: Session, email: str) -> str:
    """A one-time token to set a new password (valid for an hour)."""
    user = find_user(session, email)
    token = secrets.token_urlsafe(32)
    user.reset_token_hash = _digest(token)
    user.reset_expires_at = datetime.now(UTC) + RESET_LIFETIME
    return token


def reset_password(session: Session, token: str, new: str) -> User:
    user = session.scalar(select(User).where(User.reset_token_hash == _digest(token)))
    if user is None or user.reset_expires_at is None or user.reset_expires_at < datetime.now(UTC):
        raise AuthError("this reset link is invalid or has expired")
    _check_password(new)
    user.password_hash = _hasher.hash(new)
    user.reset_token_hash = user.reset_expires_at = None
    user.failed_logins, user.locked_until = 0, None
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    return user


def set_role(session: Session, email: str, role: str) -> User:
    if role not in ROLES:
        raise InvalidInputError(f"role must be one of {', '.join(ROLES)}")
    user = find_user(session, email)
    user.role = role
    return user


def delete_account(session: Session, user: User) -> None:
    """Forget the person, keep the threads: the comments stay, signed "[deleted]"."""
    user.deleted, user.banned = True, False
    user.email = f"deleted-{user.id}@invalid"
    user.display_name = "[deleted]"
    user.password_hash = "!"  # noqa: S105 - not a hash: no password verifies against it
    user.reset_token_hash = user.reset_expires_at = None
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))


def admin_exists(session: Session) -> bool:
    found = session.scalar(
        select(func.count(User.id)).where(User.role == "admin", User.deleted.is_(False))
    )
    return bool(found)
