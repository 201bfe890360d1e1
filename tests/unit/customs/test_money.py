"""Money rounding and FX conversion against worked examples."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from customs.money import FxTable, MissingFxRate, Money, UnknownCurrency

FX = FxTable(
    "EUR", dt.date(2026, 11, 2), {"USD": Decimal("1.08"), "GBP": Decimal("0.86"), "JPY": Decimal(162)}
)


def test_cross_rates_go_through_the_base() -> None:
    assert FX.rate("EUR", "USD") == Decimal("1.08")
    assert FX.rate("usd ", "EUR") == Decimal(1) / Decimal("1.08")
    assert FX.rate("USD", "GBP") == Decimal("0.86") / Decimal("1.08")
    assert FX.rate("GBP", "GBP") == Decimal(1)
    # Asked again (a cached pair), the same answers.
    assert FX.rate("USD", "GBP") == Decimal("0.86") / Decimal("1.08")


def test_unknown_and_missing_currencies_are_refused_every_time() -> None:
    for _ in range(2):
        with pytest.raises(UnknownCurrency):
            FX.rate("EUR", "EUX")
        with pytest.raises(MissingFxRate):
            FX.rate("EUR", "CHF")


def test_conversion_rounds_half_up_to_the_target_minor_units() -> None:
    # 10.00 USD / 1.08 x 0.86 = 7.962962... GBP -> 7.96; x 162 / 1.08 = 1500 JPY (no minor units).
    assert FX.convert(Money.of("10.00", "USD"), "GBP") == Money.of("7.96", "GBP")
    assert FX.convert(Money.of("10.00", "USD"), "jpy") == Money.of("1500", "JPY")
    # 0.125 EUR x 1.08 = 0.135 USD: exactly half a cent, rounded up.
    assert FX.convert(Money.of("0.125", "EUR"), "USD") == Money.of("0.14", "USD")


def test_a_converter_answers_as_convert_does() -> None:
    to_gbp = FX.converter("gbp")
    assert to_gbp(Money.of("10.00", "USD")) == Money.of("7.96", "GBP")
    assert to_gbp(Money.of("3.00", "GBP")) == Money.of("3.00", "GBP")
    with pytest.raises(MissingFxRate):
        to_gbp(Money.of("3.00", "CHF"))
    with pytest.raises(UnknownCurrency):
        FX.converter("EUX")


@settings(max_examples=200)
@given(
    st.decimals(min_value=0, max_value=100_000, places=4),
    st.sampled_from(["EUR", "USD", "GBP", "JPY"]),
    st.sampled_from(["EUR", "USD", "GBP", "JPY"]),
)
def test_converter_and_convert_agree(amount: Decimal, source: str, target: str) -> None:
    money = Money.of(amount, source)
    assert FX.converter(target)(money) == FX.convert(money, target)
