"""The AI features as one service: sources → task → provider → validated, cached result.

Every caller (API, pages, CLI, briefing) asks `AIService.request`; results are cached per
(target, feature, language, question, provider, model, prompt version) together with a hash
of the source sentences, so an edited article or new coverage makes a fresh answer. With the
built-in provider answers are computed on the spot (milliseconds); a model's run as jobs and
callers poll, so no page waits on a model.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import limits
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tidings.ai.config import AISettings, load_ai_settings, make_provider
from tidings.ai.jobs import JobRunner
from tidings.ai.openai import PROMPT_VERSION
from tidings.ai.provider import (
    FEATURES,
    LANGUAGES,
    STORY_FEATURES,
    AIError,
    Answer,
    Document,
    ModelRequiredError,
    Provider,
    Task,
)
from tidings.ai.sources import article_task, story_task
from tidings.config import Settings
from tidings.db.models import AIResult
from tidings.db.session import Database
from tidings.enrich.service import enricher_for
from tidings.errors import InvalidInputError, NotFoundError, TidingsError

PENDING_GRACE = timedelta(seconds=30)  # beyond the timeout: a pending row this old is dead
SETTINGS_TTL_S = 5.0


class RateLimitedError(TidingsError):
    """Too many model generations from one client."""


@dataclass(slots=True)
class AIRun:
    """What a request got: a result (`status` "done"), a pending job, or an error."""

    id: int
    status: str
    result: dict[str, Any] | None = None
    error: str | None = None
    error_kind: str | None = None  # "model_required" | "backend" | "internal"


@dataclass(frozen=True, slots=True)
class Request:
    target_type: str  # "article" | "story"
    target_id: int
    feature: str
    language: str | None = None
    question: str | None = None


class AIService:
    """Answers AI requests for one database; one per process (see `ai_service_for`)."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.jobs = JobRunner(settings.ai_workers)
        self._limiter = limits.strategies.MovingWindowRateLimiter(limits.storage.MemoryStorage())
        self._limit = limits.parse(settings.ai_rate_limit)
        self._cached: tuple[float, AISettings, Provider] | None = None
        self._lock = threading.Lock()

    def provider(self) -> tuple[AISettings, Provider]:
        """The configured provider (re-read every few seconds: the admin page may change it)."""
        now = datetime.now(UTC).timestamp()
        with self._lock:
            if self._cached is None or now - self._cached[0] > SETTINGS_TTL_S:
                ai = load_ai_settings(self.database, self.settings)
                if self._cached is None or self._cached[1] != ai:
                    self._cached = (now, ai, make_provider(ai))
                else:
                    self._cached = (now, ai, self._cached[2])
            return self._cached[1], self._cached[2]

    def forget_provider(self) -> None:
        with self._lock:
            self._cached = None

    def request(self, request: Request, *, client: str = "local", wait_s: float = 0.0) -> AIRun:
        """The cached result, a fresh one, or a pending job (waited for up to `wait_s`)."""
        _check(request)
        ai, provider = self.provider()
        with self.database.session() as session:
            task = self._task(session, request)
            language = task.language
            key = cache_key(request, language, provider)
            digest = text_hash(task)
            row = session.scalar(select(AIResult).where(AIResult.cache_key == key))
            if row is not None and row.text_hash == digest and _usable(row, ai):
                return _as_run(row)
            if provider.name != "builtin" and not self._allowed(client):
                raise RateLimitedError(
                    f"Too many AI requests: {self.settings.ai_rate_limit} per client. "
                    "Try again in a minute."
                )
            row = _claim(session, row, request, key, digest, language, provider)
            row_id = row.id
        if provider.name == "builtin":
            self._run(row_id, provider, task, digest)
            return self.get(row_id)
        if self.settings.redis_url:
            self._enqueue(row_id, request, digest, wait_s)
            return self.get(row_id)
        # Keyed by the sources too: a job for text since edited runs on, but cannot land.
        future = self.jobs.submit(
            f"{key}:{digest}", lambda: self._run(row_id, provider, task, digest)
        )
        if wait_s > 0:
            with contextlib.suppress(FutureTimeout):
                future.result(timeout=wait_s)
        return self.get(row_id)

    def _enqueue(self, row_id: int, request: Request, digest: str, wait_s: float) -> None:
        """Send the job to the task queue (a `tidings worker` runs it) and wait a little."""
        from tidings.jobs.queue import enqueue  # the queue layer sits above this one

        enqueue(
            self.database, self.settings, "ai_result", row_id=row_id,
            target_type=request.target_type, target_id=request.target_id,
            feature=request.feature, language=request.language, question=request.question,
            digest=digest,
        )  # fmt: skip
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and self.get(row_id).status == "pending":
            time.sleep(0.1)

    def run_job(self, row_id: int, request: Request, digest: str) -> None:
        """A queued AI job: fill the cache row `row_id`, unless it is already done or its
        sources changed since it was claimed (a newer request claims it again)."""
        with self.database.session() as session:
            row = session.get(AIResult, row_id)
            if row is None or row.text_hash != digest or row.status == "done":
                return
            task = self._task(session, request)
        if text_hash(task) != digest:
            return
        self._run(row_id, self.provider()[1], task, digest)

    def get(self, result_id: int) -> AIRun:
        with self.database.session() as session:
            row = session.get(AIResult, result_id)
            if row is None:
                raise NotFoundError(f"no AI result with id {result_id}")
            return _as_run(row)

    def _task(self, session: Session, request: Request) -> Task:
        question = " ".join((request.question or "").split()) or None
        target, feature, language = request.target_id, request.feature, request.language
        if request.target_type == "story":
            return story_task(session, target, feature, language, question)
        enricher = enricher_for(self.database, self.settings) if feature == "explain" else None
        return article_task(session, target, feature, language, question, enricher)

    def _allowed(self, client: str) -> bool:
        return bool(self._limiter.hit(self._limit, "ai", client))

    def _run(self, row_id: int, provider: Provider, task: Task, digest: str) -> None:
        """The job: run the provider and store its result or its error."""
        try:
            answer = provider.run(task)
            payload: dict[str, Any] | None = result_payload(answer, task, provider)
            error = None
        except ModelRequiredError as failure:
            payload, error = {"error_kind": "model_required"}, str(failure)
        except AIError as failure:
            payload, error = {"error_kind": "backend"}, str(failure)
        except Exception as failure:  # a job must record why it failed, whatever it was
            payload = {"error_kind": "internal"}
            error = f"AI job failed: {type(failure).__name__}: {failure}"
        with self.database.session() as session:
            row = session.get(AIResult, row_id)
            if row is None or row.text_hash != digest:
                return  # removed, or claimed again for newer sources
            row.status = "error" if error else "done"
            row.result, row.error = payload, error
            row.updated_at = datetime.now(UTC)
            session.commit()


