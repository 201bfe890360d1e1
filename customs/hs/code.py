"""The HS code value type and the structural rules every code obeys, whatever the edition.

Structure (WCO): chapter = 2 digits, heading = 4, subheading = 6; national tariffs add 2 or 4 digits (EU CN 8,
TARIC / US HTS / UK commodity code 10). Codes are strings: leading zeros are significant.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DECLARABLE_LENGTHS = (6, 8, 10)
_SEPARATORS = str.maketrans("", "", ". \t\u00a0")
_ASCII_DIGITS = frozenset("0123456789")
# Chapter 77 is reserved by the WCO for possible future use; 98 and 99 are left to national use (US 9801 for
# returned American goods, EU 99 special codes), so they never name goods internationally.
_RESERVED_CHAPTER = "77"
_NATIONAL_CHAPTERS = ("98", "99")


class HsCodeProblem(StrEnum):
    """Why a code was refused; stable identifiers clients can switch on."""

    EMPTY = "empty"
    NOT_DIGITS = "not_digits"
    WRONG_LENGTH = "wrong_length"
    NO_SUCH_CHAPTER = "no_such_chapter"
    RESERVED_CHAPTER = "reserved_chapter"
    NATIONAL_CHAPTER = "national_chapter"
    UNKNOWN_HEADING = "unknown_heading"
    UNKNOWN_SUBHEADING = "unknown_subheading"


class InvalidHsCode(ValueError):
    """`raw` is not a valid HS code; `reason` says why in words, `problem` as an identifier."""

    def __init__(self, raw: str, reason: str, problem: HsCodeProblem) -> None:
        super().__init__(f"invalid HS code {raw!r}: {reason}")
        self.raw = raw
        self.reason = reason
        self.problem = problem


def normalize_hs_digits(raw: str, lengths: tuple[int, ...] = DECLARABLE_LENGTHS) -> str:
    """Strip dots and spaces and apply the edition-independent rules; return the digits.

    `lengths` are the accepted digit counts: (6, 8, 10) for a declarable code; lookups also accept 2 and 4.
    """
    digits = raw.translate(_SEPARATORS)
    if not digits:
        raise InvalidHsCode(raw, "no digits given: an HS code has 6, 8 or 10 digits", HsCodeProblem.EMPTY)
    foreign = [c for c in digits if c not in _ASCII_DIGITS]
    if foreign:
        raise InvalidHsCode(
            raw,
            f"contains {foreign[0]!r}: only the digits 0-9, dots and spaces are allowed",
            HsCodeProblem.NOT_DIGITS,
        )
    if len(digits) not in lengths:
        expected = ", ".join(str(n) for n in lengths[:-1]) + f" or {lengths[-1]}"
        raise InvalidHsCode(
            raw,
            f"has {len(digits)} digits: expected {expected} (6 = international subheading, "
            "8 or 10 with national digits)",
            HsCodeProblem.WRONG_LENGTH,
        )
    chapter = digits[:2]
    if chapter == "00":
        raise InvalidHsCode(
            raw, "chapter 00 does not exist: chapters run from 01 to 97", HsCodeProblem.NO_SUCH_CHAPTER
        )
    if chapter == _RESERVED_CHAPTER:
        raise InvalidHsCode(
            raw,
            "chapter 77 is reserved for future use in the Harmonized System",
            HsCodeProblem.RESERVED_CHAPTER,
        )
    if chapter in _NATIONAL_CHAPTERS:
        raise InvalidHsCode(
            raw,
            f"chapter {chapter} is reserved for national use and is not part of the international HS: "
            "declare the goods' own 6-digit subheading",
            HsCodeProblem.NATIONAL_CHAPTER,
        )
    return digits


@dataclass(frozen=True, slots=True, order=True)
class HsCode:
    """A declarable HS code: 6 digits, or 8 or 10 with national digits. Built only from well-formed digits."""

    digits: str

    def __post_init__(self) -> None:
        if normalize_hs_digits(self.digits) != self.digits:
            raise InvalidHsCode(self.digits, "must be given as plain digits", HsCodeProblem.NOT_DIGITS)

    @property
    def chapter(self) -> str:
        return self.digits[:2]

    @property
    def heading(self) -> str:
        return self.digits[:4]

    @property
    def subheading(self) -> str:
        """The international 6-digit part; everything a foreign customs office can rely on."""
        return self.digits[:6]

    @property
    def national_suffix(self) -> str:
        """Digits beyond the sixth, defined by a national tariff ('' for a 6-digit code)."""
        return self.digits[6:]

    def dotted(self) -> str:
        """The printed form: 6109.10, 6109.10.00, 6109.10.00.12."""
        d = self.digits
        return ".".join([d[:4], *(d[i : i + 2] for i in range(4, len(d), 2))])

    def __str__(self) -> str:
        return self.digits
