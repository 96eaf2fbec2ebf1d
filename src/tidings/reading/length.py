"""How long an article is: words (characters for Chinese, Japanese, Korean) and reading time."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# Kept in step with search/cjk.py: Kana, CJK ideographs (and extension A), Hangul, compatibility.
CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_CHAR = re.compile(f"[{CJK_RANGES}]")
_WORD = re.compile(r"\S*[^\W_]\S*")  # a word has a letter or digit; "—" alone is not one
WORDS_PER_MINUTE = 230  # adults reading English prose on screen
CJK_CHARS_PER_MINUTE = 400  # the usual figure for Chinese text


@dataclass(frozen=True)
class TextLength:
    """Words of alphabetic scripts, CJK characters, and the minutes they take to read."""

    words: int
    cjk_characters: int
    minutes: int

    @property
    def mostly_cjk(self) -> bool:
        """Count characters, not words, for this text (what Chinese readers expect)."""
        return self.cjk_characters > self.words


def text_length(text: str) -> TextLength:
    """Words and CJK characters of `text`, and the whole minutes (at least 1) to read it."""
    cjk = len(_CJK_CHAR.findall(text))
    words = len(_WORD.findall(_CJK_CHAR.sub(" ", text)))
    seconds = 60 * (words / WORDS_PER_MINUTE + cjk / CJK_CHARS_PER_MINUTE)
    return TextLength(words=words, cjk_characters=cjk, minutes=max(1, math.ceil(seconds / 60)))
