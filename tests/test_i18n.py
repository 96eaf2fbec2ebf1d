"""The interface in English, Traditional and Simplified Chinese: choosing the language, the
pages and times in it, and catalogs that cover every string the interface shows."""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from tests.conftest import FormClient, LiveServer, make_settings
from tests.test_comments import PASSWORD, make_user
from tidings.db.models import User
from tidings.db.session import Database
from tidings.web import i18n
from tidings.web.timefmt import exact_time, relative_time

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = {
    code: ROOT / "src/tidings/web/locale" / directory / "LC_MESSAGES/messages.po"
    for code, directory in (("zh-Hant", "zh_Hant"), ("zh-Hans", "zh_Hans"))
}
Result = TypeVar("Result")


def in_language(code: str, work: Callable[[], Result], time_zone: str | None = None) -> Result:
    """Run `work` speaking `code`, without leaking the choice into other tests."""

    def run() -> Result:
        i18n.use(i18n.localisation(code, time_zone))
        return work()

    return contextvars.copy_context().run(run)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("en-US,en;q=0.9", "en"),
        ("zh-TW", "zh-Hant"),
        ("zh-HK", "zh-Hant"),
        ("zh-MO", "zh-Hant"),
        ("zh-Hant", "zh-Hant"),
        ("zh-Hant-TW,zh;q=0.8", "zh-Hant"),
        ("zh_TW", "zh-Hant"),
        ("zh-CN", "zh-Hans"),
        ("zh-SG", "zh-Hans"),
        ("zh", "zh-Hans"),
        ("zh-Hans-CN", "zh-Hans"),
        ("fr-FR,fr;q=0.9", "en"),
        ("*", "en"),
        ("fr, zh-TW;q=0.5", "zh-Hant"),
        ("en;q=0.4, zh-CN;q=0.8", "zh-Hans"),
        ("de, en;q=0.1, zh-HK;q=0.2", "zh-Hant"),
        ("zh-CN;q=0, en", "en"),
        ("zh-TW;q=0.5, zh-CN;q=0.5", "zh-Hant"),  # a tie: the first listed
        ("zh-CN;q=nonsense, en;q=0.1", "en"),
    ],
)
def test_accept_language_negotiation(header: str | None, expected: str) -> None:
    assert i18n.negotiate(header) == expected


# One string from the header, the front page and the footer, in each language.
PAGE_STRINGS = {
    "en": ("Top stories", "Sign in</a>", "your news, on your own machine", "Search the news"),
    "zh-Hant": ("頭條新聞", "登入</a>", "你的新聞，在你自己的機器上", "搜尋新聞"),
    "zh-Hans": ("头条新闻", "登录</a>", "你的新闻，在你自己的机器上", "搜索新闻"),
}


@pytest.mark.parametrize(
    ("accept_language", "code"), [("en-GB", "en"), ("zh-TW", "zh-Hant"), ("zh-CN", "zh-Hans")]
)
def test_front_page_in_each_language(client: httpx.Client, accept_language: str, code: str) -> None:
    page = client.get("/", headers={"Accept-Language": accept_language})
    assert page.status_code == 200
    assert f'<html lang="{code}">' in page.text
    for text in PAGE_STRINGS[code][:3]:
        assert text in page.text
    for other, strings in PAGE_STRINGS.items():
        if other != code:
            assert strings[0] not in page.text
    assert page.headers["content-language"] == code
    assert {"Accept-Language", "Cookie"} <= {v.strip() for v in page.headers["vary"].split(",")}
    # Times in listings speak the language too; the articles themselves do not change.
    ago = {"en": r"\d+ hours? ago", "zh-Hant": r"\d+ 小時前", "zh-Hans": r"\d+ 小时前"}[code]
    assert re.search(rf"<time [^>]+>{ago}</time>", page.text)
    search = client.get("/search", headers={"Accept-Language": accept_language})
    assert PAGE_STRINGS[code][3] in search.text


def test_api_and_feeds_stay_untranslated(client: httpx.Client) -> None:
    headers = {"Accept-Language": "zh-TW"}
    missing = client.get("/api/v1/articles/999999", headers=headers)
    assert missing.json()["title"] == "Not Found"
    feed = client.get("/feeds/latest.rss", headers=headers)
    assert feed.status_code == 200
    assert "頭條新聞" not in feed.text
    page = client.get("/articles/999999", headers=headers)
    assert page.status_code == 404
    assert "找不到頁面" in page.text


def test_switch_sets_a_cookie_that_beats_the_browser(client: httpx.Client) -> None:
    page = client.get("/search?lang=zh-Hans", headers={"Accept-Language": "en"})
    assert '<html lang="zh-Hans">' in page.text
    assert client.cookies["lang"] == "zh-Hans"
    # The footer links switch without JavaScript: plain links to this page with ?lang=.
    for code, name in i18n.LOCALE_NAMES.items():
        assert f'href="/search?lang={code}"' in page.text
        assert name in page.text
    later = client.get("/", headers={"Accept-Language": "zh-TW"})
    assert '<html lang="zh-Hans">' in later.text
    assert "头条新闻" in later.text
    back = client.get("/?lang=en", headers={"Accept-Language": "zh-TW"})
    assert '<html lang="en">' in back.text
    assert client.cookies["lang"] == "en"
    unknown = client.get("/?lang=xx", headers={"Accept-Language": "zh-TW"})
    assert '<html lang="en">' in unknown.text  # ignored: the cookie still says English


