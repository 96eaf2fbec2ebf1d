"""Load the bundled demo corpus (fictional publishers and articles) from TOML."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

CORPUS_DIR = Path(__file__).parent / "content"


@dataclass(frozen=True)
class Publisher:
    slug: str
    name: str
    language: str
    feed: str
    tagline: str
    caption_style: str
    support_line: str = ""
    faults: tuple[str, ...] = ()
    podcasts: int = 0


@dataclass(frozen=True)
class DemoArticle:
    event: str
    publisher: str
    slug: str
    title: str
    author: str
    section: str
    hours_ago: float
    description: str
    caption: str
    paragraphs: tuple[str, ...]
    tags: tuple[str, ...] = ()
    syndicated_by: tuple[str, ...] = ()
    # An edit after publication: when, the note the publisher added, and the new text.
    update_hours_ago: float | None = None
    update_note: str = ""
    update_paragraphs: tuple[str, ...] = ()

    @property
    def text(self) -> tuple[str, ...]:
        """The paragraphs as the page shows them now (after any edit)."""
        return self.update_paragraphs or self.paragraphs

    def updated_at(self, anchor: datetime) -> datetime | None:
        if self.update_hours_ago is None:
            return None
        return anchor - timedelta(hours=self.update_hours_ago)

    def published_at(self, anchor: datetime) -> datetime:
        return anchor - timedelta(hours=self.hours_ago)


@dataclass(frozen=True)
class Corpus:
    publishers: tuple[Publisher, ...]
    articles: tuple[DemoArticle, ...]
    events: tuple[str, ...] = field(default=())

    def publisher(self, slug: str) -> Publisher | None:
        return next((p for p in self.publishers if p.slug == slug), None)

    def articles_of(self, publisher: str) -> list[DemoArticle]:
        """Articles a publisher carries (its own and the wire stories it republishes), newest first."""
        carried = [
            a for a in self.articles if a.publisher == publisher or publisher in a.syndicated_by
        ]
        return sorted(carried, key=lambda a: a.hours_ago)

    def article(self, publisher: str, slug: str) -> DemoArticle | None:
        return next((a for a in self.articles_of(publisher) if a.slug == slug), None)

    def before_edits(self) -> Corpus:
        """The corpus as first published: every edited article in its original version."""
        originals = tuple(
            replace(a, update_hours_ago=None, update_note="", update_paragraphs=())
            for a in self.articles
        )
        return replace(self, articles=originals)

    def edited_publishers(self) -> set[str]:
        """Publishers of an article that was edited after publication."""
        return {a.publisher for a in self.articles if a.update_paragraphs}


@cache
def load_corpus(directory: Path = CORPUS_DIR) -> Corpus:
    """The corpus in `directory` (publishers.toml plus events/*.toml)."""
    with (directory / "publishers.toml").open("rb") as handle:
        publishers = tuple(
            Publisher(**{**entry, "faults": tuple(entry.get("faults", ()))})
            for entry in tomllib.load(handle)["publishers"]
        )
    articles: list[DemoArticle] = []
    events: list[str] = []
    for path in sorted((directory / "events").glob("*.toml")):
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        events.append(data["event"])
        for entry in data["articles"]:
            articles.append(
                DemoArticle(
                    event=data["event"],
                    publisher=entry["publisher"],
                    slug=entry["slug"],
                    title=entry["title"],
                    author=entry.get("author", ""),
                    section=entry.get("section", "News"),
                    hours_ago=float(entry["hours_ago"]),
                    description=entry.get("description", ""),
                    caption=entry.get("caption", ""),
                    paragraphs=tuple(entry["paragraphs"]),
                    tags=tuple(entry.get("tags", ())),
                    syndicated_by=tuple(entry.get("syndicated_by", ())),
                    update_hours_ago=entry["update"]["hours_ago"] if "update" in entry else None,
                    update_note=entry.get("update", {}).get("note", ""),
                    update_paragraphs=tuple(entry.get("update", {}).get("paragraphs", ())),
                )
            )
    return Corpus(publishers=publishers, articles=tuple(articles), events=tuple(events))
