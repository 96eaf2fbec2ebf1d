"""The built-in provider: extractive answers ranked by sentence centrality, no model at all.

Summaries and key points rank sentences by LexRank centrality (Erkan & Radev, 2004) over
TF-IDF vectors, mixed with a lead prior because news puts the essentials first, then pick
greedily with maximal marginal relevance so that no two say the same thing. Questions are
answered by BM25 retrieval over sentences; a question whose words the article barely covers
gets "The article doesn't say". Story summaries compare outlets sentence by sentence: what
two or more outlets report is "agreed", a central sentence only one outlet has is "only",
and matching sentences whose figures differ are flagged "differ". Written here rather than
taken from sumy/gensim because the lead prior, the cross-outlet comparison and the
citation ids are the product, and the whole thing must stay under 100 ms per article.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tidings.ai.provider import (
    NOT_IN_ARTICLE,
    NOT_IN_COVERAGE,
    Answer,
    Document,
    Item,
    ModelRequiredError,
    Task,
    language_name,
    same_language,
)
from tidings.ai.text import Sentence, content_words
from tidings.enrich.lang import convert_chinese

LEAD_WEIGHT = 0.6  # share of a sentence's score from its position: news puts the essentials first
KEY_POINT_LEAD_WEIGHT = 0.2
LEAD_DECAY = 4.0  # sentences: the lead prior falls to 1/e this far into the article
REDUNDANCY = 0.5  # cosine above which a candidate repeats a chosen sentence
AGREE_SIMILARITY = 0.35  # cosine at which two outlets' sentences report the same thing
ANSWER_COVERAGE = 0.5  # idf-weighted share of the question's words the answer must contain
MIN_WORDS = 4  # shorter sentences (datelines, "Read more.") are poor summary material
# Figures: 42, 1.8, 9,000, 37.4 in "37.4C", 7.08 in "7.08am"; not the 1 of "AureliaSat-1".
_NUMBER = re.compile(r"(?<![\w-])\d+(?:[.,]\d+)*")
DIFFER_SIMILARITY = 0.5  # two sentences this close that give other figures disagree
_BACKGROUND = re.compile(
    r"\b(since|ago|last (year|month|week)|earlier|previous(ly)?|first|began|history|"
    r"(19|20)\d\d|has been|have been|had been|background|context)\b|去年|此前|曾|自從|自从|以來|以来",
    re.IGNORECASE,
)

# Questions that ask for the gist ("What happened?", "發生了什麼事？") get the summary: their
# words (stemmed) name no fact to look for.
GIST_WORDS = frozenset(
    ["happen", "happened", "happens", "go", "going", "new", "news", "latest", "main", "point",
     "key", "summari", "gist", "overview", "发生", "發生", "什么", "什麼", "事", "怎么", "怎麼"]
)  # fmt: skip

_WH = re.compile(
    r"\b(when|where|who|whom|whose|why|how|which)\b|何時|幾時|几时|哪|誰|谁|為什麼|为什么|多少|幾|几",
    re.IGNORECASE,
)
_WHEN = re.compile(r"\bwhen\b|what time|何時|幾時|几时|什麼時候|什么时候", re.IGNORECASE)
_TIME = re.compile(
    r"\b(today|yesterday|tonight|tomorrow|this (morning|afternoon|evening|week|month|year)|"
    r"last (night|week|month|year)|next (week|month|year)|ago|since|"
    r"(mon|tues|wednes|thurs|fri|satur|sun)day|january|february|march|april|may|june|july|"
    r"august|september|october|november|december|(19|20)\d\d|\d{1,2}[:.]\d{2}\s*(am|pm|a\.m\.|p\.m\.)?|"
    r"\d{1,2}\s*(am|pm|a\.m\.|p\.m\.))\b|今天|今日|昨天|昨日|明天|上午|下午|晚上|凌晨|[年月日]|[時时]",
    re.IGNORECASE,
)

Matrix = npt.NDArray[np.float32]


@dataclass(slots=True)
class _Space:
    """Sentences of one or more documents as unit TF-IDF rows, and their owners."""

    sentences: list[Sentence]
    owners: list[int]  # index into the documents for each sentence
    vectors: Matrix
    words: list[list[str]]
    idf: dict[str, float]


def _space(documents: list[Document], *, broad: bool = True) -> _Space:
    sentences: list[Sentence] = []
    owners: list[int] = []
    words: list[list[str]] = []
    for index, document in enumerate(documents):
        for sentence in document.sentences:
            sentences.append(sentence)
            owners.append(index)
            words.append(content_words(sentence.text, document.language, broad=broad))
    frequency: Counter[str] = Counter(word for row in words for word in set(row))
    total = max(len(sentences), 1)
    idf = {word: math.log((total + 1) / (count + 1)) + 1.0 for word, count in frequency.items()}
    column = {word: number for number, word in enumerate(idf)}
    vectors = np.zeros((len(sentences), max(len(column), 1)), dtype=np.float32)
    for row, row_words in enumerate(words):
        for word, count in Counter(row_words).items():
            vectors[row, column[word]] = (1.0 + math.log(count)) * idf[word]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors /= np.where(norms > 0, norms, 1.0)
    return _Space(sentences, owners, vectors, words, idf)


def _lexrank(similarity: Matrix, iterations: int = 40, damping: float = 0.85) -> Matrix:
    size = similarity.shape[0]
    if size == 0:
        return np.zeros(0, dtype=np.float32)
    weights = similarity.copy()
    np.fill_diagonal(weights, 0.0)
    sums = weights.sum(axis=1, keepdims=True)
    transition = np.where(sums > 0, weights / np.where(sums > 0, sums, 1.0), 1.0 / size)
    rank = np.full(size, 1.0 / size, dtype=np.float32)
    for _ in range(iterations):
        rank = (1 - damping) / size + damping * (transition.T @ rank)
    result: Matrix = rank.astype(np.float32)
    return result


def _importance(space: _Space, lead_weight: float) -> Matrix:
    """Per sentence: centrality within its own document mixed with the lead prior, in [0, 1]."""
    scores = np.zeros(len(space.sentences), dtype=np.float32)
    owners = np.array(space.owners)
    for owner in sorted(set(space.owners)):
        rows = np.flatnonzero(owners == owner)
        block = space.vectors[rows]
        centrality = _lexrank(block @ block.T)
        peak = float(centrality.max()) if centrality.size else 0.0
        centrality = centrality / peak if peak > 0 else centrality
        for offset, row in enumerate(rows):
            sentence = space.sentences[row]
            lead = math.exp(-sentence.position / LEAD_DECAY)
            score = (1 - lead_weight) * float(centrality[offset]) + lead_weight * lead
            if len(space.words[row]) < 2 or len(sentence.text.split()) < MIN_WORDS:
                score *= 0.3
            scores[row] = score
    return scores


def _pick(space: _Space, scores: Matrix, count: int, candidates: list[int]) -> list[int]:
    """Greedy maximal-marginal-relevance choice of `count` rows among `candidates`."""
    chosen: list[int] = []
    remaining = [row for row in candidates if scores[row] > 0]
    while remaining and len(chosen) < count:
        best, best_value = -1, -math.inf
        for row in remaining:
            overlap = max((float(space.vectors[row] @ space.vectors[c]) for c in chosen), default=0)
            if overlap > REDUNDANCY:
                continue
            value = float(scores[row]) - 0.3 * overlap
            if value > best_value:
                best, best_value = row, value
        if best < 0:
            break
        chosen.append(best)
        remaining.remove(best)
    return chosen


def _summary_size(sentence_count: int, feature: str) -> int:
    if feature == "key-points":
        return max(3, min(5, round(sentence_count / 5)))
    return 3 if sentence_count >= 6 else 2


class BuiltinProvider:
    """Extractive summaries, key points, explanations and answers; OpenCC for zh scripts."""

    name = "builtin"
    model = "extractive-1"

    def check(self) -> str:
        return "Built-in provider: extractive, no model needed."

    def run(self, task: Task) -> Answer:
        self._check_language(task)
        if task.feature == "translate":
            return self._translate(task)
        if task.feature == "ask":
            answer = self._ask(task)
        elif task.feature == "explain":
            answer = self._explain(task)
        elif task.scope == "story" and len(task.documents) > 1:
            answer = self._compare(task)
        else:
            answer = self._summarise(task)
        return self._in_language(answer, task)

    # Extractive answers are in the article's language; Chinese scripts convert losslessly.
    def _check_language(self, task: Task) -> None:
        source = task.documents[0].language if task.documents else None
        if task.feature == "translate" or same_language(source, task.language):
            return
        if {source, task.language} <= {"zh-Hant", "zh-Hans"}:
            return
        raise ModelRequiredError(
            f"Answers in {language_name(task.language)} about an article in "
            f"{language_name(source)} need a language model: the built-in provider quotes the "
            "article. Configure an OpenAI-compatible provider (docs/ai.md)."
        )

    def _in_language(self, answer: Answer, task: Task) -> Answer:
        source = task.documents[0].language if task.documents else None
        if task.language in ("zh-Hant", "zh-Hans") and source != task.language:
            for item in answer.items:
                item.text = convert_chinese(item.text, task.language)
        return answer

    def _summarise(self, task: Task) -> Answer:
        space = _space(task.documents[:1])
        lead = KEY_POINT_LEAD_WEIGHT if task.feature == "key-points" else LEAD_WEIGHT
        scores = _importance(space, lead)
        count = _summary_size(len(space.sentences), task.feature)
        rows = sorted(_pick(space, scores, count, list(range(len(space.sentences)))))
        return Answer([Item(space.sentences[row].text, [space.sentences[row].id]) for row in rows])

    def _ask(self, task: Task) -> Answer:
        documents = task.documents
        space = _space(documents, broad=False)
        language = documents[0].language if documents else None
        question = task.question or ""
        query = set(content_words(question, language, broad=False))
        not_found = NOT_IN_ARTICLE if task.scope == "article" else NOT_IN_COVERAGE
        if not space.sentences or not question.strip():
            return Answer([], note=not_found)
        asks_when = bool(_WHEN.search(question))
        if query <= GIST_WORDS and not _WH.search(question):  # "What happened?"
            gist = self._compare(task) if len(documents) > 1 else self._summarise(task)
            return Answer([item for item in gist.items if item.kind != "differ"][:3])
        query -= GIST_WORDS  # "When did it happen?": the event is the article's, not a word
        scores = _bm25(space, query) if query else np.zeros(len(space.sentences), np.float32)
        if asks_when:  # prefer sentences that say when
            timed = np.array([bool(_TIME.search(s.text)) for s in space.sentences], np.float32)
            if not timed.any():
                return Answer([], note=not_found)
            weight = 0.5 * scores.max() if scores.max() > 0 else _importance(space, LEAD_WEIGHT)
            scores = scores + timed * weight
        best = int(np.argmax(scores))
        wanted = sum(space.idf.get(word, 1.0) for word in query)
        covered = sum(space.idf.get(w, 1.0) for w in query & set(space.words[best]))
        if scores[best] <= 0 or (wanted and covered / wanted < ANSWER_COVERAGE):
            return Answer([], note=not_found)
        rows = [row for row in np.argsort(-scores)[:3] if scores[row] >= 0.6 * scores[best]]
        items = [self._cited(space, documents, int(row)) for row in rows]  # best first
        return Answer(items)

    def _cited(self, space: _Space, documents: list[Document], row: int) -> Item:
        sentence = space.sentences[row]
        return Item(sentence.text, [sentence.id], outlets=[documents[space.owners[row]].publisher])

    def _explain(self, task: Task) -> Answer:
        """Background: the earlier coverage in time order, then the article's own context."""
        if task.scope == "story":  # the story's own reports, first one first
            earlier = task.documents
        else:
            earlier = sorted(task.context, key=lambda document: document.published_at)
        items: list[Item] = []
        for document in earlier[:4]:
            space = _space([document])
            if not space.sentences:
                continue
            row = int(np.argmax(_importance(space, LEAD_WEIGHT)))
            day = document.published_at.strftime("%-d %B %Y")
            sentence = space.sentences[row]
            items.append(
                Item(f"{document.publisher}, {day}: {sentence.text}", [sentence.id],
                     kind="background", outlets=[document.publisher])
            )  # fmt: skip
        if task.scope == "article":
            items.extend(self._own_background(task.documents[0], limit=max(1, 4 - len(items))))
        if not items:
            return Answer(self._summarise(task).items, note="No earlier coverage yet.")
        return Answer(items)

    def _own_background(self, document: Document, limit: int) -> list[Item]:
        lead = {s.id for s in document.sentences[:2]}
        found = [
            Item(s.text, [s.id], kind="background")
            for s in document.sentences
            if s.id not in lead and _BACKGROUND.search(s.text) and len(s.text.split()) >= MIN_WORDS
        ]
        return found[:limit]

    def _compare(self, task: Task) -> Answer:
        """What the outlets agree on, what only one reports, where their figures differ."""
        documents = task.documents
        space = _space(documents)
        scores = _importance(space, LEAD_WEIGHT)
        similarity = space.vectors @ space.vectors.T
        owners = np.array(space.owners)
        support: list[dict[int, int]] = []  # per sentence: document → its best-matching row
        for row in range(len(space.sentences)):
            matches: dict[int, int] = {space.owners[row]: row}
            for owner in range(len(documents)):
                if owner == space.owners[row]:
                    continue
                rows = np.flatnonzero(owners == owner)
                if rows.size == 0:
                    continue
                best = int(rows[np.argmax(similarity[row, rows])])
                if similarity[row, best] >= AGREE_SIMILARITY:
                    matches[owner] = best
            support.append(matches)
        agreed_scores = np.array(
            [scores[row] * len(support[row]) if len(support[row]) > 1 else 0.0
             for row in range(len(scores))], dtype=np.float32,
        )  # fmt: skip
        limit = 5 if task.feature == "key-points" else 3
        items: list[Item] = []
        for row in _pick(space, agreed_scores, limit, list(range(len(scores)))):
            matches = support[row]
            items.append(
                Item(space.sentences[row].text,
                     [space.sentences[m].id for m in sorted(matches.values())], kind="agreed",
                     outlets=[documents[owner].publisher for owner in sorted(matches)])
            )  # fmt: skip
            for difference in self._differences(space, documents, row, matches):
                if not any(set(d.citations) == set(difference.citations) for d in items):
                    items.append(difference)
        only_scores = np.array(
            [scores[row] if len(support[row]) == 1 else 0.0 for row in range(len(scores))],
            dtype=np.float32,
        )
        for row in _pick(space, only_scores, 2, list(range(len(scores)))):
            publisher = documents[space.owners[row]].publisher
            items.append(self._only(space, row, publisher))
        return Answer(items)

    def _only(self, space: _Space, row: int, publisher: str) -> Item:
        sentence = space.sentences[row]
        return Item(sentence.text, [sentence.id], kind="only", outlets=[publisher])

    def _differences(
        self, space: _Space, documents: list[Document], row: int, matches: dict[int, int]
    ) -> list[Item]:
        figures = {
            owner: set(_NUMBER.findall(space.sentences[m].text)) for owner, m in matches.items()
        }
        own = figures[space.owners[row]]
        for owner, numbers in figures.items():
            if own and numbers and own != numbers and not own & numbers:
                first, other = space.sentences[row], space.sentences[matches[owner]]
                text = (
                    f"{documents[space.owners[row]].publisher}: “{first.text}” — "
                    f"{documents[owner].publisher}: “{other.text}”"
                )
                publishers = [documents[space.owners[row]].publisher, documents[owner].publisher]
                return [Item(text, [first.id, other.id], kind="differ", outlets=publishers)]
        return []

    def _translate(self, task: Task) -> Answer:
        document = task.documents[0]
        source = document.language
        if same_language(source, task.language):
            return Answer(
                [Item(s.text, [s.id]) for s in document.sentences],
                note=f"The article is already in {language_name(task.language)}.",
            )
        if {source, task.language} <= {"zh-Hant", "zh-Hans"}:
            return Answer(
                [Item(convert_chinese(s.text, task.language), [s.id]) for s in document.sentences]
            )
        raise ModelRequiredError(
            f"Translating {language_name(source)} to {language_name(task.language)} needs a "
            "language model: the built-in provider only converts between Traditional and "
            "Simplified Chinese. Configure an OpenAI-compatible provider (docs/ai.md)."
        )


def _bm25(space: _Space, query: set[str], k1: float = 1.2, b: float = 0.75) -> Matrix:
    lengths = np.array([len(words) for words in space.words], dtype=np.float32)
    average = float(lengths.mean()) if lengths.size else 1.0
    scores = np.zeros(len(space.words), dtype=np.float32)
    for row, words in enumerate(space.words):
        counts = Counter(words)
        for word in query:
            frequency = counts.get(word, 0)
            if frequency:
                norm = frequency + k1 * (1 - b + b * lengths[row] / max(average, 1.0))
                scores[row] += space.idf[word] * frequency * (k1 + 1) / norm
    return scores