@pytest.fixture
def reader(demo_database: Database) -> Iterator[FormClient]:
    from tidings.web.app import create_app

    make_user(demo_database, "lin@example.org")
    settings = make_settings(demo_database.url)
    with (
        LiveServer(create_app(settings, demo_database, run_scheduler=False)) as live,
        FormClient(base_url=live.base_url, timeout=20) as http,
    ):
        signed = http.post("/login", data={"email": "lin@example.org", "password": PASSWORD})
        assert signed.status_code == 303
        yield http


def test_account_preference_language_and_time_zone(
    reader: FormClient, demo_database: Database
) -> None:
    english = {"Accept-Language": "en"}
    account = reader.get("/account", headers=english)
    assert 'name="locale"' in account.text
    assert 'name="time_zone"' in account.text
    saved = reader.post(
        "/account/locale", data={"locale": "zh-Hant", "time_zone": "Asia/Taipei"}, headers=english
    )
    assert saved.status_code == 303
    with demo_database.session() as session:
        row = session.query(User).filter_by(email="lin@example.org").one()
        assert (row.locale, row.time_zone) == ("zh-Hant", "Asia/Taipei")
    # The preference holds without the cookie too, on any browser the reader signs in from.
    reader.cookies.delete("lang")
    account = reader.get("/account?message=Language+and+time+zone+saved", headers=english)
    assert '<html lang="zh-Hant">' in account.text
    assert "已儲存語言與時區" in account.text
    assert 'value="Asia/Taipei"' in account.text
    page = reader.get("/", headers=english)
    assert re.search(r'title="\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2} GMT\+08:00"', page.text)
    # The explicit switch still wins over the saved preference.
    assert '<html lang="zh-Hans">' in reader.get("/?lang=zh-Hans").text
    refused = reader.post("/account/locale", data={"locale": "en", "time_zone": "Mars/Olympus"})
    assert refused.status_code == 400
    assert "Mars/Olympus" in refused.text
    cleared = reader.post("/account/locale", data={"locale": "", "time_zone": ""})
    assert cleared.status_code == 303
    assert "lang" not in reader.cookies
    assert '<html lang="zh-Hans">' in reader.get("/", headers={"Accept-Language": "zh-CN"}).text


MOMENT = datetime(2026, 11, 25, 9, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    ("elapsed", "en", "zh_hant", "zh_hans"),
    [
        (timedelta(seconds=20), "just now", "剛剛", "刚刚"),
        (timedelta(minutes=1), "1 minute ago", "1 分鐘前", "1 分钟前"),
        (timedelta(minutes=5), "5 minutes ago", "5 分鐘前", "5 分钟前"),
        (timedelta(hours=1), "1 hour ago", "1 小時前", "1 小时前"),
        (timedelta(hours=2), "2 hours ago", "2 小時前", "2 小时前"),
        (timedelta(days=1, hours=3), "yesterday", "昨天", "昨天"),
        (timedelta(days=3), "3 days ago", "3 天前", "3 天前"),
        (timedelta(days=20), "25 Nov", "11月25日", "11月25日"),
        (timedelta(days=400), "25 Nov 2026", "2026年11月25日", "2026年11月25日"),
    ],
)
def test_relative_times_in_each_language(
    elapsed: timedelta, en: str, zh_hant: str, zh_hans: str
) -> None:
    for code, expected in (("en", en), ("zh-Hant", zh_hant), ("zh-Hans", zh_hans)):
        assert in_language(code, lambda: relative_time(MOMENT, MOMENT + elapsed)) == expected


@pytest.mark.parametrize(
    ("code", "time_zone", "expected"),
    [
        ("en", None, "25 Nov 2026, 09:06 UTC"),
        ("en", "Asia/Taipei", "25 Nov 2026, 17:06 GMT+08:00"),
        ("zh-Hant", "Asia/Taipei", "2026年11月25日 17:06 GMT+08:00"),
        ("zh-Hans", None, "2026年11月25日 09:06 UTC"),
        ("zh-Hans", "Nowhere/Unknown", "2026年11月25日 09:06 UTC"),
    ],
)
def test_exact_times_in_language_and_time_zone(
    code: str, time_zone: str | None, expected: str
) -> None:
    assert in_language(code, lambda: exact_time(MOMENT), time_zone) == expected


def interface_messages() -> dict[str, tuple[str, ...]]:
    """Every msgid the interface uses, extracted in-process as `make messages` does."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    keywords = {**DEFAULT_KEYWORDS, "lazy_gettext": None}
    found: dict[str, tuple[str, ...]] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=keywords
    ):
        ids = (message,) if isinstance(message, str) else tuple(message)
        found[ids[0]] = ids
        assert filename  # every message comes from a file named in babel.cfg
    return found


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"%\((\w+)\)[sd]", text))


@pytest.mark.parametrize("code", sorted(CATALOGS))
def test_catalog_translates_every_interface_string(code: str) -> None:
    extracted = interface_messages()
    assert len(extracted) > 200  # the extraction itself works
    with CATALOGS[code].open("rb") as po:
        catalog = read_po(po)
    problems = []
    for msgid, ids in sorted(extracted.items()):
        message = catalog.get(ids[0])
        strings = (
            []
            if message is None
            else [message.string]
            if isinstance(message.string, str)
            else list(message.string)
        )
        if message is None:
            problems.append(f"missing: {msgid!r}")
        elif not all(strings):
            problems.append(f"untranslated: {msgid!r}")
        elif message.fuzzy:
            problems.append(f"fuzzy (review it): {msgid!r}")
        elif any(_placeholders(text) != _placeholders(ids[-1]) for text in strings):
            problems.append(f"placeholders differ: {msgid!r}")
    assert not problems, (
        f"{CATALOGS[code].relative_to(ROOT)}: run `make messages` and translate:\n  "
        + "\n  ".join(problems)
    )
