"""Request-scoped access to the app's shared objects."""

from __future__ import annotations

from typing import cast

from fastapi import Request

from tidings.config import Settings
from tidings.db.session import Database
from tidings.enrich.service import enricher_for
from tidings.search import SemanticIndex


def database_of(request: Request) -> Database:
    return cast(Database, request.app.state.database)


def settings_of(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def semantic_index(request: Request) -> SemanticIndex:
    """Search by meaning over the enrichment's vectors (empty until they are loaded)."""
    return enricher_for(database_of(request), settings_of(request))


def client_address(request: Request) -> str:
    """The client's address: what per-client limits count against."""
    return request.client.host if request.client else "unknown"
