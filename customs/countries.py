"""ISO 3166 countries and subdivisions, and whether a country's addresses carry a postal code."""

from __future__ import annotations

import tomllib
from functools import cache, lru_cache
from importlib.resources import files

import pycountry


class UnknownCountry(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(f"unknown country {code!r}: expected an ISO 3166-1 alpha-2 code such as DE")
        self.code = code


class UnknownSubdivision(ValueError):
    def __init__(self, country: str, code: str) -> None:
        super().__init__(f"unknown subdivision {code!r} of {country}: expected an ISO 3166-2 code")
        self.country = country
        self.code = code


# Pure lookups run for every address of every request: their answers are kept (valid codes only, as
# exceptions are not cached; the bound keeps odd spellings of valid codes from growing the cache forever).
@lru_cache(maxsize=1024)
def validate_country(code: str) -> str:
    """Return the upper-cased ISO 3166-1 alpha-2 code, or raise UnknownCountry."""
    normalized = code.strip().upper()
    if len(normalized) != 2 or pycountry.countries.get(alpha_2=normalized) is None:
        raise UnknownCountry(code)
    return normalized


def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=validate_country(code))
    assert country is not None
    return str(country.name)


@lru_cache(maxsize=1024)
def validate_subdivision(country: str, code: str) -> str:
    """Accept `BY` or `DE-BY` for Bavaria; return the full ISO 3166-2 code."""
    country = validate_country(country)
    normalized = code.strip().upper()
    full = normalized if normalized.startswith(f"{country}-") else f"{country}-{normalized}"
    subdivision = pycountry.subdivisions.get(code=full)  # type: ignore[no-untyped-call]
    if subdivision is None:
        raise UnknownSubdivision(country, code)
    return full


@cache
def _countries_without_postal_codes() -> frozenset[str]:
    path = files("customs.data").joinpath("countries_without_postal_codes.toml")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    codes = data.get("countries")
    if not isinstance(codes, list):
        raise ValueError(f"{path}: field 'countries' must be a list of ISO 3166-1 alpha-2 codes")
    return frozenset(validate_country(str(c)) for c in codes)


@lru_cache(maxsize=1024)
def uses_postal_codes(country: str) -> bool:
    return validate_country(country) not in _countries_without_postal_codes()
