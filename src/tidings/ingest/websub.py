"""WebSub: subscribe to the hubs feeds advertise, answer their checks, take pushes, renew leases.

W3C WebSub (https://www.w3.org/TR/websub/). A refreshed feed that names a hub (`<link
rel="hub">`, JSON Feed `hubs`, or an HTTP `Link` header) gets a subscription for its self
URL (the topic): the hub checks with a GET to `{TIDINGS_PUBLIC_URL}/websub/callback/{token}`
that we asked, then POSTs the feed there whenever it changes, signed with a secret only the
hub and this subscription know. A push goes through the same pipeline as a refresh. Polling
never stops: push makes new articles arrive sooner, and a hub that fails changes nothing else.

The publisher side is here too: `announce()` pings the hub Tidings' own feeds advertise.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin, urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.config import Settings
from tidings.db.models import Source, WebSubSubscription
from tidings.db.session import Database
from tidings.errors import InvalidInputError, NotFoundError, TidingsError
from tidings.ingest.feeds import ParsedFeed
from tidings.ingest.http import Fetcher, FetchResult
from tidings.ingest.polite import backoff_delay
from tidings.ingest.sources import fetcher_for, parse_response

log = logging.getLogger(__name__)

CALLBACK_PATH = "/websub/callback/"
NO_PUBLIC_URL = (
    "not subscribed: TIDINGS_PUBLIC_URL is not set, so the hub could not reach this Tidings "
    "(the feed is polled as usual)"
)
_MAX_RENEW_MARGIN = timedelta(days=1)  # renew a day before a lease ends (or at 90% of it)
_MIN_RENEW_AFTER = timedelta(minutes=1)  # however short the lease a hub grants
_LEASE_RANGE = (60, 366 * 24 * 3600)
_SIGNATURES = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
_SUBSCRIBED = ("pending", "active")


class SubscriptionGoneError(NotFoundError):
    """A push for a callback that is no longer ours (410 tells the hub to drop it)."""


@dataclass(frozen=True)
class Advert:
    """What a feed advertises: its hub and its topic (the feed's own URL)."""

    hub: str
    topic: str


@dataclass(frozen=True)
class Verification:
    """A hub's GET to the callback: it checks we want the (un)subscription, or says no."""

    mode: str
    topic: str
    challenge: str | None = None
    lease_seconds: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Push:
    """A signed push, accepted for ingestion."""

    subscription_id: int
    source_id: int
    topic: str
    body: bytes
    content_type: str


@dataclass(frozen=True)
class SubscriptionView:
    """A subscription as the CLI and pages show it."""

    source_id: int
    source_name: str
    hub: str
    topic: str
    state: str
    expires_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None
    last_push_at: datetime | None


def advertised(feed: ParsedFeed, response: FetchResult) -> Advert | None:
    """The hub and topic of a fetched feed: HTTP Link headers first (as the spec says), then
    the document; without a self link the feed's own URL is the topic. The first hub wins."""
    if feed.format == "sitemap":
        return None
    links = httpx.Response(200, headers=response.headers).links
    hub = links.get("hub", {}).get("url") or next(iter(feed.hubs), None)
    if not hub:
        return None
    topic = links.get("self", {}).get("url") or feed.self_url or response.url
    hub, topic = urljoin(response.url, hub), urljoin(response.url, topic)
    if not all(urlsplit(url).scheme in ("http", "https") for url in (hub, topic)):
        return None
    return Advert(hub, topic)


def callback_url(settings: Settings, token: str) -> str:
    return f"{settings.public_url}{CALLBACK_PATH}{token}"


def follow_hubs(
    database: Database,
    settings: Settings,
    source_id: int,
    feed: ParsedFeed,
    response: FetchResult,
    *,
    fetcher: Fetcher | None = None,
) -> None:
    """After a refresh: subscribe to the hub the feed advertises, once; leave a hub it no
    longer advertises (best effort). The scheduler renews and retries too (`renew_due`)."""
    advert = advertised(feed, response)
    with database.session() as session:
        row = _of_source(session, source_id)
        same = row is not None and advert == Advert(row.hub, row.topic)
        left = None
        if row is not None and not same and row.state in _SUBSCRIBED:
            left = (
                row.hub,
                _form("unsubscribe", row.topic, callback_url(settings, row.callback_token)),
            )
        if advert is None:
            if row is not None:
                session.delete(row)
            subscribe_id = None
        elif row is None or not same:
            row = _renewed(session, row, source_id, advert)
            subscribe_id = row.id
        else:  # the same hub: ask now only if not asked yet or a retry or renewal is due
            due = row.next_attempt_at is not None and row.next_attempt_at <= datetime.now(UTC)
            subscribe_id = row.id if due or row.state in ("off", "unsubscribing") else None
    if left is not None and settings.public_url:
        _post_best_effort(settings, fetcher, *left)
    if subscribe_id is not None:
        subscribe(database, settings, subscribe_id, fetcher=fetcher)


def _renewed(
    session: Session, row: WebSubSubscription | None, source_id: int, advert: Advert
) -> WebSubSubscription:
    """The source's subscription row for a new hub or topic: a fresh token and secret."""
    if row is None:
        row = WebSubSubscription(source_id=source_id)
        session.add(row)
    row.hub, row.topic = advert.hub, advert.topic
    row.callback_token = secrets.token_urlsafe(24)
    row.secret = secrets.token_hex(32)
    row.state, row.attempts, row.last_error = "off", 0, None
    row.lease_seconds = row.expires_at = row.next_attempt_at = row.verified_at = None
    session.flush()
    return row


def subscribe(
    database: Database, settings: Settings, subscription_id: int, *, fetcher: Fetcher | None = None
) -> None:
    """Ask the hub for the subscription (or its renewal); the hub confirms with a GET to the
    callback. A failed request is retried with back-off, as is one the hub never confirms."""
    now = datetime.now(UTC)
    with database.session() as session:
        row = session.get(WebSubSubscription, subscription_id)
        if row is None:
            return
        if not settings.public_url:
            row.state, row.last_error, row.next_attempt_at = "off", NO_PUBLIC_URL, None
            return
        if row.state != "active":
            row.state = "pending"
        row.requested_at = now
        row.attempts += 1
        attempts, hub = row.attempts, row.hub
        form = _form("subscribe", row.topic, callback_url(settings, row.callback_token))
        form |= {"hub.secret": row.secret, "hub.lease_seconds": str(settings.websub_lease_s)}
    # Committed before asking: a hub may check with us before it answers.
    error = _post(settings, fetcher, hub, form)
    retry_at = now + timedelta(
        seconds=backoff_delay(attempts, settings.retry_base_s, settings.retry_max_s)
    )
    with database.session() as session:
        row = session.get(WebSubSubscription, subscription_id)
        if row is None:
            return
        if error is not None:
            row.last_error = f"subscribing at {hub} failed: {error}"
            if row.state != "active" or row.expires_at is None or row.expires_at <= now:
                row.state = "failed"
            row.next_attempt_at = retry_at
            log.info("WebSub subscription of source %s failed: %s", row.source_id, error)
        elif row.verified_at is None or row.verified_at < now:
            row.last_error = None
            row.next_attempt_at = retry_at  # asked again if the hub never confirms


def verify_intent(database: Database, settings: Settings, token: str, check: Verification) -> str:
    """Answer a hub's check of intent: the challenge to echo back. Raises NotFoundError (404)
    when the token, mode or topic is not a subscription we asked for."""
    now = datetime.now(UTC)
    with database.session() as session:
        row = _of_token(session, token)
        if row is None or row.topic != check.topic:
            raise NotFoundError("no such subscription here")
        if check.mode == "denied":
            reason = f": {check.reason}" if check.reason else ""
            row.state, row.last_error = "denied", f"the hub refused the subscription{reason}"
            row.next_attempt_at = now + timedelta(seconds=settings.retry_max_s)
            return ""
        if check.mode not in ("subscribe", "unsubscribe"):
            raise InvalidInputError(
                f"hub.mode must be subscribe, unsubscribe or denied, not {check.mode!r}"
            )
        if not check.challenge:
            raise InvalidInputError("hub.challenge is missing")
        if check.mode == "unsubscribe":
            if row.state != "unsubscribing":
                raise NotFoundError("this subscription is not being cancelled")
            session.delete(row)
            return check.challenge
        if row.state not in ("pending", "active", "failed"):
            raise NotFoundError("this subscription was not asked for")
        lease = _lease(check.lease_seconds) or settings.websub_lease_s
        row.state, row.attempts, row.last_error = "active", 0, None
        row.lease_seconds, row.verified_at = lease, now
        row.expires_at = now + timedelta(seconds=lease)
        margin = min(timedelta(seconds=lease / 10), _MAX_RENEW_MARGIN)
        row.next_attempt_at = max(row.expires_at - margin, now + _MIN_RENEW_AFTER)
        return check.challenge


def _lease(value: str | None) -> int | None:
    if not value or not value.strip().isdigit():
        return None
    return min(max(int(value), _LEASE_RANGE[0]), _LEASE_RANGE[1])


def accept_push(
    database: Database, token: str, body: bytes, content_type: str, signature: str | None
) -> Push | None:
    """Check a pushed body (X-Hub-Signature, HMAC of the body with our secret): the push to
    ingest, or None when it must be ignored (the reason is recorded on the subscription)."""
    now = datetime.now(UTC)
    with database.session() as session:
        row = _of_token(session, token)
        if row is None:
            raise SubscriptionGoneError("no subscription here any more")
        problem = _signature_problem(row.secret, body, signature)
        if problem is None and row.state not in _SUBSCRIBED:
            problem = f"the subscription is {row.state}"
        if problem is not None:
            row.last_error = f"ignored a push at {now:%Y-%m-%d %H:%M:%S} UTC: {problem}"
            log.warning("WebSub push for source %s ignored: %s", row.source_id, problem)
            return None
        if row.source.paused:
            return None
        row.last_push_at, row.last_error = now, None
        return Push(row.id, row.source_id, row.topic, body, content_type)


def _signature_problem(secret: str, body: bytes, signature: str | None) -> str | None:
    if not signature:
        return "it carries no X-Hub-Signature"
    method, _, digest = signature.strip().partition("=")
    algorithm = _SIGNATURES.get(method.lower())
    if algorithm is None:
        return f"unknown X-Hub-Signature method {method!r}"
    expected = hmac.new(secret.encode(), body, algorithm).hexdigest()
    if not hmac.compare_digest(expected, digest.strip().lower()):
        return "its X-Hub-Signature does not match"
    return None


def ingest_push(database: Database, settings: Settings, push: Push) -> None:
    """Store a pushed feed's new and changed entries, as a refresh would."""
    from tidings.ingest.pipeline import ingest_feed  # the pipeline imports this module

    headers = httpx.Headers({"content-type": push.content_type})
    try:
        feed = parse_response(FetchResult(push.topic, 200, headers, push.body))
    except TidingsError as error:
        with database.session() as session:
            row = session.get(WebSubSubscription, push.subscription_id)
            if row is not None:
                row.last_error = f"a push could not be read: {error}"
        return
    try:
        report = ingest_feed(database, settings, push.source_id, feed)
    except NotFoundError:
        return  # the source was removed meanwhile
    except Exception:  # it runs after the answer: nobody else would hear of it
        log.exception("storing a WebSub push for source %s failed", push.source_id)
        return
    log.info("WebSub push for %s: %d new, %d updated", report.source_name,
             report.articles_new, report.articles_updated)  # fmt: skip


def renew_due(
    database: Database,
    settings: Settings,
    *,
    every: bool = False,
    now: datetime | None = None,
    fetcher: Fetcher | None = None,
) -> list[int]:
    """Subscribe again where a lease ends soon, a request failed, a hub never confirmed or
    the public URL is new (`every`: all of them now); the ids asked for. Paused sources wait."""
    if not settings.public_url:
        return []
    now = now or datetime.now(UTC)
    query = (
        select(WebSubSubscription.id)
        .join(Source, Source.id == WebSubSubscription.source_id)
        .where(Source.paused.is_(False), WebSubSubscription.state != "unsubscribing")
        .order_by(WebSubSubscription.id)
    )
    if not every:
        due = WebSubSubscription.next_attempt_at <= now
        query = query.where(due | (WebSubSubscription.state == "off"))
    with database.session() as session:
        ids = list(session.scalars(query))
    if ids:
        with fetcher_for(settings, fetcher) as client:
            for subscription_id in ids:
                subscribe(database, settings, subscription_id, fetcher=client)
    return ids


def unsubscribe_source(
    database: Database, settings: Settings, source_id: int, *, fetcher: Fetcher | None = None
) -> None:
    """Before a source is removed: ask its hub to stop pushing (best effort; the lease would
    run out anyway, and a push to a removed callback is answered 410 Gone)."""
    with database.session() as session:
        row = _of_source(session, source_id)
        if row is None or row.state not in _SUBSCRIBED or not settings.public_url:
            return
        row.state = "unsubscribing"
        hub = row.hub
        form = _form("unsubscribe", row.topic, callback_url(settings, row.callback_token))
    _post_best_effort(settings, fetcher, hub, form)


def announce(
    settings: Settings, source_ids: Iterable[int], *, fetcher: Fetcher | None = None
) -> None:
    """Tell TIDINGS_WEBSUB_HUB that Tidings' own feeds changed (hub.mode=publish): the
    latest feeds and those of the sources that stored articles. Best effort: errors are logged."""
    if not settings.websub_hub:
        return
    if not settings.public_url:
        log.warning("TIDINGS_WEBSUB_HUB is set but TIDINGS_PUBLIC_URL is not: hub not pinged")
        return
    paths = ["/feeds/latest"] + [f"/feeds/sources/{i}" for i in sorted(set(source_ids))]
    urls = [
        f"{settings.public_url}{path}.{kind}" for path in paths for kind in ("rss", "atom", "json")
    ]
    _post_best_effort(
        settings, fetcher, settings.websub_hub, {"hub.mode": "publish", "hub.url": urls}
    )


def list_subscriptions(database: Database) -> list[SubscriptionView]:
    """Every source's subscription, by source name."""
    with database.session() as session:
        rows = session.execute(
            select(WebSubSubscription, Source.name)
            .join(Source, Source.id == WebSubSubscription.source_id)
            .order_by(Source.name, Source.id)
        ).all()
        return [_view(row, name) for row, name in rows]


def subscription_of(database: Database, source_id: int) -> SubscriptionView | None:
    with database.session() as session:
        row = _of_source(session, source_id)
        return None if row is None else _view(row, row.source.name)


def _view(row: WebSubSubscription, source_name: str) -> SubscriptionView:
    return SubscriptionView(
        source_id=row.source_id,
        source_name=source_name,
        hub=row.hub,
        topic=row.topic,
        state=row.state,
        expires_at=row.expires_at,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        last_push_at=row.last_push_at,
    )


def _of_source(session: Session, source_id: int) -> WebSubSubscription | None:
    return session.scalar(
        select(WebSubSubscription).where(WebSubSubscription.source_id == source_id)
    )


def _of_token(session: Session, token: str) -> WebSubSubscription | None:
    return session.scalar(
        select(WebSubSubscription).where(WebSubSubscription.callback_token == token)
    )


def _form(mode: str, topic: str, callback: str) -> dict[str, str | list[str]]:
    return {"hub.mode": mode, "hub.topic": topic, "hub.callback": callback}


def _post(
    settings: Settings, fetcher: Fetcher | None, hub: str, form: dict[str, str | list[str]]
) -> str | None:
    """POST to a hub through the fetcher (SSRF guard, time limits); the error, if any."""
    try:
        with fetcher_for(settings, fetcher) as client:
            client.post_form(hub, form)
    except TidingsError as error:
        return str(error)
    return None


def _post_best_effort(
    settings: Settings, fetcher: Fetcher | None, hub: str, form: dict[str, str | list[str]]
) -> None:
    error = _post(settings, fetcher, hub, form)
    if error is not None:
        log.warning("WebSub %s at %s failed: %s", form["hub.mode"], hub, error)
