"""Money as Decimal with ISO 4217 currencies, per-currency rounding and FX conversion.

Floats never enter: amounts are built from strings, ints or Decimals. Rounding uses the currency's minor
units (JPY 0, EUR 2, KWD 3) and ROUND_HALF_UP, the commercial rule customs authorities and carriers apply.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache, lru_cache

import pycountry
from babel.numbers import get_currency_precision


class UnknownCurrency(ValueError):
    """A code that is not an active ISO 4217 currency."""

    def __init__(self, code: str) -> None:
        super().__init__(f"unknown currency {code!r}: expected an ISO 4217 code such as EUR or USD")
        self.code = code


class CurrencyMismatch(ValueError):
    """Arithmetic between amounts of different currencies."""


@cache
def _is_iso_currency(code: str) -> bool:
    return pycountry.currencies.get(alpha_3=code) is not None


# Codes already validated, in their normalised form: Money is built on every price a quote touches, and a
# known code needs no second look. Only normalised valid codes enter, so the set stays at most ~180 entries.
_VALID_CODES: set[str] = set()


@lru_cache(maxsize=1024)
def _normalized_currency(code: str) -> str:
    normalized = code.strip().upper()
    if len(normalized) != 3 or not normalized.isalpha() or not _is_iso_currency(normalized):
        raise UnknownCurrency(code)
    _VALID_CODES.add(normalized)
    return normalized


def validate_currency(code: str) -> str:
    """Return the upper-cased code, or raise UnknownCurrency."""
    if code in _VALID_CODES:
        return code
    return _normalized_currency(code)


@cache
def minor_units(currency: str) -> int:
    """Digits after the decimal point for the currency (ISO 4217 minor units)."""
    return int(get_currency_precision(validate_currency(currency)))


@cache
def _minor_unit(currency: str) -> Decimal:
    """The smallest amount of the currency (0.01 for EUR), the quantum amounts are rounded to."""
    return Decimal(1).scaleb(-minor_units(currency))


def _as_decimal(value: Decimal | int | str) -> Decimal:
    if isinstance(value, float):  # pragma: no cover - guarded for callers outside the type checker
        raise TypeError("money amounts are never floats; pass a str or Decimal")
    try:
        result = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal amount: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    return result


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency. Unrounded until `rounded()` is asked for."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        # Fast path for what arithmetic and adapters pass: a finite Decimal and an already validated code.
        amount = self.amount
        if type(amount) is not Decimal or not amount.is_finite():
            object.__setattr__(self, "amount", _as_decimal(amount))
        if self.currency not in _VALID_CODES:
            object.__setattr__(self, "currency", validate_currency(self.currency))

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        return cls(_as_decimal(amount), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def rounded(self) -> Money:
        """Rounded to the currency's minor units, half up."""
        return Money(self.rounded_amount(), self.currency)

    def rounded_amount(self) -> Decimal:
        """The amount of `rounded()`, without building the Money (for serialising many prices)."""
        return self.amount.quantize(_minor_unit(self.currency), rounding=ROUND_HALF_UP)

    def _check(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        return Money(self.amount * _as_decimal(factor), self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._check(other)
        return self.amount >= other.amount

    def is_zero(self) -> bool:
        return self.amount == 0

    def min(self, other: Money) -> Money:
        return self if self <= other else other

    def __str__(self) -> str:
        return f"{self.rounded().amount} {self.currency}"


def total(amounts: Iterable[Money], currency: str) -> Money:
    """Sum of amounts, all in `currency` (zero when empty)."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result


class MissingFxRate(LookupError):
    def __init__(self, source: str, target: str) -> None:
        super().__init__(f"no FX rate from {source} to {target}")
        self.source = source
        self.target = target


@dataclass(frozen=True, slots=True)
class FxTable:
    """Reference rates against one base currency, as of one date.

    `rates[c]` is how many units of currency c one unit of `base` buys. Cross rates go through the base.
    """

    base: str
    as_of: dt.date
    rates: Mapping[str, Decimal]
    source: str = ""
    # Cross rates already worked out, by (source, target) code: every quote converts a price.
    _pairs: dict[tuple[str, str], Decimal] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", validate_currency(self.base))
        checked: dict[str, Decimal] = {self.base: Decimal(1)}
        for code, rate in self.rates.items():
            value = _as_decimal(rate)
            if value <= 0:
                raise ValueError(f"FX rate for {code} must be positive, got {rate}")
            checked[validate_currency(code)] = value
        object.__setattr__(self, "rates", checked)

    def rate(self, source: str, target: str) -> Decimal:
        source, target = validate_currency(source), validate_currency(target)
        pair = self._pairs.get((source, target))
        if pair is not None:
            return pair
        if source == target:
            pair = Decimal(1)
        else:
            try:
                pair = self.rates[target] / self.rates[source]
            except KeyError:
                raise MissingFxRate(source, target) from None
        self._pairs[source, target] = pair  # valid codes only: at most ~180² entries
        return pair

    def convert(self, money: Money, target: str) -> Money:
        """The amount in `target`, rounded to its minor units."""
        target = validate_currency(target)
        converted = money.amount * self.rate(money.currency, target)
        return Money(converted.quantize(_minor_unit(target), rounding=ROUND_HALF_UP), target)

    def converter(self, target: str) -> Callable[[Money], Money]:
        """`convert(money, target)` for many amounts: the target's checks and rounding quantum are looked up
        once, and each source currency's rate once. Raises UnknownCurrency for an unknown target; the
        converter raises MissingFxRate for an amount whose currency has no rate."""
        target = validate_currency(target)
        quantum = _minor_unit(target)
        factors: dict[str, Decimal] = {}

        def convert(money: Money) -> Money:
            factor = factors.get(money.currency)
            if factor is None:
                factor = factors[money.currency] = self.rate(money.currency, target)
            return Money((money.amount * factor).quantize(quantum, rounding=ROUND_HALF_UP), target)

        return convert
