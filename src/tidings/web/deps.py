"""Request-scoped access to the app's shared objects."""

from __future__ import annotations

from typing import cast

from fastapi import Request

from tidings.config import Settings
from tidings.db.session import Database


def database_of(request: Request) -> Database:
    return cast(Database, request.app.state.database)


def settings_of(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def client_address(request: Request) -> str:
    """The client's address: what per-client limits count against."""
    return request.client.host if request.client else "unknown"
