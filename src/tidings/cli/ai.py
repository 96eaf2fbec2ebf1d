"""AI commands: summarise or question a single page, and configure the AI provider."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from tidings.ai.briefing import briefing_text, build_briefing, send_briefing
from tidings.ai.config import from_environment, load_ai_settings, make_provider, save_ai_settings
from tidings.ai.features import result_payload
from tidings.ai.provider import Document, Task
from tidings.ai.text import split_sentences
from tidings.cli.common import app, console, database_from_env, friendly_errors
from tidings.cli.extract import _extract_file, _is_url
from tidings.config import get_settings
from tidings.enrich.lang import detect_language
from tidings.errors import ExtractionError
from tidings.ingest.extract import ExtractedArticle, extract_article
from tidings.ingest.http import Fetcher

ai_app = typer.Typer(help="Show, configure and test the AI provider.", no_args_is_help=True)
app.add_typer(ai_app, name="ai")


def _page(target: str) -> ExtractedArticle:
    if not _is_url(target):
        return _extract_file(target)
    fetcher = Fetcher(get_settings())
    try:
        page = fetcher.fetch(target)
    finally:
        fetcher.close()
    return extract_article(page.text, page.url)


def _run_on_page(
    target: str, feature: str, question: str | None, language: str | None
) -> dict[str, Any]:
    """Extract one page and run an AI feature on it (not stored, not cached)."""
    page = _page(target)
    if not page.body:
        raise ExtractionError(f"{target}: no article text found")
    page_language = detect_language(f"{page.title or ''}\n{page.body}", page.language)
    document = Document(
        article_id=0,
        title=page.title or target,
        publisher=page.publisher or "",
        language=page_language,
        published_at=page.published_at or datetime.now(UTC),
        sentences=split_sentences(page.body),
    )
    task = Task(feature, "article", [document], language or page_language or "en", question)
    settings = get_settings()
    # Saved settings apply when a database exists; a lone page needs none.
    ai = load_ai_settings(database_from_env(settings), settings) if _has_database() else None
    provider = make_provider(ai or from_environment(settings))
    result = result_payload(provider.run(task), task, provider)
    result.pop("articles", None)
    return {"path" if not _is_url(target) else "url": target, **result}


def _has_database() -> bool:
    url = get_settings().database_url
    return not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).is_file()


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
        return
    if result.get("note"):
        console.print(f"[italic]{result['note']}[/italic]", highlight=False)
    for item in result["items"]:
        marks = "".join(f"[{cid}]" for cid in item["citations"])
        flag = "" if item["supported"] else "  (not supported by the cited text)"
        console.print(
            f"• {escape(item['text'])} [dim]{escape(marks + flag)}[/dim]", highlight=False
        )
    for cid, text in result["sentences"].items():
        console.print(f"  [dim]{cid}: {escape(text)}[/dim]", highlight=False)
    console.print(f"[dim]{result['provider']} · {result['model']}[/dim]", highlight=False)


@app.command()
@friendly_errors
def summarize(
    target: Annotated[str, typer.Argument(metavar="PATH_OR_URL", help="An HTML file or a URL")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the AI result object")] = False,
    key_points: Annotated[bool, typer.Option("--key-points", help="Key points instead")] = False,
    language: Annotated[str | None, typer.Option(help="Answer in this language (BCP 47)")] = None,
) -> None:
    """Summarise one page, citing its sentences (with the configured AI provider)."""
    feature = "key-points" if key_points else "summary"
    _print(_run_on_page(target, feature, None, language), as_json)


@app.command()
@friendly_errors
def ask(
    target: Annotated[str, typer.Argument(metavar="PATH_OR_URL", help="An HTML file or a URL")],
    question: Annotated[str, typer.Argument(help="The question")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the AI result object")] = False,
) -> None:
    """Answer a question about one page from its own sentences, or say it doesn't say."""
    _print(_run_on_page(target, "ask", question, None), as_json)


@ai_app.command("show")
@friendly_errors
def ai_show() -> None:
    """Print the AI provider in use and where its settings come from."""
    settings = get_settings()
    ai = load_ai_settings(database_from_env(settings), settings)
    console.print(f"{ai.describe()} (from the {ai.source}; timeout {ai.timeout_s:g} s, "
                  f"max tokens {ai.max_tokens})", highlight=False)  # fmt: skip


@ai_app.command("configure")
@friendly_errors
def ai_configure(
    provider: Annotated[str | None, typer.Option(help="builtin or openai")] = None,
    base_url: Annotated[str | None, typer.Option(help="e.g. http://127.0.0.1:11434/v1")] = None,
    model: Annotated[str | None, typer.Option(help="e.g. llama3.2")] = None,
    api_key: Annotated[str | None, typer.Option(help="API key, if the server needs one")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds per answer")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Tokens per answer")] = None,
    reset: Annotated[
        bool, typer.Option(help="Forget saved settings: follow the environment")
    ] = False,
) -> None:
    """Save AI provider settings in the database (they override TIDINGS_AI_*)."""
    settings = get_settings()
    database = database_from_env(settings)
    if reset:
        save_ai_settings(database, None)
    else:
        current = load_ai_settings(database, settings)
        changes: dict[str, Any] = {
            "provider": provider, "base_url": base_url, "model": model, "api_key": api_key,
            "timeout_s": timeout, "max_tokens": max_tokens,
        }  # fmt: skip
        updates = {key: value for key, value in changes.items() if value is not None}
        save_ai_settings(database, replace(current, **updates))
    ai_show()


@ai_app.command("test")
@friendly_errors
def ai_test() -> None:
    """Test the connection to the AI provider."""
    settings = get_settings()
    ai = load_ai_settings(database_from_env(settings), settings)
    console.print(make_provider(ai).check(), highlight=False)


@app.command()
@friendly_errors
def briefing(
    send_to: Annotated[
        list[str] | None, typer.Option("--send-to", help="E-mail it to this address (SMTP)")
    ] = None,
    base_url: Annotated[str, typer.Option(help="Where readers reach this Tidings")] = (
        "http://127.0.0.1:8000"
    ),
) -> None:
    """Print (or e-mail) today's briefing: top stories with their multi-source summaries."""
    settings = get_settings()
    built = build_briefing(database_from_env(settings), settings, wait_s=settings.ai_timeout_s)
    if send_to:
        send_briefing(settings, built, send_to, base_url.rstrip("/"))
        console.print(f"Sent the briefing ({len(built.stories)} stories) to {', '.join(send_to)}")
    else:
        console.print(briefing_text(built, base_url.rstrip("/")), highlight=False, markup=False)
