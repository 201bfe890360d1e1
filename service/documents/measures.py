"""Weights as documents print them: kilograms with three decimals, whatever the reader's language."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def kilograms(grams: int) -> str:
    """'1.250' for 1250 g; customs forms and labels print weights in kg to the gram."""
    return str((Decimal(grams) / 1000).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))
