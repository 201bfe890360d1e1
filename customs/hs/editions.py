"""HS editions and which one is in force on a date, read from customs/data/hs/editions.toml.

An edition is in force from its `effective_from` until the next edition's. The choice follows the case's
date (the declaration date), never today's date. A date on which an edition is in force whose data is not
shipped (HS 2028 before its data lands, or HS 2017 for old cases) raises HsEditionUnavailable instead of
silently checking against a neighbouring edition.
"""

from __future__ import annotations

import bisect
import datetime as dt
import tomllib
from dataclasses import dataclass, replace
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

EDITIONS_FILE = "customs/data/hs/editions.toml"


class HsDataError(ValueError):
    """A shipped HS data file is malformed; the message names the file and the field."""


class HsEditionUnavailable(LookupError):
    """No shipped HS edition is in force on the date asked for."""

    def __init__(self, on: dt.date, message: str) -> None:
        super().__init__(message)
        self.on = on


@dataclass(frozen=True, slots=True)
class HsEdition:
    name: str
    effective_from: dt.date
    effective_to: dt.date | None  # exclusive: the next edition's effective date
    shipped: bool
    nomenclature_path: str = ""  # relative to customs/data/hs/
    sections_path: str = ""
    provenance_path: str = ""
    note: str = ""

    def in_force_on(self, on: dt.date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on < self.effective_to)


def hs_data_dir() -> Traversable:
    return files("customs.data").joinpath("hs")


def _str(entry: dict[str, object], key: str, where: str, *, required: bool) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise HsDataError(f"{where}.{key}: expected a non-empty string, got {value!r}")
    return value.strip()


def _parse_editions(text: str) -> tuple[HsEdition, ...]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HsDataError(f"{EDITIONS_FILE}: not valid TOML: {exc}") from exc
    raw = data.get("editions")
    if not isinstance(raw, list) or not raw:
        raise HsDataError(f"{EDITIONS_FILE}: editions: expected a non-empty array of tables")
    parsed: list[HsEdition] = []
    for index, entry in enumerate(raw):
        where = f"{EDITIONS_FILE}: editions[{index}]"
        if not isinstance(entry, dict):
            raise HsDataError(f"{where}: expected a table")
        name = _str(entry, "name", where, required=True)
        effective_from = entry.get("effective_from")
        if not isinstance(effective_from, dt.date) or isinstance(effective_from, dt.datetime):
            raise HsDataError(f"{where}.effective_from: expected a date (YYYY-MM-DD), got {effective_from!r}")
        if parsed and effective_from <= parsed[-1].effective_from:
            raise HsDataError(f"{where}.effective_from: {effective_from} is not after the previous edition's")
        if any(p.name == name for p in parsed):
            raise HsDataError(f"{where}.name: duplicate edition {name!r}")
        shipped = entry.get("shipped")
        if not isinstance(shipped, bool):
            raise HsDataError(f"{where}.shipped: expected true or false, got {shipped!r}")
        paths = {
            key: _str(entry, key, where, required=shipped)
            for key in ("nomenclature", "sections", "provenance")
        }
        for key, path in paths.items():
            if shipped and not hs_data_dir().joinpath(path).is_file():
                raise HsDataError(f"{where}.{key}: file hs/{path} is not in the package")
        if parsed:
            parsed[-1] = replace(parsed[-1], effective_to=effective_from)
        parsed.append(
            HsEdition(
                name=name,
                effective_from=effective_from,
                effective_to=None,
                shipped=shipped,
                nomenclature_path=paths["nomenclature"],
                sections_path=paths["sections"],
                provenance_path=paths["provenance"],
                note=_str(entry, "note", where, required=False),
            )
        )
    return tuple(parsed)


@cache
def hs_editions() -> tuple[HsEdition, ...]:
    """Every declared edition, oldest first."""
    return _parse_editions(hs_data_dir().joinpath("editions.toml").read_text(encoding="utf-8"))


@cache
def _edition_starts() -> tuple[dt.date, ...]:
    return tuple(e.effective_from for e in hs_editions())


def edition_in_force(on: dt.date) -> HsEdition:
    """The shipped edition in force on `on`, or HsEditionUnavailable saying why there is none."""
    editions = hs_editions()
    index = bisect.bisect_right(_edition_starts(), on) - 1
    if index < 0:
        first = editions[0]
        raise HsEditionUnavailable(
            on,
            f"no HS edition is known to be in force on {on}: the earliest declared, {first.name}, "
            f"starts on {first.effective_from}",
        )
    edition = editions[index]
    if not edition.shipped:
        raise HsEditionUnavailable(
            on,
            f"{edition.name} is the HS edition in force on {on} (from {edition.effective_from}) but its "
            "nomenclature is not available in this version of Backhaul, so codes cannot be checked "
            "for that date",
        )
    return edition
