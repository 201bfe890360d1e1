"""Customs territories by date: countries that trade without a customs border (customs_territories.toml).

A return between two countries of one territory (DE -> FR in the EU, CH -> LI, US -> PR) crosses no customs
border and needs no declaration, and an import into a member is governed by the territory's rules.
Membership is dated, like every customs rule: GB is in the EU's territory until 2020-12-31 and in its own
from 2021-01-01.
A country that is a member of no territory on a date is a territory of its own, named by its ISO code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from types import MappingProxyType

from customs.countries import validate_country
from customs.datafile import DataTable, read_toml

TERRITORIES_FILE = "customs/data/customs_territories.toml"


@dataclass(frozen=True, slots=True)
class TerritoryMembership:
    country: str
    member_from: dt.date
    member_to: dt.date | None  # the last day, inclusive

    def covers(self, on: dt.date) -> bool:
        return self.member_from <= on and (self.member_to is None or on <= self.member_to)

    def overlaps(self, other: TerritoryMembership) -> bool:
        return self.member_from <= (other.member_to or dt.date.max) and other.member_from <= (
            self.member_to or dt.date.max
        )


@dataclass(frozen=True, slots=True)
class CustomsTerritory:
    """A customs union whose members share one tariff and one set of customs rules (the EU)."""

    id: str
    name: str
    source: str
    members: tuple[TerritoryMembership, ...]

    def countries_on(self, on: dt.date) -> frozenset[str]:
        return frozenset(member.country for member in self.members if member.covers(on))

    def countries_ever(self) -> frozenset[str]:
        """Every country that is or was a member."""
        return frozenset(member.country for member in self.members)


def parse_customs_territories(root: DataTable) -> Mapping[str, CustomsTerritory]:
    """Territories by id, in file order. A country may be in one territory at a time (and listed once)."""
    root.reject_unknown({"territories"})
    territories: dict[str, CustomsTerritory] = {}
    loaded: list[tuple[str, TerritoryMembership]] = []  # (territory id, membership) so far
    for table in root.tables("territories", required=True):
        table.reject_unknown({"id", "name", "source", "members"})
        territory_id = table.text("id")
        if territory_id in territories:
            raise table.error("id", f"duplicate territory {territory_id!r}")
        members: list[TerritoryMembership] = []
        for entry in table.tables("members", required=True):
            entry.reject_unknown({"country", "from", "to"})
            member = TerritoryMembership(
                entry.country("country"), entry.date("from"), entry.date("to", required=False)
            )
            if member.member_to is not None and member.member_to < member.member_from:
                raise entry.error("to", f"{member.member_to} is before from ({member.member_from})")
            clash = next(
                (
                    owner
                    for owner, other in loaded
                    if other.country == member.country and other.overlaps(member)
                ),
                None,
            )
            if clash is not None:
                raise entry.error("country", f"{member.country} is also in {clash} at the same time")
            loaded.append((territory_id, member))
            members.append(member)
        territories[territory_id] = CustomsTerritory(
            territory_id, table.text("name"), table.text("source"), tuple(members)
        )
    return MappingProxyType(territories)


@cache
def customs_territories() -> Mapping[str, CustomsTerritory]:
    """The packaged territories by id."""
    path = files("customs.data").joinpath("customs_territories.toml")
    return parse_customs_territories(read_toml(path, TERRITORIES_FILE))


def customs_territory(country: str, on: dt.date) -> str:
    """The id of the customs territory `country` belongs to on `on`: "EU" for DE, "CH" for LI, "NO" for NO,
    "EU" for GB until 2020-12-31 and "GB" from 2021-01-01.

    Raises customs.countries.UnknownCountry for a code that is not ISO 3166-1 alpha-2.
    """
    code = validate_country(country)
    for territory in customs_territories().values():
        if any(member.country == code and member.covers(on) for member in territory.members):
            return territory.id
    return code
