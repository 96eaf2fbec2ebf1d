"""The passage of an article's text that best shows why it matched, with the words marked.

Written here rather than asked of the database: PostgreSQL's ts_headline re-parses the whole
text of every hit (80-120 ms for a page of long or Chinese articles in bench/search.py), and
one implementation gives the same snippets on both databases. Words are compared the way the
indexes compare them: case and stem (the article language's Snowball stemmer, the algorithms
PostgreSQL's configurations use; enrich/keyphrases.stem), the query's last bare word as a
prefix, and a CJK word as its run of characters. Only the words a cheap regular expression
finds are stemmed, so a long article costs little more than a short one.
"""

from __future__ import annotations

import re

from tidings.enrich.keyphrases import primary_language, stem
from tidings.search.cjk import has_cjk
from tidings.search.query import ParsedQuery

MARK_OPEN, MARK_CLOSE = "\x02", "\x03"  # placeholders: snippets are escaped, then marked
WINDOW_CHARS = 260  # about 40 English words
CJK_WINDOW_CHARS = 110  # as much to read: a CJK character carries about a word
_MAX_MATCHES = 48  # the densest window among the first of them: common words occur hundreds
# of times in a long article, and the first few dozen always fill a window


def snippet(text: str, parsed: ParsedQuery, language: str | None) -> str | None:
    """About WINDOW_CHARS of `text` (CJK_WINDOW_CHARS of Chinese, Japanese or Korean) around
    its densest run of query words, starting a fifth of that before it, the query words
    between MARK_OPEN and MARK_CLOSE; None when no query word occurs in `text`."""
    spans = _matches(text, parsed, primary_language(language))
    if not spans:
        return None
    width = CJK_WINDOW_CHARS if has_cjk(text[spans[0][0] : spans[0][1] + 40]) else WINDOW_CHARS
    lead = width // 5
    # The window that holds the most matches, starting a little before its first one.
    best, best_count, right = 0, 0, 0
    for left, (start, _) in enumerate(spans):
        while right < len(spans) and spans[right][1] <= start + width:
            right += 1
        if right - left > best_count:
            best, best_count = left, right - left
    first = _word_start(text, max(0, spans[best][0] - lead))
    last = _word_end(text, min(len(text), first + width))
    parts = ["… " if first > 0 else ""]
    position = first
    for start, end in spans:
        if start < first or end > last:
            continue
        parts += [text[position:start], MARK_OPEN, text[start:end], MARK_CLOSE]
        position = end
    parts.append(text[position:last])
    if last < len(text):
        parts.append("…" if has_cjk(text[last - 1 : last]) else " …")
    return "".join(parts).strip()


def _matches(text: str, parsed: ParsedQuery, language: str) -> list[tuple[int, int]]:
    """(start, end) of every occurrence of a query word in `text`, in order."""
    wanted: set[str] = set()
    alternatives: list[str] = []
    for term in parsed.terms:
        if has_cjk(term[0]):
            alternatives.append(re.escape("".join(term)))  # the characters, adjacent
            continue
        for word in term:
            lowered = word.lower()
            stemmed = stem(lowered, language)
            wanted.add(stemmed)
            # Stems are not always prefixes of the word (ferry -> ferri): find candidates by
            # what the two share, then check each one's stem.
            shared = 0
            while shared < min(len(lowered), len(stemmed)) and lowered[shared] == stemmed[shared]:
                shared += 1
            alternatives.append(r"\b" + re.escape(lowered[: max(shared, 1)]) + r"\w*")
    prefix = parsed.terms[-1][-1].lower() if parsed.prefix else None
    if not alternatives:
        return []
    spans = []
    for match in re.finditer("|".join(alternatives), text, re.IGNORECASE):
        found = match.group()
        lowered = found.lower()
        if (
            has_cjk(found)
            or stem(lowered, language) in wanted
            or (prefix is not None and lowered.startswith(prefix))
        ):
            spans.append(match.span())
            if len(spans) == _MAX_MATCHES:
                break
    return spans


def _word_start(text: str, index: int) -> int:
    """`index`, moved forward to the start of a word unless it already is one (or CJK)."""
    if index == 0 or not text[index - 1].isalnum() or has_cjk(text[index : index + 1]):
        return index
    space = text.find(" ", index)
    return space + 1 if 0 <= space < index + 30 else index


def _word_end(text: str, index: int) -> int:
    """`index`, moved back to the end of a word unless it already is one (or CJK)."""
    if index >= len(text) or not text[index].isalnum() or has_cjk(text[index - 1 : index]):
        return index
    space = text.rfind(" ", index - 30, index)
    return space if space > 0 else index
