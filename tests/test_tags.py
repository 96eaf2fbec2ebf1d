"""Hashtags: display names and keys, extraction in English, French and Chinese, story merging."""

from __future__ import annotations

import pytest

from tidings.enrich.tags import Tag, TagError, extract_tags, merge_tags, normalize_tag

ENGLISH_TITLE = "Nvidia unveils new AI chip as U.S. tightens export rules"
ENGLISH_BODY = """Nvidia on Tuesday unveiled a new artificial intelligence chip aimed at data \
centers, days after the U.S. Commerce Department tightened rules on exports of advanced \
semiconductors to China.
The chip, called Blackwell Ultra, is twice as fast as its predecessor at training large \
language models, the company said. Chief executive Jensen Huang said cloud providers including \
Microsoft and Amazon had already placed orders for the new AI chips.
The United States has restricted sales of the most powerful AI chips to China since 2022, citing \
national security. Chinese companies such as Huawei are developing their own AI chips in response.
Analysts said the export rules could cost Nvidia several billion dollars in sales this year, but \
demand from American cloud companies remains strong. Nvidia shares rose 3% in early trading."""

FRENCH_TITLE = "Port Aurelia : les élections municipales reportées après les inondations"
FRENCH_BODY = """Les élections municipales de Port Aurelia, prévues dimanche, sont reportées \
de deux semaines après les inondations qui ont touché le quartier d'Eastbank.
La préfecture a annoncé mardi que les bureaux de vote installés dans les écoles d'Eastbank \
étaient inutilisables. Les inondations ont endommagé une dizaine d'écoles et la mairie annexe.
Le maire sortant, Hélène Ortiz, a salué une décision « raisonnable ». Son adversaire, Tomas \
Reyes, estime que le report des élections municipales favorise la majorité sortante.
Les électeurs de Port Aurelia recevront une nouvelle carte électorale par courrier."""

CHINESE_TITLE = "颱風泰利逼近台灣 中央氣象局發布海上颱風警報"
CHINESE_BODY = """中央氣象局今天上午發布海上颱風警報，颱風泰利預計明天接近台灣東南部海面。\
氣象局表示，颱風帶來的豪雨可能造成山區土石流，民眾應注意防範。
台北市政府已成立災害應變中心，並呼籲民眾減少外出。台灣電力公司也宣布，將加派人力搶修停電地區。"""


@pytest.mark.parametrize(
    ("label", "language", "name"),
    [
        ("smart cities", "en", "#SmartCities"),
        ("AI chip", "en", "#AIChip"),
        ("U.S.", "en", "#US"),
        ("Port Aurelia", "en", "#PortAurelia"),
        ("PORT AURELIA", "en", "#PortAurelia"),
        ("U.S. ELECTION 2026", "en", "#USElection2026"),
        ("NASA", "en", "#NASA"),
        ("iPhone 15", "en", "#iPhone15"),
        ("人工智能", "zh", "#人工智能"),
        ("élections municipales", "fr", "#ÉlectionsMunicipales"),
        ("l'Union européenne", "fr", "#UnionEuropéenne"),
        ("  « smart cities »  ", "en", "#SmartCities"),
        ("#AI chip!", None, "#AIChip"),
    ],
)
def test_display_name(label: str, language: str | None, name: str) -> None:
    tag = normalize_tag(label, language)
    assert tag.name == name
    assert tag.slug == name.removeprefix("#")


@pytest.mark.parametrize(
    ("first", "second", "language"),
    [
        ("Smart City", "smart cities", "en"),
        ("U.S.", "United States", "en"),
        ("US", "U.S.", "en"),
        ("États-Unis", "United States", "fr"),
        ("颱風", "台风", "zh"),
        ("人工智慧", "人工智慧", "zh-TW"),
        ("élection municipale", "élections municipales", "fr"),
        ("Union européenne", "l'Union européenne", "fr"),
        ("EU", "European Union", "en"),
    ],
)
def test_same_key(first: str, second: str, language: str) -> None:
    assert normalize_tag(first, language).key == normalize_tag(second, language).key


@pytest.mark.parametrize(
    ("first", "second"),
    [("us", "US"), ("AI chip", "AI chips policy"), ("台风", "台湾")],
)
def test_different_key(first: str, second: str) -> None:
    assert normalize_tag(first, "en").key != normalize_tag(second, "en").key


@pytest.mark.parametrize(
    ("label", "key"),
    [
        ("smart cities", "smart citi"),
        ("élections municipales", "élect municipal"),
        ("颱風", "台风"),
    ],
)
def test_key_is_lowercase_stemmed_simplified(label: str, key: str) -> None:
    language = "zh" if label == "颱風" else ("fr" if "é" in label else "en")
    assert normalize_tag(label, language).key == key


