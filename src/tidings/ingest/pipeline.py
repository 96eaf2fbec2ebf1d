"""The ingest pipeline: refresh_source(), used by every caller (CLI, admin, scheduler).

feed -> new or changed entries -> page fetch -> extract -> store. Each article is stored
in its own transaction, so a crash half-way loses nothing already stored, and it is keyed
by canonical URL, so running a refresh twice stores nothing twice.
"""

from __future__ import annotations

import hashlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import IntegrityError

from tidings.config import Settings
from tidings.db import repository
from tidings.db.models import FetchLog
from tidings.db.session import Database
from tidings.errors import TidingsError
from tidings.ingest.extract import ExtractedArticle, extract_article
from tidings.ingest.feeds import FeedEntry, ParsedFeed
from tidings.ingest.http import ACCEPT_FEED, Fetcher, FetchResult
from tidings.ingest.metadata import normalize_language
from tidings.ingest.rules import ExtractionRules
from tidings.ingest.sources import fetcher_for, parse_response, rules_of
from tidings.ingest.store import ArticleData, store_article, stored_content_hash
from tidings.ingest.template import SiteTemplate
from tidings.ingest.text import html_to_text
from tidings.ingest.urls import canonicalize_url, same_site

log = logging.getLogger(__name__)
# Dates further ahead than this are a publisher's clock or time-zone error: we clamp them.
_FUTURE_TOLERANCE = timedelta(minutes=15)
_RECLEAN_RECENT = 100  # articles re-checked when a site's template learns something


@dataclass
class _Site:
    """What a refresh knows about one source's pages: owner rules and the learned template."""

    rules: ExtractionRules
    template: SiteTemplate


class RefreshProgress(Protocol):
    """What a caller (CLI progress bar, admin page) hears while a source refreshes."""

    def started(self, source_name: str, total: int) -> None: ...

    def advanced(self, steps: int = 1) -> None: ...


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


