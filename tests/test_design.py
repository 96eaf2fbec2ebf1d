"""The design in headless Chromium: the front page's top stories and sections, the article's
reading typography and JSON-LD, the story page, the themes (with JavaScript off) and phones.
Every test saves a screenshot in test-artifacts/design/ and fails on a console error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, ViewportSize

from tests.conftest import LiveServer
from tests.test_browser import browser  # noqa: F401 - the shared Chromium fixture

SHOTS = Path(__file__).parent.parent / "test-artifacts" / "design"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
# The relative luminance of the page background (0 black … 1 white).
BACKGROUND_LUMINANCE = """() => {
    const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}"""


class Visit:
    """A browser tab that keeps the console errors it sees (images through /media/ aside: the
    test publisher server that made the demo database is gone, so those answer 502)."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.page = context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "/media/" not in message.location.get("url", ""):
            self.errors.append(message.text)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def visit(browser: Browser) -> Iterator[Visit]:  # noqa: F811 - the fixture imported above
    context = browser.new_context(viewport=DESKTOP, color_scheme="light")
    tab = Visit(context)
    yield tab
    context.close()
    assert tab.errors == []


def json_ld(page: Page) -> dict[str, object]:
    (text,) = page.locator('script[type="application/ld+json"]').all_text_contents()
    data: dict[str, object] = json.loads(text)
    return data


def test_front_page_shows_top_stories_with_their_outlets_then_sections(
    visit: Visit, site: LiveServer
) -> None:
    page = visit.page
    page.goto(site.base_url + "/")
    cards = page.locator(".story-card")
    assert cards.count() >= 3
    first = cards.first
    assert first.locator(".headline a").inner_text()
    assert first.locator(".other-outlets li").count() >= 1
    assert first.locator(".outlet-count").inner_text().endswith(" outlets")
    assert (
        first.locator(".coverage-link a")
        .get_attribute("href", timeout=1000)
        .startswith(  # type: ignore[union-attr]
            "/stories/"
        )
    )
    for title in ("Topics", "By source"):
        section = page.locator("section.front-sections", has=page.locator("h2", has_text=title))
        assert section.locator(".front-section").count() >= 2, title
        assert section.locator(".section-item a").count() >= 4, title
    sizes = page.eval_on_selector_all(
        "img", "els => els.map(e => [e.getAttribute('width'), e.getAttribute('height')])"
    )
    assert sizes
    assert all(width and height for width, height in sizes)
    below_the_fold = page.eval_on_selector_all(
        "img", "els => els.filter(e => e.getBoundingClientRect().top > 1800).map(e => e.loading)"
    )
    assert below_the_fold
    assert set(below_the_fold) == {"lazy"}
    assert json_ld(page)["@type"] == "ItemList"
    visit.shot("front-desktop")


def test_article_page_reads_comfortably_and_describes_itself(
    visit: Visit, site: LiveServer
) -> None:
    page = visit.page
    page.goto(site.base_url + "/")
    page.locator(".story-card .headline a").first.click()
    page.wait_for_load_state()
    paragraph = page.locator(".story-body p").first
    line_height, font_size, width, char = paragraph.evaluate(
        """p => {
            const style = getComputedStyle(p);
            const probe = document.createElement('span');
            probe.textContent = '0'.repeat(100);
            probe.style.font = style.font;
            probe.style.whiteSpace = 'nowrap';
            document.body.append(probe);
            const char = probe.getBoundingClientRect().width / 100;
            probe.remove();
            return [parseFloat(style.lineHeight), parseFloat(style.fontSize),
                    p.getBoundingClientRect().width, char];
        }"""
    )
    assert 1.55 <= line_height / font_size <= 1.65
    assert 45 <= width / char <= 75  # the measure, in characters
    data = json_ld(page)
    assert data["@type"] == "NewsArticle"
    assert data["headline"] == page.locator("h1").inner_text()[:110]
    assert data["url"] == page.url
    assert str(data["isBasedOn"]).startswith("http")
    assert page.locator('meta[property="og:type"]').get_attribute("content") == "article"
    figure = page.locator("figure.lead-image img")
    if figure.count():
        assert figure.get_attribute("width")
        assert figure.get_attribute("height")
    visit.shot("article-desktop")


