"""UPU S10 item identifiers: two-letter service indicator, 8-digit serial, check digit, ISO country.

Check digit (UPU S10): weights 8, 6, 4, 2, 3, 5, 9, 7 over the serial's digits, C = 11 - (sum mod 11),
with 10 becoming 0 and 11 becoming 5. Example from the standard: serial 47312482 -> 9 (RR473124829GB).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from customs.countries import validate_country

_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
_S10 = re.compile(r"([A-Z]{2})(\d{8})(\d)([A-Z]{2})")
SERIAL_MAX = 99_999_999


def check_digit(serial: str) -> int:
    if len(serial) != 8 or not serial.isdigit():
        raise ValueError(f"an S10 serial has exactly 8 digits, got {serial!r}")
    remainder = sum(int(d) * w for d, w in zip(serial, _WEIGHTS, strict=True)) % 11
    digit = 11 - remainder
    if digit == 10:
        return 0
    if digit == 11:
        return 5
    return digit


def s10_identifier(service_indicator: str, serial: int, country: str) -> str:
    if not re.fullmatch(r"[A-Z]{2}", service_indicator):
        raise ValueError(f"S10 service indicator must be two capital letters, got {service_indicator!r}")
    if not 0 <= serial <= SERIAL_MAX:
        raise ValueError(f"S10 serial must be within 0..{SERIAL_MAX}, got {serial}")
    digits = f"{serial:08d}"
    return f"{service_indicator}{digits}{check_digit(digits)}{validate_country(country)}"


def is_valid_s10(identifier: str) -> bool:
    """Format and check digit (spaces, as printed under barcodes, are ignored)."""
    match = _S10.fullmatch(identifier.replace(" ", "").upper())
    return match is not None and check_digit(match.group(2)) == int(match.group(3))


@dataclass(frozen=True, slots=True)
class S10Series:
    """The block of identifiers a partner lets us issue: indicator, issuing country, serial range."""

    service_indicator: str
    country: str
    first_serial: int = 0
    last_serial: int = SERIAL_MAX

    def __post_init__(self) -> None:
        s10_identifier(self.service_indicator, self.first_serial, self.country)  # validates all parts
        if not self.first_serial <= self.last_serial <= SERIAL_MAX:
            raise ValueError(f"S10 serial range {self.first_serial}..{self.last_serial} is invalid")

    @property
    def size(self) -> int:
        return self.last_serial - self.first_serial + 1

    def identifier(self, ordinal: int) -> str:
        """The `ordinal`-th identifier of the series (0-based)."""
        if not 0 <= ordinal < self.size:
            raise ValueError(f"S10 series {self.service_indicator}..{self.country} exhausted at {ordinal}")
        return s10_identifier(self.service_indicator, self.first_serial + ordinal, self.country)

    def contains(self, identifier: str) -> bool:
        match = _S10.fullmatch(identifier.replace(" ", "").upper())
        return (
            match is not None
            and is_valid_s10(identifier)
            and match.group(1) == self.service_indicator
            and match.group(4) == self.country
            and self.first_serial <= int(match.group(2)) <= self.last_serial
        )


class SerialAllocator(Protocol):
    """Hands out ordinals of a series, never the same twice. Production wiring passes a durable one."""

    async def next_ordinal(self, series_key: str) -> int: ...


@runtime_checkable
class KeyedSerialAllocator(SerialAllocator, Protocol):
    """An allocator that remembers which purchase got which ordinal.

    A purchase asking again under the same key gets the same ordinal, and `find_ordinal` tells whether a key
    was ever given one: this is how a rate-card purchase is looked up after a crash.
    """

    async def ordinal_for(self, series_key: str, purchase_key: str) -> int:
        """The ordinal of `purchase_key`, allocating the next one of the series on the first ask."""
        ...

    async def find_ordinal(self, series_key: str, purchase_key: str) -> int | None: ...


class InMemorySerialAllocator:
    """Counts per series from `start`. Numbers repeat after a restart: for tests, demos and one process."""

    def __init__(self, start: int = 0) -> None:
        self._start = start
        self._next: dict[str, int] = {}

    async def next_ordinal(self, series_key: str) -> int:
        ordinal = self._next.get(series_key, self._start)
        self._next[series_key] = ordinal + 1
        return ordinal
