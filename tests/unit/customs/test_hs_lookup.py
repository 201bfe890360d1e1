"""Hierarchy lookups and edition selection by date."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from customs.hs import (
    HsCode,
    HsCodeProblem,
    HsDataError,
    HsEditionUnavailable,
    HsLevel,
    InvalidHsCode,
    edition_in_force,
    hs_editions,
    load_nomenclature,
    lookup_hs_code,
    validate_hs_code,
)
from customs.hs.editions import _parse_editions
from customs.hs.nomenclature import parse_entries, parse_sections

IN_2026 = dt.date(2026, 11, 20)


def test_tshirt_of_cotton_has_its_full_hierarchy_from_the_csv_text() -> None:
    found = lookup_hs_code("6109.10", IN_2026)
    assert found.edition == "HS2022"
    assert (found.section.numeral, found.section.name) == ("XI", "Textiles and textile articles")
    assert found.chapter.code == "61"
    assert found.chapter.description == "Apparel and clothing accessories; knitted or crocheted"
    assert found.heading is not None
    assert found.heading.description == "T-shirts, singlets and other vests; knitted or crocheted"
    assert found.subheading is not None
    assert (
        found.subheading.description == "T-shirts, singlets and other vests; of cotton, knitted or crocheted"
    )
    assert found.entry is found.subheading
    assert found.national_suffix == ""


def test_live_horses_keep_their_leading_zero_and_section_i() -> None:
    found = lookup_hs_code("010121", IN_2026)
    assert (found.section.numeral, found.section.name) == ("I", "live animals; animal products")
    assert (found.chapter.code, found.chapter.description) == ("01", "Animals; live")
    assert found.heading is not None
    assert found.heading.description == "Horses, asses, mules and hinnies; live"
    assert found.subheading is not None
    assert found.subheading.description == "Horses; live, pure-bred breeding animals"


def test_antiques_in_the_last_section_and_a_section_name_with_trailing_space_trimmed() -> None:
    antiques = lookup_hs_code("970610", IN_2026)
    assert antiques.section.numeral == "XXI"
    assert antiques.section.name == "Works of art, collectors' pieces and antiques"
    assert antiques.subheading is not None
    assert antiques.subheading.description == "Antiques; of an age exceeding 250 years"
    plastics = lookup_hs_code("3923", IN_2026)
    assert plastics.section.name == "Plastics and articles thereof; rubber and articles thereof"


def test_a_ten_digit_code_is_described_down_to_its_subheading_with_the_national_digits_apart() -> None:
    found = lookup_hs_code(HsCode("8471300100"), IN_2026)
    assert found.code == "8471300100"
    assert found.subheading is not None
    assert found.subheading.code == "847130"
    assert found.subheading.description.startswith("Automatic data processing machines; portable")
    assert found.national_suffix == "0100"


def test_headings_and_chapters_can_be_looked_up_alone() -> None:
    heading = lookup_hs_code("61.09", IN_2026)
    assert heading.subheading is None
    assert heading.entry is heading.heading
    assert heading.entry.level is HsLevel.HEADING
    chapter = lookup_hs_code("61", IN_2026)
    assert chapter.heading is None
    assert chapter.entry.level is HsLevel.CHAPTER


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("7701", HsCodeProblem.RESERVED_CHAPTER),
        ("99", HsCodeProblem.NATIONAL_CHAPTER),
        ("610", HsCodeProblem.WRONG_LENGTH),
        ("6120", HsCodeProblem.UNKNOWN_HEADING),
        ("6109.30", HsCodeProblem.UNKNOWN_SUBHEADING),
    ],
)
def test_lookup_refuses_what_validation_refuses(raw: str, problem: HsCodeProblem) -> None:
    with pytest.raises(InvalidHsCode) as caught:
        lookup_hs_code(raw, IN_2026)
    assert caught.value.problem is problem


def test_comtrade_aggregates_are_not_hs_entries() -> None:
    entries = load_nomenclature("HS2022").entries
    assert {"99", "9999", "999999", "TOTAL"}.isdisjoint(entries)
    levels = [e.level for e in entries.values()]
    assert (
        levels.count(HsLevel.CHAPTER),
        levels.count(HsLevel.HEADING),
        levels.count(HsLevel.SUBHEADING),
    ) == (
        96,
        1228,
        5612,
    )
    assert "77" not in entries


# Editions by date


def test_hs2022_is_in_force_from_its_first_day_to_the_eve_of_hs2028() -> None:
    assert edition_in_force(dt.date(2022, 1, 1)).name == "HS2022"
    assert edition_in_force(dt.date(2027, 12, 31)).name == "HS2022"
    assert validate_hs_code("610910", dt.date(2027, 12, 31)) == HsCode("610910")
    hs2022 = next(e for e in hs_editions() if e.name == "HS2022")
    assert hs2022.effective_to == dt.date(2028, 1, 1)


@pytest.mark.parametrize("on", [dt.date(2028, 1, 1), dt.date(2031, 6, 30)])
def test_dates_under_hs2028_are_refused_rather_than_checked_against_hs2022(on: dt.date) -> None:
    with pytest.raises(HsEditionUnavailable) as caught:
        validate_hs_code("610910", on)
    assert "HS2028" in str(caught.value)
    assert "not available" in str(caught.value)
    with pytest.raises(HsEditionUnavailable):
        lookup_hs_code("6109", on)


def test_dates_under_hs2017_are_refused() -> None:
    with pytest.raises(HsEditionUnavailable, match="HS2017"):
        validate_hs_code("610910", dt.date(2021, 12, 31))


def test_dates_before_any_declared_edition_are_refused() -> None:
    with pytest.raises(HsEditionUnavailable, match="no HS edition is known to be in force on 2016-12-31"):
        edition_in_force(dt.date(2016, 12, 31))


def test_structural_errors_win_over_the_missing_edition() -> None:
    # the letters are wrong whatever the edition, so the caller hears about them first
    with pytest.raises(InvalidHsCode):
        validate_hs_code("61A910", dt.date(2029, 1, 1))


_VALID = """
[[editions]]
name = "HS2022"
effective_from = 2022-01-01
shipped = true
nomenclature = "2022/harmonized-system-2022.csv"
sections = "2022/sections.csv"
provenance = "2022/README.md"
"""


def test_the_editions_file_parses_into_ordered_editions() -> None:
    (edition,) = _parse_editions(_VALID)
    assert (edition.name, edition.effective_from, edition.effective_to) == (
        "HS2022",
        dt.date(2022, 1, 1),
        None,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("editions = []", "editions.toml: editions: expected a non-empty array"),
        (
            _VALID.replace("2022-01-01", '"2022"'),
            "editions.toml: editions[0].effective_from: expected a date",
        ),
        (_VALID.replace("shipped = true", 'shipped = "yes"'), "editions.toml: editions[0].shipped"),
        (
            _VALID.replace('"2022/sections.csv"', '"2022/missing.csv"'),
            "editions[0].sections: file hs/2022/missing",
        ),
        (
            _VALID.replace('sections = "2022/sections.csv"\n', ""),
            "editions[0].sections: expected a non-empty",
        ),
        (
            _VALID + _VALID.replace("2022-01-01", "2021-01-01").replace('"HS2022"', '"X"'),
            "editions[1].effective_from: 2021-01-01 is not after",
        ),
        (_VALID + _VALID.replace("2022-01-01", "2023-01-01"), "editions[1].name: duplicate edition 'HS2022'"),
    ],
)
def test_a_malformed_editions_file_names_the_file_and_field(text: str, message: str) -> None:
    with pytest.raises(HsDataError, match=re.escape(message)):
        _parse_editions(text)


_SECTIONS = "section,name\nXI,Textiles\nXII,Footwear\n"
_HEADER = "section,hscode,description,parent,level\n"
_GOOD_ROWS = (
    "XI,61,Apparel; knitted,TOTAL,2\n"
    "XI,6109,T-shirts; knitted,61,4\n"
    'XI,610910,"T-shirts; of cotton, knitted",6109,6\n'
    "TOTAL,99,Commodities not specified according to kind,TOTAL,2\n"
)
_CSV = "2022/harmonized-system-2022.csv"


def test_nomenclature_text_parses_and_drops_comtrade_aggregates() -> None:
    entries = parse_entries(_CSV, _HEADER + _GOOD_ROWS, parse_sections("2022/sections.csv", _SECTIONS))
    assert list(entries) == ["61", "6109", "610910"]
    assert entries["610910"].description == "T-shirts; of cotton, knitted"
    assert entries["610910"].parent == "6109"
    assert entries["61"].parent == ""


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("XI,6110,Jerseys,61,5\n", "line 6: level: expected 2, 4 or 6, got '5'"),
        ("XI,611,Jerseys,61,4\n", "line 6: hscode: expected 4 digits at level 4, got '611'"),
        ("XI,6109,Again,61,4\n", "line 6: hscode: duplicate code 6109"),
        ("XX,6110,Jerseys,61,4\n", "line 6: section: unknown section 'XX'"),
        ("XI,6110,,61,4\n", "line 6: description: empty"),
        ("XI,6110,Jerseys,62,4\n", "line 6: parent: expected '61', got '62'"),
        ("XI,621010,Garments,6210,6\n", "line 6: parent: 6210 is not defined before 621010"),
        ("XII,6110,Jerseys,61,4\n", "line 6: section: XII differs from 61's section XI"),
    ],
)
def test_a_malformed_nomenclature_names_the_file_line_and_field(rows: str, message: str) -> None:
    sections = parse_sections("2022/sections.csv", _SECTIONS)
    with pytest.raises(HsDataError, match=re.escape(f"customs/data/hs/{_CSV}: {message}")):
        parse_entries(_CSV, _HEADER + _GOOD_ROWS + rows, sections)


def test_a_wrong_header_is_refused() -> None:
    with pytest.raises(HsDataError, match=re.escape("customs/data/hs/2022/sections.csv: header")):
        parse_sections("2022/sections.csv", "numeral,name\nI,Animals\n")
