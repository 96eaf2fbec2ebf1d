"""Benchmark: hashtags (keyphrases) against reader-assigned keyphrases of French Wikinews.

Runs plain YAKE (`yake.KeywordExtractor(lan="fr", n=3, top=10)`) and Tidings' `extract_tags`
(each tag's `label`, `limit=10`) over ../shared/data/wikinews-fr-keyphrase (100 articles; see
its SOURCE.md) and prints a Markdown table of precision, recall and F1 at 5 and 10, and the
time per article.

Matching follows SOURCE.md: exact match after lowercasing and Snowball (French) stemming of
every `\\w+` token. Predictions that stem to the same phrase count once (the first one), then
the top k are kept. P@k = matches / phrases kept, R@k = matches / reference phrases, F1 per
article; all three are averaged over articles.

Usage: python bench/tags.py [--data DIR]
"""

from __future__ import annotations

import argparse
import html
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import snowballstemmer  # type: ignore[import-untyped]

from tidings.enrich.tags import extract_tags

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "wikinews-fr-keyphrase"
CUTOFFS = (5, 10)

Extractor = Callable[[str, str], list[str]]


@dataclass(frozen=True)
class Article:
    name: str
    title: str
    body: str
    references: list[str]


def load(data: Path) -> list[Article]:
    """Title from <h1>, body from <h2> (lead) and <p>; references from `ref`."""
    references: dict[str, list[str]] = {}
    for line in (data / "ref").read_text(encoding="utf-8").splitlines():
        name, _, phrases = line.partition("\t")
        references[name.strip()] = [p for p in phrases.split(";") if p.strip()]
    articles = []
    for path in sorted((data / "documents").glob("*.html")):
        parts = re.findall(r"<(h1|h2|p)>(.*?)</\1>", path.read_text(encoding="utf-8"), re.S)
        texts = [(tag, " ".join(html.unescape(text).split())) for tag, text in parts]
        title = " ".join(text for tag, text in texts if tag == "h1")
        body = "\n\n".join(text for tag, text in texts if tag != "h1")
        articles.append(Article(path.name, title, body, references[path.name]))
    return articles


_stemmer = snowballstemmer.stemmer("french")


def normalise(phrase: str) -> str:
    return " ".join(_stemmer.stemWord(w) for w in re.findall(r"\w+", phrase.lower()))


def unique(phrases: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for phrase in phrases:
        key = normalise(phrase)
        if key:
            seen.setdefault(key)
    return list(seen)


def yake_extractor() -> Extractor:
    import yake  # type: ignore[import-untyped]

    extractor = yake.KeywordExtractor(lan="fr", n=3, top=10)
    return lambda title, body: [k for k, _ in extractor.extract_keywords(f"{title}\n\n{body}")]


def tidings_extractor() -> Extractor:
    return lambda title, body: [t.label for t in extract_tags(title, body, "fr", limit=10)]


@dataclass
class Result:
    name: str
    scores: dict[str, float]
    ms_per_article: float
    ms_600_words: float


def evaluate(name: str, extractor: Extractor, articles: list[Article]) -> Result:
    extractor(articles[0].title, articles[0].body)  # one-time loading is not per-article cost
    started = time.perf_counter()
    predictions = [extractor(a.title, a.body) for a in articles]
    elapsed = time.perf_counter() - started
    columns: dict[str, list[float]] = {}
    for article, predicted in zip(articles, predictions, strict=True):
        references = set(unique(article.references))
        found = unique(predicted)
        for k in CUTOFFS:
            top = found[:k]
            hits = sum(p in references for p in top)
            precision = hits / len(top) if top else 0.0
            recall = hits / len(references) if references else 0.0
            f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
            for metric, value in (("P", precision), ("R", recall), ("F1", f1)):
                columns.setdefault(f"{metric}@{k}", []).append(value)
    scores = {column: statistics.mean(values) for column, values in columns.items()}
    return Result(name, scores, 1000 * elapsed / len(articles), time_600_words(extractor, articles))


def time_600_words(extractor: Extractor, articles: list[Article]) -> float:
    """Mean ms for ~600-word articles, made by joining the bodies of neighbouring articles."""
    long_articles = []
    for first, second in zip(articles[::2], articles[1::2], strict=False):
        body = f"{first.body}\n\n{second.body}"
        long_articles.append((first.title, body))
    started = time.perf_counter()
    for title, body in long_articles:
        extractor(title, body)
    return 1000 * (time.perf_counter() - started) / len(long_articles)


def table(results: list[Result], words: float) -> str:
    columns = [f"{m}@{k}" for k in CUTOFFS for m in ("P", "R", "F1")]
    lines = [
        "| system | " + " | ".join(columns) + " | ms/article | ms/600 words |",
        "|---|" + "---:|" * (len(columns) + 2),
    ]
    for result in results:
        cells = [f"{result.scores[c]:.3f}" for c in columns]
        timing = [f"{result.ms_per_article:.1f}", f"{result.ms_600_words:.1f}"]
        lines.append(f"| {result.name} | " + " | ".join(cells + timing) + " |")
    lines.append(f"\nmean article length: {words:.0f} words")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    arguments = parser.parse_args()
    articles = load(arguments.data)
    words = statistics.mean(len(f"{a.title} {a.body}".split()) for a in articles)
    results = [
        evaluate('plain YAKE (lan="fr", n=3, top=10)', yake_extractor(), articles),
        evaluate("Tidings extract_tags (labels, limit=10)", tidings_extractor(), articles),
    ]
    print(f"{len(articles)} articles from {arguments.data}\n")
    print(table(results, words))


if __name__ == "__main__":
    main()
