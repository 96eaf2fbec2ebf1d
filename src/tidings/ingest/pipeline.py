"""The ingest pipeline: refresh_source(), used by every caller (CLI, admin, scheduler).

feed (or sitemap) -> new or changed entries -> page fetch -> extract -> store. Each article
is stored in its own transaction, so a crash half-way loses nothing already stored, and it
is keyed by canonical URL, so running a refresh twice stores nothing twice. Entries are
handled in bounded batches, so a 10,000-entry feed does not hold 10,000 pages in memory.
A feed pushed by a WebSub hub (ingest/websub.py) joins at the entries: ingest_feed().
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import IntegrityError

from tidings.config import Settings
from tidings.db import repository
from tidings.db.models import FetchLog, Source
from tidings.db.session import Database
from tidings.errors import TidingsError
from tidings.ingest import websub
from tidings.ingest.entries import article_data, entry_hash, unique_entries
from tidings.ingest.extract import ExtractedArticle, extract_article
from tidings.ingest.feeds import FeedEntry, ParsedFeed
from tidings.ingest.http import ACCEPT_FEED, Fetcher, FetchOptions, FetchResult
from tidings.ingest.metadata import normalize_language
from tidings.ingest.polite import (
    RateLimitedError,
    adaptive_interval,
    backoff_delay,
    cache_max_age,
)
from tidings.ingest.rules import ExtractionRules
from tidings.ingest.sitemaps import MAX_CHILD_SITEMAPS, as_feed, parse_sitemap
from tidings.ingest.sources import fetcher_for, parse_response, rules_of
from tidings.ingest.store import ArticleData, store_article, stored_content_hash
from tidings.ingest.template import SiteTemplate
from tidings.ingest.urls import canonicalize_url

log = logging.getLogger(__name__)
_RECLEAN_RECENT = 100  # articles re-checked when a site's template learns something
_BATCH = 32  # entries fetched and stored per batch: bounds the pages held in memory


@dataclass
class _Site:
    """What a refresh knows about one source: how to fetch it, owner rules, learned template."""

    kind: str
    feed_url: str
    fetch_pages: bool
    language: str | None
    page_limit: int | None
    options: FetchOptions
    proxy: str | None
    rules: ExtractionRules
    template: SiteTemplate

    @classmethod
    def of(cls, source: Source, *, conditional: bool) -> _Site:
        auth = None
        if source.auth_username:
            auth = (source.auth_username, source.auth_password or "")
        return cls(
            kind=source.kind or "feed",
            feed_url=source.feed_url,
            fetch_pages=source.fetch_pages or source.kind == "sitemap",  # a sitemap has no text
            language=source.language,
            page_limit=source.page_limit,
            options=FetchOptions(
                etag=source.etag if conditional else None,
                last_modified=source.last_modified if conditional else None,
                user_agent=source.user_agent,
                auth=auth,
                cookies=source.cookies,
            ),
            proxy=source.proxy_url,
            rules=rules_of(source),
            template=SiteTemplate(dict(source.template_paragraphs or {})),
        )


class RefreshProgress(Protocol):
    """What a caller (CLI progress bar, admin page) hears while a source refreshes."""

    def started(self, source_name: str, total: int) -> None: ...

    def advanced(self, source_name: str, steps: int = 1) -> None: ...


@dataclass
class RefreshReport:
    source_id: int
    source_name: str
    status: str = "ok"
    entries_seen: int = 0
    articles_new: int = 0
    articles_updated: int = 0
    articles_unchanged: int = 0
    pages_fetched: int = 0
    page_errors: list[str] = field(default_factory=list)
    error: str | None = None
    warning: str | None = None
    duration_s: float = 0.0
    not_modified: bool = False  # 304: nothing downloaded
    deferred: int = 0  # entries left for the next refresh (page limit per refresh)
    retry_after_s: float | None = None
    next_fetch_at: datetime | None = None


def refresh_source(
    database: Database,
    settings: Settings,
    source_id: int,
    *,
    fetcher: Fetcher | None = None,
    progress: RefreshProgress | None = None,
    force: bool = False,
    enrich: bool = True,
) -> RefreshReport:
    """Fetch a source and store its new and changed articles; never raises for the source.

    A feed that cannot be fetched or parsed marks only this source as failing (with the
    reason, and a back-off before the next try) and leaves its stored articles untouched.
    `force` skips conditional GET and re-fetches the pages of unchanged entries; `enrich`
    False leaves enrichment (stories, hashtags, …) to the caller.
    """
    started = datetime.now(UTC)
    clock = time.monotonic()
    report, site = _begin(database, source_id, conditional=not force)
    response: FetchResult | None = None
    feed: ParsedFeed | None = None
    try:
        with fetcher_for(settings, fetcher, site.proxy) as client:
            response = client.fetch(site.feed_url, accept=ACCEPT_FEED, options=site.options)
            if response.not_modified:
                report.not_modified = True
            else:
                feed = _read_source(client, site, response)
                _store_feed(database, client, report, feed, site, progress, force)
    except RateLimitedError as error:
        report.status, report.error, report.retry_after_s = "error", str(error), error.retry_after_s
    except TidingsError as error:
        report.status, report.error = "error", str(error)
    if enrich:
        _after_storing(database, settings, [report], report.source_id)
    report.duration_s = time.monotonic() - clock
    _record_refresh(database, settings, report, started, response, feed)
    if report.status == "ok" and feed is not None and response is not None:
        websub.follow_hubs(database, settings, report.source_id, feed, response, fetcher=fetcher)
    return report


def ingest_feed(
    database: Database,
    settings: Settings,
    source_id: int,
    feed: ParsedFeed,
    *,
    fetcher: Fetcher | None = None,
) -> RefreshReport:
    """Store the new and changed entries of a feed that was delivered (a WebSub push) just
    as a refresh would, without fetching the feed or changing the source's poll schedule."""
    clock = time.monotonic()
    report, site = _begin(database, source_id, conditional=False)
    try:
        with fetcher_for(settings, fetcher, site.proxy) as client:
            _store_feed(database, client, report, feed, site, None, False)
    except TidingsError as error:
        report.status, report.error = "error", str(error)
    _after_storing(database, settings, [report], report.source_id)
    report.duration_s = time.monotonic() - clock
    return report


