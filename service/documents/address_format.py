"""Postal addresses as printed lines, in the order the destination country's post reads them."""

from __future__ import annotations

import re
import string
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

import pycountry
from babel import Locale

from customs.address import Address, Party
from customs.countries import validate_country

_DATA_FILE = "data/address_formats.toml"
_PLACEHOLDERS = frozenset({"postal_code", "locality", "area_code", "area_name"})


class AddressFormatError(ValueError):
    """The address format data file is malformed; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class AddressFormats:
    default: tuple[str, ...]
    by_country: dict[str, tuple[str, ...]]

    def for_country(self, country: str) -> tuple[str, ...]:
        return self.by_country.get(country, self.default)


def _templates(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise AddressFormatError(f"{_DATA_FILE}: {where}: expected a non-empty list of strings")
    for template in value:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
        unknown = names - _PLACEHOLDERS
        if unknown:
            raise AddressFormatError(f"{_DATA_FILE}: {where}: unknown placeholder {{{sorted(unknown)[0]}}}")
    return tuple(value)


@cache
def address_formats() -> AddressFormats:
    text = files("service.documents").joinpath(_DATA_FILE).read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AddressFormatError(f"{_DATA_FILE}: {exc}") from exc
    for key in ("source", "as_of"):
        if key not in data:
            raise AddressFormatError(f"{_DATA_FILE}: {key}: missing")
    countries = data.get("countries", {})
    if not isinstance(countries, dict):
        raise AddressFormatError(f"{_DATA_FILE}: countries: expected a table")
    by_country: dict[str, tuple[str, ...]] = {}
    for code, templates in countries.items():
        try:
            country = validate_country(code)
        except ValueError as exc:
            raise AddressFormatError(f"{_DATA_FILE}: countries.{code}: {exc}") from exc
        by_country[country] = _templates(templates, f"countries.{code}")
    return AddressFormats(_templates(data.get("default"), "default"), by_country)


def _area_name(code: str) -> str:
    subdivision = pycountry.subdivisions.get(code=code)  # type: ignore[no-untyped-call]
    return str(subdivision.name) if subdivision is not None else ""


def _fill(template: str, values: dict[str, str]) -> str:
    # Drop an empty placeholder together with the separator written before it, then tidy what is left.
    pieces: list[str] = []
    for literal, name, _, _ in string.Formatter().parse(template):
        value = values.get(name, "") if name is not None else ""
        if name is not None and not value:
            continue
        pieces.append(literal + value)
    return re.sub(r"^[\s,\-]+|[\s,\-]+$", "", "".join(pieces))


def locality_lines(address: Address) -> list[str]:
    area = address.administrative_area
    values = {
        "postal_code": address.postal_code,
        "locality": address.locality,
        "area_code": area.split("-", 1)[1] if "-" in area else area,
        "area_name": _area_name(area) if area else "",
    }
    lines = (_fill(t, values) for t in address_formats().for_country(address.country))
    return [line for line in lines if line]


def country_name(country: str, language: Locale) -> str:
    """The country's name in the reader's language (babel's CLDR names)."""
    return str(language.territories.get(country, country))


def party_lines(party: Party, language: Locale, *, upper_country: bool = False) -> list[str]:
    """Name, organisation, street lines, locality lines and country, each non-empty."""
    address = party.address
    head = [party.contact.name, address.organization, *address.recipients]
    country = country_name(address.country, language)
    lines = [
        *dict.fromkeys(line for line in head if line.strip()),
        *address.lines,
        *locality_lines(address),
        country.upper() if upper_country else country,
    ]
    return [line for line in lines if line.strip()]
