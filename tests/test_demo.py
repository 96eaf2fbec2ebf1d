"""The demo corpus is as the foundation issue asks, and `tidings demo` sets itself up idempotently."""

from __future__ import annotations

import socket
from collections import Counter

from sqlalchemy import func, select

from tests.conftest import make_settings
from tidings.db.models import Article, Source
from tidings.db.session import Database
from tidings.demo.corpus import load_corpus
from tidings.demo.runner import demo_anchor, start_demo
from tidings.ingest.pipeline import refresh_all


def test_corpus_shape() -> None:
    corpus = load_corpus()
    formats = {p.feed for p in corpus.publishers}
    assert {"rss", "atom", "jsonfeed", "discovery", "rdf", "broken"} <= formats
    assert any(p.language == "zh-Hant" for p in corpus.publishers)
    assert len(corpus.publishers) >= 6
    assert len(corpus.articles) >= 40
    assert len(corpus.events) >= 8
    coverage = Counter(a.event for a in corpus.articles)
    assert sum(1 for n in coverage.values() if n >= 3) >= 5
    wire = [a for a in corpus.articles if len(a.syndicated_by) >= 2]
    assert len(wire) == 1
    for article in corpus.articles:
        assert 1 <= article.hours_ago <= 150
        assert article.caption
        assert len(article.paragraphs) >= 5
    slugs = Counter((a.publisher, a.slug) for a in corpus.articles)
    assert max(slugs.values()) == 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_demo_setup_is_idempotent_and_keeps_its_times(database: Database) -> None:
    # The demo's slow and oversized pages fail fast, as in `tidings demo`.
    settings = make_settings(database.url, fetch_total_timeout_s=2.0, fetch_max_bytes=2**21)
    port = free_port()
    first = start_demo(database, settings, publisher_port=port)
    try:
        refresh_all(database, settings)
    finally:
        first.server.stop()
    with database.session() as session:
        articles = session.scalar(select(func.count(Article.id)))
        times = sorted(session.scalars(select(Article.published_at)))
    second = start_demo(database, settings, publisher_port=port)
    try:
        assert second.sources_added == 0
        assert second.anchor == first.anchor == demo_anchor(database)
    finally:
        second.server.stop()
    with database.session() as session:
        assert session.scalar(select(func.count(Source.id))) == len(load_corpus().publishers)
        assert session.scalar(select(func.count(Article.id))) == articles
        assert sorted(session.scalars(select(Article.published_at))) == times
    corpus = load_corpus()
    assert articles == sum(len(corpus.articles_of(p.slug)) for p in corpus.publishers)
