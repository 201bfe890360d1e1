"""Country and subdivision checks (answers for valid codes are cached; refusals are not)."""

import pytest

from customs.countries import (
    UnknownCountry,
    UnknownSubdivision,
    uses_postal_codes,
    validate_country,
    validate_subdivision,
)


def test_codes_are_normalised_and_unknown_ones_refused_every_time() -> None:
    assert validate_country(" de") == "DE"
    assert validate_country(" de") == "DE"
    for _ in range(2):
        with pytest.raises(UnknownCountry):
            validate_country("XX")


def test_subdivisions_with_or_without_the_country_prefix() -> None:
    assert validate_subdivision("de", "by") == "DE-BY"
    assert validate_subdivision("DE", "DE-BY") == "DE-BY"
    for _ in range(2):
        with pytest.raises(UnknownSubdivision):
            validate_subdivision("DE", "ZZ")


def test_postal_codes_by_country() -> None:
    assert uses_postal_codes("DE")
    assert not uses_postal_codes("HK")
    with pytest.raises(UnknownCountry):
        uses_postal_codes("XX")