def refresh_source(
    database: Database,
    settings: Settings,
    source_id: int,
    *,
    fetcher: Fetcher | None = None,
    progress: RefreshProgress | None = None,
    force: bool = False,
) -> RefreshReport:
    """Fetch a source's feed and store its new and changed articles; never raises for the feed.

    A feed that cannot be fetched or parsed marks only this source as failing (with the
    reason) and leaves its stored articles untouched. `force` re-fetches unchanged entries.
    """
    started = datetime.now(UTC)
    clock = time.monotonic()
    with database.session() as session:
        source = repository.get_source(session, source_id)
        report = RefreshReport(source_id=source.id, source_name=source.name)
        feed_url, source_language = source.feed_url, source.language
        rules = rules_of(source)
        template = SiteTemplate(dict(source.template_paragraphs or {}))
    http_status: int | None = None
    try:
        with fetcher_for(settings, fetcher) as client:
            response = client.fetch(feed_url, accept=ACCEPT_FEED)
            http_status = response.status_code
            feed = parse_response(response)
            report.warning = feed.warning
            report.entries_seen = len(feed.entries)
            feed_language = normalize_language(feed.language) or source_language
            site = _Site(rules, template)
            _ingest_entries(database, client, report, feed, feed_language, site, progress, force)
            _keep_template(database, report.source_id, template)
    except TidingsError as error:
        report.status = "error"
        report.error = str(error)
    report.duration_s = time.monotonic() - clock
    _record_refresh(database, settings, report, started, http_status)
    return report


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
    entries = _unique_entries(feed.entries)
    pending: list[tuple[FeedEntry, str]] = []
    with database.session() as session:
        for entry in entries:
            entry_hash = _entry_hash(entry)
            stored = repository.article_for_entry(
                session, report.source_id, entry.guid, [canonicalize_url(entry.link)]
            )
            if stored is not None and stored.entry_hash == entry_hash and not force:
                report.articles_unchanged += 1
            else:
                pending.append((entry, entry_hash))
    if progress is not None:
        progress.started(report.source_name, len(pending))
    if not pending:
        return
    workers = max(1, min(fetcher.settings.fetch_concurrency, len(pending)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="page-fetch") as pool:
        pages = pool.map(lambda item: _fetch_page(fetcher, item[0], site.rules), pending)
        # Results arrive in feed order; each is stored in its own transaction as it lands.
        for (entry, entry_hash), (page, extracted, page_error) in zip(pending, pages, strict=True):
            if page is not None:
                report.pages_fetched += 1
            if page_error:
                report.page_errors.append(page_error)
            if extracted is not None:
                site.template.learn(extracted.body)
            data = _article_data(entry, entry_hash, page, extracted, feed_language)
            data.body = site.template.strip(data.body)
            outcome = _store(database, report.source_id, data)
            if outcome == "new":
                report.articles_new += 1
            elif outcome == "updated":
                report.articles_updated += 1
            else:
                report.articles_unchanged += 1
            if progress is not None:
                progress.advanced()


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


def _unique_entries(entries: list[FeedEntry]) -> list[FeedEntry]:
    seen: set[str] = set()
    unique: list[FeedEntry] = []
    for entry in entries:
        key = canonicalize_url(entry.link)
        if key not in seen:
            seen.add(key)
            unique.append(entry)
    return unique


def _fetch_page(
    fetcher: Fetcher, entry: FeedEntry, rules: ExtractionRules
) -> tuple[FetchResult | None, ExtractedArticle | None, str | None]:
    try:
        page = fetcher.fetch(entry.link)
    except TidingsError as error:
        return None, None, str(error)
    try:
        return page, extract_article(page.text, page.url, rules), None
    except TidingsError as error:
        return page, None, f"{entry.link}: {error}"
    except Exception as error:  # a hostile page must not stop the refresh; the feed text stands in
        log.exception("extraction crashed on %s", entry.link)
        return page, None, f"{entry.link}: extraction failed ({type(error).__name__})"


def _article_data(
    entry: FeedEntry,
    entry_hash: str,
    page: FetchResult | None,
    extracted: ExtractedArticle | None,
    feed_language: str | None,
) -> ArticleData:
    now = datetime.now(UTC)
    page_url = page.url if page is not None else entry.link
    canonical = page_url
    if extracted and extracted.canonical_url and same_site(extracted.canonical_url, page_url):
        canonical = extracted.canonical_url
    feed_text = html_to_text(entry.content_html or "")
    body = extracted.body if extracted else ""
    extracted_from = "page"
    if len(body) < 0.5 * len(feed_text):
        # The page gave nothing usable (or a teaser): the feed's own full text is better.
        body, extracted_from = feed_text, "feed"
    if not body:
        body, extracted_from = html_to_text(entry.summary or ""), "summary"
    published = entry.published_at or (extracted.published_at if extracted else None)
    return ArticleData(
        url=canonicalize_url(canonical),
        original_url=entry.link,
        guid=entry.guid,
        title=entry.title or (extracted.title if extracted else None) or entry.link,
        byline=extracted.byline if extracted else None,
        authors=(extracted.authors if extracted and extracted.authors else entry.authors),
        section=extracted.section if extracted else None,
        language=(extracted.language if extracted else None) or feed_language,
        lead_image=(extracted.lead_image if extracted else None) or entry.image,
        captions=extracted.captions if extracted else [],
        summary=html_to_text(entry.summary or "") or (extracted.standfirst if extracted else None),
        body=body,
        extracted_from=extracted_from,
        published_at=min(published, now + _FUTURE_TOLERANCE) if published else None,
        updated_at=entry.updated_at or (extracted.updated_at if extracted else None),
        entry_hash=entry_hash,
    )


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


def _entry_hash(entry: FeedEntry) -> str:
    parts = [
        entry.guid,
        entry.link,
        entry.title,
        entry.summary or "",
        entry.content_html or "",
        entry.published_at.isoformat() if entry.published_at else "",
        entry.updated_at.isoformat() if entry.updated_at else "",
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _record_refresh(
    database: Database,
    settings: Settings,
    report: RefreshReport,
    started: datetime,
    http_status: int | None,
) -> None:
    finished = datetime.now(UTC)
    with database.session() as session:
        source = repository.get_source(session, report.source_id)
        source.last_fetched_at = finished
        source.status = report.status
        source.last_error = report.error
        if report.status == "ok":
            source.last_success_at = finished
        interval = source.poll_interval_s or settings.poll_interval_s
        source.next_fetch_at = finished + timedelta(seconds=interval)
        session.add(
            FetchLog(
                source_id=report.source_id,
                started_at=started,
                finished_at=finished,
                status=report.status,
                http_status=http_status,
                entries_seen=report.entries_seen,
                articles_new=report.articles_new,
                articles_updated=report.articles_updated,
                error=report.error or (report.page_errors[0] if report.page_errors else None),
            )
        )
    if report.status != "ok":
        # Callers show the report; the log keeps a line for servers run unattended.
        log.info("refresh of %s failed: %s", report.source_name, report.error)


def refresh_all(
    database: Database,
    settings: Settings,
    *,
    progress: RefreshProgress | None = None,
    force: bool = False,
) -> list[RefreshReport]:
    """Refresh every source, one after the other (each fetches its pages concurrently)."""
    with database.session() as session:
        source_ids = [row.source.id for row in repository.list_sources(session)]
    with Fetcher(settings) as fetcher:
        return [
            refresh_source(
                database, settings, source_id, fetcher=fetcher, progress=progress, force=force
            )
            for source_id in source_ids
        ]
