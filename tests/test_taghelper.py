"""The hashtag helper process: same answers as in this process, and faults cost only time."""

from __future__ import annotations

import functools
import os
import signal
import threading

import pytest
from sqlalchemy import select

from tests.conftest import make_settings
from tidings.db.models import ArticleTag, Tag
from tidings.db.session import Database
from tidings.demo.corpus import load_corpus
from tidings.enrich import taghelper
from tidings.enrich.lang import detect_language
from tidings.enrich.service import Enricher
from tidings.enrich.tags import extract_tags

pytestmark = pytest.mark.skipif(
    taghelper._cores() < 2, reason="the helper runs only where there is a second core"
)


@pytest.fixture
def helper() -> taghelper.Helper:
    helper = taghelper.helper()
    helper.start()
    assert helper.pid is not None
    assert helper.pid != os.getpid()
    return helper


@functools.cache
def _articles() -> tuple[tuple[str, str, str | None], ...]:
    """The demo's articles with their languages (identified once for every test)."""
    texts = []
    for demo in load_corpus().articles:
        body = "\n\n".join(demo.text)
        texts.append((demo.title, body, detect_language(f"{demo.title}\n{body}")))
    return tuple(texts)


def test_the_helper_extracts_what_this_process_would(helper: taghelper.Helper) -> None:
    articles = _articles()
    assert {language for _, _, language in articles} >= {"en", "zh-Hant"}
    for title, body, language in articles:
        with helper.extract(title, body, language) as pending:
            assert isinstance(pending, taghelper._There)  # answered by the helper
            assert pending.result() == extract_tags(title, body, language)


def test_a_busy_helper_leaves_the_next_article_to_this_process(
    helper: taghelper.Helper,
) -> None:
    title, body, language = _articles()[0]
    with helper.extract(title, body, language) as first:
        # Another thread's article meanwhile: the helper is taken, so it is extracted here.
        found: list[object] = []
        other = threading.Thread(target=lambda: found.append(helper.extract(title, body, language)))
        other.start()
        other.join()
        assert isinstance(found[0], taghelper._Here)
        assert first.result() == extract_tags(title, body, language)
    with helper.extract(title, body, language) as again:  # free again after the first
        assert isinstance(again, taghelper._There)


@pytest.mark.parametrize("fault", ["killed", "hung"])
def test_a_dead_or_hung_helper_costs_only_time(
    helper: taghelper.Helper,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    title, body, language = _articles()[0]
    monkeypatch.setattr(taghelper, "_ANSWER_TIMEOUT_S", 1.0)
    old_pid = helper.pid
    assert old_pid is not None
    # Before the request: killed or stopped after it, a fast helper might answer first.
    os.kill(old_pid, signal.SIGKILL if fault == "killed" else signal.SIGSTOP)
    with helper.extract(title, body, language) as pending:
        assert pending.result() == extract_tags(title, body, language)
    reason = "stopped" if fault == "killed" else "did not answer in time"
    assert f"the hashtag helper {reason}" in caplog.text
    assert helper.pid is None  # given up, and replaced by the next article
    monkeypatch.undo()  # a new helper takes a second or two to start
    with helper.extract(title, body, language) as pending:
        assert pending.result() == extract_tags(title, body, language)
    assert helper.pid not in (None, old_pid)


def test_an_error_in_the_helper_is_raised_here_and_the_helper_stays(
    helper: taghelper.Helper, caplog: pytest.LogCaptureFixture
) -> None:
    pid = helper.pid
    broken: str = None  # type: ignore[assignment]
    with (
        pytest.raises(TypeError),
        helper.extract("A title", broken, "en") as pending,
    ):
        pending.result()
    assert "the hashtag helper failed" in caplog.text
    assert helper.pid == pid
    with helper.extract("Harbour tunnel opens", "The harbour tunnel opened.", "en") as pending:
        assert pending.result() == extract_tags(
            "Harbour tunnel opens", "The harbour tunnel opened.", "en"
        )


def test_a_forked_child_starts_a_helper_of_its_own(helper: taghelper.Helper) -> None:
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit status only
        try:
            os._exit(
                0 if taghelper.helper() is not helper and taghelper.helper().pid is None else 1
            )
        finally:
            os._exit(2)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _tags_by_article(database: Database) -> dict[int, list[str]]:
    with database.session() as session:
        rows = session.execute(
            select(ArticleTag.article_id, Tag.name)
            .join(Tag, Tag.id == ArticleTag.tag_id)
            .order_by(ArticleTag.article_id, Tag.name)
        ).all()
    found: dict[int, list[str]] = {}
    for article_id, name in rows:
        found.setdefault(article_id, []).append(name)
    return found


def test_enrichment_with_a_dead_helper_keeps_every_hashtag(
    demo_database: Database, helper: taghelper.Helper
) -> None:
    before = _tags_by_article(demo_database)
    assert len(before) > 100
    assert helper.pid is not None
    os.kill(helper.pid, signal.SIGKILL)
    Enricher(demo_database, make_settings(demo_database.url)).enrich_pending(everything=True)
    assert _tags_by_article(demo_database) == before
    without = make_settings(demo_database.url, enrich_helper=False)
    Enricher(demo_database, without).enrich_pending(everything=True)
    assert _tags_by_article(demo_database) == before


def test_a_helper_that_keeps_dying_is_no_longer_started(caplog: pytest.LogCaptureFixture) -> None:
    helper = taghelper.Helper()  # this test's own, not the process's
    title, body, language = "Harbour tunnel opens", "The harbour tunnel opened.", "en"
    try:
        for _ in range(taghelper._MAX_FAILURES):
            helper.start()
            assert helper.pid is not None
            os.kill(helper.pid, signal.SIGKILL)
            with helper.extract(title, body, language) as pending:
                assert pending.result() == extract_tags(title, body, language)
        assert "times in a row; extracting hashtags here from now on" in caplog.text
        with helper.extract(title, body, language) as pending:
            assert isinstance(pending, taghelper._Here)
        assert helper.pid is None
    finally:
        helper.stop()
