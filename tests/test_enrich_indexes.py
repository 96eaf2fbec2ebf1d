"""The enrichment indexes at scale: the duplicate index, snapshots reused or rebuilt, tag counts."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash  # type: ignore[import-untyped]
from sqlalchemy import delete, func, insert, select

from tests.conftest import make_settings
from tidings.db.migrate import upgrade
from tidings.db.models import Article, ArticleFeatures, ArticleTag, Source, Tag
from tidings.db.session import Database
from tidings.enrich import dedupe, records, service, snapshot
from tidings.enrich.embed import normalise_rows
from tidings.enrich.service import Enricher
from tidings.enrich.vectors import to_bytes
from tidings.ingest.retention import cleanup

DIM = 512  # the built-in backend's


def _signature(values: np.ndarray) -> MinHash:
    return dedupe.from_bytes(values.astype(np.uint64).tobytes())


def test_duplicate_index_finds_what_brute_force_finds() -> None:
    rng = np.random.default_rng(3)
    originals = rng.integers(0, 2**32, size=(300, dedupe.NUM_PERM), dtype=np.uint64)
    index = dedupe.DuplicateIndex()
    for article_id, values in enumerate(originals[:200].tolist()):
        index.add(article_id, 1, f"http://a/{article_id}", _signature(np.array(values)))
    index.compact()
    for article_id, values in enumerate(originals[200:].tolist(), start=200):  # left pending
        index.add(article_id, 1, f"http://a/{article_id}", _signature(np.array(values)))
    for share in (
        0.95,
        0.9,
        0.8,
        0.7,
        0.3,
    ):  # copies keeping this share of the original's hash values
        for original in (5, 150, 250):
            copy = originals[original].copy()
            changed = rng.random(dedupe.NUM_PERM) > share
            copy[changed] = rng.integers(0, 2**32, size=int(changed.sum()), dtype=np.uint64)
            same = copy == originals[original]
            # MinHash LSH: a candidate shares every value of one band (10 bands of 6 values).
            banded = same[:60].reshape(10, 6).all(axis=1).any()
            found = index.find(999, 1, "http://b/1", _signature(copy), size=100)
            similarity = float(np.mean(same))
            expected = original if banded and similarity >= dedupe.DUPLICATE_JACCARD else None
            assert found == expected, (share, original, similarity)
    assert index.find(999, 1, "https://www.a/7/", _signature(originals[0]), size=1) == 7
    restored = dedupe.DuplicateIndex.from_arrays(index.arrays())
    assert len(restored) == len(index) == 300
    assert restored.find(999, 1, "http://b/2", _signature(originals[250]), size=100) == 250
    assert restored.find(999, 1, "http://a/42", _signature(originals[0]), size=100) == 42
    restored.remove(250)
    assert restored.find(999, 1, "http://b/2", _signature(originals[250]), size=100) is None


def _store(tmp_path: Path) -> tuple[Database, Enricher]:
    database = Database(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(database)
    with database.session() as session:
        session.add(Source(id=1, name="Synthetic", feed_url="http://127.0.0.1/feed.xml"))
    _add_articles(database, range(1, 41))
    return database, Enricher(database, make_settings(database.url))


def _add_articles(database: Database, ids: range) -> None:
    rng = np.random.default_rng(ids.start)
    vectors = normalise_rows(rng.standard_normal((len(ids), DIM)))
    now = datetime.now(UTC)
    with database.session() as session:
        for row, article_id in enumerate(ids):
            session.execute(
                insert(Article).values(
                    id=article_id,
                    source_id=1,
                    url=f"http://127.0.0.1/{article_id}",
                    original_url=f"http://127.0.0.1/{article_id}",
                    title=f"article {article_id}",
                    entry_hash="",
                    content_hash="",
                    published_at=now - timedelta(days=30),
                    enriched_at=now,
                    story_id=article_id,
                )
            )
            minhash = rng.integers(0, 2**32, size=dedupe.NUM_PERM, dtype=np.uint64)
            session.execute(
                insert(ArticleFeatures).values(
                    article_id=article_id,
                    model="hashing-512",
                    vector=to_bytes(vectors[row]),
                    minhash=minhash.tobytes(),
                    terms={},
                )
            )


def _restart(database: Database) -> Enricher:
    enricher = Enricher(database, make_settings(database.url))
    enricher.ensure_current()
    return enricher


def _nearest_to_itself(enricher: Enricher, database: Database, article_id: int) -> int | None:
    with database.session() as session:
        stored = session.get(ArticleFeatures, article_id)
        assert stored is not None
        vector = np.frombuffer(stored.vector, dtype="<f2").astype(np.float32)
    found = enricher.vectors.search(vector, 1)
    return found[0][0] if found else None


def test_snapshot_is_saved_then_reused_and_reconciled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database, first = _store(tmp_path)
    first.ensure_current()
    folder = snapshot.folder_for(database.url)
    assert folder is not None
    assert (folder / "current").is_file()

    loaded = []
    original_load = snapshot.load
    monkeypatch.setattr(
        snapshot, "load", lambda *args: loaded.append(original_load(*args)) or loaded[-1]
    )
    second = _restart(database)
    assert loaded[-1] is not None  # read back, not rebuilt
    assert len(second.vectors) == 40
    assert _nearest_to_itself(second, database, 17) == 17

    # Removed and added while no process was running: the next start catches up.
    with database.session() as session:
        session.execute(delete(Article).where(Article.id.in_([3, 4])))
    _add_articles(database, range(41, 46))
    third = _restart(database)
    assert loaded[-1] is not None
    assert len(third.vectors) == 43
    assert _nearest_to_itself(third, database, 44) == 44
    assert not third.duplicates.has_signature(3)
    assert third.duplicates.has_signature(45)
    database.dispose()


@pytest.mark.parametrize("damage", ["other backend", "unreadable graph", "no pointer"])
def test_unusable_snapshot_means_a_rebuild(tmp_path: Path, damage: str) -> None:
    database, first = _store(tmp_path)
    first.ensure_current()
    folder = snapshot.folder_for(database.url)
    assert folder is not None
    current = folder / (folder / "current").read_text()
    if damage == "other backend":
        manifest = json.loads((current / "manifest.json").read_text())
        (current / "manifest.json").write_text(json.dumps({**manifest, "model": "e5-small-q4"}))
    elif damage == "unreadable graph":
        (current / "vectors.usearch").write_bytes(b"not an index")
    else:
        (folder / "current").unlink()
    assert snapshot.load(folder, "hashing-512", DIM) is None
    second = _restart(database)
    assert len(second.vectors) == 40
    assert _nearest_to_itself(second, database, 8) == 8
    assert snapshot.load(folder, "hashing-512", DIM) is not None  # saved again
    database.dispose()


def test_memory_and_server_databases_have_no_snapshot_folder(tmp_path: Path) -> None:
    assert snapshot.folder_for("sqlite://") is None
    assert snapshot.folder_for("postgresql+psycopg://u@localhost/tidings") is None
    assert snapshot.folder_for(f"sqlite:///{tmp_path / 'a.db'}") == tmp_path / "a.db.enrich"


def _tag_counts_are_exact(database: Database) -> None:
    with database.session() as session:
        counted = dict(
            session.execute(
                select(ArticleTag.tag_id, func.count()).group_by(ArticleTag.tag_id)
            ).all()
        )
        for tag in session.scalars(select(Tag)):
            assert tag.article_count == counted.get(tag.id, 0), tag.key


def test_tag_counts_follow_enrichment_and_retention(demo_database: Database) -> None:
    _tag_counts_are_exact(demo_database)
    settings = make_settings(demo_database.url)
    Enricher(demo_database, settings).enrich_pending(everything=True)  # replaces every tag
    _tag_counts_are_exact(demo_database)
    cleanup(demo_database, make_settings(demo_database.url, retention_days=2))
    _tag_counts_are_exact(demo_database)


def test_story_summary_is_the_same_from_aggregates(
    demo_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stories longer than the sample are summed up by SQL aggregates; both ways agree."""
    with demo_database.session() as session:
        story_ids = list(
            session.scalars(
                select(Article.story_id).where(Article.story_id.is_not(None)).distinct()
            )
        )
        connection = session.connection()
        direct = {story_id: records._summary(connection, story_id, DIM) for story_id in story_ids}
        monkeypatch.setattr(records, "STORY_SAMPLE", 0)
        summed = {story_id: records._summary(connection, story_id, DIM) for story_id in story_ids}
    for story_id, summary in direct.items():
        assert summary is not None
        other = summed[story_id]
        assert other is not None
        assert {**summary, "updated_at": None} == {**other, "updated_at": None}


def test_stories_that_left_the_window_are_closed_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, enricher = _store(tmp_path)
    enricher.ensure_current()
    now = datetime.now(UTC)
    terms = Counter({"harbour": 2, "ferry": 1, "harbour ferry": 2})
    enricher.clusterer.add(1001, terms, now - timedelta(days=30))
    enricher.clusterer.add(1002, terms, now)
    monkeypatch.setattr(service, "_FORGET_EVERY_S", 0.0)
    enricher.ensure_current()
    open_articles = enricher.clusterer._articles
    assert 1001 not in open_articles  # older than the story window: closed
    assert 1002 in open_articles
    assert enricher.clusterer.story_of(1001) is not None  # its answer is kept
