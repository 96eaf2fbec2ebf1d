"""Web pages and the JSON API over the ingested demo database."""

from __future__ import annotations

import html as html_module
import re

import httpx
import pytest
from sqlalchemy import func, select

from tidings.db.models import Article, Source
from tidings.db.session import Database
from tidings.demo.corpus import load_corpus
from tidings.demo.runner import BROKEN_FEEDS

CORPUS = load_corpus()


def article_id_by_title(database: Database, title: str) -> int:
    with database.session() as session:
        found = session.scalar(select(Article.id).where(Article.title == title))
        assert found is not None
        return found


def test_front_page_lists_latest_articles_with_relative_times(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    assert html.count('class="article-item"') == 30
    assert re.search(
        r'<time datetime="[^"]+" title="\d{2} \w{3} \d{4}, \d{2}:\d{2} UTC">\d+ hours? ago</time>',
        html,
    )
    newest = min(CORPUS.articles, key=lambda a: a.hours_ago)
    assert newest.title.replace('"', "&#34;") in html

    # Walking "Older articles" links shows every article once: originals as items, a wire
    # story's syndicated copies under it as "Also published by".
    def listed(html: str) -> tuple[list[str], list[str]]:
        latest = html[html.index('<ol class="article-list">') :]
        items = re.findall(r'<h2 class="headline"><a href="/articles/(\d+)"', latest)
        copies = re.findall(r'<a href="/articles/(\d+)">[^<]+</a>', latest)
        return items, [copy for copy in copies if copy not in items]

    seen, copies = listed(html)
    while match := re.search(r'href="(\?cursor=[^"]+)"', html):
        html = client.get(match.group(1)).text
        items, more = listed(html)
        seen, copies = seen + items, copies + more
    total = sum(len(CORPUS.articles_of(p.slug)) for p in CORPUS.publishers)
    wire = [a for a in CORPUS.articles if a.syndicated_by]
    assert len(copies) == sum(len(a.syndicated_by) for a in wire)
    assert len(seen + copies) == len(set(seen + copies)) == total


def test_article_page_shows_clean_text_and_the_caption_apart(
    client: httpx.Client, demo_database: Database
) -> None:
    herald = CORPUS.publisher("harbour-herald")
    assert herald is not None
    written = CORPUS.articles_of(herald.slug)[1]  # [0] is the demo's deliberately slow page
    page = client.get(f"/articles/{article_id_by_title(demo_database, written.title)}")
    assert page.status_code == 200
    html = page.text
    body = html.split('<div class="story-body">')[1].split("</div>")[0]
    assert "Advertisement" not in html
    assert "ADVERTISEMENT" not in html
    assert written.caption not in body
    assert f"<figcaption>{written.caption}</figcaption>" in html
    # Each sentence is its own span (citations point at them); the text reads the same.
    text = html_module.unescape(re.sub(r"</span> <span[^>]*>", " ", body))
    assert written.text[0] in re.sub(r"<[^>]+>", "", text)
    assert f"By {written.author}" in html
    assert 'href="/sources/' in html
    assert "The Harbour Herald" in html
    assert "Read the original" in html


def test_chinese_article_page(client: httpx.Client, demo_database: Database) -> None:
    written = CORPUS.articles_of("gangwan-daily")[0]
    page = client.get(f"/articles/{article_id_by_title(demo_database, written.title)}")
    assert '<html lang="zh-Hant">' in page.text
    assert "廣告" not in page.text
    assert written.caption in page.text


def test_source_page_and_admin_show_fetch_status(
    client: httpx.Client, demo_database: Database
) -> None:
    with demo_database.session() as session:
        broken = session.scalar(select(Source).where(Source.name == "The Static Gazette"))
        herald = session.scalar(select(Source).where(Source.name == "The Harbour Herald"))
        assert broken is not None
        assert herald is not None
        broken_id, herald_id = broken.id, herald.id
    source_page = client.get(f"/sources/{herald_id}")
    assert source_page.status_code == 200
    assert f"{len(CORPUS.articles_of('harbour-herald'))} articles" in source_page.text
    admin = client.get("/admin/sources")
    assert admin.status_code == 200
    assert "is not a valid RSS, Atom or JSON feed" in admin.text
    broken = [p for p in CORPUS.publishers if p.feed in BROKEN_FEEDS]
    assert admin.text.count('class="status status-ok"') == len(CORPUS.publishers) - len(broken)
    assert admin.text.count('class="status status-error"') == len(broken)
    assert "HTTP 404 from" in admin.text
    assert "HTTP 500 from" in admin.text
    assert "took longer than" in admin.text  # the slow feed, and the slow page as a warning
    assert "larger than 2,097,152 bytes" in admin.text  # the oversized page
    assert "declares charset iso-8859-1" in admin.text  # the wrong charset, said in words
    assert "fetch failing" in client.get(f"/sources/{broken_id}").text


def test_admin_add_source_reports_errors_and_refuses_cross_site_posts(client: httpx.Client) -> None:
    refused = client.post("/admin/sources", data={"url": "http://10.0.0.1/feed"})
    assert refused.status_code == 303
    assert "non-public%20address" in refused.headers["location"]
    shown = client.get(refused.headers["location"])
    assert "refusing to fetch http://10.0.0.1/feed" in shown.text
    cross_site = client.post(
        "/admin/sources",
        data={"url": "https://example.com/"},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403
    assert "cross-site form submissions are refused" in cross_site.text


def test_missing_pages_are_clear(client: httpx.Client) -> None:
    page = client.get("/articles/999999")
    assert page.status_code == 404
    assert "no article with id 999999" in page.text
    assert client.get("/nowhere").status_code == 404


def test_api_pagination_walks_all_articles_exactly_once(
    client: httpx.Client, demo_database: Database
) -> None:
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/articles", params=params)
        assert page.status_code == 200
        data = page.json()
        assert set(data) == {"items", "next_cursor"}
        assert len(data["items"]) <= 7
        seen.extend(item["id"] for item in data["items"])
        cursor = data["next_cursor"]
        if cursor is None:
            break
    with demo_database.session() as session:
        total = session.scalar(select(func.count(Article.id)))
    assert len(seen) == len(set(seen)) == total
    times = [
        client.get(f"/api/v1/articles/{article_id}").json()["published_at"]
        for article_id in seen[:10]
    ]
    assert times == sorted(times, reverse=True)


def test_api_article_object_follows_the_contract(client: httpx.Client) -> None:
    item = client.get("/api/v1/articles", params={"limit": 1}).json()["items"][0]
    assert set(item) - {"enclosures", "tags", "story_id", "duplicate_of", "comment_count"} == {
        "id",
        "url",
        "original_url",
        "title",
        "source_id",
        "publisher",
        "published_at",
        "updated_at",
        "language",
        "byline",
        "captions",
        "lead_image",
        "body",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", item["published_at"])
    full = client.get(f"/api/v1/articles/{item['id']}").json()
    assert full == item
    assert "\n\n" in full["body"]


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("/api/v1/articles/424242", 404, "no article with id 424242"),
        ("/api/v1/articles?cursor=not-a-cursor", 400, "invalid cursor"),
        ("/api/v1/articles?limit=0", 422, "limit"),
        ("/api/v1/articles/abc", 422, "article_id"),
        ("/api/v1/nothing", 404, "nothing at /api/v1/nothing"),
    ],
)
def test_api_errors_are_problem_json(
    client: httpx.Client, path: str, status: int, detail: str
) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["title"]
    assert detail in problem["detail"]


def test_api_sources_and_openapi(client: httpx.Client) -> None:
    sources = client.get("/api/v1/sources").json()["items"]
    assert len(sources) == len(CORPUS.publishers)
    assert {s["status"] for s in sources} == {"ok", "error"}
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/articles" in schema["paths"]
    assert "/api/v1/articles/{article_id}" in schema["paths"]


def test_static_assets_are_cached(client: httpx.Client) -> None:
    css = client.get("/static/style.css")
    assert css.status_code == 200
    assert "max-age" in css.headers["cache-control"]
    assert client.get("/").headers["x-content-type-options"] == "nosniff"
