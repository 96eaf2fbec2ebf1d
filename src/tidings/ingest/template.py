"""Learn each site's template from its articles and drop what repeats across them.

Generic cleanup cannot know that every page of one site ends with "Coastline Post is
reader-funded…": but a short paragraph that turns up in several different articles of the
same site is the site's furniture, not news. We count short paragraphs per source (by hash,
in a bounded table kept on the source) and strip the ones seen in enough articles, from new
articles and, when something new is learned, from the source's recent articles too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

MIN_ARTICLES = 4  # a paragraph in this many articles of one site is template
MIN_CHARS = 15
MAX_CHARS = 300  # longer paragraphs are reporting, even when two stories share one
MAX_TRACKED = 2000  # past this, only the most frequent half is kept


def paragraph_key(paragraph: str) -> str:
    return hashlib.sha1(paragraph.encode(), usedforsecurity=False).hexdigest()[:16]


@dataclass
class SiteTemplate:
    """Counts of short paragraphs across one source's articles."""

    counts: dict[str, int] = field(default_factory=dict)

    def learn(self, body: str) -> None:
        """Count each distinct short paragraph of one article once."""
        for key in {
            paragraph_key(p) for p in body.split("\n\n") if MIN_CHARS <= len(p) <= MAX_CHARS
        }:
            self.counts[key] = self.counts.get(key, 0) + 1
        if len(self.counts) > MAX_TRACKED:
            kept = sorted(self.counts.items(), key=lambda item: item[1], reverse=True)
            self.counts = dict(kept[: MAX_TRACKED // 2])

    def is_template(self, paragraph: str) -> bool:
        if not MIN_CHARS <= len(paragraph) <= MAX_CHARS:
            return False
        return self.counts.get(paragraph_key(paragraph), 0) >= MIN_ARTICLES

    def strip(self, body: str) -> str:
        """`body` without template paragraphs (unchanged if nothing is template)."""
        paragraphs = body.split("\n\n")
        kept = [p for p in paragraphs if not self.is_template(p)]
        return body if len(kept) == len(paragraphs) else "\n\n".join(kept)
