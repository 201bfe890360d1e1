"""HS code validation against the shipped HS 2022 nomenclature."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import customs
from customs.hs import (
    HsCode,
    HsCodeProblem,
    InvalidHsCode,
    validate_hs_code,
)

IN_2026 = dt.date(2026, 11, 20)
HS2022_CSV = Path(customs.__file__).parent / "data" / "hs" / "2022" / "harmonized-system-2022.csv"


def _csv_subheadings() -> list[str]:
    with HS2022_CSV.open(encoding="utf-8-sig", newline="") as handle:
        return [r["hscode"] for r in csv.DictReader(handle) if r["level"] == "6" and r["section"] != "TOTAL"]


SUBHEADINGS = _csv_subheadings()
SUBHEADING_SET = frozenset(SUBHEADINGS)


def test_the_shipped_data_has_5612_subheadings_and_every_one_validates() -> None:
    assert len(SUBHEADINGS) == 5612
    for code in SUBHEADINGS:
        assert validate_hs_code(code, IN_2026) == HsCode(code)


@pytest.mark.parametrize("code", ["770100", "770110", "770190", "77010000"])
def test_chapter_77_is_reserved(code: str) -> None:
    with pytest.raises(InvalidHsCode) as caught:
        validate_hs_code(code, IN_2026)
    assert caught.value.problem is HsCodeProblem.RESERVED_CHAPTER
    assert "chapter 77 is reserved" in caught.value.reason


@pytest.mark.parametrize("code", ["990000", "999999", "980100", "9801001000"])
def test_national_use_chapters_are_not_international_hs(code: str) -> None:
    with pytest.raises(InvalidHsCode) as caught:
        validate_hs_code(code, IN_2026)
    assert caught.value.problem is HsCodeProblem.NATIONAL_CHAPTER
    assert "national use" in caught.value.reason
    assert caught.value.raw == code


@pytest.mark.parametrize(
    ("raw", "bad"), [("61A910", "A"), ("6109-10", "-"), ("shirt1", "s"), ("６１０９１０", "６")]
)
def test_anything_but_ascii_digits_dots_and_spaces_is_refused(raw: str, bad: str) -> None:
    with pytest.raises(InvalidHsCode) as caught:
        validate_hs_code(raw, IN_2026)
    assert caught.value.problem is HsCodeProblem.NOT_DIGITS
    assert repr(bad) in caught.value.reason


@pytest.mark.parametrize("raw", ["61091", "6109100", "610910001", "61091000001", "6109", "61"])
def test_wrong_lengths_are_refused_with_the_count(raw: str) -> None:
    with pytest.raises(InvalidHsCode) as caught:
        validate_hs_code(raw, IN_2026)
    assert caught.value.problem is HsCodeProblem.WRONG_LENGTH
    assert f"has {len(raw)} digits" in caught.value.reason


@pytest.mark.parametrize("raw", ["", " ", "..", " . "])
def test_empty_codes_are_refused(raw: str) -> None:
    with pytest.raises(InvalidHsCode) as caught:
        validate_hs_code(raw, IN_2026)
    assert caught.value.problem is HsCodeProblem.EMPTY


def test_chapter_00_does_not_exist() -> None:
    with pytest.raises(InvalidHsCode) as caught:
        validate_hs_code("000000", IN_2026)
    assert caught.value.problem is HsCodeProblem.NO_SUCH_CHAPTER


@pytest.mark.parametrize(
    ("raw", "problem", "fragment"),
    [
        ("610930", HsCodeProblem.UNKNOWN_SUBHEADING, "subheading 6109.30 does not exist in HS2022"),
        ("6109300000", HsCodeProblem.UNKNOWN_SUBHEADING, "subheading 6109.30 does not exist in HS2022"),
        ("612000", HsCodeProblem.UNKNOWN_HEADING, "heading 6120 does not exist in HS2022"),
    ],
)
def test_codes_missing_from_the_edition_are_refused(raw: str, problem: HsCodeProblem, fragment: str) -> None:
    with pytest.raises(InvalidHsCode) as caught:
        validate_hs_code(raw, IN_2026)
    assert caught.value.problem is problem
    assert caught.value.reason == fragment


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("6109.10", "610910"),
        ("6109.10" + "00", "61091000"),
        ("6109.10.00", "61091000"),
        ("6109 10 00 12", "6109100012"),
        (" 6109.10.0012 ", "6109100012"),
        ("0101.21", "010121"),
    ],
)
def test_dots_and_spaces_are_ignored(raw: str, digits: str) -> None:
    code = validate_hs_code(raw, IN_2026)
    assert code.digits == digits
    assert code.subheading == digits[:6]
    assert code.national_suffix == digits[6:]


def test_leading_zeros_are_kept() -> None:
    code = validate_hs_code("010121", IN_2026)
    assert code.chapter == "01"
    assert code.heading == "0101"
    assert str(code) == "010121"


@pytest.mark.parametrize(
    ("digits", "dotted"),
    [("610910", "6109.10"), ("61091000", "6109.10.00"), ("6109100012", "6109.10.00.12")],
)
def test_dotted_form(digits: str, dotted: str) -> None:
    assert HsCode(digits).dotted() == dotted


@pytest.mark.parametrize("raw", ["6109.10", "61 0910", "61091", "770100"])
def test_hscode_is_only_built_from_plain_wellformed_digits(raw: str) -> None:
    with pytest.raises(InvalidHsCode):
        HsCode(raw)


@st.composite
def _spaced(draw: st.DrawFn) -> tuple[str, str]:
    code = draw(st.sampled_from(SUBHEADINGS)) + draw(st.sampled_from(["", "00", "0012", "90"]))
    pieces = [c + draw(st.sampled_from(["", "", ".", " ", ". ", "  "])) for c in code]
    lead = draw(st.sampled_from(["", " ", "."]))
    return code, lead + "".join(pieces)


@settings(max_examples=200, deadline=None)
@given(_spaced())
def test_separators_anywhere_validate_to_the_same_code(case: tuple[str, str]) -> None:
    code, written = case
    assert validate_hs_code(written, IN_2026) == validate_hs_code(code, IN_2026) == HsCode(code)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(alphabet="0123456789", min_size=6, max_size=6),
        # near misses: a listed code with its last digit changed
        st.tuples(st.sampled_from(SUBHEADINGS), st.sampled_from("0123456789")).map(lambda t: t[0][:5] + t[1]),
    )
)
def test_a_six_digit_string_validates_exactly_when_the_csv_lists_it(code: str) -> None:
    try:
        validate_hs_code(code, IN_2026)
    except InvalidHsCode:
        assert code not in SUBHEADING_SET
    else:
        assert code in SUBHEADING_SET
