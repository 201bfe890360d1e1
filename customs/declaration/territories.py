"""Customs territories: countries that trade without a customs border (customs_territories.toml).

A return between two countries of one territory (DE -> FR in the EU, CH -> LI, US -> PR) crosses no customs
border and needs no declaration. A country not listed is a territory of its own, named by its ISO code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from types import MappingProxyType

from customs.countries import validate_country
from customs.datafile import DataTable, read_toml

TERRITORIES_FILE = "customs_territories.toml"


@dataclass(frozen=True, slots=True)
class CustomsTerritory:
    code: str  # "EU", "CH", ... or a lone country's ISO code
    name: str
    countries: frozenset[str]
    source: str


def parse_customs_territories(root: DataTable) -> Mapping[str, CustomsTerritory]:
    """Territories by code, each country in at most one."""
    territories: dict[str, CustomsTerritory] = {}
    owner: dict[str, str] = {}
    territories_table = root.table("territories")
    for code in territories_table.field_names():
        table = territories_table.table(code)
        members: set[str] = set()
        for index, raw in enumerate(table.strings("countries", required=True)):
            country = table.checked(f"countries[{index}]", raw, validate_country)
            if country in owner:
                raise table.error(
                    f"countries[{index}]", f"{country} is already in territory {owner[country]}"
                )
            owner[country] = code
            members.add(country)
        territories[code] = CustomsTerritory(
            code, table.text("name"), frozenset(members), table.text("source")
        )
    return MappingProxyType(territories)


@cache
def customs_territories() -> Mapping[str, CustomsTerritory]:
    path = files("customs.data").joinpath(TERRITORIES_FILE)
    return parse_customs_territories(read_toml(path, f"customs/data/{TERRITORIES_FILE}"))


@cache
def _territory_of_country() -> Mapping[str, str]:
    return MappingProxyType({c: t.code for t in customs_territories().values() for c in t.countries})


def customs_territory(country: str) -> str:
    """The code of the customs territory `country` belongs to: "EU" for DE, "CH" for LI, "NO" for NO."""
    code = validate_country(country)
    return _territory_of_country().get(code, code)


def declaration_required(sender_country: str, addressee_country: str) -> bool:
    """Whether goods sent between these countries cross a customs border and so need a declaration.

    Raises customs.countries.UnknownCountry for a code that is not ISO 3166-1 alpha-2.
    """
    return customs_territory(sender_country) != customs_territory(addressee_country)
