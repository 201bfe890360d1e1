"""Address lines in the order each country's post reads them."""

from __future__ import annotations

import pytest
from babel import Locale

from customs.address import Address, Contact, Party
from service.documents.address_format import locality_lines, party_lines


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (Address("DE", ("Hauptstraße 5",), "Berlin", "10115"), ["10115 Berlin"]),
        (Address("US", ("1 Main St",), "Columbus", "43215", "US-OH"), ["Columbus OH 43215"]),
        (Address("GB", ("10 Downing St",), "London", "SW1A 2AA"), ["London", "SW1A 2AA"]),
        (
            Address("JP", ("1-2-3 Shibuya",), "Shibuya-ku", "150-0002", "JP-13"),
            ["Shibuya-ku, Tokyo 150-0002"],
        ),
        (Address("IT", ("Via Roma 1",), "Milano", "20121", "IT-MI"), ["20121 Milano MI"]),
        (Address("HK", ("1 Queen's Rd",), "Central"), ["Central"]),  # no postal codes in Hong Kong
    ],
)
def test_locality_lines_follow_the_country(address: Address, expected: list[str]) -> None:
    assert locality_lines(address.validated()) == expected


def test_party_lines_name_the_country_in_the_readers_language() -> None:
    party = Party(Contact("Anna"), Address("FR", ("1 rue de Rivoli",), "Paris", "75001", organization="ACME"))
    assert party_lines(party, Locale.parse("de")) == [
        "Anna",
        "ACME",
        "1 rue de Rivoli",
        "75001 Paris",
        "Frankreich",
    ]
    assert party_lines(party, Locale.parse("en"), upper_country=True)[-1] == "FRANCE"
