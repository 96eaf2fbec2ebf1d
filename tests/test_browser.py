"""The site in a real headless Chromium: read the front page, open an article, on phone and desktop."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import LiveServer
from tidings.db.session import Database

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


def test_ai_panel_shows_cited_answers_and_highlights_the_sentence(
    browser: Browser, site: LiveServer
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page: Page = context.new_page()
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(site.base_url + "/articles/1")
    panel = page.locator(".ai-panel")
    assert panel.locator("h2").inner_text() == "AI features"
    panel.locator("a[data-ai-feature='key-points']").click()
    items = panel.locator(".ai-output .ai-item")
    items.first.wait_for()
    assert 3 <= items.count() <= 5
    assert page.url.endswith("/articles/1")  # answered in place, no page load
    cite = panel.locator(".ai-output a.cite").first
    sentence_id = cite.get_attribute("href").split("#")[1]
    cite.click()
    assert page.locator(f"#{sentence_id}.cited").count() == 1
    panel.locator("#ai-question").fill("What is the price of bananas in Peru?")
    panel.locator("form.ai-ask button").click()
    panel.locator(".ai-output .ai-note").wait_for()
    assert panel.locator(".ai-output .ai-note").inner_text() == "The article doesn't say."
    panel.locator("#ai-language").select_option("zh-Hant")
    panel.locator("form.ai-translate button").click()
    panel.locator(".ai-output .flash-error").wait_for()
    assert "needs a language model" in panel.locator(".ai-output .flash-error").inner_text()
    # No script errors; failed loads are the expected 422 and the demo publisher's images
    # (its server is not running under the tests).
    assert all(error.startswith("Failed to load resource") for error in errors), errors
    # Without JavaScript the same buttons open a result page with footnotes.
    plain = browser.new_context(java_script_enabled=False).new_page()
    plain.goto(site.base_url + "/articles/1")
    plain.locator(".ai-panel a[data-ai-feature='summary']").click()
    plain.wait_for_load_state()
    assert plain.locator("h1.page-title").inner_text() == "Summary"
    assert plain.locator("ol.footnotes li").count() >= 1
    plain.context.close()
    context.close()


def test_reader_signs_up_comments_replies_and_a_moderator_hides_it(
    browser: Browser,
    site: LiveServer,
    demo_database: Database,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from tidings.accounts.service import create_user

    with demo_database.session() as session:
        create_user(session, "mod@example.org", "moderator password", "Mod", "moderator")
    shots = Path(__file__).parent.parent / "test-artifacts"  # kept after the run (git-ignored)
    shots.mkdir(exist_ok=True)
    reader = browser.new_context(viewport={"width": 1280, "height": 900})
    page = reader.new_page()
    page.goto(site.base_url + "/articles/1")
    assert page.locator("#comments .empty").inner_text() == "No comments yet..."
    page.locator("#comments a", has_text="sign up").click()
    page.locator("#email").fill("reader@example.org")
    page.locator("#display_name").fill("Reader One")
    page.locator("#password").fill("reader password")
    page.locator("button", has_text="Create account").click()
    page.wait_for_url("**/articles/1#comments")
    page.locator("#comment-body").fill("A **first** comment with [a link](https://example.org)")
    with page.expect_navigation():
        page.locator("button", has_text="Post comment").click()
    comment = page.locator(".comment").first
    assert "A first comment with a link" in comment.inner_text()
    assert comment.locator("a").first.get_attribute("rel") == "nofollow ugc noopener"
    page.locator(".reply-box summary").first.click()
    page.locator(".reply-box textarea").first.fill("And a reply")
    with page.expect_navigation():
        page.locator("button", has_text="Post reply").first.click()
    assert page.locator(".comment-replies .comment").count() == 1
    page.screenshot(path=str(shots / "comments.png"), full_page=True)
    moderator = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    moderator.goto(site.base_url + "/login?next=/articles/1")
    moderator.locator("#email").fill("mod@example.org")
    moderator.locator("#password").fill("moderator password")
    moderator.locator("button", has_text="Sign in").click()
    moderator.wait_for_url("**/articles/1")
    with moderator.expect_navigation():
        moderator.locator(".comment-replies button", has_text="Hide").click()
    assert moderator.locator(".comment-replies .badge").text_content() == "hidden by a moderator"
    moderator.goto(site.base_url + "/moderation")
    assert moderator.locator("table.sources tbody tr").count() == 1
    moderator.screenshot(path=str(shots / "moderation.png"), full_page=True)
    page.reload()
    assert page.locator(".comment-replies .comment").count() == 0  # readers no longer see it
    assert (shots / "comments.png").stat().st_size > 10_000
    moderator.context.close()
    reader.close()


def test_keyboard_shortcuts_move_open_and_save(
    browser: Browser, site: LiveServer, demo_database: Database
) -> None:
    from tidings.accounts.service import create_user

    with demo_database.session() as session:
        create_user(session, "keys@example.org", "keyboard password", "Keys")
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(site.base_url + "/login")
    page.locator("#email").fill("keys@example.org")
    page.locator("#password").fill("keyboard password")
    page.locator("button", has_text="Sign in").click()
    page.wait_for_url(site.base_url + "/")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    selected = page.locator(".article-item.kb-selected")
    assert selected.count() == 1
    title = selected.locator(".headline a").inner_text()
    assert page.locator(".article-item").nth(0).get_attribute("class") == "article-item kb-selected"
    page.keyboard.press("?")
    assert page.locator("#kb-help").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#kb-help").is_visible()
    with page.expect_navigation():
        page.keyboard.press("o")
    assert page.locator("h1.story-title").inner_text() == title
    with page.expect_navigation():
        page.keyboard.press("s")
    assert "Saved" in page.locator(".save-form button").inner_text()
    page.context.close()
