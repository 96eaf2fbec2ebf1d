"""Google Reader API sign-in: the ClientLogin `Auth` credential and the edit token `T`.

A reader signs in with their e-mail and either their password or an API token (`tdg_…`).
With a token, the token itself is the credential: its scopes apply and revoking it on
/account ends the access. With the password, the credential is `USER_ID/HMAC`, an HMAC
(keyed with TIDINGS_SECRET_KEY) of the user id and the current password hash: nothing is
stored, every sign-in gives the same value (clients that sign in on every start do not pile
up rows), and changing or resetting the password ends it.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy.orm import Session

from tidings.accounts.service import authenticate
from tidings.accounts.tokens import PREFIX, token_user
from tidings.db.models import User


def client_login(session: Session, email: str, password: str, secret_key: str) -> str:
    """The `Auth` credential for these e-mail and password (or API token); AuthError if wrong.

    A wrong password counts towards the account's lock-out, as on the sign-in page.
    """
    if password.startswith(PREFIX):
        found = token_user(session, password)
        if found is not None and found[0].email == email.strip().lower():
            return password
    user = authenticate(session, email, password)
    return _credential(user, secret_key)


def _credential(user: User, secret_key: str) -> str:
    message = f"greader:{user.id}:{user.password_hash}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()
    return f"{user.id}/{digest}"


def client_login_user(session: Session, credential: str, secret_key: str) -> User | None:
    """The reader a password-made credential belongs to (None: malformed, stale or forged)."""
    user_id, _, _digest = credential.partition("/")
    if not user_id.isdigit():
        return None
    user = session.get(User, int(user_id))
    if user is None or user.banned or user.deleted:
        return None
    return user if hmac.compare_digest(credential, _credential(user, secret_key)) else None


def edit_token(credential: str, secret_key: str) -> str:
    """The short token (`T`) a client fetches and sends back with each change."""
    message = f"greader-edit:{credential}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:40]
