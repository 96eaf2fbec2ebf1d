"""Which AI provider answers: the environment, overridden by what the owner saved.

The environment (`TIDINGS_AI_*`) is the default; the admin page and `tidings ai configure`
save overrides in the database's meta table, so every process serving the same database
agrees, and `tidings ai configure --reset` returns to the environment.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from urllib.parse import urlsplit

from tidings.ai.builtin import BuiltinProvider
from tidings.ai.openai import OpenAIConfig, OpenAIProvider
from tidings.ai.provider import Provider
from tidings.config import Settings
from tidings.db import repository
from tidings.db.session import Database
from tidings.errors import InvalidInputError

META_KEY = "ai.settings"
PROVIDERS = ("builtin", "openai")


@dataclass(frozen=True, slots=True)
class AISettings:
    provider: str = "builtin"
    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None
    timeout_s: float = 60.0
    max_tokens: int = 512
    max_source_chars: int = 12_000
    source: str = "environment"  # or "saved" when the owner's overrides apply

    def describe(self) -> str:
        if self.provider == "builtin":
            return "builtin (extractive, no model)"
        return f"openai-compatible {self.model} at {self.base_url}"


def from_environment(settings: Settings) -> AISettings:
    return AISettings(
        provider=settings.ai_provider,
        base_url=settings.ai_base_url,
        model=settings.ai_model,
        api_key=settings.ai_api_key,
        timeout_s=settings.ai_timeout_s,
        max_tokens=settings.ai_max_tokens,
        max_source_chars=settings.ai_max_source_chars,
    )


def load_ai_settings(database: Database, settings: Settings) -> AISettings:
    """The effective AI settings: saved overrides on top of the environment."""
    base = from_environment(settings)
    with database.session() as session:
        saved = repository.get_meta(session, META_KEY)
    if not saved:
        return base
    overrides = {k: v for k, v in json.loads(saved).items() if k in AISettings.__slots__}
    return replace(base, **overrides, source="saved")


def validated(candidate: AISettings) -> AISettings:
    """`candidate` if usable, else InvalidInputError saying what is missing."""
    if candidate.provider not in PROVIDERS:
        raise InvalidInputError(f"AI provider must be one of {', '.join(PROVIDERS)}")
    if candidate.provider == "openai":
        parts = urlsplit(candidate.base_url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInputError(
                "the openai provider needs a base URL such as http://127.0.0.1:11434/v1"
            )
        if not candidate.model:
            raise InvalidInputError("the openai provider needs a model name (e.g. llama3.2)")
    if not 1 <= candidate.timeout_s <= 600:
        raise InvalidInputError("the AI timeout must be between 1 and 600 seconds")
    if not 16 <= candidate.max_tokens <= 8192:
        raise InvalidInputError("max tokens must be between 16 and 8192")
    return candidate


def save_ai_settings(database: Database, candidate: AISettings | None) -> None:
    """Save the owner's AI settings (None: forget them and follow the environment)."""
    with database.session() as session:
        if candidate is None:
            repository.delete_meta(session, META_KEY)
        else:
            values = asdict(validated(candidate))
            values.pop("source")
            repository.set_meta(session, META_KEY, json.dumps(values))
        session.commit()


def make_provider(ai: AISettings) -> Provider:
    if ai.provider == "openai":
        ai = validated(ai)
        return OpenAIProvider(
            OpenAIConfig(
                base_url=ai.base_url or "",
                model=ai.model or "",
                api_key=ai.api_key,
                timeout_s=ai.timeout_s,
                max_tokens=ai.max_tokens,
                max_source_chars=ai.max_source_chars,
            )
        )
    return BuiltinProvider()