@pytest.mark.parametrize("label", ["", "   ", "...", "«»", "#", "—"])
def test_phrase_without_letters_is_refused(label: str) -> None:
    with pytest.raises(TagError, match="no letters or digits"):
        normalize_tag(label, "en")


def names(tags: list[Tag]) -> list[str]:
    return [tag.name for tag in tags]


@pytest.mark.parametrize(
    ("title", "body", "language", "expected"),
    [
        (ENGLISH_TITLE, ENGLISH_BODY, "en", {"#Nvidia", "#US", "#ExportRules"}),
        (FRENCH_TITLE, FRENCH_BODY, "fr", {"#ÉlectionsMunicipales", "#PortAurelia"}),
        (CHINESE_TITLE, CHINESE_BODY, "zh-TW", {"#颱風", "#中央氣象局", "#台灣"}),
        (CHINESE_TITLE, CHINESE_BODY, None, {"#颱風", "#中央氣象局"}),  # script decides
    ],
)
def test_extract_tags(title: str, body: str, language: str | None, expected: set[str]) -> None:
    tags = extract_tags(title, body, language)
    assert expected <= set(names(tags)), names(tags)
    assert len(tags) <= 6
    assert len({tag.key for tag in tags}) == len(tags)
    assert [tag.score for tag in tags] == sorted((tag.score for tag in tags), reverse=True)


def test_ai_chip_is_one_tag_for_singular_and_plural() -> None:
    tags = extract_tags(ENGLISH_TITLE, ENGLISH_BODY, "en")
    chips = [tag for tag in tags if tag.key == normalize_tag("AI chip", "en").key]
    assert len(chips) == 1
    assert chips[0].name in {"#AIChip", "#AIChips"}


def test_no_tag_is_only_a_part_of_a_better_one() -> None:
    tags = extract_tags(FRENCH_TITLE, FRENCH_BODY, "fr", limit=10)
    keys = [tag.key for tag in tags]
    assert "élect municipal" in keys
    assert "municipal" not in keys  # never used without "élections"


def test_traditional_article_keeps_traditional_labels() -> None:
    tags = extract_tags(CHINESE_TITLE, CHINESE_BODY, "zh-Hant")
    typhoon = next(tag for tag in tags if tag.key == "台风")
    assert typhoon.label == "颱風"


@pytest.mark.parametrize(
    ("title", "body", "language"),
    [
        ("", "", "en"),
        ("!!!", "... — …", "fr"),
        ("123 456", "7,8 9.5 10%", None),
        ("東京で新しい駅が開業", "東京都は新しい駅を開業しました。", "ja"),
        ("Заголовок новости", "Москва объявила о новых мерах поддержки экономики.", "ru"),
        ("Title", "Body text about the harbour tunnel.", "xx-unknown"),
    ],
)
def test_odd_input_does_not_crash(title: str, body: str, language: str | None) -> None:
    tags = extract_tags(title, body, language)
    assert all(tag.name.startswith("#") and len(tag.name) > 1 for tag in tags)


def test_limit() -> None:
    assert len(extract_tags(ENGLISH_TITLE, ENGLISH_BODY, "en", limit=2)) == 2
    assert extract_tags(ENGLISH_TITLE, ENGLISH_BODY, "en", limit=0) == []


def test_deterministic() -> None:
    runs = [extract_tags(ENGLISH_TITLE, ENGLISH_BODY, "en", limit=10) for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]


def tag(label: str, score: float, language: str = "en") -> Tag:
    return Tag(**{**normalize_tag(label, language).__dict__, "score": score})


def test_merge_ranks_shared_tags_first_and_dedupes_by_key() -> None:
    first = [tag("harbour", 0.9), tag("smart cities", 0.5), tag("U.S.", 0.4)]
    second = [tag("Smart City", 0.3), tag("United States", 0.2), tag("tunnel", 0.95)]
    third = [tag("smart cities", 0.1), tag("toll", 0.8)]
    merged = merge_tags([first, second, third])
    assert [t.key for t in merged[:2]] == ["smart citi", "unit state"]
    assert merged[0].name == "#SmartCities"  # two articles spell it so, one "Smart City"
    assert len({t.key for t in merged}) == len(merged)
    assert [t.score for t in merged] == sorted((t.score for t in merged), reverse=True)
    assert {t.key for t in merged[2:]} == {"harbour", "tunnel", "toll"}


def test_merge_limit_and_empty() -> None:
    many = [[tag(f"topic {i}", 0.5) for i in range(20)]]
    assert len(merge_tags(many)) == 8
    assert len(merge_tags(many, limit=3)) == 3
    assert merge_tags([]) == []
    assert merge_tags([[], []]) == []


def test_merge_counts_an_article_once_per_key() -> None:
    merged = merge_tags([[tag("AI chip", 0.9), tag("AI chips", 0.8)], [tag("tunnel", 0.1)]])
    assert merged[0].score == pytest.approx(1.9)
    assert [t.key for t in merged] == ["ai chip", "tunnel"]
