"""A reader's whole visit in headless Chromium, checked by axe-core on every page it sees:
front page → article → related article → story → search → sign in → comment, on a desktop
and a phone, light and dark. No console errors, no accessibility violations (WCAG 2.1 A/AA
and axe's best practices), a screenshot of each step in test-artifacts/journey/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

from tests.conftest import LiveServer
from tests.test_browser import browser  # noqa: F401 - the shared Chromium fixture
from tidings.db.session import Database

ROOT = Path(__file__).parent.parent
# axe-core from the npm registry, installed by `make test` (the Makefile's axe target).
AXE = ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "test-artifacts" / "journey"
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]

if not AXE.exists() and not os.environ.get("CI"):
    pytest.skip(
        "axe-core is not installed (make test installs it with npm into .cache/axe)",
        allow_module_level=True,
    )


def accessibility_violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found: list[str] = page.evaluate(
        """async (rules) => (await axe.run(document, {runOnly: {type: 'tag', values: rules}}))
            .violations.map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ')}`)""",
        RULES,
    )
    return found


@pytest.mark.parametrize(
    ("name", "viewport", "scheme"),
    [
        ("desktop-light", {"width": 1280, "height": 900}, "light"),
        ("phone-dark", {"width": 390, "height": 844}, "dark"),
    ],
)
def test_a_readers_visit_end_to_end(
    browser: Browser,  # noqa: F811 - the fixture imported above
    site: LiveServer,
    demo_database: Database,
    name: str,
    viewport: dict[str, int],
    scheme: str,
) -> None:
    from tidings.accounts.service import create_user

    with demo_database.session() as session:
        create_user(session, "visitor@example.org", "visitor password", "Visitor")
    shots = SHOTS / name
    shots.mkdir(parents=True, exist_ok=True)
    # bypass_csp: the site's CSP (rightly) refuses the injected axe script.
    context = browser.new_context(viewport=viewport, color_scheme=scheme, bypass_csp=True)  # type: ignore[arg-type]
    page = context.new_page()
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        # Publisher images come through /media, which fetches them from the publisher: the
        # test publisher server that made the demo database is gone, so those answer 502 (as
        # for a publisher that is down). Every other error counts.
        if message.type == "error" and "/media/" not in message.location.get("url", ""):
            errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    problems: dict[str, list[str]] = {}

    def step(label: str) -> None:
        page.wait_for_load_state()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), label
        page.screenshot(path=str(shots / f"{len(problems) + 1:02d}-{label}.png"), full_page=True)
        problems[label] = accessibility_violations(page)

    page.goto(site.base_url + "/")
    step("front")
    page.locator("li.article-item h2 a").first.click()
    step("article")
    page.locator(".related li.article-item h2 a").first.click()
    step("related")
    page.goto(site.base_url + "/")
    page.locator(".story-card .coverage-link a").first.click()
    assert page.locator(".kicker").first.inner_text() == "Full coverage"
    step("story")
    page.locator("header a", has_text="Search").click()
    page.locator("#q").fill("panda cub")
    with page.expect_navigation():
        page.locator("#q").press("Enter")
    assert page.locator("li.article-item mark").count() >= 2
    step("search")
    page.locator("li.article-item h2 a").first.click()
    article_url = page.url
    page.locator("header a", has_text="Sign in").click()
    page.locator("#email").fill("visitor@example.org")
    page.locator("#password").fill("visitor password")
    with page.expect_navigation():
        page.locator("button", has_text="Sign in").click()
    assert page.url.split("#")[0] == article_url  # back where the reader was
    page.locator("#comment-body").fill("Good to see the *whole* story here.")
    with page.expect_navigation():
        page.locator("button", has_text="Post comment").click()
    assert "Good to see the whole story here." in page.locator(".comment").first.inner_text()
    step("comment")
    context.close()
    assert errors == []
    assert {label: found for label, found in problems.items() if found} == {}
