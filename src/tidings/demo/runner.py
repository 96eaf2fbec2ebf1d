"""`tidings demo`: a database, the local publisher server, a full ingest, then the site."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, datetime

from tidings.config import Settings
from tidings.db import repository
from tidings.db.migrate import upgrade
from tidings.db.session import Database
from tidings.demo.corpus import load_corpus
from tidings.demo.server import PublisherServer
from tidings.demo.site import feed_path
from tidings.errors import TidingsError
from tidings.ingest.pipeline import RefreshProgress, RefreshReport, refresh_all, refresh_source
from tidings.ingest.sources import add_source, register_source

ANCHOR_KEY = "demo.anchor"
BROKEN_FEEDS = ("broken", "missing", "failing", "slow")


@dataclass
class DemoSetup:
    server: PublisherServer
    anchor: datetime
    sources_added: int
    edited_sources: list[int]  # sources whose edits are still to be published (fresh demo)


def demo_settings(settings: Settings) -> Settings:
    """The demo's publishers live on 127.0.0.1, so the SSRF guard must let it through."""
    hosts = list(dict.fromkeys([*settings.allow_private_hosts, "127.0.0.1"]))
    # All demo publishers share one local server: politeness delays would only slow the demo.
    # Short limits make the deliberately slow and oversized demo pages fail within seconds.
    return settings.model_copy(
        update={
            "allow_private_hosts": hosts,
            "fetch_per_host_delay_s": 0.0,
            "fetch_per_host_concurrency": 8,
            "fetch_total_timeout_s": min(settings.fetch_total_timeout_s, 6.0),
            "fetch_max_bytes": min(settings.fetch_max_bytes, 2 * 1024 * 1024),
        }
    )


def demo_anchor(database: Database) -> datetime:
    """The time the demo database was created; publish times are relative to it."""
    with database.session() as session:
        stored = repository.get_meta(session, ANCHOR_KEY)
        if stored:
            return datetime.fromisoformat(stored)
        anchor = datetime.now(UTC).replace(second=0, microsecond=0)
        repository.set_meta(session, ANCHOR_KEY, anchor.isoformat())
        return anchor


def ensure_port_free(host: str, port: int, flag: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise TidingsError(
                f"cannot listen on {host}:{port} ({error.strerror}); choose another with {flag}"
            ) from error


def start_demo(
    database: Database, settings: Settings, publisher_port: int, *, faults: bool = True
) -> DemoSetup:
    """Upgrade the schema, start the publishers and follow each of them (idempotent)."""
    upgrade(database)
    anchor = demo_anchor(database)
    with database.session() as session:
        fresh = repository.count_articles(session) == 0
    ensure_port_free("127.0.0.1", publisher_port, "--publisher-port")
    # A fresh demo first sees its edited articles as first published (see refresh_demo).
    server = PublisherServer(
        anchor, port=publisher_port, faults=faults, edits_published=not fresh
    ).start()
    added = 0
    edited: list[int] = []
    try:
        for publisher in load_corpus().publishers:
            if publisher.feed in BROKEN_FEEDS:
                # Feeds broken from day one: followed as an OPML import would, unchecked.
                result = register_source(
                    database, server.url(feed_path(publisher)), name=publisher.name
                )
            elif publisher.feed in ("discovery", "sitemap"):
                # Only the homepage is given: its <link rel="alternate">, or for a site
                # without a feed the sitemap named in robots.txt, leads on.
                result = add_source(database, settings, server.url(f"/{publisher.slug}/"))
            else:
                result = add_source(database, settings, server.url(feed_path(publisher)))
            added += int(result.created)
            if publisher.slug in load_corpus().edited_publishers():
                edited.append(result.source.id)
    except BaseException:
        server.stop()
        raise
    return DemoSetup(
        server=server, anchor=anchor, sources_added=added, edited_sources=edited if fresh else []
    )


def refresh_demo(
    database: Database,
    settings: Settings,
    setup: DemoSetup,
    progress: RefreshProgress | None = None,
) -> list[RefreshReport]:
    """Refresh every demo source; on a fresh demo then publish the edited articles' edits and
    refresh their sources again, so those articles keep both versions through the same
    refresh path as any publisher's edit (docs/reading.md). Edits come last so that the
    demo's article ids do not depend on them."""
    reports = refresh_all(database, settings, progress=progress)
    if setup.edited_sources:
        setup.server.site.edits_published = True
        for source_id in setup.edited_sources:
            refresh_source(database, settings, source_id)
        setup.edited_sources.clear()
    return reports