def _begin(database: Database, source_id: int, *, conditional: bool) -> tuple[RefreshReport, _Site]:
    with database.session() as session:
        source = repository.get_source(session, source_id)
        report = RefreshReport(source_id=source.id, source_name=source.name)
        return report, _Site.of(source, conditional=conditional)


def _store_feed(
    database: Database,
    client: Fetcher,
    report: RefreshReport,
    feed: ParsedFeed,
    site: _Site,
    progress: RefreshProgress | None,
    force: bool,
) -> None:
    report.warning = feed.warning
    report.entries_seen = len(feed.entries)
    language = normalize_language(feed.language) or site.language
    _ingest_entries(database, client, report, feed, language, site, progress, force)
    _keep_template(database, report.source_id, site.template)


def _after_storing(
    database: Database, settings: Settings, reports: list[RefreshReport], scope: int | None
) -> None:
    """Enrich what was stored (`scope`: one source, or all pending) and ping the WebSub hub
    that Tidings' own feeds advertise."""
    changed = [r.source_id for r in reports if r.articles_new or r.articles_updated]
    if changed:
        _enrich(database, settings, scope)
        websub.announce(settings, changed)


def _enrich(database: Database, settings: Settings, source_id: int | None) -> None:
    """Enrich what this refresh stored; a failure leaves the articles pending for next time."""
    from tidings.enrich.service import enricher_for  # enrichment loads its models lazily

    try:
        enricher_for(database, settings).enrich_pending(source_id)
    except Exception:
        log.exception("enrichment failed for source %s; it will be retried", source_id)


def _read_source(client: Fetcher, site: _Site, response: FetchResult) -> ParsedFeed:
    """The feed, or for a sitemap source its newest pages (following a sitemap index)."""
    if site.kind != "sitemap":
        return parse_response(response)
    sitemap = parse_sitemap(response.content, response.url)
    entries = list(sitemap.entries)
    for child in sitemap.children[:MAX_CHILD_SITEMAPS]:
        page = client.fetch(child, accept=ACCEPT_FEED, options=site.options)
        entries.extend(parse_sitemap(page.content, page.url).entries)
    entries.sort(key=lambda e: e.published_at.timestamp() if e.published_at else 0.0, reverse=True)
    return as_feed(entries, site.page_limit)


