"""Benchmark: the AI features: latency per feature, citation validity, summary quality.

Three parts, printed in one run as Markdown tables:

1. Latency of every feature with the built-in provider over the whole demo corpus (all
   articles; the stories that several outlets covered) beside the OpenAI-compatible
   provider talking to a real local model (llama.cpp serving Gemma 3 270M, as the tests
   do) on a small sample, with the validity of the model's citations. Providers are called
   directly, without the result cache; "sources" is the time to read the task from the
   database (for "explain" it includes finding related articles).
2. Summary quality: ROUGE-1/2/L F1 of the built-in summary and of the Lead-3 baseline
   against reference summaries. We have no CNN/DailyMail here, so the references are the
   human-written meta descriptions (og:description, description, twitter:description) of
   the 181 news pages of the article-extraction-benchmark (MIT, ScrapingHub), whose
   ground-truth bodies are the articles. `--rouge FILE.jsonl` scores a held-out set such as
   CNN/DailyMail instead ({"article": ..., "highlights": ...} per line).
3. For a person to judge: built-in summaries beside the first three sentences (`--show N`).

ROUGE comes from Google's `rouge-score` package (pip install rouge-score) when installed,
with the Porter stemmer, ROUGE-L at summary level (sentences on separate lines, as pyrouge
computed the published figures); without it a compact implementation here is used and the
output says so.

The model part runs target by target and starts no request after `--model-budget` seconds
(200): on a busy 2-core machine Gemma 3 270M generates at 2-15 tokens/s instead of ~38,
and the whole run should stay near five minutes.

Usage: python bench/ai.py [--no-model | --model-url URL --model NAME] [--samples 5 3]
       [--max-tokens 96] [--model-budget 200] [--rouge FILE.jsonl] [--show 8]
       [--database URL]
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import importlib.metadata
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import lxml.etree
import lxml.html
import numpy as np
from openai.types.chat import ChatCompletionMessageParam
from sqlalchemy import select

from tidings.ai.builtin import BuiltinProvider
from tidings.ai.grounding import parse_lines
from tidings.ai.openai import OpenAIConfig, OpenAIProvider
from tidings.ai.provider import AIError, Answer, Document, Provider, Task
from tidings.ai.sources import article_task, story_task
from tidings.ai.text import split_sentences
from tidings.config import get_settings
from tidings.db.migrate import upgrade
from tidings.db.models import Article, Story
from tidings.db.session import Database
from tidings.enrich.lang import detect_language
from tidings.enrich.service import Enricher, enricher_for

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PAGES = ROOT.parent / "shared" / "data" / "article-extraction-benchmark"
QUESTIONS = {"en": "What happened?", "zh": "發生了什麼事？"}
ARTICLE_FEATURES = ("summary", "key-points", "explain", "ask", "translate")
STORY_FEATURES = ("summary", "key-points", "explain", "ask")
MODEL_ARTICLE_FEATURES = ("summary", "key-points", "ask", "translate")
MODEL_STORY_FEATURES = ("summary", "key-points", "ask")
QUOTED = ("summary", "key-points", "ask")  # the built-in provider quotes sentences as they are
MIN_DESCRIPTION_WORDS = 8
PUBLISHED_LEAD3 = "Lead-3 ROUGE-1 on CNN/DM (published): 40.3 (See et al., 2017: 40.34/17.70/36.57)"


def question_for(language: str | None) -> str:
    return QUESTIONS["zh" if (language or "").startswith("zh") else "en"]


def translate_target(language: str | None) -> str | None:
    """The target the built-in provider can reach: the other Chinese script, else none."""
    return {"zh-Hant": "zh-Hans", "zh-Hans": "zh-Hant"}.get(language or "")


# --- the demo corpus --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_demo(folder: Path) -> str:
    """Build the demo corpus (160 articles) in `folder`; its database URL."""
    command = Path(sys.executable).with_name("tidings")
    subprocess.run(
        [str(command), "demo", "--no-serve", "--publisher-port", str(free_port())],
        cwd=folder,
        check=True,
        stdout=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")},
    )
    return f"sqlite:///{folder / 'tidings.db'}"


@dataclass(frozen=True, slots=True)
class Job:
    """One request: a target, a feature and what it needs."""

    scope: str  # "article" | "story"
    target: int
    feature: str
    language: str | None = None
    question: str | None = None

    @property
    def label(self) -> str:
        suffix = f" →{self.language}" if self.feature == "translate" else ""
        return f"{self.scope} {self.feature}{suffix}"


def jobs_for(
    articles: list[tuple[int, str | None]],
    stories: list[tuple[int, str | None]],
    article_features: tuple[str, ...],
    story_features: tuple[str, ...],
    translate: Callable[[str | None], str | None],
) -> list[Job]:
    jobs: list[Job] = []
    for feature in article_features:
        for article_id, language in articles:
            if feature == "translate":
                target = translate(language)
                if target:
                    jobs.append(Job("article", article_id, feature, target))
            else:
                question = question_for(language) if feature == "ask" else None
                jobs.append(Job("article", article_id, feature, None, question))
    for feature in story_features:
        for story_id, language in stories:
            question = question_for(language) if feature == "ask" else None
            jobs.append(Job("story", story_id, feature, None, question))
    return jobs


def build_task(database: Database, enricher: Enricher, job: Job) -> Task:
    with database.session() as session:
        if job.scope == "story":
            return story_task(session, job.target, job.feature, job.language, job.question)
        helper = enricher if job.feature == "explain" else None
        return article_task(session, job.target, job.feature, job.language, job.question, helper)


# --- latency ----------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    job: Job
    sources_ms: float
    run_ms: float
    answer: Answer | None
    error: str | None = None
    raw_citations: int = 0  # ids the model wrote (before validation)
    quotes: int = 0  # extractive items (built-in summary, key points, answers) ...
    altered: int = 0  # ... whose text is not, character for character, a source sentence


@dataclass(slots=True)
class Citations:
    items: int = 0
    cited: int = 0  # items with at least one valid citation
    supported: int = 0  # ... and sharing words with what they cite (grounding.validate)
    written: int = 0  # citation ids the model wrote
    valid: int = 0  # of those, ids that exist in the sources


class RecordingProvider(OpenAIProvider):
    """The OpenAI-compatible provider, keeping the raw text of its last reply."""

    last_text: str = ""

    def complete(self, messages: list[ChatCompletionMessageParam], max_tokens: int) -> str:
        self.last_text = super().complete(messages, max_tokens)
        return self.last_text


def interleaved(jobs: list[Job]) -> list[Job]:
    """Target by target (all features of one before the next), articles and stories taking
    turns: a run cut short by its time budget still covers every feature."""
    groups: dict[tuple[str, int], list[Job]] = {}
    for job in jobs:
        groups.setdefault((job.scope, job.target), []).append(job)
    articles = [group for (scope, _), group in groups.items() if scope == "article"]
    stories = [group for (scope, _), group in groups.items() if scope == "story"]
    ordered: list[Job] = []
    for turn in range(max(len(articles), len(stories))):
        for side in (articles, stories):
            if turn < len(side):
                ordered.extend(side[turn])
    return ordered


def run_jobs(
    database: Database,
    enricher: Enricher,
    provider: Provider,
    jobs: list[Job],
    budget_s: float | None = None,
) -> list[Outcome]:
    """Each job's sources and provider run, timed; jobs not started within `budget_s` are left."""
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + budget_s if budget_s is not None else None
    for job in jobs:
        if deadline is not None and time.monotonic() > deadline:
            break
        began = time.perf_counter()
        task = build_task(database, enricher, job)
        built = time.perf_counter()
        answer, error = None, None
        if isinstance(provider, RecordingProvider):
            provider.last_text = ""
        try:
            answer = provider.run(task)
        except AIError as failure:
            error = str(failure)
        done = time.perf_counter()
        outcome = Outcome(job, (built - began) * 1000, (done - built) * 1000, answer, error)
        if isinstance(provider, RecordingProvider):
            outcome.raw_citations = sum(len(i.citations) for i in parse_lines(provider.last_text))
        if isinstance(provider, BuiltinProvider) and answer is not None and job.feature in QUOTED:
            texts = {s.text for document in task.all_documents() for s in document.sentences}
            quoted = [item for item in answer.items if item.kind != "differ"]
            outcome.quotes = len(quoted)
            outcome.altered = sum(item.text not in texts for item in quoted)
        outcomes.append(outcome)
    return outcomes


