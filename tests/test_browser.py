"""The site in a real headless Chromium: read the front page, open an article, on phone and desktop."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import LiveServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip(
        "Chromium is not installed (make test installs it: apt-get install chromium)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.mark.parametrize(
    "viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}]
)
def test_reader_opens_an_article_from_the_front_page(
    browser: Browser, site: LiveServer, viewport: dict[str, int]
) -> None:
    context = browser.new_context(viewport=viewport, java_script_enabled=False)
    page: Page = context.new_page()
    page.goto(site.base_url + "/")
    assert page.locator("h1.page-title").inner_text() == "Top stories"
    assert page.locator("li.story-card").count() >= 3
    items = page.locator("li.article-item")
    assert items.count() == 30
    assert "ago" in items.first.locator("time").inner_text()
    # Nothing sticks out sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    title = items.nth(1).locator("h2 a").inner_text()
    items.nth(1).locator("h2 a").click()
    page.wait_for_load_state()
    assert page.locator("h1.story-title").inner_text() == title
    body = page.locator(".story-body").inner_text()
    assert len(body) > 500
    assert "Advertisement" not in body
    assert "Share this article" not in body
    caption = page.locator(".lead-image figcaption").inner_text()
    assert "Photo:" in caption or "圖" in caption
    assert caption not in body
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.locator(".hashtags li a").count() >= 3
    # On to a related article, then to the full coverage of its story.
    related = page.locator(".related li.article-item h2 a")
    assert related.count() >= 1
    related_title = related.first.inner_text()
    related.first.click()
    page.wait_for_load_state()
    assert page.locator("h1.story-title").inner_text() == related_title
    page.goto(site.base_url + "/")
    page.locator(".story-card .coverage-link a").first.click()
    page.wait_for_load_state()
    assert page.locator(".kicker").first.inner_text() == "Full coverage"
    assert page.locator(".timeline-item").count() >= 2
    assert page.locator(".first-report").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.locator("a.publisher").first.click()
    page.wait_for_load_state()
    assert page.locator("li.article-item").count() >= 5
    context.close()
