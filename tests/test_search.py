"""Full-text search on the demo corpus: relevance, phrases, filters, snippets, safe queries."""

from __future__ import annotations

import httpx
import pytest

from tidings.db.session import Database
from tidings.demo.corpus import load_corpus
from tidings.errors import InvalidInputError
from tidings.search import SearchFilters, fts_query, search_articles

CORPUS = load_corpus()


def event_titles(event: str) -> set[str]:
    return {a.title for a in CORPUS.articles if a.event == event}


@pytest.mark.parametrize(
    ("query", "event"),
    [
        ("panda cub zoo", "panda-cub-born"),
        ("Eastbank tunnel toll", "harbour-tunnel-opens"),
        ('"storm signal"', "typhoon-mirin"),
        ("nurses strike ballot", "nurses-pay-dispute"),
    ],
)
def test_a_query_about_an_event_finds_that_event_first(
    demo_database: Database, query: str, event: str
) -> None:
    with demo_database.session() as session:
        page = search_articles(session, query, SearchFilters(), limit=3)
    titles = event_titles(event)
    assert page.hits
    assert all(hit.article.title in titles for hit in page.hits[:3])
    assert "<mark>" in page.hits[0].snippet


def test_filters_sort_and_paging(demo_database: Database) -> None:
    with demo_database.session() as session:
        everything = search_articles(session, "Port Aurelia", SearchFilters(), limit=200)
        source_id = everything.hits[0].article.source_id
        one_source = search_articles(
            session, "Port Aurelia", SearchFilters(source_id=source_id), limit=200
        )
        newest = search_articles(session, "Port Aurelia", SearchFilters(sort="time"), limit=10)
        first = search_articles(session, "Port Aurelia", SearchFilters(), limit=5)
        second = search_articles(
            session, "Port Aurelia", SearchFilters(), limit=5, offset=first.next_offset or 0
        )
    assert {hit.article.source_id for hit in one_source.hits} == {source_id}
    assert len(one_source.hits) < len(everything.hits)
    times = [hit.article.published_at for hit in newest.hits]
    assert times == sorted(times, reverse=True)
    assert not {h.article.id for h in first.hits} & {h.article.id for h in second.hits}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("panda", '"panda"*'),
        ('"storm signal" schools', '"storm signal" "schools"*'),
        ("NEAR(a b) OR title:x", '"NEAR a" "b" "OR" "title x"'),  # operators are just words
        ('"unclosed phrase', '"unclosed" "phrase"*'),
    ],
)
def test_queries_are_quoted_so_nothing_is_interpreted(query: str, expected: str) -> None:
    assert fts_query(query) == expected


@pytest.mark.parametrize("query", ["", "   ", "!!! ???", "x" * 301])
def test_bad_queries_are_clear_errors(query: str) -> None:
    with pytest.raises(InvalidInputError):
        fts_query(query)


def test_search_page_and_api(client: httpx.Client) -> None:
    page = client.get("/search", params={"q": "panda"})
    assert page.status_code == 200
    assert "<mark>" in page.text
    assert "Nothing found" in client.get("/search", params={"q": "zzzzqqq"}).text
    assert "the search has no words in it" in client.get("/search", params={"q": "!!!"}).text
    hostile = client.get("/search", params={"q": "<script>alert(1)</script>"})
    assert "<script>alert(1)</script>" not in hostile.text
    api = client.get("/api/v1/search", params={"q": "panda cub", "limit": 2})
    assert api.status_code == 200
    data = api.json()
    assert len(data["items"]) == 2
    assert {"id", "title", "snippet", "body"} <= set(data["items"][0])
    more = client.get(
        "/api/v1/search", params={"q": "panda cub", "limit": 2, "cursor": data["next_cursor"]}
    )
    assert more.status_code == 200
    bad = client.get("/api/v1/search", params={"q": "!!!"})
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/search", params={"q": "x", "sort": "random"}).status_code == 422


def test_chinese_words_are_found_inside_sentences(demo_database: Database) -> None:
    ferry = next(a for a in CORPUS.articles_of("gangwan-daily") if a.event == "ferry-fare-rise")
    assert "全線加價" in " ".join(ferry.text)
    with demo_database.session() as session:
        page = search_articles(session, "全線加價", SearchFilters(language="zh-Hant"), limit=3)
        phrase = search_articles(session, '"海港渡輪"', SearchFilters(), limit=50)
    assert page.hits[0].article.title == ferry.title
    assert "<mark>全線加價</mark>" in page.hits[0].snippet  # joined back, highlighted whole
    assert all(hit.article.language == "zh-Hant" for hit in page.hits)
    assert phrase.hits
    assert all("海港渡輪" in hit.article.body + hit.article.title for hit in phrase.hits)


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("海港渡輪", "海 港 渡 輪"),
        ("Eastbank隧道 opens", "Eastbank 隧 道 opens"),
        ("plain text", "plain text"),
    ],
)
def test_cjk_spacing(text: str, index: str) -> None:
    from tidings.search.cjk import spaced, unspaced

    assert spaced(text) == index
    assert unspaced(index) == index.replace("海 港 渡 輪", "海港渡輪").replace("隧 道", "隧道")