def _ingest_entries(
    database: Database,
    fetcher: Fetcher,
    report: RefreshReport,
    feed: ParsedFeed,
    feed_language: str | None,
    site: _Site,
    progress: RefreshProgress | None,
    force: bool,
) -> None:
    pending = _pending_entries(database, report, unique_entries(feed.entries), force)
    limit = fetcher.settings.fetch_max_pages_per_refresh
    if len(pending) > limit:
        report.deferred = len(pending) - limit  # newest first; the rest next time
        pending = pending[:limit]
    if progress is not None:
        progress.started(report.source_name, len(pending))
    if not pending:
        return
    workers = max(1, min(fetcher.settings.fetch_concurrency, len(pending)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="page-fetch") as pool:
        for batch in _batches(pending, _BATCH):
            pages = pool.map(lambda item: _fetch_page(fetcher, item[0], site), batch)
            # Results arrive in feed order; each is stored in its own transaction as it lands.
            for (entry, fingerprint), (page, extracted, error) in zip(batch, pages, strict=True):
                if page is not None:
                    report.pages_fetched += 1
                if error:
                    report.page_errors.append(error)
                if extracted is not None:
                    site.template.learn(extracted.body)
                data = article_data(entry, fingerprint, page, extracted, feed_language)
                data.body = site.template.strip(data.body)
                outcome = _store(database, report.source_id, data)
                if outcome == "new":
                    report.articles_new += 1
                elif outcome == "updated":
                    report.articles_updated += 1
                else:
                    report.articles_unchanged += 1
                if progress is not None:
                    progress.advanced(report.source_name)


def _pending_entries(
    database: Database, report: RefreshReport, entries: list[FeedEntry], force: bool
) -> list[tuple[FeedEntry, str]]:
    """Entries that are new or changed since the last refresh, with their fingerprints."""
    urls = [canonicalize_url(entry.link) for entry in entries]
    with database.session() as session:
        known = repository.entry_hashes(
            session, report.source_id, urls, [e.guid for e in entries if e.guid]
        )
    pending: list[tuple[FeedEntry, str]] = []
    for entry, url in zip(entries, urls, strict=True):
        fingerprint = entry_hash(entry)
        stored = known.by_url.get(url) or (known.by_guid.get(entry.guid) if entry.guid else None)
        if stored == fingerprint and not force:
            report.articles_unchanged += 1
        else:
            pending.append((entry, fingerprint))
    return pending


def _batches(
    items: list[tuple[FeedEntry, str]], size: int
) -> Iterator[list[tuple[FeedEntry, str]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _keep_template(database: Database, source_id: int, template: SiteTemplate) -> None:
    """Save what was learned, and strip newly learned template from recent articles too."""
    with database.session() as session:
        source = repository.get_source(session, source_id)
        if source.template_paragraphs == template.counts:
            return
        source.template_paragraphs = dict(template.counts)
        for article in repository.recent_articles(session, source_id, _RECLEAN_RECENT):
            body = template.strip(article.body)
            if body != article.body:
                article.body = body
                article.content_hash = stored_content_hash(article)


def _fetch_page(
    fetcher: Fetcher, entry: FeedEntry, site: _Site
) -> tuple[FetchResult | None, ExtractedArticle | None, str | None]:
    """The entry's page and its extraction; robots.txt is honoured for pages (not feeds)."""
    if not site.fetch_pages:
        return None, None, None  # the owner chose the feed's own text for this source
    options = FetchOptions(
        user_agent=site.options.user_agent, auth=site.options.auth, cookies=site.options.cookies
    )
    try:
        page = fetcher.fetch(entry.link, options=options, check_robots=True)
    except TidingsError as error:
        return None, None, str(error)
    try:
        return page, extract_article(page.text, page.url, site.rules), None
    except TidingsError as error:
        return page, None, f"{entry.link}: {error}"
    except Exception as error:  # a hostile page must not stop the refresh; the feed text stands in
        log.exception("extraction crashed on %s", entry.link)
        return page, None, f"{entry.link}: extraction failed ({type(error).__name__})"


def _store(database: Database, source_id: int, data: ArticleData) -> str:
    for attempt in (1, 2):
        try:
            with database.session() as session:
                return store_article(session, source_id, data)
        except IntegrityError:
            # Another process stored the same URL between our read and our write: retry once,
            # which now finds the row and updates it.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _record_refresh(
    database: Database,
    settings: Settings,
    report: RefreshReport,
    started: datetime,
    response: FetchResult | None,
    feed: ParsedFeed | None,
) -> None:
    """Write the outcome: status, validators, fetch log, and when to poll next."""
    finished = datetime.now(UTC)
    with database.session() as session:
        source = repository.get_source(session, report.source_id)
        source.last_fetched_at = finished
        source.status = report.status
        source.last_error = report.error
        source.last_warning = report.warning or _page_error_summary(report)
        if report.status == "ok":
            source.last_success_at = finished
            source.failure_count = 0
            if response is not None and not response.not_modified:
                source.etag = response.headers.get("etag")
                source.last_modified = response.headers.get("last-modified")
            hints = [
                feed.ttl_s if feed else None,
                cache_max_age(response.headers.get("cache-control")) if response else None,
            ]
            if feed is not None:
                source.feed_ttl_s = max((h for h in hints if h), default=None)
            week_ago = finished - timedelta(days=7)
            interval = source.poll_interval_s or adaptive_interval(
                repository.published_since(session, source.id, week_ago),
                settings.poll_min_interval_s,
                settings.poll_max_interval_s,
                source.feed_ttl_s,
            )
        else:
            source.failure_count += 1
            interval = int(
                max(
                    backoff_delay(
                        source.failure_count, settings.retry_base_s, settings.retry_max_s
                    ),
                    report.retry_after_s or 0,
                )
            )
        source.next_fetch_at = finished + timedelta(seconds=interval)
        report.next_fetch_at = source.next_fetch_at
        session.add(
            FetchLog(
                source_id=report.source_id,
                started_at=started,
                finished_at=finished,
                status=report.status,
                http_status=response.status_code if response is not None else None,
                entries_seen=report.entries_seen,
                articles_new=report.articles_new,
                articles_updated=report.articles_updated,
                error=report.error or (report.page_errors[0] if report.page_errors else None),
            )
        )
    if report.status != "ok":
        # Callers show the report; the log keeps a line for servers run unattended.
        log.info("refresh of %s failed: %s", report.source_name, report.error)


def _page_error_summary(report: RefreshReport) -> str | None:
    if not report.page_errors:
        return None
    more = f" (and {len(report.page_errors) - 1} more)" if len(report.page_errors) > 1 else ""
    return f"{len(report.page_errors)} page(s) could not be used, feed text stored instead: {report.page_errors[0]}{more}"


def refresh_all(
    database: Database,
    settings: Settings,
    *,
    progress: RefreshProgress | None = None,
    force: bool = False,
    include_paused: bool = False,
) -> list[RefreshReport]:
    """Refresh every source (paused ones only if asked), several at once, in source order."""
    with database.session() as session:
        source_ids = [
            row.source.id
            for row in repository.list_sources(session)
            if include_paused or not row.source.paused
        ]
    with (
        Fetcher(settings) as fetcher,
        ThreadPoolExecutor(
            max_workers=max(1, settings.refresh_concurrency), thread_name_prefix="refresh"
        ) as pool,
    ):
        reports = list(
            pool.map(
                lambda source_id: refresh_source(
                    database,
                    settings,
                    source_id,
                    fetcher=fetcher,
                    progress=progress,
                    force=force,
                    enrich=False,
                ),
                source_ids,
            )
        )
    # Enriched once all sources are in, in publication order: stories then grow as the news
    # did, not source by source (which splits an event whose first reports come late).
    _after_storing(database, settings, reports, None)
    return reports
