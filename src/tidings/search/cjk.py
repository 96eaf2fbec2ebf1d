"""Chinese, Japanese and Korean text for the search index: one token per character.

FTS5's unicode61 tokenizer keeps a run of CJK characters as one token, so 渡輪 inside 海港渡輪
would never match. Spacing the characters out makes each one a token, and a word becomes a
phrase of adjacent characters (the n-gram approach); no dictionary is needed.
"""

from __future__ import annotations

import re

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_CHAR = re.compile(f"([{_CJK}])")
_HAS_CJK = re.compile(f"[{_CJK}]")
_EXTRA_SPACES = re.compile(" {2,}")


def has_cjk(text: str) -> bool:
    return bool(_HAS_CJK.search(text))


def spaced(text: str | None) -> str:
    """`text` with a space around every CJK character (what the index stores)."""
    if not text or not has_cjk(text):
        return text or ""
    return _EXTRA_SPACES.sub(" ", _CJK_CHAR.sub(r" \1 ", text)).strip()
