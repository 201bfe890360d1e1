"""Postal addresses and contacts, validated against ISO 3166."""

from __future__ import annotations

from dataclasses import dataclass, field

from customs.countries import uses_postal_codes, validate_country, validate_subdivision


class InvalidAddress(ValueError):
    """An address field is wrong; `field` names it relative to the address."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Address:
    country: str
    lines: tuple[str, ...]
    locality: str
    postal_code: str = ""
    administrative_area: str = ""
    organization: str = ""
    recipients: tuple[str, ...] = ()
    language_code: str = ""

    def validated(self) -> Address:
        """A normalised copy, or InvalidAddress naming the first bad field."""
        try:
            country = validate_country(self.country)
        except ValueError as exc:
            raise InvalidAddress("region_code", str(exc)) from exc
        if not any(line.strip() for line in self.lines):
            raise InvalidAddress("address_lines", "at least one address line is required")
        if not self.locality.strip():
            raise InvalidAddress("locality", "a city or locality is required")
        postal_code = self.postal_code.strip()
        if not postal_code and uses_postal_codes(country):
            raise InvalidAddress("postal_code", f"a postal code is required for addresses in {country}")
        area = self.administrative_area.strip()
        if area:
            try:
                area = validate_subdivision(country, area)
            except ValueError as exc:
                raise InvalidAddress("administrative_area", str(exc)) from exc
        return Address(
            country=country,
            lines=tuple(line.strip() for line in self.lines if line.strip()),
            locality=self.locality.strip(),
            postal_code=postal_code,
            administrative_area=area,
            organization=self.organization.strip(),
            recipients=tuple(r.strip() for r in self.recipients if r.strip()),
            language_code=self.language_code.strip(),
        )


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    email: str = ""
    phone: str = ""
    # Tax or customs identifiers of the party (EORI, VAT, importer number), by scheme name.
    tax_ids: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Party:
    """Someone on a shipment: who they are and where."""

    contact: Contact
    address: Address
