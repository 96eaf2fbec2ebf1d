"""The README's screenshots: the front, an article and a story page of `tidings demo`.

Starts the demo on free 127.0.0.1 ports (its own database in a temporary folder), opens the
pages in headless Chromium (Playwright, Debian's /usr/bin/chromium) and writes JPEGs to
docs/screenshots/: desktop 1280 px wide, light, the front page for a reader of Traditional
Chinese, and the front page on a phone in dark. Or,
with --base-url, photographs a Tidings that is already running.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, ViewportSize, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DESKTOP: ViewportSize = {"width": 1280, "height": 860}
PHONE: ViewportSize = {"width": 390, "height": 844}
QUALITY = 72


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def demo_site() -> Iterator[str]:
    """`tidings demo` on free ports until the block ends; yields its address."""
    site, publishers = free_port(), free_port()
    with tempfile.TemporaryDirectory() as directory:
        env = os.environ | {"TIDINGS_DATABASE_URL": f"sqlite:///{directory}/demo.db"}
        command = [sys.executable, "-m", "tidings", "demo", "--port", str(site),
                   "--publisher-port", str(publishers)]  # fmt: skip
        log = (Path(directory) / "demo.log").open("wb")
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        base_url = f"http://127.0.0.1:{site}"
        try:
            deadline = time.monotonic() + 300
            while not _answers(base_url + "/healthz"):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"tidings demo did not start: see {log.name}")
                time.sleep(0.5)
            yield base_url
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def first_link(page: Page, base_url: str, pattern: str) -> str:
    """The first link on the front page to a path like `pattern` (/articles/…, /stories/…)."""
    page.goto(base_url + "/")
    html = page.content()
    found = re.search(rf'href="({pattern}/\d+)"', html)
    if found is None:
        raise SystemExit(f"no {pattern} link on the front page")
    return base_url + found.group(1)


def shoot(page: Page, url: str, name: str) -> Path:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    path = OUT / f"{name}.jpg"
    page.screenshot(path=str(path), type="jpeg", quality=QUALITY)
    return path


def take(base_url: str) -> list[Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        desktop = browser.new_page(viewport=DESKTOP, color_scheme="light")
        article = first_link(desktop, base_url, "/articles")
        story = first_link(desktop, base_url, "/stories")
        paths = [
            shoot(desktop, base_url + "/", "front"),
            shoot(desktop, article, "article"),
            shoot(desktop, story, "story"),
        ]
        # A browser asking for Traditional Chinese (Accept-Language: zh-TW).
        chinese = browser.new_page(viewport=DESKTOP, color_scheme="light", locale="zh-TW")
        paths.append(shoot(chinese, base_url + "/", "front-zh-hant"))
        phone = browser.new_page(viewport=PHONE, color_scheme="dark", device_scale_factor=2)
        paths.append(shoot(phone, base_url + "/", "front-phone-dark"))
        browser.close()
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="photograph this running Tidings instead of a demo")
    args = parser.parse_args()
    if args.base_url:
        paths = take(args.base_url.rstrip("/"))
    else:
        with demo_site() as base_url:
            paths = take(base_url)
    for path in paths:
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size / 1024:,.0f} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
