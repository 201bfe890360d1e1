"""Unknown paid amounts are estimated from the de minimis rules and tariff tables, and always labelled."""

from __future__ import annotations

import datetime as dt

from customs.goods import ItemCondition, ReturnReason
from customs.money import Money
from customs.reclaim import ChargeComponent, ChargesPaid, WarningCode

from .cases import assess, case, line

UNKNOWN = ChargesPaid()


def _paid(result_line: object, component: ChargeComponent) -> Money | None:
    return next((item.amount for item in result_line.paid if item.component is component), None)  # type: ignore[attr-defined]


def test_eu_parcel_under_150_before_july_2026_pays_vat_but_no_duty() -> None:
    lines = (line("EUR", value="100", charges=UNKNOWN),)
    result = assess(case("DE", dt.date(2026, 3, 1), dt.date(2026, 4, 1), lines))
    (estimated,) = result.lines
    assert estimated.estimated
    assert _paid(estimated, ChargeComponent.DUTY) is None
    assert _paid(estimated, ChargeComponent.VAT) == Money.of("19.00", "EUR")
    assert any("eu-ioss-150" in source for source in estimated.estimate_sources)
    assert result.refundable_total == Money.of("19.00", "EUR")
    assert any(w.code is WarningCode.ESTIMATE_USED for w in result.warnings)


def test_eu_parcel_above_150_pays_tariff_duty_and_vat_on_value_plus_duty() -> None:
    lines = (line("EUR", value="200", charges=UNKNOWN),)
    result = assess(case("DE", dt.date(2026, 3, 1), dt.date(2026, 4, 1), lines))
    (estimated,) = result.lines
    assert _paid(estimated, ChargeComponent.DUTY) == Money.of("24.00", "EUR")
    assert _paid(estimated, ChargeComponent.VAT) == Money.of("42.56", "EUR")
    assert any(
        "EU Combined Nomenclature" in s and "as of 2026-01-01" in s for s in estimated.estimate_sources
    )


def test_us_import_after_the_suspension_pays_duty_and_informal_mpf() -> None:
    lines = (line("USD", value="100", charges=UNKNOWN),)
    reclaim = case(
        "US",
        dt.date(2026, 1, 10),
        dt.date(2026, 2, 1),
        lines,
        reason=ReturnReason.CHANGED_MIND,
        condition=ItemCondition.NEW_UNOPENED,
    )
    result = assess(reclaim)
    (estimated,) = result.lines
    assert _paid(estimated, ChargeComponent.DUTY) == Money.of("16.50", "USD")
    assert _paid(estimated, ChargeComponent.MPF) == Money.of("2.69", "USD")
    assert estimated.estimated_components >= {ChargeComponent.DUTY, ChargeComponent.MPF, ChargeComponent.HMT}
    # 99 % of 16.50 and of 2.69.
    assert result.refundable_total == Money.of("19.00", "USD")


def test_us_import_under_800_before_the_suspension_paid_nothing() -> None:
    lines = (line("USD", value="100", origin="VN", charges=UNKNOWN),)
    result = assess(
        case("US", dt.date(2025, 3, 1), dt.date(2025, 4, 1), lines, reason=ReturnReason.CHANGED_MIND)
    )
    (estimated,) = result.lines
    assert estimated.paid == ()
    assert result.best == ()
    assert any("nothing to reclaim" in w.message for w in result.warnings)


def test_uk_parcel_under_135_has_vat_charged_by_the_seller() -> None:
    lines = (line("GBP", value="100", charges=UNKNOWN),)
    result = assess(case("GB", dt.date(2026, 3, 1), dt.date(2026, 4, 1), lines, tax_collected_at_sale=None))
    (estimated,) = result.lines
    assert _paid(estimated, ChargeComponent.VAT) == Money.of("20.00", "GBP")
    assert any("charged by the seller at sale" in s for s in estimated.estimate_sources)
    assert result.best == ()
    (lost,) = result.not_refundable
    assert "seller or marketplace" in lost.reason


def test_unknown_tariff_line_is_reported_not_silently_zero() -> None:
    lines = (line("USD", hs_code="0101.21.00", value="5000", charges=UNKNOWN),)
    result = assess(case("US", dt.date(2026, 1, 10), dt.date(2026, 2, 1), lines))
    assert any(w.code is WarningCode.ASSUMPTION and "0101.21.00" in w.message for w in result.warnings)


def test_given_amounts_are_not_estimated() -> None:
    lines = (line("EUR", value="200", duty="30.00", vat="44.70"),)
    result = assess(case("DE", dt.date(2026, 3, 1), dt.date(2026, 4, 1), lines))
    (given,) = result.lines
    assert not given.estimated
    assert not any(w.code is WarningCode.ESTIMATE_USED for w in result.warnings)
    assert result.refundable_total == Money.of("74.70", "EUR")
