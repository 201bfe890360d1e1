"""EORI numbers (Economic Operators Registration and Identification), checked against the formats in
declaration_requirements.toml: an EU member state code + up to 15 letters or digits; GB or XI + 12 digits."""

from __future__ import annotations

from dataclasses import dataclass

from customs.declaration.requirements import EoriFormat, declaration_rules

_SEPARATORS = str.maketrans("", "", " -.\u00a0")


class InvalidEori(ValueError):
    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"invalid EORI number {raw!r}: {reason}")
        self.raw = raw
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Eori:
    issuer: str  # the two-letter prefix: the issuing member state, GB, or XI for Northern Ireland
    number: str  # what follows the prefix

    def __str__(self) -> str:
        return self.issuer + self.number


def _format_for(issuer: str, formats: tuple[EoriFormat, ...]) -> EoriFormat | None:
    return next((f for f in formats if issuer in f.issuers), None)


def validate_eori(raw: str) -> Eori:
    """The EORI with spaces, dots and dashes removed and letters upper-cased, or InvalidEori."""
    value = raw.translate(_SEPARATORS).upper()
    if len(value) < 3:
        raise InvalidEori(raw, "too short: an EORI number is a two-letter prefix followed by the number")
    issuer, number = value[:2], value[2:]
    formats = declaration_rules().eori_formats
    found = _format_for(issuer, formats)
    if found is None:
        raise InvalidEori(
            raw, f"{issuer} does not issue EORI numbers: expected an EU member state code, GB or XI"
        )
    if found.number.fullmatch(number) is None:
        raise InvalidEori(raw, f"expected {found.description}")
    return Eori(issuer, number)
