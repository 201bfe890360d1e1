"""The HS nomenclature of an edition: sections, chapters, headings and subheadings, with lookups.

Loaded lazily, once per edition, from the packaged CSV files named in editions.toml. Rows of section
`TOTAL` are UN Comtrade statistical aggregates (99, 9999, 999999, TOTAL), not HS codes, and are dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from types import MappingProxyType

from customs.hs.code import (
    HsCode,
    HsCodeProblem,
    InvalidHsCode,
    normalize_hs_digits,
)
from customs.hs.editions import HsDataError, HsEdition, edition_in_force, hs_data_dir, hs_editions

_COMTRADE_AGGREGATE_SECTION = "TOTAL"
_NOMENCLATURE_COLUMNS = ["section", "hscode", "description", "parent", "level"]
_SECTIONS_COLUMNS = ["section", "name"]
LOOKUP_LENGTHS = (2, 4, 6, 8, 10)


class HsLevel(StrEnum):
    CHAPTER = "chapter"
    HEADING = "heading"
    SUBHEADING = "subheading"

    @property
    def digits(self) -> int:
        return {"chapter": 2, "heading": 4, "subheading": 6}[self.value]


_LEVEL_BY_DIGITS = {level.digits: level for level in HsLevel}


@dataclass(frozen=True, slots=True)
class HsSection:
    numeral: str  # Roman numeral, I to XXI
    name: str


@dataclass(frozen=True, slots=True)
class HsEntry:
    """One chapter, heading or subheading with its (Comtrade-abbreviated) description."""

    code: str
    level: HsLevel
    description: str
    section: str  # numeral of the section it belongs to
    parent: str  # code of the enclosing chapter or heading; "" for a chapter

    def dotted(self) -> str:
        return self.code if self.level is not HsLevel.SUBHEADING else f"{self.code[:4]}.{self.code[4:]}"


@dataclass(frozen=True, slots=True)
class HsClassification:
    """A code placed in the hierarchy of one edition. Deeper levels are None when a shorter code was asked."""

    code: str  # the digits asked for (2, 4, 6, 8 or 10)
    edition: str
    section: HsSection
    chapter: HsEntry
    heading: HsEntry | None
    subheading: HsEntry | None
    national_suffix: str  # digits after the sixth; national tariffs define them, the HS does not

    @property
    def entry(self) -> HsEntry:
        """The most specific HS entry found."""
        return self.subheading or self.heading or self.chapter


class Nomenclature:
    """The entries of one edition, by code."""

    def __init__(self, edition: HsEdition, sections: Mapping[str, HsSection], entries: Mapping[str, HsEntry]):
        self.edition = edition
        self.sections = MappingProxyType(dict(sections))
        self.entries = MappingProxyType(dict(entries))

    def __repr__(self) -> str:
        return f"Nomenclature({self.edition.name}, {len(self.entries)} entries)"

    def subheadings(self) -> tuple[HsEntry, ...]:
        return tuple(e for e in self.entries.values() if e.level is HsLevel.SUBHEADING)

    def classify(self, raw: str, digits: str) -> HsClassification:
        """Place well-formed `digits` (see normalize_hs_digits) in the hierarchy, or raise InvalidHsCode."""
        name = self.edition.name
        chapter = self.entries.get(digits[:2])
        if chapter is None:
            raise InvalidHsCode(
                raw, f"chapter {digits[:2]} does not exist in {name}", HsCodeProblem.NO_SUCH_CHAPTER
            )
        heading = subheading = None
        if len(digits) >= 4:
            heading = self.entries.get(digits[:4])
            if heading is None:
                raise InvalidHsCode(
                    raw, f"heading {digits[:4]} does not exist in {name}", HsCodeProblem.UNKNOWN_HEADING
                )
        if len(digits) >= 6:
            subheading = self.entries.get(digits[:6])
            if subheading is None:
                raise InvalidHsCode(
                    raw,
                    f"subheading {digits[:4]}.{digits[4:6]} does not exist in {name}",
                    HsCodeProblem.UNKNOWN_SUBHEADING,
                )
        return HsClassification(
            code=digits,
            edition=name,
            section=self.sections[chapter.section],
            chapter=chapter,
            heading=heading,
            subheading=subheading,
            national_suffix=digits[6:],
        )


def _rows(path: str, text: str, columns: list[str]) -> csv.DictReader[str]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames != columns:
        raise HsDataError(f"customs/data/hs/{path}: header: expected {columns}, got {reader.fieldnames}")
    return reader


def _read(path: str) -> str:
    return (
        hs_data_dir().joinpath(path).read_text(encoding="utf-8-sig")
    )  # the publisher's files start with a BOM


def parse_sections(path: str, text: str) -> dict[str, HsSection]:
    """Sections by numeral from sections.csv text; `path` (relative to customs/data/hs) names it in errors."""
    sections: dict[str, HsSection] = {}
    reader = _rows(path, text, _SECTIONS_COLUMNS)
    for row in reader:
        where = f"customs/data/hs/{path}: line {reader.line_num}"
        numeral, name = (row["section"] or "").strip(), (row["name"] or "").strip()
        if not numeral or not name:
            raise HsDataError(f"{where}: section and name are required")
        if numeral in sections:
            raise HsDataError(f"{where}: section: duplicate section {numeral}")
        sections[numeral] = HsSection(numeral, name)
    return sections


def parse_entries(path: str, text: str, sections: Mapping[str, HsSection]) -> dict[str, HsEntry]:
    """Chapters, headings and subheadings by code from nomenclature CSV text; Comtrade aggregates dropped."""
    entries: dict[str, HsEntry] = {}
    reader = _rows(path, text, _NOMENCLATURE_COLUMNS)
    for row in reader:
        where = f"customs/data/hs/{path}: line {reader.line_num}"
        section = (row["section"] or "").strip()
        if section == _COMTRADE_AGGREGATE_SECTION:
            continue
        code, parent = (row["hscode"] or "").strip(), (row["parent"] or "").strip()
        description = (row["description"] or "").strip()
        level = _LEVEL_BY_DIGITS.get(int(row["level"])) if (row["level"] or "").isdigit() else None
        if level is None:
            raise HsDataError(f"{where}: level: expected 2, 4 or 6, got {row['level']!r}")
        if len(code) != level.digits or not code.isascii() or not code.isdigit():
            raise HsDataError(
                f"{where}: hscode: expected {level.digits} digits at level {level.digits}, got {code!r}"
            )
        if code in entries:
            raise HsDataError(f"{where}: hscode: duplicate code {code}")
        if section not in sections:
            raise HsDataError(f"{where}: section: unknown section {section!r}")
        if not description:
            raise HsDataError(f"{where}: description: empty")
        expected_parent = "TOTAL" if level is HsLevel.CHAPTER else code[: level.digits - 2]
        if parent != expected_parent:
            raise HsDataError(f"{where}: parent: expected {expected_parent!r}, got {parent!r}")
        if level is not HsLevel.CHAPTER:
            enclosing = entries.get(parent)
            if enclosing is None:
                raise HsDataError(f"{where}: parent: {parent} is not defined before {code}")
            if enclosing.section != section:
                raise HsDataError(
                    f"{where}: section: {section} differs from {parent}'s section {enclosing.section}"
                )
        entries[code] = HsEntry(
            code=code,
            level=level,
            description=description,
            section=section,
            parent="" if level is HsLevel.CHAPTER else parent,
        )
    return entries


@cache
def load_nomenclature(edition_name: str) -> Nomenclature:
    """The nomenclature of a shipped edition, read and checked once per process."""
    edition = next((e for e in hs_editions() if e.name == edition_name), None)
    if edition is None or not edition.shipped:
        raise LookupError(f"HS edition {edition_name!r} is not shipped")
    sections = parse_sections(edition.sections_path, _read(edition.sections_path))
    entries = parse_entries(edition.nomenclature_path, _read(edition.nomenclature_path), sections)
    return Nomenclature(edition, sections, entries)


def nomenclature_in_force(on: dt.date) -> Nomenclature:
    """The nomenclature in force on `on`; HsEditionUnavailable when that edition is not shipped."""
    return load_nomenclature(edition_in_force(on).name)


def validate_hs_code(raw: str, on: dt.date) -> HsCode:
    """A declarable HsCode whose 6-digit subheading exists in the edition in force on `on`.

    Dots and spaces are ignored ("6109.10 00" is 61091000). Raises InvalidHsCode with the reason, or
    HsEditionUnavailable when the edition in force on `on` is not shipped.
    """
    digits = normalize_hs_digits(raw)
    nomenclature_in_force(on).classify(raw, digits)
    return HsCode(digits)


def lookup_hs_code(raw: str | HsCode, on: dt.date) -> HsClassification:
    """The hierarchy (section, chapter, heading, subheading) of a 2, 4, 6, 8 or 10-digit code on `on`."""
    text = raw.digits if isinstance(raw, HsCode) else raw
    digits = normalize_hs_digits(text, LOOKUP_LENGTHS)
    return nomenclature_in_force(on).classify(text, digits)
