"""Citations checked against the sources: no answer cites a sentence that is not there.

Models are told to end each line with sentence ids in brackets. What comes back is parsed
here and validated: ids that do not exist are dropped, outlets are derived from the cited
sentences (never taken from the model), and a line left with no valid citation, or one that
shares almost no words with what it cites, is marked `supported = False`.
"""

from __future__ import annotations

import re

from tidings.ai.provider import Answer, Document, Item, Task
from tidings.ai.text import content_words

CITATION = re.compile(r"\[\s*((?:a\d+)?s\d+(?:\s*[,;]\s*(?:a\d+)?s\d+)*)\s*\]", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d+[.)]|[a-z][.)])\s+")
MIN_OVERLAP = 0.2  # share of an item's content words that must appear in what it cites


def parse_lines(text: str) -> list[Item]:
    """Model output → items: one per non-empty line, bullets stripped, citations collected."""
    items: list[Item] = []
    for line in text.splitlines():
        line = _BULLET.sub("", line).strip()
        if not line:
            continue
        citations = [
            part.strip().lower()
            for match in CITATION.finditer(line)
            for part in re.split(r"[,;]", match.group(1))
        ]
        clean = " ".join(CITATION.sub("", line).split())
        if clean and all(item.text != clean for item in items):  # small models repeat lines
            items.append(Item(clean, list(dict.fromkeys(citations))))
    return items


UNSUPPORTED_NOTE = "The model's answer is not backed by the cited sentences; read it with care."


def validate(answer: Answer, task: Task) -> Answer:
    """Drop citations to unknown sentences; mark items without real support; set outlets."""
    owner: dict[str, Document] = {}
    text_of: dict[str, str] = {}
    for document in task.all_documents():
        for sentence in document.sentences:
            owner[sentence.id] = document
            text_of[sentence.id] = sentence.text
    language = task.documents[0].language if task.documents else None
    for item in answer.items:
        item.citations = [cid for cid in item.citations if cid in owner]
        item.outlets = list(dict.fromkeys(owner[cid].publisher for cid in item.citations))
        if not item.citations:
            item.supported = False
        elif task.feature != "translate" and same_script(language, task.language):
            item.supported = _overlaps(item, [text_of[cid] for cid in item.citations], language)
    if answer.items and not any(item.supported for item in answer.items):
        answer.note = answer.note or UNSUPPORTED_NOTE
    return answer


def same_script(first: str | None, second: str | None) -> bool:
    return (first or "en").split("-")[0] == (second or "en").split("-")[0]


def _overlaps(item: Item, cited: list[str], language: str | None) -> bool:
    words = set(content_words(item.text, language))
    if len(words) < 3:
        return True  # too short to judge ("Yes.", a name)
    source = set(content_words(" ".join(cited), language))
    return len(words & source) / len(words) >= MIN_OVERLAP
