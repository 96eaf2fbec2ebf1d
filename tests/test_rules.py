"""Per-site extraction rules and the learned site template: extraction, CLI, API and admin page."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import ANCHOR, DATA
from tests.test_cli import assert_one_line_error, tidings
from tidings.config import Settings
from tidings.db.models import Article, Source
from tidings.db.session import Database
from tidings.demo.corpus import load_corpus
from tidings.demo.server import PublisherServer
from tidings.demo.site import article_path, feed_path, render_article_page
from tidings.errors import InvalidInputError
from tidings.ingest.extract import extract_article
from tidings.ingest.pipeline import refresh_source
from tidings.ingest.rules import ExtractionRules, make_rules
from tidings.ingest.sources import add_source, set_extraction_rules

CLUTTER = (DATA / "pages" / "inline-clutter.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("rules", "present", "absent"),
    [
        (ExtractionRules(), ["240 homes", "gridlock"], []),
        (
            ExtractionRules(remove_selectors=("main div > p:nth-of-type(8)",)),
            ["240 homes"],
            ["gridlock"],
        ),
        (ExtractionRules(body_selector="nav"), ["Home", "Sport"], ["240 homes"]),
        (ExtractionRules(body_selector=".no-such-thing"), ["240 homes"], []),  # falls back
    ],
)
def test_rules_steer_extraction(
    rules: ExtractionRules, present: list[str], absent: list[str]
) -> None:
    body = extract_article(CLUTTER, "https://kestrel.example/a", rules).body
    for text in present:
        assert text in body
    for text in absent:
        assert text not in body


@pytest.mark.parametrize("selector", ["div[", "p >> a", "::nonsense("])
def test_invalid_selectors_are_refused_clearly(selector: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid CSS selector"):
        make_rules(selector, [])
    with pytest.raises(InvalidInputError, match="invalid CSS selector"):
        make_rules(None, ["p", selector])


def test_rules_apply_on_refresh_and_survive_bad_input(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    publisher = load_corpus().publisher("harbour-herald")
    assert publisher is not None
    source = add_source(database, settings, publishers.url(feed_path(publisher))).source
    set_extraction_rules(database, source.id, None, [".story-body p:first-child"])
    with pytest.raises(InvalidInputError):
        set_extraction_rules(database, source.id, "div[", [])
    with database.session() as session:
        stored = session.get(Source, source.id)
        assert stored is not None
        assert stored.extract_remove_selectors == [".story-body p:first-child"]  # kept
    refresh_source(database, settings, source.id)
    written = load_corpus().articles_of(publisher.slug)[0]
    with database.session() as session:
        article = session.scalar(select(Article).where(Article.title == written.title))
        assert article is not None
        assert written.text[0] not in article.body
        assert written.text[1] in article.body


def test_the_site_template_is_learned_and_dropped(
    database: Database, settings: Settings, publishers: PublisherServer
) -> None:
    corpus = load_corpus()
    publisher = corpus.publisher("coastline-post")
    assert publisher is not None
    assert publisher.support_line
    one = corpus.articles_of(publisher.slug)[0]
    page = render_article_page(corpus, publisher, one, ANCHOR, publishers.base_url)
    single = extract_article(page, publishers.url(article_path(publisher, one))).body
    assert publisher.support_line in single  # one page alone cannot tell it is furniture
    source = add_source(database, settings, publishers.url(feed_path(publisher))).source
    report = refresh_source(database, settings, source.id)
    assert report.articles_new >= 6
    with database.session() as session:
        bodies = session.scalars(select(Article.body).where(Article.source_id == source.id)).all()
        assert bodies
        assert all(publisher.support_line not in body for body in bodies)
        assert all(p in body for body, p in [(b, b.split("\n\n")[0]) for b in bodies])
        learned = session.get(Source, source.id)
        assert learned is not None
        assert learned.template_paragraphs


def test_cli_rules(empty_database_url: str, publishers: PublisherServer) -> None:
    db = empty_database_url
    herald = load_corpus().publisher("harbour-herald")
    assert herald is not None
    assert tidings("add", publishers.url(feed_path(herald)), db=db).returncode == 0
    shown = tidings("rules", "1", db=db)
    assert "(automatic)" in shown.stdout
    set_ = tidings("rules", "1", "--body", "article .story-body", "--remove", ".ad-slot", db=db)
    assert set_.returncode == 0, set_.stderr
    assert "article .story-body" in set_.stdout
    assert ".ad-slot" in set_.stdout
    assert_one_line_error(tidings("rules", "1", "--body", "div[", db=db), "invalid CSS selector")
    cleared = tidings("rules", "1", "--clear", db=db)
    assert "(automatic)" in cleared.stdout
    assert "(none)" in cleared.stdout


def test_api_and_admin_page_set_rules(client: httpx.Client) -> None:
    source_id = client.get("/api/v1/sources").json()["items"][0]["id"]
    changed = client.patch(
        f"/api/v1/sources/{source_id}",
        json={"extract_body_selector": "article", "extract_remove_selectors": [".share"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["extract_body_selector"] == "article"
    assert changed.json()["extract_remove_selectors"] == [".share"]
    partial = client.patch(f"/api/v1/sources/{source_id}", json={"extract_remove_selectors": []})
    assert partial.json()["extract_body_selector"] == "article"  # untouched
    bad = client.patch(f"/api/v1/sources/{source_id}", json={"extract_body_selector": "div["})
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    assert "invalid CSS selector" in bad.json()["detail"]
    assert client.get(f"/api/v1/sources/{source_id}").json()["extract_body_selector"] == "article"
    page = client.get(f"/admin/sources/{source_id}")
    assert page.status_code == 200
    assert 'value="article"' in page.text
    posted = client.post(
        f"/admin/sources/{source_id}/rules",
        data={"body_selector": "main", "remove_selectors": ".ad\n.promo\n"},
    )
    assert posted.status_code == 303
    assert client.get(f"/api/v1/sources/{source_id}").json()["extract_remove_selectors"] == [
        ".ad",
        ".promo",
    ]
    refused = client.post(f"/admin/sources/{source_id}/rules", data={"body_selector": "p >> a"})
    shown = client.get(refused.headers["location"])
    assert "invalid CSS selector" in shown.text
    assert client.get(f"/api/v1/sources/{source_id}").json()["extract_body_selector"] == "main"
