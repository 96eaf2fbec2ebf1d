"""The theme switch, link-preview tags, JSON-LD, robots.txt and the front page's sections, over
the ingested demo database (the browser side is tests/test_design.py)."""

from __future__ import annotations

import json
import re
from html import unescape

import httpx
import pytest

from tests.conftest import LiveServer, make_settings
from tidings.db.session import Database
from tidings.web.site_meta import THEME_COOKIE, json_ld


def meta(html: str, key: str) -> str:
    """The content of <meta property|name=key>."""
    found = re.search(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)"', html)
    assert found, f"no {key}"
    return unescape(found.group(1))


def json_lds(html: str) -> list[dict[str, object]]:
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    return [json.loads(block) for block in blocks]


@pytest.mark.parametrize(
    ("text", "forbidden"),
    [
        ("</script><script>alert(1)</script>", "</script><script>"),
        ("<!-- a comment", "<!--"),
        ("Tom & Jerry", "&"),
    ],
)
def test_json_ld_cannot_break_out_of_its_script_element(text: str, forbidden: str) -> None:
    markup = str(json_ld({"headline": text}))
    body = markup.removeprefix('<script type="application/ld+json">').removesuffix("</script>")
    assert forbidden not in body
    assert "<" not in body
    assert json.loads(body) == {"headline": text}


def test_front_page_has_sections_and_cards_for_link_previews(client: httpx.Client) -> None:
    html = client.get("/").text
    assert 'id="topics-title"' in html
    assert 'id="sources-title"' in html
    assert re.search(r'class="outlet-count">\d+ outlets<', html)
    for image in re.findall(r"<img [^>]*>", html):
        assert 'width="' in image, image
        assert 'height="' in image, image
    assert meta(html, "og:type") == "website"
    assert meta(html, "og:url") == str(client.base_url) + "/"
    assert meta(html, "twitter:card") == "summary"
    assert meta(html, "description")
    (item_list,) = json_lds(html)
    assert item_list["@type"] == "ItemList"
    items = item_list["itemListElement"]
    assert isinstance(items, list)
    assert items[0]["url"].startswith(f"{client.base_url}/stories/")


def test_article_page_carries_news_article_json_ld_and_open_graph(client: httpx.Client) -> None:
    front = client.get("/").text
    path = re.search(r'href="(/articles/\d+)"', front)
    assert path
    html = client.get(path.group(1)).text
    (data,) = json_lds(html)
    assert data["@type"] == "NewsArticle"
    title = unescape(re.search(r'<h1 class="story-title">(.*?)</h1>', html).group(1))  # type: ignore[union-attr]
    assert data["headline"] == title[:110]
    assert data["url"] == str(client.base_url) + path.group(1)
    assert str(data["isBasedOn"]).startswith("http://127.0.0.1:")
    assert data["publisher"]["@type"] == "Organization"  # type: ignore[index]
    assert data["datePublished"] <= data["dateModified"]  # type: ignore[operator]
    assert meta(html, "og:type") == "article"
    assert meta(html, "og:image").startswith(f"{client.base_url}/media/")
    assert meta(html, "twitter:card") == "summary_large_image"
    assert f'<link rel="canonical" href="{client.base_url}{path.group(1)}">' in html


def test_public_url_makes_the_canonical_and_og_urls(demo_database: Database) -> None:
    from tidings.web.app import create_app

    settings = make_settings(demo_database.url, public_url="https://news.example.org/")
    app = create_app(settings, demo_database, run_scheduler=False)
    with LiveServer(app) as server, httpx.Client(base_url=server.base_url) as http:
        html = http.get("/search?q=panda").text
    assert meta(html, "og:url") == "https://news.example.org/search?q=panda"
    assert '<link rel="canonical" href="https://news.example.org/search?q=panda">' in html
    (item_list,) = json_lds(html)
    assert item_list["itemListElement"][0]["url"].startswith("https://news.example.org/articles/")  # type: ignore[index]


def test_theme_switch_sets_a_cookie_and_goes_back(client: httpx.Client) -> None:
    assert "data-theme" not in client.get("/").text.split(">", 2)[1]
    back = client.post("/preferences/theme", data={"theme": "dark", "next": "/search?q=x"})
    assert back.status_code == 303
    assert back.headers["location"] == "/search?q=x"
    assert client.cookies[THEME_COOKIE] == "dark"
    assert '<html lang="en" data-theme="dark">' in client.get("/").text
    assert 'value="dark" aria-pressed="true"' in client.get("/").text
    client.post("/preferences/theme", data={"theme": "auto", "next": "https://evil.example/"})
    assert THEME_COOKIE not in client.cookies
    assert "data-theme" not in client.get("/").text.split(">", 2)[1]


@pytest.mark.parametrize(
    "headers", [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}]
)
def test_theme_switch_refuses_a_post_from_another_site(
    site: LiveServer, headers: dict[str, str]
) -> None:
    with httpx.Client(base_url=site.base_url) as http:
        refused = http.post("/preferences/theme", data={"theme": "dark"}, headers=headers)
        assert refused.status_code == 403
        assert THEME_COOKIE not in refused.cookies
        # The switch carries no form token, so a signed-out page stays publicly cacheable.
        page = http.get("/search")
        assert "csrf_token" not in page.text
        assert page.headers["cache-control"].startswith("public")


def test_robots_txt_lets_pages_be_indexed(client: httpx.Client) -> None:
    robots = client.get("/robots.txt")
    assert robots.status_code == 200
    assert robots.headers["content-type"].startswith("text/plain")
    assert "User-agent: *" in robots.text
    assert "Disallow: /admin" in robots.text
    assert "Disallow: /\n" not in robots.text


def test_static_files_are_versioned_kept_a_year_and_gzipped(client: httpx.Client) -> None:
    html = client.get("/").text
    found = re.search(r'<link rel="stylesheet" href="(/static/style\.css\?v=[0-9a-f]{12})">', html)
    assert found
    css = client.get(found.group(1), headers={"Accept-Encoding": "gzip"})
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert css.headers["content-encoding"] == "gzip"
    assert "--bg:" in css.text
    assert client.get("/static/style.css").headers["cache-control"] == "public, max-age=86400"
    page = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip"
