"""Word-level differences between two versions of a text (one token per CJK character)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from tidings.reading.length import CJK_RANGES

# A CJK character alone (Chinese has no spaces between words); a word, keeping "o'clock",
# "3.5", "1,000" and "well-known" whole; a run of spaces and line breaks; any other character
# (punctuation) alone, so that "opens." and "opens today." share "opens".
_LETTER = f"(?:(?![{CJK_RANGES}])[^\\W_])"
_TOKEN = re.compile(f"[{CJK_RANGES}]|{_LETTER}+(?:['’.,-]{_LETTER}+)*|\\s+|.", re.DOTALL)

Change = Literal["same", "added", "removed"]


@dataclass(frozen=True)
class Segment:
    """A run of text that both versions share, or that one of them added or removed."""

    change: Change
    text: str


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def word_diff(old: str, new: str) -> list[Segment]:
    """The new text as runs of unchanged, added and removed words; joining the "same" and
    "added" runs gives `new`, the "same" and "removed" runs give `old`."""
    before, after = tokens(old), tokens(new)
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    segments: list[Segment] = []
    for operation, i1, i2, j1, j2 in matcher.get_opcodes():
        if operation == "equal":
            _append(segments, "same", "".join(before[i1:i2]))
            continue
        if operation in ("delete", "replace"):
            _append(segments, "removed", "".join(before[i1:i2]))
        if operation in ("insert", "replace"):
            _append(segments, "added", "".join(after[j1:j2]))
    return segments


def _append(segments: list[Segment], change: Change, text: str) -> None:
    if not text:
        return
    if segments and segments[-1].change == change:
        segments[-1] = Segment(change, segments[-1].text + text)
    else:
        segments.append(Segment(change, text))


def change_counts(segments: list[Segment]) -> tuple[int, int]:
    """How many words (or CJK characters) were added and removed."""
    added = sum(_words(s.text) for s in segments if s.change == "added")
    removed = sum(_words(s.text) for s in segments if s.change == "removed")
    return added, removed


def _words(text: str) -> int:
    return sum(1 for token in tokens(text) if any(char.isalnum() for char in token))
