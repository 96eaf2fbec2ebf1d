"""Regression gate for extraction quality on pages written for the project (no benchmark files).

Each gold page has its true article text: the demo corpus's written paragraphs for its pages,
and `tests/data/pages/NAME.expected.txt` for the small pages. The test scores every page with
the benchmark's shingle F1 (characters for Chinese and Japanese) and fails when a page scores
lower than its recorded baseline. After an improvement, record the new baseline with
`python -m tests.test_extraction_quality --update`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import ANCHOR, DATA
from tidings.demo.corpus import load_corpus
from tidings.demo.site import article_path, render_article_page
from tidings.ingest.extract import extract_article
from tidings.ingest.quality import character_tokens, score, word_tokens

BASELINE = DATA / "extraction-baseline.json"
TOLERANCE = 0.002
CJK = ("zh", "ja", "ko")


def gold_pages() -> Iterator[tuple[str, str, str, str | None]]:
    """(name, html, true text, language) for every gold page."""
    corpus = load_corpus()
    base = "http://publisher.example"
    for publisher in corpus.publishers:
        for article in corpus.articles_of(publisher.slug):
            html = render_article_page(corpus, publisher, article, ANCHOR, base)
            yield (
                f"demo/{publisher.slug}/{article.slug}",
                html,
                "\n\n".join(
                    (*article.text, article.update_note) if article.update_note else article.text
                ),
                publisher.language,
            )
    for expected in sorted((DATA / "pages").glob("*.expected.txt")):
        page = expected.with_name(expected.name.replace(".expected.txt", ".html"))
        yield (
            f"pages/{page.name}",
            page.read_text(encoding="utf-8"),
            expected.read_text(encoding="utf-8"),
            None,
        )


def page_scores() -> dict[str, float]:
    scores: dict[str, float] = {}
    for name, html, truth, _language in gold_pages():
        article = extract_article(html, f"http://publisher.example/{name}")
        language = article.language or ""
        tokenize = character_tokens if language.startswith(CJK) else word_tokens
        scores[name] = round(score([(truth, article.body)], tokenize).f1, 4)
    return scores


def test_no_gold_page_extracts_worse_than_its_baseline() -> None:
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))
    current = page_scores()
    assert set(current) == set(baseline), "gold pages changed: run with --update"
    worse = {
        name: (baseline[name], value)
        for name, value in current.items()
        if value < baseline[name] - TOLERANCE
    }
    assert not worse, f"extraction got worse on {len(worse)} page(s): {worse}"


@pytest.mark.parametrize("language", ["zh-Hant", "ja"])
def test_cjk_pages_extract_at_character_level(language: str) -> None:
    """Character-shingle F1 on the Chinese demo pages and the Japanese test page."""
    pairs = []
    for name, html, truth, _ in gold_pages():
        article = extract_article(html, f"http://publisher.example/{name}")
        if article.language == language:
            pairs.append((truth, article.body))
    assert pairs
    result = score(pairs, character_tokens)
    assert result.f1 >= 0.99, result
    assert result.precision >= 0.99, result


def test_demo_pages_keep_every_written_word() -> None:
    corpus = load_corpus()
    publisher = corpus.publishers[0]
    article = corpus.articles_of(publisher.slug)[0]
    html = render_article_page(corpus, publisher, article, ANCHOR, "http://x.example")
    body = extract_article(html, "http://x.example" + article_path(publisher, article)).body
    assert score([("\n\n".join(article.text), body)]).f1 == 1.0


if __name__ == "__main__" and "--update" in sys.argv:
    BASELINE.write_text(
        json.dumps(page_scores(), indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    print(f"wrote {BASELINE}")
