"""Long, coverage-guided fuzzing with atheris (libFuzzer) — part of `make soak`.

The property tests in tests/test_fuzz.py run a few hundred hypothesis examples on every
`make test`. Here the very same checks (each test's `hypothesis.inner_test`, so there is one
definition of every invariant) are driven by atheris for `--seconds` per target, with
coverage feedback from Tidings' own modules: libFuzzer mutates towards inputs that reach new
branches, which finds what a fixed alphabet of examples does not.

Each target runs in its own process (libFuzzer exits when done). A failing input is saved to
test-artifacts/fuzz/<target>/ and the script exits 1.

    python bench/fuzz.py                    # every target, 60 s each
    python bench/fuzz.py --seconds 10 comments urls
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "fuzz"

FEED_HEADS = [
    "",
    '<?xml version="1.0"?>',
    '<rss version="2.0"><channel>',
    '<feed xmlns="http://www.w3.org/2005/Atom">',
    '{"version": "https://jsonfeed.org/version/1.1", "items": [',
]
SCHEMES = ["http", "https", "HTTP", "HtTpS"]
SNIPPET_QUERIES = ["ferry", "fares rise", '"fare rise"', "渡輪", "fer", "加價 ferry"]


def _targets() -> dict[str, tuple[Callable[..., None], Callable[[Any], dict[str, Any]]]]:
    """name -> (the property test's own body, how to build its arguments from fuzz bytes)."""
    sys.path.insert(0, str(ROOT))
    from tests import test_fuzz as t

    def text(fdp: Any, size: int = 400) -> str:
        return str(fdp.ConsumeUnicodeNoSurrogates(size))

    def pick(fdp: Any, options: list[str]) -> str:
        return options[fdp.ConsumeIntInRange(0, len(options) - 1)]

    return {
        "urls": (
            t.test_canonicalisation_is_idempotent.hypothesis.inner_test,
            lambda fdp: {
                "scheme": pick(fdp, SCHEMES),
                "host": "news.example.org",
                "port": fdp.ConsumeIntInRange(0, 65535) or None,
                "rest": text(fdp, 80),
            },
        ),
        "feeds": (
            t.test_feed_parsing_either_parses_or_says_why.hypothesis.inner_test,
            lambda fdp: {"head": pick(fdp, FEED_HEADS), "body": text(fdp, 2000)},
        ),
        "sitemaps": (
            t.test_sitemap_parsing_either_parses_or_says_why.hypothesis.inner_test,
            lambda fdp: {"body": text(fdp, 2000)},
        ),
        "extraction": (
            t.test_extraction_never_crashes_and_never_keeps_markup.hypothesis.inner_test,
            lambda fdp: {"html": text(fdp, 3000)},
        ),
        "cleanup": (
            t.test_cleanup_invariants.hypothesis.inner_test,
            lambda fdp: {
                "title": text(fdp, 40),
                "blocks": [text(fdp, 120) for _ in range(fdp.ConsumeIntInRange(0, 12))],
            },
        ),
        "html-to-text": (
            t.test_html_to_text_is_plain.hypothesis.inner_test,
            lambda fdp: {"fragment": text(fdp, 2000)},
        ),
        "search-queries": (
            t.test_search_queries_are_never_interpreted.hypothesis.inner_test,
            lambda fdp: {"query": text(fdp, 200)},
        ),
        "snippets": (
            t.test_snippets_keep_the_text_and_mark_only_matches.hypothesis.inner_test,
            lambda fdp: {"query": pick(fdp, SNIPPET_QUERIES), "text": text(fdp, 1000)},
        ),
        "comments": (
            t.test_rendered_comments_never_carry_anything_executable.hypothesis.inner_test,
            lambda fdp: {"markdown": text(fdp, 1000)},
        ),
    }


def run_one(name: str, seconds: int) -> None:
    """Inside the child process: fuzz one target until libFuzzer's time is up."""
    import atheris

    with atheris.instrument_imports(include=["tidings", "feedparser", "markdown_it", "nh3"]):
        import tidings.comments.render
        import tidings.ingest.clean
        import tidings.ingest.extract
        import tidings.ingest.feeds
        import tidings.ingest.sitemaps
        import tidings.ingest.text
        import tidings.ingest.urls
        import tidings.search.query
        import tidings.search.snippets  # noqa: F401
    check, arguments = _targets()[name]

    def one_input(data: bytes) -> None:
        check(**arguments(atheris.FuzzedDataProvider(data)))

    out = ARTIFACTS / name
    out.mkdir(parents=True, exist_ok=True)
    atheris.Setup(
        [
            sys.argv[0],
            f"-max_total_time={seconds}",
            "-print_final_stats=1",
            "-rss_limit_mb=2048",
            "-timeout=20",
            f"-artifact_prefix={out}/",
        ],
        one_input,
    )
    atheris.Fuzz()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help="default: all")
    parser.add_argument("--seconds", type=int, default=60, help="per target")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_one(args.child, args.seconds)
        return 0
    names = args.targets or list(_targets())
    unknown = set(names) - set(_targets())
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    print(f"{'target':<16} {'runs':>10} {'runs/s':>8} {'edges':>7} {'peak MB':>8}  result")
    failed = 0
    for name in names:
        started = time.monotonic()
        child = subprocess.run(
            [sys.executable, __file__, "--child", name, "--seconds", str(args.seconds)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        elapsed = time.monotonic() - started
        log = child.stdout + child.stderr
        runs = _stat(log, r"stat::number_of_executed_units:\s+(\d+)")
        edges = _stat(log, r"\bcov: (\d+)", last=True)
        peak = _stat(log, r"stat::peak_rss_mb:\s+(\d+)")
        ok = child.returncode == 0
        failed += not ok
        result = "ok" if ok else f"FAILED (input saved in {ARTIFACTS / name})"
        print(f"{name:<16} {runs:>10} {runs / elapsed:>8.0f} {edges:>7} {peak:>8}  {result}")
        if not ok:
            print("\n".join(log.splitlines()[-40:]), file=sys.stderr)
    return 1 if failed else 0


def _stat(log: str, pattern: str, *, last: bool = False) -> int:
    found = re.findall(pattern, log)
    return int(found[-1] if last else found[0]) if found else 0


if __name__ == "__main__":
    sys.exit(main())
