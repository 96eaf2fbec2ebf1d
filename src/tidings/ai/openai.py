"""The OpenAI-compatible provider: Ollama, llama.cpp's server, vLLM, LM Studio or OpenAI.

It talks through the official `openai` client (base URL, key, timeout) and streams the
completion so that a slow server is cut off at the configured deadline rather than at the
client's per-read timeout. The prompt numbers every source sentence with its id and asks for
one line per point ending with the ids it rests on; `grounding.validate` checks them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import openai as openai_sdk
from openai.types.chat import ChatCompletionMessageParam

from tidings.ai.grounding import parse_lines, validate
from tidings.ai.provider import (
    NOT_IN_ARTICLE,
    NOT_IN_COVERAGE,
    AIBackendError,
    Answer,
    Document,
    Item,
    Task,
    language_name,
)

PROMPT_VERSION = "1"
SYSTEM = (
    "You are the news assistant of a news reader. You only use the numbered source sentences "
    "you are given. End every line you write with the ids of the sentences it rests on, in "
    "square brackets, like [s3] or [a12s4]. Write plain text, one point per line, no preamble."
)
INSTRUCTIONS = {
    "summary": "Summarise the article in 2 or 3 sentences.",
    "key-points": "List the 3 to 5 key points of the article, one per line.",
    "explain": (
        "Explain the background a newcomer needs to understand the article, in 2 to 4 lines, "
        "using the earlier and related coverage."
    ),
    "ask": "Answer the question using only the sources. If they do not contain the answer, "
    "reply exactly: {not_found}",
    "translate": "Translate every sentence into {language}. Write one line per sentence, "
    "each ending with the id of the sentence it translates.",
}
STORY_SUMMARY = (
    "Several outlets covered the same story. Write 3 to 5 lines: start a line with "
    "'Agreed:' for what several outlets report, 'Only:' for what one outlet alone reports, "
    "'Differ:' where their accounts disagree. Cite the sentences of every outlet you mean."
)


@dataclass(frozen=True, slots=True)
class OpenAIConfig:
    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 60.0
    max_tokens: int = 512
    max_source_chars: int = 12_000  # source text per prompt


class OpenAIProvider:
    """Any server that speaks the OpenAI chat-completions API."""

    name = "openai"

    def __init__(self, config: OpenAIConfig) -> None:
        self.config = config
        self.model = config.model
        self._client = openai_sdk.OpenAI(
            base_url=config.base_url,
            api_key=config.api_key or "not-needed",  # local servers ignore it
            timeout=config.timeout_s,
            max_retries=0,  # the caller decides; a retry would double the wait
        )

    def check(self) -> str:
        try:
            models = [model.id for model in self._client.models.list()]
        except openai_sdk.APIError as error:
            raise self._backend_error(error) from error
        served = ", ".join(models[:5]) or "no models listed"
        ping: list[ChatCompletionMessageParam] = [
            {"role": "user", "content": "Reply with the word: ready"}
        ]
        reply = self.complete(ping, 8)
        return f"{self.config.base_url} answered (models: {served}); {self.model} said {reply!r}"

    def run(self, task: Task) -> Answer:
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": prompt(task, self.config.max_source_chars)},
        ]
        source_chars = sum(len(s.text) for d in task.all_documents() for s in d.sentences)
        max_tokens = self.config.max_tokens
        if task.feature == "translate":  # a translation is as long as its source
            budget = min(source_chars, self.config.max_source_chars)
            max_tokens = max(max_tokens, min(4096, budget // 2))
        text = self.complete(messages, max_tokens)
        not_found = NOT_IN_ARTICLE if task.scope == "article" else NOT_IN_COVERAGE
        if task.feature == "ask" and _says_not_found(text):
            return Answer([], note=not_found)
        items = _with_kinds(parse_lines(text)) if task.scope == "story" else parse_lines(text)
        answer = validate(Answer(items), task)
        if source_chars > self.config.max_source_chars and answer.note is None:
            answer.note = "The sources were shortened to fit the model's context."
        if not answer.items:
            raise AIBackendError(f"The model at {self.config.base_url} returned no usable text.")
        return answer

    def complete(self, messages: list[ChatCompletionMessageParam], max_tokens: int) -> str:
        """Stream a chat completion, giving up at the deadline; the text of the reply."""
        deadline = time.monotonic() + self.config.timeout_s
        parts: list[str] = []
        try:
            stream = self._client.chat.completions.create(
                model=self.model,
                messages=messages,
                max_tokens=max_tokens,
                temperature=0.2,
                stream=True,
            )
            with stream:
                for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        parts.append(chunk.choices[0].delta.content)
                    if time.monotonic() > deadline:
                        raise AIBackendError(
                            f"AI backend at {self.config.base_url} is too slow: no complete "
                            f"answer within {self.config.timeout_s:g} s"
                        )
        except openai_sdk.APIError as error:
            raise self._backend_error(error) from error
        return "".join(parts).strip()

    def _backend_error(self, error: openai_sdk.APIError) -> AIBackendError:
        url = self.config.base_url
        if isinstance(error, openai_sdk.APITimeoutError):
            return AIBackendError(
                f"AI backend at {url} timed out after {self.config.timeout_s:g} s"
            )
        if isinstance(error, openai_sdk.APIConnectionError):
            cause = error.__cause__
            reason = _root_reason(cause) if cause else "connection failed"
            return AIBackendError(f"AI backend unreachable at {url}: {reason}")
        if isinstance(error, openai_sdk.APIStatusError):
            detail = _status_detail(error.body) or error.message
            return AIBackendError(f"AI backend at {url} answered {error.status_code}: {detail}")
        return AIBackendError(f"AI backend at {url} failed: {error}")


def _root_reason(error: BaseException) -> str:
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    text = str(error)
    if "refused" in text.lower():
        return "connection refused"
    return text or type(error).__name__


def _status_detail(body: object) -> str | None:
    if isinstance(body, dict):
        inner: Any = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("message") or "") or None
        return str(inner)
    return None


def _says_not_found(text: str) -> bool:
    flat = text.lower().replace("’", "'")
    return "doesn't say" in flat or "does not say" in flat or "not mentioned" in flat


def _with_kinds(items: list[Item]) -> list[Item]:
    for item in items:
        head, _, rest = item.text.partition(":")
        kind = head.strip().lower()
        if kind in ("agreed", "only", "differ") and rest.strip():
            item.kind, item.text = kind, rest.strip()
    return items


def _sources(documents: list[Document], label: str, budget: int) -> tuple[list[str], int]:
    lines: list[str] = []
    for document in documents:
        lines.append(f"{label}: {document.title} ({document.publisher}, "
                     f"{document.published_at:%Y-%m-%d})")  # fmt: skip
        for sentence in document.sentences:
            line = f"[{sentence.id}] {sentence.text}"
            if budget - len(line) < 0:
                return lines, 0
            budget -= len(line)
            lines.append(line)
    return lines, budget


def prompt(task: Task, max_source_chars: int = 12_000) -> str:
    """The user message for a task: instructions, then the numbered source sentences."""
    if task.scope == "story" and task.feature == "summary":
        instruction = STORY_SUMMARY
    else:
        instruction = INSTRUCTIONS[task.feature].format(
            not_found=NOT_IN_ARTICLE if task.scope == "article" else NOT_IN_COVERAGE,
            language=language_name(task.language),
        )
    label = "Article" if task.scope == "article" else "Coverage"
    lines, budget = _sources(task.documents, label, max_source_chars)
    if task.context and budget:
        lines.extend(_sources(task.context, "Earlier or related coverage", budget)[0])
    parts = [instruction]
    if task.feature != "translate":
        parts.append(f"Write in {language_name(task.language)}.")
    if task.question:
        parts.append(f"Question: {task.question}")
    return "\n".join([*parts, "", "Sources:", *lines])
