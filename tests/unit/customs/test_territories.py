"""Customs territories by date: membership, and the checks made when customs_territories.toml is loaded."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from customs.countries import UnknownCountry
from customs.datafile import DataFileError, parse_toml
from customs.territories import customs_territories, customs_territory, parse_customs_territories

FILE = "customs/data/customs_territories.toml"


@pytest.mark.parametrize(
    ("country", "on", "territory"),
    [
        ("DE", dt.date(2026, 1, 1), "EU"),
        ("de", dt.date(1958, 1, 1), "EU"),
        ("MC", dt.date(2026, 1, 1), "EU"),
        ("GB", dt.date(2020, 12, 31), "EU"),
        ("GB", dt.date(2021, 1, 1), "GB"),
        ("IM", dt.date(2020, 12, 31), "EU"),
        ("IM", dt.date(2021, 1, 1), "GB"),
        ("HR", dt.date(2013, 6, 30), "HR"),
        ("HR", dt.date(2013, 7, 1), "EU"),
        ("US", dt.date(2026, 1, 1), "US"),
        ("PR", dt.date(2026, 1, 1), "US"),
        ("LI", dt.date(2026, 1, 1), "CH"),
        ("NO", dt.date(2026, 1, 1), "NO"),
        ("JE", dt.date(2026, 1, 1), "JE"),
        ("RE", dt.date(2026, 1, 1), "RE"),  # outermost region: declared anyway, so on its own
    ],
)
def test_a_country_belongs_to_the_territory_it_is_a_member_of_on_the_date(
    country: str, on: dt.date, territory: str
) -> None:
    assert customs_territory(country, on) == territory


def test_unknown_countries_are_refused() -> None:
    with pytest.raises(UnknownCountry):
        customs_territory("XX", dt.date(2026, 1, 1))


def test_the_eu_has_the_27_member_states_and_monaco_today_and_had_gb_until_2020() -> None:
    eu = customs_territories()["EU"]
    today = eu.countries_on(dt.date(2026, 11, 1))
    assert len(today) == 28
    assert "MC" in today
    assert {"GB", "IM", "CH", "NO", "IS", "LI", "TR"}.isdisjoint(today)
    assert {"GB", "IM"} <= eu.countries_on(dt.date(2020, 12, 31))
    assert {"GB", "IM"} <= eu.countries_ever()
    assert "952/2013" in eu.source
    assert list(customs_territories()) == ["EU", "GB", "US", "CH"]


_TWO = """
[[territories]]
id = "A"
name = "A"
source = "s"
members = [{ country = "GB", from = 1973-01-01, to = 2020-12-31 }, { country = "DE", from = 1958-01-01 }]

[[territories]]
id = "B"
name = "B"
source = "s"
members = [{ country = "GB", from = 2021-01-01 }]
"""


def test_a_country_may_move_from_one_territory_to_another() -> None:
    territories = parse_customs_territories(parse_toml(_TWO, FILE))
    assert territories["A"].countries_on(dt.date(2020, 12, 31)) == {"GB", "DE"}
    assert territories["B"].countries_on(dt.date(2020, 12, 31)) == frozenset()
    assert territories["B"].countries_on(dt.date(2021, 1, 1)) == {"GB"}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '{ country = "GB", from = 2021-01-01 }',
            '{ country = "GB", from = 2020-12-31 }',
            "territories[1].members[0].country: GB is also in A at the same time",
        ),
        (
            '{ country = "GB", from = 2021-01-01 }',
            '{ country = "DE", from = 2030-01-01, to = 2031-01-01 }',
            "territories[1].members[0].country: DE is also in A at the same time",
        ),
        (
            '{ country = "DE", from = 1958-01-01 }',
            '{ country = "GB", from = 2000-01-01 }',
            "territories[0].members[1].country: GB is also in A at the same time",
        ),
        (
            "to = 2020-12-31",
            "to = 1972-12-31",
            "territories[0].members[0].to: 1972-12-31 is before from (1973-01-01)",
        ),
        (
            '{ country = "DE", from = 1958-01-01 }',
            '{ country = "XX", from = 1958-01-01 }',
            "territories[0].members[1].country: unknown country 'XX'",
        ),
        (
            '{ country = "DE", from = 1958-01-01 }',
            '{ country = "DE", from = "1958" }',
            "territories[0].members[1].from: expected a date",
        ),
        ('id = "B"', 'id = "A"', "territories[1].id: duplicate territory 'A'"),
        ('id = "B"\nname = "B"\nsource = "s"', 'id = "B"\nname = "B"', "territories[1].source: missing"),
        ('id = "B"', 'id = "B"\ncolour = "red"', "territories[1].colour: unknown field"),
        (
            'members = [{ country = "GB", from = 2021-01-01 }]',
            "members = []",
            "territories[1].members: must not",
        ),
    ],
)
def test_a_malformed_territories_file_is_rejected_at_load_naming_the_field(
    old: str, new: str, message: str
) -> None:
    assert old in _TWO
    with pytest.raises(DataFileError, match=re.escape(f"{FILE}: {message}")):
        parse_customs_territories(parse_toml(_TWO.replace(old, new, 1), FILE))