def _check(request: Request) -> None:
    allowed = FEATURES if request.target_type == "article" else STORY_FEATURES
    if request.feature not in allowed:
        raise InvalidInputError(
            f"unknown AI feature {request.feature!r} for a {request.target_type}: "
            f"use one of {', '.join(allowed)}"
        )
    if request.language is not None and request.language not in LANGUAGES:
        raise InvalidInputError(
            f"unsupported language {request.language!r}: use one of {', '.join(LANGUAGES)}"
        )
    if request.feature == "ask" and not (request.question or "").strip():
        raise InvalidInputError("ask needs a question")
    if request.feature == "translate" and not request.language:
        raise InvalidInputError("translate needs a target language")
    if request.question and len(request.question) > 500:
        raise InvalidInputError("questions are limited to 500 characters")


def cache_key(request: Request, language: str, provider: Provider) -> str:
    question = " ".join((request.question or "").lower().split())
    parts = [request.target_type, request.target_id, request.feature, language,
             question, provider.name, provider.model, PROMPT_VERSION]  # fmt: skip
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def text_hash(task: Task) -> str:
    digest = hashlib.sha256()
    for document in task.all_documents():
        digest.update(f"{document.article_id}\n{document.title}\n".encode())
        for sentence in document.sentences:
            digest.update(f"{sentence.id} {sentence.text}\n".encode())
    return digest.hexdigest()


def _usable(row: AIResult, ai: AISettings) -> bool:
    if row.status == "done":
        return True
    if row.status == "pending":
        age = datetime.now(UTC) - row.updated_at
        return age < timedelta(seconds=ai.timeout_s) + PENDING_GRACE
    return datetime.now(UTC) - row.updated_at < timedelta(seconds=10)  # errors retry soon


def _claim(
    session: Session,
    row: AIResult | None,
    request: Request,
    key: str,
    digest: str,
    language: str,
    provider: Provider,
) -> AIResult:
    """Mark the cache row pending (inserting it if new); a concurrent insert wins the race."""
    now = datetime.now(UTC)
    if row is None:
        row = AIResult(
            cache_key=key, target_type=request.target_type, target_id=request.target_id,
            feature=request.feature, language=language, question=request.question,
            provider=provider.name, model=provider.model, created_at=now,
        )  # fmt: skip
        session.add(row)
    row.text_hash, row.status, row.result, row.error, row.updated_at = (
        digest,
        "pending",
        None,
        None,
        now,
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = session.scalar(select(AIResult).where(AIResult.cache_key == key))
        if existing is None:
            raise
        return existing
    return row


def _as_run(row: AIResult) -> AIRun:
    if row.status == "error":
        kind = (row.result or {}).get("error_kind", "backend")
        return AIRun(row.id, "error", None, row.error, error_kind=kind)
    return AIRun(row.id, row.status, row.result if row.status == "done" else None)


def result_payload(answer: Answer, task: Task, provider: Provider) -> dict[str, Any]:
    """The contract's AI result: items with citations, and the text of every cited sentence."""
    text_of: dict[str, str] = {}
    article_of: dict[str, Document] = {}
    for document in task.all_documents():
        for sentence in document.sentences:
            text_of[sentence.id] = sentence.text
            article_of[sentence.id] = document
    cited = [cid for item in answer.items for cid in item.citations if cid in text_of]
    articles = {
        str(article_of[cid].article_id): {
            "title": article_of[cid].title,
            "publisher": article_of[cid].publisher,
            "url": f"/articles/{article_of[cid].article_id}",
        }
        for cid in cited
    }
    return {
        "feature": task.feature,
        "provider": provider.name,
        "model": provider.model,
        "language": task.language,
        "question": task.question,
        "items": [
            {
                "text": item.text,
                "citations": item.citations,
                "kind": item.kind,
                "outlets": item.outlets,
                "supported": item.supported,
            }
            for item in answer.items
        ],
        "note": answer.note,
        "sentences": {cid: text_of[cid] for cid in dict.fromkeys(cited)},
        "articles": articles,
    }


_services_lock = threading.Lock()


def ai_service_for(database: Database, settings: Settings) -> AIService:
    """The AI service of `database` (one job pool and rate limiter per Database object)."""
    with _services_lock:
        service = database.ai_service
        if not isinstance(service, AIService):
            service = database.ai_service = AIService(database, settings)
        return service
