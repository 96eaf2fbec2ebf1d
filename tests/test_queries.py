"""No N+1 queries: the SQL statements a page runs do not grow with the items it shows.

Each page is requested over a store holding 10 items of everything it lists (articles in a
source, a story and a hashtag, comments, saved articles), then over the same store grown to
40; the statements counted on the app's engine must be the same, and few.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from tests.conftest import FormClient, LiveServer, make_settings
from tidings.accounts.service import create_user
from tidings.db.models import Article, ArticleTag, Comment, Source, Story, Tag, User
from tidings.db.session import Database
from tidings.readers import service as readers

PASSWORD = "a query-counting password"
MOST_STATEMENTS = 25  # per page, whatever it shows
ANONYMOUS = [
    "/",
    "/?cursor={cursor}",
    "/articles/{first}",
    "/stories/{story}",
    "/tags/harbour",
    "/sources/{source}",
    "/search?q=harbour",
    "/api/v1/articles?limit=50",
    "/api/v1/stories",
    "/api/v1/search?q=harbour&mode=keyword&limit=50",
    "/feeds/latest.rss",
    "/feeds/tags/harbour.atom",
    "/feeds/stories/{story}.json",
]
SIGNED_IN = ["/saved", "/for-you", "/api/v1/me/saved", "/api/v1/me/for-you"]


def grow(database: Database, total: int) -> dict[str, Any]:
    """Add articles (and a comment and a save each) until the store holds `total`."""
    start = datetime(2026, 11, 20, 12, tzinfo=UTC)
    with database.session() as session:
        source = session.scalar(select(Source)) or Source(
            name="Harbour Times", feed_url="http://127.0.0.1/harbour.xml"
        )
        tag = session.scalar(select(Tag)) or Tag(
            key="harbour", slug="harbour", name="Harbour", label="harbour"
        )
        story = session.scalar(select(Story)) or Story(
            title="Harbour", first_published_at=start, last_published_at=start
        )
        user = session.scalar(select(User)) or create_user(
            session, "counter@example.org", PASSWORD, "Counter"
        )
        session.add_all([source, tag, story])
        session.flush()
        have = len(session.scalars(select(Article.id)).all())
        for number in range(have, total):
            url = f"http://127.0.0.1/harbour/{number}"
            article = Article(
                source_id=source.id, url=url, original_url=url, title=f"Harbour report {number}",
                body=f"The harbour report number {number}.", entry_hash="e", content_hash="c",
                published_at=start + timedelta(minutes=number), story_id=story.id,
            )  # fmt: skip
            session.add(article)
            session.flush()
            session.add(ArticleTag(article_id=article.id, tag_id=tag.id, label="harbour"))
            session.add(
                Comment(
                    target_type="article",
                    target_id=article.id if number else 1,
                    user_id=user.id,
                    body="Noted.",
                    html="<p>Noted.</p>",
                    submission_id=f"s{number}",
                )
            )
            readers.save(session, user, article.id)
        first = session.scalars(select(Article).order_by(Article.id)).first()
        assert first is not None
        first.comment_count = total
        tag.article_count = story.article_count = story.source_count = total
        story.lead_article_id = first.id
        story.last_published_at = start + timedelta(minutes=total)
        if not readers.is_following(session, user, "source", source.id):
            readers.follow(session, user, "source", source.id)
        return {"first": first.id, "story": story.id, "source": source.id}


class Counter:
    """SQL statements run on an engine while counting."""

    def __init__(self, database: Database) -> None:
        self.statements: list[str] = []
        event.listen(database.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: object, _cursor: object, statement: str, *_args: object) -> None:
        self.statements.append(statement)

    def count(self, http: FormClient, path: str) -> int:
        assert http.get(path).status_code == 200, path  # warm: first-use work is not per item
        self.statements.clear()
        response = http.get(path)
        assert response.status_code == 200, path
        return len(self.statements)


@pytest.fixture
def served(database: Database) -> Iterator[tuple[LiveServer, Counter]]:
    from tidings.web.app import create_app

    with LiveServer(create_app(make_settings(database.url), database, run_scheduler=False)) as live:
        yield live, Counter(database)


def counts(live: LiveServer, counter: Counter, ids: dict[str, Any]) -> dict[str, int]:
    found = {}
    with FormClient(base_url=live.base_url, timeout=20) as anonymous:
        cursor = anonymous.get("/api/v1/articles?limit=5").json()["next_cursor"]
        for path in ANONYMOUS:
            found[path] = counter.count(anonymous, path.format(cursor=cursor, **ids))
    with FormClient(base_url=live.base_url, timeout=20) as reader:
        login = {"email": "counter@example.org", "password": PASSWORD}
        assert reader.post("/login", data=login).status_code == 303
        for path in SIGNED_IN:
            found[path] = counter.count(reader, path)
    return found


def test_statements_per_page_do_not_grow_with_the_items_shown(
    database: Database, served: tuple[LiveServer, Counter]
) -> None:
    live, counter = served
    few = counts(live, counter, grow(database, 10))
    many = counts(live, counter, grow(database, 40))
    assert many == few
    assert max(many.values()) <= MOST_STATEMENTS, many


def test_comment_counters_stay_equal_to_the_visible_comments(database: Database) -> None:
    """Listings show `comment_count` instead of counting rows per item: every way a comment
    appears or disappears keeps it equal to a fresh count, in the same transaction."""
    from tidings.comments import service as comments

    ids = grow(database, 10)

    def check(session: Any) -> None:
        article = session.get(Article, ids["first"])
        session.refresh(article)
        visible = select(func.count(Comment.id)).where(
            Comment.target_type == "article",
            Comment.target_id == article.id,
            Comment.status == "visible",
        )
        assert article.comment_count == session.scalar(visible)

    with database.session() as session:
        moderator = create_user(session, "mod@example.org", PASSWORD, "Mod", role="moderator")
        writer = create_user(session, "writer@example.org", PASSWORD, "Writer")
        comments.recount(session, "article", ids["first"])  # grow() set it by hand
        check(session)
        posted = [
            comments.post_comment(
                session,
                writer,
                "article",
                ids["first"],
                f"Point {n}.",
                submission_id=f"p{n}",
                scope=f"test-{n}",
            )
            for n in range(3)
        ]
        check(session)
        steps = [
            lambda: comments.moderate(session, moderator, posted[0].id, "hide"),
            lambda: comments.delete_comment(session, writer, posted[1].id),
            lambda: comments.moderate(session, moderator, posted[0].id, "restore"),
            lambda: comments.ban_user(session, moderator, writer.id),
        ]
        for step in steps:
            step()
            check(session)


def test_popular_and_rare_hashtags_list_the_same_articles(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hashtag's page walks all articles (popular tag) or the tag's own rows (rare tag):
    both plans give the same pages, cursor after cursor."""
    from tidings.db import repository

    grow(database, 40)
    with database.session() as session:
        tag_id = session.scalars(select(Tag.id)).one()

    def walk() -> list[int]:
        seen: list[int] = []
        cursor = None
        with database.session() as session:
            while True:
                page, cursor = repository.list_articles(
                    session, limit=7, cursor=cursor, tag_id=tag_id, originals_only=True
                )
                seen += [article.id for article in page]
                if cursor is None:
                    return seen

    rare = walk()
    monkeypatch.setattr(repository, "POPULAR_TAG", 5)
    assert walk() == rare
    assert len(rare) == 40


