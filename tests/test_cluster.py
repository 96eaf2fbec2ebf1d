"""Story clustering: same event together, similar events apart, time, restore, merges, ids."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tidings.enrich.cluster import ClusterParams, StoryClusterer
from tidings.enrich.features import story_terms

NOON = datetime(2024, 3, 5, 12, tzinfo=UTC)

# (title, text) pairs: each event is told by three outlets in their own words.
REID_REHAB = [
    (
        "Tara Reid checks into rehab",
        "Actress Tara Reid checked herself into the Promises Treatment Center in Malibu on "
        "Tuesday, her publicist Jack Ketsoyan told People magazine in 2008.",
    ),
    (
        "Tara Reid enters Promises rehab center",
        "The American Pie star Tara Reid has entered Promises Treatment Center, publicist "
        "Jack Ketsoyan said on Tuesday. Reid asked for privacy in 2008.",
    ),
    (
        "Reid in rehab, says her rep",
        "Tara Reid went to Promises Treatment Center in Malibu on Tuesday, Jack Ketsoyan "
        "said. The actress Reid is being treated, her family supports her.",
    ),
]
LOHAN_REHAB = [
    (
        "Lindsay Lohan checks into Betty Ford Center",
        "Actress Lindsay Lohan checked into the Betty Ford Center in Rancho Mirage on Thursday "
        "for a 90-day court-ordered stay, her lawyer Mark Heller said in May 2013.",
    ),
    (
        "Lohan enters rehab at Betty Ford",
        "Lindsay Lohan has entered the Betty Ford Center for 90 days of treatment ordered by a "
        "judge, lawyer Mark Heller said on Thursday in 2013.",
    ),
    (
        "Lindsay Lohan begins court-ordered rehab",
        "Lohan arrived at Betty Ford Center in Rancho Mirage on Thursday, Mark Heller said. "
        "The actress Lohan must stay 90 days under her 2013 plea deal.",
    ),
]
IRAN_QUAKE = [
    (
        "Earthquake hits Qeshm island in Iran",
        "A magnitude 5.9 earthquake struck Qeshm island in southern Iran on Sunday, killing "
        "13 people in the villages of Tabl and Masen, the governor Mehdi Irannejad said in 2005.",
    ),
    (
        "Deadly quake on Iran's Qeshm island",
        "The 5.9 magnitude earthquake on Qeshm island killed 13 people on Sunday and destroyed "
        "houses in Tabl and Masen, Mehdi Irannejad told the news agency in 2005.",
    ),
    (
        "Qeshm earthquake leaves 13 dead",
        "Rescuers searched the villages of Tabl and Masen on Qeshm island after Sunday's 5.9 "
        "earthquake in Iran, governor Mehdi Irannejad said. Thirteen people died in 2005.",
    ),
]
CALIFORNIA_QUAKE = [
    (
        "Earthquake shakes Geysers area in California",
        "A magnitude 4.4 earthquake struck near The Geysers in Sonoma County, California, on "
        "Thursday morning, the U.S. Geological Survey said in March 2013. No damage was reported.",
    ),
    (
        "Quake rattles Sonoma County",
        "The 4.4 earthquake centred near The Geysers in Sonoma County, California, woke "
        "residents on Thursday, the Geological Survey said in 2013. No one was hurt.",
    ),
    (
        "Magnitude 4.4 quake near The Geysers",
        "Residents of Sonoma County in California felt a 4.4 earthquake near The Geysers "
        "geothermal field on Thursday, said the Geological Survey. It was March 2013.",
    ),
]


def terms_of(title: str, text: str) -> Counter[str]:
    return story_terms(title=title, text=text, language="en")


def feed(
    clusterer: StoryClusterer,
    articles: list[tuple[str, str]],
    first_id: int,
    published_at: datetime | None = NOON,
) -> list[int]:
    """Add the articles with consecutive ids; return their ids."""
    ids = []
    for offset, (title, text) in enumerate(articles):
        clusterer.add(first_id + offset, terms_of(title, text), published_at)
        ids.append(first_id + offset)
    return ids


def stories(clusterer: StoryClusterer, ids: list[int]) -> set[int | None]:
    return {clusterer.story_of(article_id) for article_id in ids}


@pytest.mark.parametrize(
    ("first", "second"),
    [(REID_REHAB, LOHAN_REHAB), (IRAN_QUAKE, CALIFORNIA_QUAKE)],
    ids=["two-celebrities-in-rehab", "two-earthquakes"],
)
@pytest.mark.parametrize("interleave", [False, True], ids=["in-turn", "interleaved"])
def test_same_event_together_similar_events_apart(
    first: list[tuple[str, str]], second: list[tuple[str, str]], interleave: bool
) -> None:
    clusterer = StoryClusterer()
    if interleave:
        mixed = [article for pair in zip(first, second, strict=True) for article in pair]
        ids = feed(clusterer, mixed, first_id=1)
        first_ids, second_ids = ids[0::2], ids[1::2]
    else:
        first_ids = feed(clusterer, first, first_id=1)
        second_ids = feed(clusterer, second, first_id=10)
    assert len(stories(clusterer, first_ids)) == 1
    assert len(stories(clusterer, second_ids)) == 1
    assert stories(clusterer, first_ids) != stories(clusterer, second_ids)


@pytest.mark.parametrize(
    ("cross", "cohesion_ratio", "expected"),
    [
        (0.09, 0.25, [[1, 2], [3, 4]]),  # above story_threshold, far below each event's 0.5
        (0.2, 0.25, [[1, 2, 3, 4]]),  # close enough to how alike each event is inside
        (0.09, 0.0, [[1, 2, 3, 4]]),  # without the rule, story_threshold alone decides
        (0.03, 0.0, [[1, 2], [3, 4]]),
    ],
)
def test_events_sharing_a_subject_stay_apart_when_far_less_alike_than_inside(
    monkeypatch: pytest.MonkeyPatch, cross: float, cohesion_ratio: float, expected: list[list[int]]
) -> None:
    # Two events of one subject (two stories about the same hospital): each pair within an
    # event scores 0.5, every pair across the events scores `cross`.
    similarity = np.full((4, 4), cross)
    similarity[:2, :2] = similarity[2:, 2:] = 0.5
    np.fill_diagonal(similarity, 0.0)
    clusterer = StoryClusterer(ClusterParams(cohesion_ratio=cohesion_ratio))
    monkeypatch.setattr(clusterer, "_similarities", lambda article_ids: similarity)
    clusters = clusterer._average_link([1, 2, 3, 4])
    assert sorted(sorted(cluster) for cluster in clusters) == expected


def test_reprints_of_a_wire_story_join_the_other_reports() -> None:
    # Many outlets reprint one agency text; the copies must not form a story of their own.
    clusterer = StoryClusterer()
    articles = [article for article in IRAN_QUAKE for _ in range(5)]
    ids = feed(clusterer, articles, first_id=1)
    assert len(stories(clusterer, ids)) == 1


def test_unknown_dates_are_neutral() -> None:
    clusterer = StoryClusterer()
    ids = feed(clusterer, IRAN_QUAKE, first_id=1, published_at=None)
    assert len(stories(clusterer, ids)) == 1


def test_article_far_apart_in_time_starts_its_own_story() -> None:
    clusterer = StoryClusterer()
    ids = feed(clusterer, IRAN_QUAKE[:2], first_id=1)
    late = clusterer.add(3, terms_of(*IRAN_QUAKE[2]), NOON + timedelta(days=30))
    assert late.story_id not in stories(clusterer, ids)
    soon = clusterer.add(4, terms_of(*IRAN_QUAKE[2]), NOON + timedelta(hours=6))
    assert soon.story_id in stories(clusterer, ids)


def test_restore_rebuilds_the_same_stories() -> None:
    articles = REID_REHAB + IRAN_QUAKE + LOHAN_REHAB
    original = StoryClusterer()
    ids = feed(original, articles, first_id=1)
    restored = StoryClusterer()
    for article_id, (title, text) in zip(ids, articles, strict=True):
        story_id = original.story_of(article_id)
        assert story_id is not None
        restored.restore(article_id, terms_of(title, text), NOON, story_id)
    assert {i: restored.story_of(i) for i in ids} == {i: original.story_of(i) for i in ids}
    # A restored clusterer keeps clustering: a further report joins its story, and new
    # stories get ids the restored ones do not use.
    placement = restored.add(99, terms_of(*IRAN_QUAKE[0]), NOON)
    assert placement.story_id == original.story_of(ids[3])
    fresh = restored.add(100, terms_of("Parliament passes budget", "Lawmakers voted."), NOON)
    assert fresh.story_id not in {original.story_of(i) for i in ids}


def test_merge_reports_moved_articles() -> None:
    # Two reports of one event with no word in common start two stories; fuller reports that
    # share words with both join them, and the articles that changed story are told.
    clusterer = StoryClusterer()
    left = clusterer.add(1, terms_of("Tabl and Masen", "Villages destroyed"), NOON)
    right = clusterer.add(2, terms_of("Irannejad on Qeshm", "Governor speaks"), NOON)
    assert left.story_id != right.story_id
    text = "Villages Tabl and Masen destroyed, governor Irannejad speaks on Qeshm."
    moved: dict[int, int] = {}
    for article_id in (3, 4):
        moved.update(clusterer.add(article_id, terms_of("Quake", text), NOON).moved)
    story_id = clusterer.story_of(3)
    assert clusterer.story_of(1) == clusterer.story_of(2) == clusterer.story_of(4) == story_id
    assert moved in ({1: story_id}, {2: story_id})
    assert story_id is not None
    assert sorted(clusterer.members(story_id)) == [1, 2, 3, 4]


def test_story_ids_are_stable_and_start_at_next_story_id() -> None:
    clusterer = StoryClusterer(next_story_id=500)
    first_ids = feed(clusterer, IRAN_QUAKE, first_id=1)
    (quake_story,) = stories(clusterer, first_ids)
    assert quake_story == 500
    second_ids = feed(clusterer, CALIFORNIA_QUAKE, first_id=10)
    (second_story,) = stories(clusterer, second_ids)
    assert second_story is not None
    assert second_story > 500
    assert stories(clusterer, first_ids) == {500}
    assert clusterer.members(500) == first_ids


def test_forget_before_closes_old_stories() -> None:
    clusterer = StoryClusterer()
    ids = feed(clusterer, IRAN_QUAKE[:2], first_id=1)
    clusterer.forget_before(NOON + timedelta(days=1))
    placement = clusterer.add(3, terms_of(*IRAN_QUAKE[2]), NOON)
    assert placement.story_id not in stories(clusterer, ids)
    assert clusterer.story_of(1) is not None  # answers about closed stories remain


def test_forgetting_drops_the_closed_articles_own_terms_and_keeps_clustering() -> None:
    clusterer = StoryClusterer()
    feed(clusterer, REID_REHAB, first_id=1, published_at=NOON - timedelta(days=30))
    feed(clusterer, IRAN_QUAKE[:2], first_id=10)
    before = len(clusterer._terms)
    clusterer.forget_before(NOON - timedelta(days=1))
    assert len(clusterer._terms) < before  # the rehab reports' one-off phrases are gone
    assert "qeshm island" in clusterer._terms  # terms of open articles stay
    placement = clusterer.add(12, terms_of(*IRAN_QUAKE[2]), NOON)
    assert placement.story_id == clusterer.story_of(10) == clusterer.story_of(11)


def test_candidates_limit_the_stories_considered() -> None:
    clusterer = StoryClusterer()
    ids = feed(clusterer, IRAN_QUAKE[:2], first_id=1)
    other = clusterer.add(3, terms_of(*IRAN_QUAKE[2]), NOON, candidates=[])
    assert other.story_id not in stories(clusterer, ids)
    (story_id,) = stories(clusterer, ids)
    joined = clusterer.add(4, terms_of(*IRAN_QUAKE[2]), NOON, candidates=[story_id])
    assert joined.story_id == story_id


@pytest.mark.parametrize(
    ("title", "text", "language", "expected"),
    [
        ("伊朗格什姆岛发生地震", "地震造成十三人死亡，村庄房屋倒塌。", "zh", {"地震", "伊朗"}),
        ("伊朗格什姆岛发生地震", "地震造成十三人死亡。", None, {"地震"}),
        (
            "Quake hits Iran",
            "On Sunday the quake hit Qeshm Island in 2005.",
            "en",
            {"quake", "@qeshm_island", "@2005", "iran"},
        ),
        ("Séisme en Iran", "Le séisme a frappé l'île de Qeshm dimanche.", "fr", {"séisme"}),
        (
            "A 5.6 quake",
            "The U.S. survey said: a magnitude 5.6 quake struck at 10:53.",
            "en",
            {"@5.6", "u.s", "quake", "survey"},
        ),
    ],
    ids=["chinese", "chinese-unknown-language", "english-names-years", "french", "decimals"],
)
def test_story_terms(title: str, text: str, language: str | None, expected: set[str]) -> None:
    terms = story_terms(title, text, language)
    assert expected <= set(terms)
    assert not {"the", "on", "le", "de", "a"} & set(terms)


@pytest.mark.parametrize(
    ("text", "phrases", "not_phrases"),
    [
        (
            "Rescuers reached West Papua. Aftershocks followed.",
            {"west papua"},
            {"papua aftershocks"},
        ),
        ("The quake hit the island of Qeshm.", {"quake hit"}, {"hit island", "island qeshm"}),
        ("Apple unveiled Ivy Bridge laptops", {"ivy bridge", "bridge laptops"}, set()),
    ],
    ids=["sentence-end-breaks", "stopword-breaks", "adjacent-words"],
)
def test_story_terms_phrases(text: str, phrases: set[str], not_phrases: set[str]) -> None:
    terms = story_terms("", text, "en")
    assert phrases <= set(terms)
    assert not not_phrases & set(terms)


def test_story_terms_boost_title_and_names() -> None:
    terms = story_terms("Quake hits Iran", "A quake hit the island of Qeshm near Iran.", "en")
    assert terms["quake"] > terms["island"]
    assert terms["@qeshm"] > 0
    assert "@a" not in terms  # the capital at a sentence start is no name
    quake = story_terms("", "A magnitude 5.6 quake hit Qeshm.", "en")
    assert quake["@5.6"] > quake["@qeshm"]  # numbers tell two events of one subject apart
