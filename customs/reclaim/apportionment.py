"""Apportioning an entry-level charge to the entry's lines by value, as 19 CFR 190.51(b)(2) does for the
merchandise processing fee: each line's value ratio is rounded to 4 decimals, and the line's share is the
charge times that ratio (kept to 4 decimals; currency rounding happens on the final refund only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from customs.money import Money

FOUR_PLACES = Decimal("0.0001")


def four_places(value: Decimal) -> Decimal:
    return value.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class ApportionedShare:
    line_id: str
    value_ratio: Decimal
    amount: Money


def apportion_by_value(charge: Money, line_values: Mapping[str, Money]) -> dict[str, ApportionedShare]:
    """Each line's share of `charge` (19 CFR 190.51(b)(2)). Lines of zero total value get nothing."""
    total = sum((value.amount for value in line_values.values()), Decimal(0))
    shares: dict[str, ApportionedShare] = {}
    for line_id, value in line_values.items():
        if value.currency != charge.currency:
            raise ValueError(f"line {line_id} is valued in {value.currency}, the charge in {charge.currency}")
        ratio = four_places(value.amount / total) if total else Decimal(0)
        shares[line_id] = ApportionedShare(
            line_id, ratio, Money(four_places(charge.amount * ratio), charge.currency)
        )
    return shares
