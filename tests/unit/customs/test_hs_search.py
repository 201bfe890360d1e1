"""Ranking of the HS text search."""

from __future__ import annotations

import csv
import datetime as dt
import re

import pytest

from customs.hs import HsEditionUnavailable, HsLevel, HsMatch, InvalidHsQuery, search_hs_codes
from tests.unit.customs.test_hs_code import HS2022_CSV

IN_2026 = dt.date(2026, 11, 20)


def _codes(query: str, limit: int = 100, offset: int = 0) -> list[str]:
    return [hit.entry.code for hit in search_hs_codes(query, IN_2026, limit=limit, offset=offset).hits]


@pytest.mark.parametrize("query", ["6109", "61.09", " 61 09 "])
def test_a_code_prefix_lists_the_code_then_its_subheadings(query: str) -> None:
    page = search_hs_codes(query, IN_2026)
    assert [h.entry.code for h in page.hits] == ["6109", "610910", "610990"]
    assert {h.match for h in page.hits} == {HsMatch.CODE_PREFIX}


def test_a_national_code_finds_the_subheading_it_extends() -> None:
    assert _codes("6109.10.00.12")[:1] == ["610910"]


def test_code_matches_come_before_descriptions_mentioning_the_number() -> None:
    page = search_hs_codes("8471", IN_2026)
    code_hits = [h for h in page.hits if h.match is HsMatch.CODE_PREFIX]
    assert page.hits[: len(code_hits)] == tuple(code_hits)
    assert [h.entry.code for h in code_hits] == [
        "8471",
        "847130",
        "847141",
        "847149",
        "847150",
        "847160",
        "847170",
        "847180",
        "847190",
    ]


def test_a_chapter_prefix_lists_chapter_headings_then_subheadings() -> None:
    codes = _codes("61", limit=100)
    assert codes[0] == "61"
    assert codes[1:18] == [f"61{n:02d}" for n in range(1, 18)]
    assert all(len(c) == 6 for c in codes[18:])
    assert codes[18:] == sorted(codes[18:])


def test_every_word_must_start_a_description_word_and_case_does_not_matter() -> None:
    codes = _codes("COTTON T-Shirt")
    assert codes == ["610910", "610990"]


def test_a_word_matches_plurals_and_parts_of_hyphenated_words() -> None:
    page = search_hs_codes("shirt", IN_2026, limit=100)
    codes = [h.entry.code for h in page.hits]
    assert "6109" in codes  # T-shirts
    assert "6105" in codes  # Shirts
    assert all("shirt" in h.entry.description.lower() for h in page.hits)


def test_headings_come_before_subheadings_then_more_hits_then_code() -> None:
    hits = search_hs_codes("shirt", IN_2026, limit=100).hits
    levels = [h.entry.level for h in hits]
    assert levels == sorted(levels, key=[HsLevel.CHAPTER, HsLevel.HEADING, HsLevel.SUBHEADING].index)
    headings = [h for h in hits if h.entry.level is HsLevel.HEADING]
    # "Blouses, shirts and shirt-blouses" hits twice, "Shirts; men's or boys'" once
    assert [h.entry.code for h in headings[:3]] == ["6106", "6206", "6105"]
    assert [h.word_hits for h in headings[:3]] == [2, 2, 1]
    assert [h.entry.code for h in headings[2:]] == sorted(h.entry.code for h in headings[2:])


def test_apostrophes_do_not_stop_a_match() -> None:
    # 610590 mentions cotton too: "... (other than cotton or man-made fibres)"
    assert _codes("mens shirts cotton") == _codes("men's shirts of cotton") == ["610510", "610590", "620520"]


def _descriptions_with_a_word_starting(prefix: str) -> int:
    with HS2022_CSV.open(encoding="utf-8-sig", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["section"] != "TOTAL"]
    return sum(1 for r in rows if re.search(rf"(?<![\w]){prefix}", r["description"], re.IGNORECASE))


def test_pages_cover_the_results_once_in_order() -> None:
    everything = _codes("wool", limit=100) + _codes("wool", limit=100, offset=100)
    assert len(everything) == len(set(everything)) == _descriptions_with_a_word_starting("wool")
    first = search_hs_codes("wool", IN_2026, limit=10)
    second = search_hs_codes("wool", IN_2026, limit=10, offset=first.next_offset or 0)
    assert first.total == len(everything)
    assert [h.entry.code for h in first.hits + second.hits] == everything[:20]
    last = search_hs_codes("wool", IN_2026, limit=10, offset=first.total - 3)
    assert len(last.hits) == 3
    assert last.next_offset is None


def test_no_match_gives_an_empty_page() -> None:
    page = search_hs_codes("zzzyzzx", IN_2026)
    assert (page.total, page.hits, page.next_offset, page.edition) == (0, (), None, "HS2022")


@pytest.mark.parametrize(
    ("query", "limit", "offset", "field"),
    [
        ("", 10, 0, "query"),
        (" ;- ", 10, 0, "query"),
        ("wool", 0, 0, "limit"),
        ("wool", 101, 0, "limit"),
        ("wool", 10, -1, "offset"),
    ],
)
def test_unusable_arguments_name_their_field(query: str, limit: int, offset: int, field: str) -> None:
    with pytest.raises(InvalidHsQuery) as caught:
        search_hs_codes(query, IN_2026, limit=limit, offset=offset)
    assert caught.value.field == field


def test_search_follows_the_edition_in_force() -> None:
    with pytest.raises(HsEditionUnavailable):
        search_hs_codes("wool", dt.date(2028, 2, 1))