def test_newer_links_walk_back_exactly_over_the_older_ones(
    database: Database, served: tuple[LiveServer, Counter]
) -> None:
    """A tag page's "Older" links, then its "Newer" links: the same pages, in reverse."""
    live, _counter = served
    grow(database, 70)

    def page(http: FormClient, query: str) -> tuple[list[str], str | None, str | None]:
        html = http.get(f"/tags/harbour{query}").text
        listing = html[html.index('<ol class="article-list">') :]
        ids = re.findall(r'<h2 class="headline"><a href="/articles/(\d+)"', listing)
        older = re.search(r'rel="next" href="(\?cursor=[^"]+)"', listing)
        newer = re.search(r'rel="prev" href="(\?before=[^"]+)"', listing)
        return ids, older and older.group(1), newer and newer.group(1)

    with FormClient(base_url=live.base_url, timeout=20) as http:
        forward = [page(http, "")]
        assert forward[0][2] is None  # the first page has no newer one
        while forward[-1][1]:
            forward.append(page(http, str(forward[-1][1])))
        assert [len(ids) for ids, _, _ in forward] == [30, 30, 10]
        back = [forward[-1]]
        while back[-1][2]:
            back.append(page(http, str(back[-1][2])))
    assert [ids for ids, _, _ in back] == [ids for ids, _, _ in reversed(forward)]
