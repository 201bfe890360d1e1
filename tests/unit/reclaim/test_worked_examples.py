"""The five worked examples of research/customs-and-duty-reclaim.md, to the cent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from customs.deminimis import DutyTreatment, ImportChannel, decide_de_minimis
from customs.goods import ReturnReason
from customs.money import Money
from customs.reclaim import ChargeComponent, ChargesPaid, ImporterType, ReclaimCase, apportion_by_value

from .cases import assess, case, line, paid

USD = "USD"


def test_example_1_drawback_is_99_percent_of_the_duty() -> None:
    # 19 CFR 191.51(b)(1): $1,000 of eligible duties -> a claim of $990.00.
    reclaim = case("US", dt.date(2026, 1, 10), dt.date(2026, 3, 1), (line(USD, duty="1000.00"),))
    result = assess(reclaim)
    assert result.best in {("us-1313c-rejected",), ("us-1313j1-unused",)}
    assert result.refundable_total == Money.of("990.00", USD)
    (lost,) = result.not_refundable
    assert lost.component is ChargeComponent.DUTY
    assert lost.amount == Money.of("10.00", USD)
    assert "99 %" in lost.reason
    for regime in result.regimes:
        assert regime.refundable_total <= Money.of("990.00", USD)  # never above 99 %


MPF_LINES = {"1": ("50000", 5000), "2": ("90000", 6000), "3": ("200000", 10000)}


def test_example_2_mpf_value_ratios_and_line_shares() -> None:
    # 19 CFR 190.51(b)(2) Example 1: one entry, MPF $485 apportioned by value.
    values = {line_id: Money.of(value, USD) for line_id, (value, _) in MPF_LINES.items()}
    shares = apportion_by_value(Money.of("485", USD), values)
    assert [shares[i].value_ratio for i in "123"] == [Decimal("0.1471"), Decimal("0.2647"), Decimal("0.5882")]
    assert [shares[i].amount.amount for i in "123"] == [
        Decimal("71.3435"),
        Decimal("128.3795"),
        Decimal("285.2770"),
    ]


def _mpf_case(returned: dict[str, int]) -> ReclaimCase:
    lines = tuple(
        line(
            USD,
            line_id,
            sku=f"SKU-{line_id}",
            quantity=units,
            returned=returned.get(line_id, 0),
            value=value,
            charges=paid(USD, unknown=("mpf",)),
        )
        for line_id, (value, units) in MPF_LINES.items()
    )
    return case(
        "US",
        dt.date(2026, 1, 10),
        dt.date(2026, 3, 1),
        lines,
        importer=ImporterType.BUSINESS,
        reason=ReturnReason.CHANGED_MIND,
        entry_charges=ChargesPaid(mpf=Money.of("485", USD)),
    )


def test_example_2_ninety_nine_percent_eligible_per_line() -> None:
    result = assess(_mpf_case({"1": 5000, "2": 6000, "3": 10000}))
    unused = result.regime("us-1313j1-unused")
    eligible = {o.line_id: o.refunds[0].line_eligible for o in unused.lines}
    assert eligible == {"1": Decimal("70.6301"), "2": Decimal("127.0957"), "3": Decimal("282.4242")}
    line_paid = {o.line_id: o.refunds[0].line_paid for o in unused.lines}
    assert line_paid == {"1": Decimal("71.3435"), "2": Decimal("128.3795"), "3": Decimal("285.2770")}


def test_example_2_per_unit_drawback_for_1000_of_5000_units() -> None:
    result = assess(_mpf_case({"1": 1000}))
    (outcome,) = result.regime("us-1313j1-unused").lines
    (refund,) = outcome.refunds
    assert refund.component is ChargeComponent.MPF
    assert refund.unit_eligible == Decimal("0.0141")
    assert refund.refundable == Money.of("14.10", USD)
    assert result.refundable_total == Money.of("14.10", USD)


def test_example_3_eu_flat_duty_is_3_euro_per_distinct_subheading() -> None:
    # 1 silk blouse (6206.10) and 2 wool blouses (6206.20) in a parcel under EUR 150 from an IOSS seller.
    hs_codes = ["6206.10.00", "6206.20.00", "6206.20.00"]
    decision = decide_de_minimis(
        "FR", dt.date(2026, 7, 15), Money.of("120.00", "EUR"), seller_collects_tax=True, hs_codes=hs_codes
    )
    assert decision.duty is DutyTreatment.FLAT
    assert decision.flat_duty == Money.of("6.00", "EUR")
    assert decision.tax_collected_at_sale


def test_example_3_flat_duty_reaches_the_estimated_lines() -> None:
    unknown = ChargesPaid()
    lines = (
        line("EUR", "silk", hs_code="6206.10.00", value="60", charges=unknown),
        line("EUR", "wool", hs_code="6206.20.00", quantity=2, value="60", charges=unknown),
    )
    reclaim = case("FR", dt.date(2026, 7, 15), dt.date(2026, 8, 1), lines, tax_collected_at_sale=True)
    result = assess(reclaim)
    duty = sum(
        (
            item.amount.amount
            for ln in result.lines
            for item in ln.paid
            if item.component is ChargeComponent.DUTY
        ),
        Decimal(0),
    )
    assert duty == Decimal("6.00")
    assert all(ln.estimated for ln in result.lines)


@pytest.mark.parametrize(
    ("value", "channel", "shipped_from", "duty_free", "tax_free"),
    [
        ("40.00", ImportChannel.COURIER, "US", True, True),
        ("40.01", ImportChannel.COURIER, "US", True, False),
        ("150.01", ImportChannel.COURIER, "US", False, False),
        ("20.01", ImportChannel.POST, "US", False, False),
        ("20.01", ImportChannel.COURIER, "CN", False, False),
    ],
)
def test_example_4_canada_customs_notice_20_18(
    value: str, channel: ImportChannel, shipped_from: str, duty_free: bool, tax_free: bool
) -> None:
    decision = decide_de_minimis(
        "CA", dt.date(2026, 3, 1), Money.of(value, "CAD"), channel=channel, shipped_from=shipped_from
    )
    assert (decision.duty is DutyTreatment.EXEMPT) == duty_free
    assert decision.import_tax_due == (not tax_free)


def test_example_5_australian_price_rebate() -> None:
    # Customs Regulation 2015 s.112(2): duty 50 x rebate 200 / customs value 1,000 = AUD 10.00.
    lines = (line("AUD", value="1000", returned=0, price_rebate="200", duty="50.00"),)
    result = assess(case("AU", dt.date(2026, 2, 1), dt.date(2026, 2, 1), lines))
    rebate = result.regime("au-reg112-price-rebate")
    assert rebate.eligible
    assert rebate.refundable_total == Money.of("10.00", "AUD")
    assert result.best == ("au-reg112-price-rebate",)
    (lost,) = result.not_refundable
    assert lost.amount == Money.of("40.00", "AUD")


def test_example_5_no_commercial_value_at_entry_refunds_the_whole_duty() -> None:
    lines = (line("AUD", value="1000", returned=0, price_rebate="200", duty="50.00"),)
    reclaim = case("AU", dt.date(2026, 2, 1), dt.date(2026, 2, 1), lines, no_commercial_value=True)
    assert assess(reclaim).regime("au-reg112-price-rebate").refundable_total == Money.of("50.00", "AUD")