def by_label(outcomes: list[Outcome]) -> dict[str, list[Outcome]]:
    grouped: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        grouped.setdefault(outcome.job.label, []).append(outcome)
    return grouped


def percentiles(values: list[float]) -> str:
    if not values:
        return "– | – | –"
    p50, p95 = np.percentile(values, [50, 95])
    return f"{p50:.1f} | {p95:.1f} | {max(values):.1f}"


def latency_table(builtin: list[Outcome], model: list[Outcome], model_name: str) -> str:
    left, right = by_label(builtin), by_label(model)
    lines = [
        f"| feature | built-in n | p50 ms | p95 ms | max ms | sources p50 ms | {model_name} n "
        "| p50 ms | p95 ms | max ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label in dict.fromkeys([*left, *right]):
        mine, theirs = left.get(label, []), right.get(label, [])
        sources = f"{np.median([o.sources_ms for o in mine]):.1f}" if mine else "–"
        ok = [o.run_ms for o in theirs if o.error is None]
        lines.append(
            f"| {label} | {len(mine) or '–'} | {percentiles([o.run_ms for o in mine])} "
            f"| {sources} | {len(theirs) or '–'} | {percentiles(ok) if theirs else '– | – | –'} "
            f"| {sum(o.error is not None for o in theirs) if theirs else '–'} |"
        )
    return "\n".join(lines)


def answer_notes(outcomes: list[Outcome]) -> str:
    """How often ask found an answer, and other per-feature facts worth a line."""
    lines: list[str] = []
    for label, group in by_label(outcomes).items():
        answered = [o for o in group if o.answer is not None and o.answer.items]
        notes = Counter(o.answer.note for o in group if o.answer is not None and o.answer.note)
        errors = Counter((o.error or "")[:90] for o in group if o.error)
        sizes = [len(o.answer.items) for o in answered if o.answer is not None]
        text = f"- {label}: {len(answered)}/{len(group)} with items"
        if sizes:
            text += f" (items per answer {min(sizes)}–{max(sizes)})"
        kinds = Counter(i.kind for o in answered if o.answer is not None for i in o.answer.items)
        if set(kinds) - {None}:
            text += "; kinds: " + ", ".join(f"{k} {c}" for k, c in kinds.most_common())
            mirrored = sum(_mirrored(o.answer) for o in answered if o.answer is not None)
            if kinds["differ"]:
                text += f" ({mirrored} 'differ' items repeat a pair the other way round)"
        quotes = sum(o.quotes for o in group)
        if quotes:
            altered = sum(o.altered for o in group)
            text += f"; quotes not verbatim: {altered}/{quotes}"
        if notes:
            text += "; notes: " + ", ".join(f"{n!r} ×{c}" for n, c in notes.most_common(3))
        if errors:
            text += "; errors: " + ", ".join(f"{e!r} ×{c}" for e, c in errors.most_common(2))
        lines.append(text)
    return "\n".join(lines)


def _mirrored(answer: Answer) -> int:
    pairs = [frozenset(item.citations) for item in answer.items if item.kind == "differ"]
    return len(pairs) - len(set(pairs))


def citations(outcomes: list[Outcome]) -> dict[str, Citations]:
    table: dict[str, Citations] = {}
    for label, group in by_label(outcomes).items():
        row = table[label] = Citations()
        for outcome in group:
            row.written += outcome.raw_citations
            if outcome.answer is None:
                continue
            for item in outcome.answer.items:
                row.items += 1
                row.valid += len(item.citations)
                row.cited += bool(item.citations)
                row.supported += item.supported
    return table


def citation_table(outcomes: list[Outcome]) -> str:
    def share(part: int, whole: int) -> str:
        return f"{part}/{whole} ({100 * part / whole:.0f}%)" if whole else "–"

    lines = [
        "| feature | runs | errors | items | ≥1 valid citation | supported | valid ids written |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    total = Citations()
    for label, row in citations(outcomes).items():
        group = [o for o in outcomes if o.job.label == label]
        errors = sum(o.error is not None for o in group)
        lines.append(
            f"| {label} | {len(group)} | {errors} | {row.items} | {share(row.cited, row.items)} "
            f"| {share(row.supported, row.items)} | {share(row.valid, row.written)} |"
        )
        for name in ("items", "cited", "supported", "written", "valid"):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    errors = sum(o.error is not None for o in outcomes)
    lines.append(
        f"| **all** | {len(outcomes)} | {errors} | {total.items} "
        f"| {share(total.cited, total.items)} | {share(total.supported, total.items)} "
        f"| {share(total.valid, total.written)} |"
    )
    return "\n".join(lines)


# --- ROUGE ------------------------------------------------------------------------------


def _tokens(text: str) -> list[str]:
    import snowballstemmer  # type: ignore[import-untyped]

    stem = snowballstemmer.stemmer("english").stemWord
    return [stem(w) if len(w) > 3 else w for w in re.findall(r"[a-z0-9]+", text.lower())]


def _lcs(first: list[str], second: list[str]) -> int:
    previous = [0] * (len(second) + 1)
    for a in first:
        current = [0]
        for j, b in enumerate(second):
            current.append(previous[j] + 1 if a == b else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def _f1(overlap: float, candidate: int, reference: int) -> float:
    if not overlap or not candidate or not reference:
        return 0.0
    precision, recall = overlap / candidate, overlap / reference
    return 2 * precision * recall / (precision + recall)


def own_rouge(candidate: str, reference: str) -> tuple[float, float, float]:
    """ROUGE-1/2 F1 and ROUGE-L F1 (LCS over the whole texts): the fallback."""
    cand, ref = _tokens(candidate), _tokens(reference)
    scores = []
    for n in (1, 2):
        c = Counter(tuple(cand[i : i + n]) for i in range(len(cand) - n + 1))
        r = Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n + 1))
        scores.append(_f1(sum((c & r).values()), sum(c.values()), sum(r.values())))
    scores.append(_f1(_lcs(cand, ref), len(cand), len(ref)))
    return scores[0], scores[1], scores[2]


def rouge_function() -> tuple[Callable[[list[str], list[str]], tuple[float, float, float]], str]:
    """A scorer of (candidate sentences, reference sentences) → R1, R2, RL F1; its name."""
    try:
        from rouge_score import rouge_scorer  # type: ignore[import-untyped]
    except ImportError:

        def fallback(candidate: list[str], reference: list[str]) -> tuple[float, float, float]:
            return own_rouge(" ".join(candidate), " ".join(reference))

        return fallback, (
            "own implementation (rouge-score not installed): Snowball stemmer, "
            "ROUGE-L over the whole text"
        )
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"], use_stemmer=True)

    def score(candidate: list[str], reference: list[str]) -> tuple[float, float, float]:
        result = scorer.score("\n".join(reference), "\n".join(candidate))
        return (
            result["rouge1"].fmeasure,
            result["rouge2"].fmeasure,
            result["rougeLsum"].fmeasure,
        )

    version = importlib.metadata.version("rouge-score")
    return score, f"rouge-score {version} (Google), Porter stemmer, ROUGE-L = rougeLsum"


@dataclass(slots=True)
class Pair:
    """A body and its reference summary (sentences)."""

    name: str
    body: str
    reference: list[str]


@dataclass(slots=True)
class Pairs:
    pairs: list[Pair]
    skipped: Counter[str] = field(default_factory=Counter)
    source: str = ""
    note: str | None = None


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


def _description(html: str) -> str | None:
    try:
        tree = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return None
    paths = (
        "//meta[@property='og:description']/@content",
        "//meta[@name='description']/@content",
        "//meta[@name='twitter:description']/@content",
        "//meta[@property='twitter:description']/@content",
    )
    for path in paths:
        values = tree.xpath(path)
        for value in values if isinstance(values, list) else []:
            text = " ".join(str(value).split())
            if text:
                return text
    return None


def description_pairs(folder: Path) -> Pairs:
    truth = json.loads((folder / "ground-truth.json").read_text())
    result = Pairs(
        [],
        source=f"{folder.name}: meta descriptions of {len(truth)} pages",
        note="Note: a page's description is written to sell the article from its opening, so "
        "these references favour the lead (Lead-3) over any summariser that looks further in.",
    )
    for name in sorted(truth):
        body = truth[name]["articleBody"]
        with gzip.open(folder / "html" / f"{name}.html.gz", "rt", encoding="utf-8") as page:
            description = _description(page.read())
        sentences = split_sentences(body)
        if not description:
            result.skipped["no description"] += 1
            continue
        if len(description.split()) < MIN_DESCRIPTION_WORDS:
            result.skipped[f"description under {MIN_DESCRIPTION_WORDS} words"] += 1
            continue
        if detect_language(body) != "en":
            result.skipped["body not in English"] += 1
            continue
        if len(sentences) < 4:
            result.skipped["body under 4 sentences"] += 1
            continue
        stem = _normal(description.rstrip(".… "))
        if _normal(sentences[0].text).startswith(stem):
            result.skipped["description = prefix of the first sentence"] += 1
            continue
        if _normal(body).startswith(stem):
            result.skipped["description = the body's opening sentences"] += 1
            continue
        reference = [s.text for s in split_sentences(description)]
        result.pairs.append(Pair(name, body, reference))
    return result


def jsonl_pairs(path: Path) -> Pairs:
    result = Pairs([], source=f"{path.name}")
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            record = json.loads(line)
            highlights = [h.strip() for h in str(record["highlights"]).splitlines() if h.strip()]
            if not highlights or not str(record["article"]).strip():
                result.skipped["empty article or highlights"] += 1
                continue
            result.pairs.append(Pair(str(number), str(record["article"]), highlights))
    return result


def as_document(body: str, language: str = "en") -> Document:
    return Document(0, "", "", language, datetime(2020, 1, 1, tzinfo=UTC), split_sentences(body))


def builtin_summary(provider: BuiltinProvider, body: str) -> list[str]:
    task = Task("summary", "article", [as_document(body)], "en")
    return [item.text for item in provider.run(task).items]


def rouge_report(pairs: Pairs) -> str:
    score, tool = rouge_function()
    provider = BuiltinProvider()
    systems: dict[str, list[tuple[float, float, float]]] = {"built-in": [], "Lead-3": []}
    words: dict[str, list[int]] = {"built-in": [], "Lead-3": [], "reference": []}
    same, took = 0, 0.0
    for pair in pairs.pairs:
        sentences = split_sentences(pair.body)
        lead = [s.text for s in sentences[:3]]
        began = time.perf_counter()
        mine = builtin_summary(provider, pair.body)
        took += time.perf_counter() - began
        same += mine == lead
        systems["built-in"].append(score(mine, pair.reference))
        systems["Lead-3"].append(score(lead, pair.reference))
        words["built-in"].append(sum(len(s.split()) for s in mine))
        words["Lead-3"].append(sum(len(s.split()) for s in lead))
        words["reference"].append(sum(len(s.split()) for s in pair.reference))
    kept, skipped = len(pairs.pairs), sum(pairs.skipped.values())
    reasons = ", ".join(f"{reason} {count}" for reason, count in pairs.skipped.most_common())
    lines = [
        f"References: {pairs.source}; kept {kept}, skipped {skipped}"
        + (f" ({reasons})" if reasons else ""),
        f"ROUGE: {tool}. Mean reference length {np.mean(words['reference']):.0f} words.",
        "",
        "| system | ROUGE-1 F1 | ROUGE-2 F1 | ROUGE-L F1 | mean words |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, rows in systems.items():
        means = 100 * np.mean(np.array(rows), axis=0) if rows else np.zeros(3)
        lines.append(
            f"| {name} | {means[0]:.1f} | {means[1]:.1f} | {means[2]:.1f} "
            f"| {np.mean(words[name]):.0f} |"
        )
    if kept:
        ours = np.array([row[0] for row in systems["built-in"]])
        lead3 = np.array([row[0] for row in systems["Lead-3"]])
        low, high = _bootstrap(ours - lead3)
        lines += [
            "",
            f"Built-in − Lead-3, ROUGE-1: {100 * (ours - lead3).mean():+.1f} points "
            f"(95% bootstrap CI {100 * low:+.1f} to {100 * high:+.1f}); built-in higher on "
            f"{int((ours > lead3).sum())}, lower on {int((ours < lead3).sum())} of {kept}; "
            f"identical to Lead-3 on {same}. Built-in summary {1000 * took / kept:.1f} ms/article "
            "(sentence splitting included).",
        ]
    lines.append(PUBLISHED_LEAD3 + " — for scale only: different references, different data.")
    if pairs.note:
        lines.append(pairs.note)
    return "\n".join(lines)


def _bootstrap(differences: np.ndarray, rounds: int = 2000) -> tuple[float, float]:
    generator = np.random.default_rng(0)
    picks = generator.integers(0, len(differences), (rounds, len(differences)))
    means = differences[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


# --- for a person to judge ----------------------------------------------------------------


def show_summaries(database: Database, articles: list[tuple[int, str | None]], count: int) -> str:
    if count <= 0 or not articles:
        return ""
    step = max(1, len(articles) // count)
    chosen = articles[::step][:count]
    provider = BuiltinProvider()
    blocks: list[str] = []
    with database.session() as session:
        for article_id, _language in chosen:
            task = article_task(session, article_id, "summary", None, None)
            document = task.documents[0]
            answer = provider.run(task)
            ids = [cid for item in answer.items for cid in item.citations]
            lead = document.sentences[:3]
            verdict = "same as lead-3" if ids == [s.id for s in lead] else "differs"
            blocks.append(
                f"### {document.title} ({document.publisher}, {document.language}, "
                f"{len(document.sentences)} sentences; {verdict})\n\n"
                f"- **built-in** ({', '.join(ids)}): "
                + " ".join(item.text for item in answer.items)
                + f"\n- **first three** ({', '.join(s.id for s in lead)}): "
                + " ".join(s.text for s in lead)
            )
    return "\n\n".join(blocks)


# --- main -------------------------------------------------------------------------------


@contextmanager
def model_server(args: argparse.Namespace) -> Iterator[tuple[str, str] | None]:
    """(base URL, model) of the server to use, or None (with the reason printed)."""
    if args.no_model:
        yield None
        return
    if args.model_url:
        yield args.model_url, args.model
        return
    sys.path.insert(0, str(ROOT))
    server = importlib.import_module("tests.llm_server")  # the tests' real llama.cpp server
    reason = server.llm_available()
    if reason:
        print(f"(model skipped: {reason})")
        yield None
        return
    began = time.monotonic()
    with server.running_llm_server() as base_url:
        print(f"llama.cpp server ({server.MODEL_ID}) ready in {time.monotonic() - began:.1f} s")
        yield base_url, server.MODEL_ID


def sample(rows: list[tuple[int, str | None]], count: int) -> list[tuple[int, str | None]]:
    """`count` rows spread over the list, at least one Chinese where there is one."""
    if count <= 0:
        return []
    step = max(1, len(rows) // count)
    chosen = rows[::step][:count]
    chinese = [row for row in rows if (row[1] or "").startswith("zh")]
    if chinese and not any((row[1] or "").startswith("zh") for row in chosen):
        chosen[-1] = chinese[len(chinese) // 2]
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", help="an existing demo database URL (default: build one)")
    parser.add_argument("--no-model", action="store_true", help="skip the model server")
    parser.add_argument("--model-url", help="an OpenAI-compatible base URL (…/v1) to use")
    parser.add_argument("--model", default="gemma-3-270m", help="model name for --model-url")
    parser.add_argument(
        "--samples", nargs=2, type=int, default=[5, 3], metavar=("ARTICLES", "STORIES")
    )
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--timeout", type=float, default=120.0, help="per model request, s")
    parser.add_argument(
        "--model-budget",
        type=float,
        default=200.0,
        help="start no model run after this many seconds (keeps the run near 5 minutes)",
    )
    parser.add_argument("--rouge", type=Path, help="JSONL of {article, highlights} references")
    parser.add_argument("--pages", type=Path, default=DEFAULT_PAGES)
    parser.add_argument("--show", type=int, default=8, help="summaries to print for judging")
    args = parser.parse_args()

    started = time.monotonic()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )
    with tempfile.TemporaryDirectory(prefix="tidings-bench-ai-") as folder:
        url = args.database
        if url is None:
            url = make_demo(Path(folder))
            print(f"demo corpus built in {time.monotonic() - started:.1f} s")
        settings = get_settings(database_url=url)
        database = Database(url)
        upgrade(database)
        began = time.perf_counter()
        enricher = enricher_for(database, settings)
        print(
            f"enricher (indexes for related articles) loaded in {time.perf_counter() - began:.1f} s"
        )
        with database.session() as session:
            articles = [
                (r.id, r.language) for r in session.scalars(select(Article).order_by(Article.id))
            ]
            languages = dict(articles)
            stories = [
                (s.id, languages.get(s.lead_article_id or -1))
                for s in session.scalars(
                    select(Story).where(Story.source_count >= 2).order_by(Story.id)
                )
            ]
        print(
            f"corpus: {len(articles)} articles ({dict(Counter(lang for _, lang in articles))}), "
            f"{len(stories)} stories with ≥2 outlets"
        )

        builtin = BuiltinProvider()
        warm = jobs_for(sample(articles, 2), [], ARTICLE_FEATURES, (), translate_target)
        began = time.perf_counter()
        run_jobs(database, enricher, builtin, warm)  # jieba's dictionary, OpenCC, numpy
        print(
            f"warm-up ({len(warm)} built-in runs, loads jieba/OpenCC): {time.perf_counter() - began:.1f} s"
        )
        jobs = jobs_for(articles, stories, ARTICLE_FEATURES, STORY_FEATURES, translate_target)
        builtin_runs = run_jobs(database, enricher, builtin, jobs)

        model_runs: list[Outcome] = []
        model_name = "model"
        with model_server(args) as server:
            if server is not None:
                base_url, model_name = server
                provider = RecordingProvider(
                    OpenAIConfig(
                        base_url, model_name, timeout_s=args.timeout, max_tokens=args.max_tokens
                    )
                )
                few = jobs_for(
                    sample(
                        [a for a in articles if a[0] not in _duplicates(database)], args.samples[0]
                    ),
                    sample(stories, args.samples[1]),
                    MODEL_ARTICLE_FEATURES,
                    MODEL_STORY_FEATURES,
                    lambda language: "en" if (language or "").startswith("zh") else "zh-Hant",
                )
                began = time.monotonic()
                model_runs = run_jobs(
                    database, enricher, provider, interleaved(few), args.model_budget
                )
                print(
                    f"{model_name}: {len(model_runs)} of {len(few)} planned runs in "
                    f"{time.monotonic() - began:.0f} s (budget {args.model_budget:g} s); "
                    f"load average {os.getloadavg()[0]:.1f}"
                )

        print(
            f"\n## Latency per feature (built-in: whole corpus; {model_name}: sample, max_tokens {args.max_tokens})\n"
        )
        print(latency_table(builtin_runs, model_runs, model_name))
        print("\nBuilt-in answers:")
        print(answer_notes(builtin_runs))
        if model_runs:
            print(f"\n## Citations in the {model_name} answers\n")
            print(citation_table(model_runs))
            print(f"\n{model_name} answers:")
            print(answer_notes(model_runs))

        print("\n## Summary quality (ROUGE F1 × 100)\n")
        pairs = jsonl_pairs(args.rouge) if args.rouge else description_pairs(args.pages)
        print(rouge_report(pairs))

        shown = show_summaries(
            database, [a for a in articles if a[0] not in _duplicates(database)], args.show
        )
        if shown:
            print("\n## Built-in summary beside the first three sentences\n")
            print(shown)
        database.dispose()
    print(f"\n(total {time.monotonic() - started:.0f} s)")


def _duplicates(database: Database) -> set[int]:
    with database.session() as session:
        return set(session.scalars(select(Article.id).where(Article.duplicate_of.is_not(None))))


if __name__ == "__main__":
    main()
