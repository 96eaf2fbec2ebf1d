"""The AI provider interface: tasks in, cited items out, whichever backend answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from tidings.ai.text import Sentence
from tidings.errors import TidingsError

FEATURES = ("summary", "key-points", "explain", "ask", "translate")
STORY_FEATURES = ("summary", "key-points", "explain", "ask")
LANGUAGES = {
    "en": "English",
    "zh-Hant": "Traditional Chinese",
    "zh-Hans": "Simplified Chinese",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "ja": "Japanese",
    "ko": "Korean",
}
NOT_IN_ARTICLE = "The article doesn't say."
NOT_IN_COVERAGE = "The coverage doesn't say."


class AIError(TidingsError):
    """An AI feature could not produce a result."""


class ModelRequiredError(AIError):
    """The feature needs a language model and the built-in provider has none."""


class AIBackendError(AIError):
    """The configured model server is unreachable, slow or answered nonsense."""


@dataclass(frozen=True, slots=True)
class Document:
    """One article as the providers see it; its sentence ids carry the document's prefix."""

    article_id: int
    title: str
    publisher: str
    language: str | None
    published_at: datetime
    sentences: list[Sentence]


@dataclass(frozen=True, slots=True)
class Task:
    """What to do: `documents[0]` is the article (article scope) or the earliest coverage."""

    feature: str
    scope: str  # "article" | "story"
    documents: list[Document]
    language: str  # the language to answer in (BCP 47)
    question: str | None = None
    context: list[Document] = field(default_factory=list)  # earlier and related coverage

    def all_documents(self) -> list[Document]:
        return [*self.documents, *self.context]


@dataclass(slots=True)
class Item:
    """One summary sentence, key point, answer sentence or translated sentence."""

    text: str
    citations: list[str]
    kind: str | None = None  # "agreed" / "only" / "differ" (story summary), "background", …
    outlets: list[str] = field(default_factory=list)
    supported: bool = True


@dataclass(slots=True)
class Answer:
    items: list[Item]
    note: str | None = None  # e.g. "The article doesn't say." or why a result is partial


class Provider(Protocol):
    """A backend for the AI features; `run` must cite sentence ids from the task."""

    name: str
    model: str

    def run(self, task: Task) -> Answer: ...

    def check(self) -> str:
        """Test the connection: a one-line description of what answered, or raise AIError."""
        ...


def language_name(code: str | None) -> str:
    return LANGUAGES.get(code or "", code or "the article's language")


def same_language(first: str | None, second: str | None) -> bool:
    """True when two BCP 47 tags name the same written language (zh-Hant ≠ zh-Hans)."""
    if not first or not second:
        return True
    if first.startswith("zh") or second.startswith("zh"):
        return first == second
    return first.split("-")[0] == second.split("-")[0]
