"""`tidings extract`: article text and metadata from files, folders or URLs."""

from __future__ import annotations

import gzip
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from tidings.cli.common import app, console, err_console, friendly_errors
from tidings.config import get_settings
from tidings.errors import InvalidInputError, TidingsError
from tidings.ingest.extract import ExtractedArticle, extract_article
from tidings.ingest.http import Fetcher, decode_body

PAGE_SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz")
Record = tuple[str, dict[str, Any] | None, str | None]


def _expand_targets(targets: list[str]) -> list[str]:
    """Targets with directories replaced by the pages inside them (recursively, sorted)."""
    expanded: list[str] = []
    for target in targets:
        path = Path(target)
        if not _is_url(target) and path.is_dir():
            pages = sorted(
                str(child)
                for child in path.rglob("*")
                if child.is_file() and child.name.lower().endswith(PAGE_SUFFIXES)
            )
            if not pages:
                raise InvalidInputError(f"{target}: no .html or .html.gz files in this directory")
            expanded.extend(pages)
        else:
            expanded.append(target)
    return expanded


def _is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


def _extract_file(target: str) -> ExtractedArticle:
    path = Path(target)
    if not path.is_file():
        raise InvalidInputError("no such file")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise InvalidInputError(f"not a valid gzip file ({error})") from error
    return extract_article(decode_body(raw))


def _extract_file_record(target: str) -> Record:
    """(target, record, None) or (target, None, error); runs in worker processes, never raises."""
    try:
        return target, {"path": target, **_extract_file(target).as_json()}, None
    except TidingsError as error:
        return target, None, str(error)


def _extract_records(targets: list[str], workers: int) -> Iterator[Record]:
    """Records in input order; many files are spread over `workers` processes."""
    files = [target for target in targets if not _is_url(target)]
    done: dict[str, Record] = {}
    if workers > 1 and len(files) > workers:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            for result in pool.map(_extract_file_record, files, chunksize=8):
                done[result[0]] = result
    fetcher: Fetcher | None = None
    try:
        for target in targets:
            if target in done:
                yield done[target]
            elif _is_url(target):
                fetcher = fetcher or Fetcher(get_settings())
                try:
                    page = fetcher.fetch(target)
                    yield (
                        target,
                        {"url": target, **extract_article(page.text, page.url).as_json()},
                        None,
                    )
                except TidingsError as error:
                    yield target, None, str(error)
            else:
                yield _extract_file_record(target)
    finally:
        if fetcher is not None:
            fetcher.close()


@app.command()
@friendly_errors
def extract(
    targets: Annotated[
        list[str],
        typer.Argument(
            help="HTML files (.html, .html.gz), folders of them, or URLs", metavar="PATH_OR_URL..."
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (an array for several pages)")
    ] = False,
    as_jsonl: Annotated[
        bool, typer.Option("--jsonl", help="Print one JSON object per line")
    ] = False,
    jobs: Annotated[int, typer.Option(help="Worker processes for many files (0: all cores)")] = 0,
) -> None:
    """Extract the article text and metadata from pages (files, folders or URLs)."""
    if as_json and as_jsonl:
        raise typer.BadParameter("use either --json or --jsonl")
    expanded = _expand_targets(targets)
    workers = jobs if jobs > 0 else (os.cpu_count() or 1)
    results: list[dict[str, Any]] = []
    failures = 0
    for target, record, error in _extract_records(expanded, workers):
        if record is None:
            failures += 1
            err_console.print(
                f"[red]error:[/red] {target}: {error}", highlight=False, soft_wrap=True
            )
        elif as_jsonl:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        elif as_json:
            results.append(record)
        else:
            _print_article(target, record)
    if as_json and results:
        single = len(expanded) == 1
        sys.stdout.write(
            json.dumps(results[0] if single else results, ensure_ascii=False, indent=2) + "\n"
        )
    if failures:
        raise typer.Exit(1)


def _print_article(target: str, record: dict[str, Any]) -> None:
    console.rule(f"[bold]{record['title'] or '(no title)'}")
    for key in ("publisher", "byline", "published_at", "language", "lead_image", "standfirst"):
        if record.get(key):
            console.print(f"[dim]{key}:[/dim] {record[key]}", highlight=False)
    for caption in record.get("captions") or []:
        console.print(f"[dim]caption:[/dim] {caption}", highlight=False)
    console.print(f"[dim]source:[/dim] {target}\n", highlight=False)
    console.print(record.get("body") or "[dim](no body text found)[/dim]", highlight=False)