def test_story_page_lists_the_coverage_as_an_item_list(visit: Visit, site: LiveServer) -> None:
    page = visit.page
    page.goto(site.base_url + "/")
    page.locator(".story-card .coverage-link a").first.click()
    page.wait_for_load_state()
    timeline = page.locator(".timeline-item h3 a")
    data = json_ld(page)
    items = data["itemListElement"]
    assert data["@type"] == "ItemList"
    assert isinstance(items, list)
    assert [item["name"] for item in items] == timeline.all_inner_texts()
    visit.shot("story-desktop")


def test_theme_switch_works_without_javascript(browser: Browser, site: LiveServer) -> None:  # noqa: F811
    context = browser.new_context(viewport=DESKTOP, color_scheme="light", java_script_enabled=False)
    tab = Visit(context)
    page = tab.page
    page.goto(site.base_url + "/search?q=panda")
    assert page.evaluate(BACKGROUND_LUMINANCE) > 0.9
    with page.expect_navigation():
        page.locator(".theme-switch button", has_text="Dark").click()
    assert page.url.endswith("/search?q=panda")  # back where the reader was
    assert page.locator("html").get_attribute("data-theme") == "dark"
    assert page.evaluate(BACKGROUND_LUMINANCE) < 0.15
    tab.shot("search-dark-chosen")
    page.emulate_media(color_scheme="dark")
    with page.expect_navigation():
        page.locator(".theme-switch button", has_text="Light").click()
    assert page.locator("html").get_attribute("data-theme") == "light"
    assert page.evaluate(BACKGROUND_LUMINANCE) > 0.9  # the choice beats the system
    with page.expect_navigation():
        page.locator(".theme-switch button", has_text="Auto").click()
    assert page.locator("html").get_attribute("data-theme") is None
    assert page.evaluate(BACKGROUND_LUMINANCE) < 0.15  # Auto follows the system: dark
    assert page.locator('.theme-switch button[aria-pressed="true"]').inner_text() == "Auto"
    context.close()
    assert tab.errors == []


@pytest.mark.parametrize("path", ["/", "/search?q=panda+cub", "story", "article"])
def test_phone_in_dark_mode_has_no_horizontal_scroll(
    browser: Browser,  # noqa: F811
    site: LiveServer,
    path: str,
) -> None:
    context = browser.new_context(viewport=PHONE, color_scheme="dark", is_mobile=True)
    tab = Visit(context)
    page = tab.page
    page.goto(site.base_url + "/")
    if path == "story":
        page.locator(".story-card .coverage-link a").first.click()
    elif path == "article":
        page.locator(".story-card .headline a").first.click()
    else:
        page.goto(site.base_url + path)
    page.wait_for_load_state()
    assert page.evaluate(BACKGROUND_LUMINANCE) < 0.15
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    tab.shot(f"phone-dark-{path.strip('/').split('?')[0] or 'front'}")
    context.close()
    assert tab.errors == []


def test_language_switch_and_the_browsers_language(browser: Browser, site: LiveServer) -> None:  # noqa: F811
    """English by default; the footer's links switch the interface (remembered from page to
    page, with localised relative times); a browser asking for Chinese gets it unasked."""
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    tab = Visit(context)
    page = tab.page
    page.goto(site.base_url + "/")
    nav = page.locator('header nav[aria-label="Main"]')
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Search" in nav.inner_text()
    assert page.get_by_text("hours ago").count() > 0
    with page.expect_navigation():
        page.locator(".language-switch a[hreflang='zh-Hant']").click()
    assert page.locator("html").get_attribute("lang") == "zh-Hant"
    assert "搜尋" in page.locator("header nav").first.inner_text()
    assert page.get_by_text("小時前").count() > 0
    tab.shot("front-zh-hant")
    page.goto(site.base_url + "/search?q=panda")  # the choice stays (a cookie)
    assert page.locator("html").get_attribute("lang") == "zh-Hant"
    with page.expect_navigation():
        page.locator(".language-switch a[hreflang='zh-Hans']").click()
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert "搜索" in page.locator("header nav").first.inner_text()
    tab.shot("search-zh-hans")
    context.close()
    assert tab.errors == []
    chinese = browser.new_context(viewport=DESKTOP, locale="zh-TW")
    visit = Visit(chinese)
    visit.page.goto(site.base_url + "/")
    assert visit.page.locator("html").get_attribute("lang") == "zh-Hant"
    assert "最新" in visit.page.locator("header nav").first.inner_text()
    chinese.close()
    assert visit.errors == []
