"""Each regime: an eligible case, an ineligible one, and its time limit's last day (eligible) and the day
after (not)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from customs.goods import ItemCondition, ReturnReason
from customs.money import Money
from customs.reclaim import ChargeComponent, DesignatedImport, ImporterType, ReclaimCase, WarningCode

from .cases import assess, case, line

ONE_DAY = dt.timedelta(days=1)
Build = Callable[[dt.date, dt.date | None], ReclaimCase]


def us_unused(export: dt.date, filing: dt.date | None) -> ReclaimCase:
    lines = (line("USD", duty="100.00"),)
    return case(
        "US",
        dt.date(2026, 1, 10),
        export,
        lines,
        reason=ReturnReason.CHANGED_MIND,
        condition=ItemCondition.NEW_UNOPENED,
        filing_date=filing,
    )


def us_rejected(export: dt.date, filing: dt.date | None) -> ReclaimCase:
    lines = (line("USD", duty="100.00"),)
    return case(
        "US",
        dt.date(2026, 1, 10),
        export,
        lines,
        condition=ItemCondition.DEFECTIVE,
        used=True,
        filing_date=filing,
    )


def us_retail(export: dt.date, filing: dt.date | None) -> ReclaimCase:
    lines = (line("USD", duty="100.00"),)
    return case(
        "US",
        dt.date(2026, 1, 10),
        export,
        lines,
        importer=ImporterType.BUSINESS,
        reason=ReturnReason.CHANGED_MIND,
        used=True,
        filing_date=filing,
    )


def eu_rejected(export: dt.date, filing: dt.date | None) -> ReclaimCase:
    lines = (line("EUR", duty="12.00", vat="21.28"),)
    return case("DE", dt.date(2026, 3, 10), export, lines, filing_date=filing)


def eu_ioss(export: dt.date, filing: dt.date | None) -> ReclaimCase:
    lines = (line("EUR", vat="19.00"),)
    return case(
        "DE",
        dt.date(2026, 3, 10),
        export,
        lines,
        reason=ReturnReason.CHANGED_MIND,
        tax_collected_at_sale=True,
        filing_date=filing,
    )


def gb_rejected(export: dt.date, filing: dt.date | None) -> ReclaimCase:
    lines = (line("GBP", value="250", duty="30.00", vat="56.00"),)
    return case("GB", dt.date(2026, 3, 10), export, lines, filing_date=filing)


def gb_vat_return(export: dt.date, filing: dt.date | None) -> ReclaimCase:
    lines = (line("GBP", value="250", duty="30.00", vat="56.00"),)
    return case(
        "GB",
        dt.date(2026, 3, 10),
        export,
        lines,
        importer=ImporterType.VAT_REGISTERED_BUSINESS,
        reason=ReturnReason.CHANGED_MIND,
        filing_date=filing,
    )


def ca_casual(export: dt.date, filing: dt.date | None) -> ReclaimCase:
    lines = (line("CAD", duty="18.00", vat="5.90"),)
    return case(
        "CA", dt.date(2026, 3, 10), export, lines, reason=ReturnReason.CHANGED_MIND, filing_date=filing
    )


def ca_drawback(export: dt.date, filing: dt.date | None) -> ReclaimCase:
    lines = (line("CAD", duty="18.00", vat="5.90"),)
    return case(
        "CA",
        dt.date(2026, 3, 10),
        export,
        lines,
        importer=ImporterType.BUSINESS,
        reason=ReturnReason.CHANGED_MIND,
        filing_date=filing,
    )


def au_drawback(export: dt.date, filing: dt.date | None) -> ReclaimCase:
    lines = (line("AUD", value="2000", duty="150.00", vat="215.00"),)
    return case(
        "AU", dt.date(2026, 3, 10), export, lines, reason=ReturnReason.CHANGED_MIND, filing_date=filing
    )


def au_rebate(export: dt.date, filing: dt.date | None) -> ReclaimCase:
    lines = (line("AUD", value="1000", returned=0, price_rebate="200", duty="50.00"),)
    return case("AU", dt.date(2026, 2, 1), export, lines, filing_date=filing)


def jp_breach(export: dt.date, filing: dt.date | None) -> ReclaimCase:
    lines = (line("JPY", value="20000", duty="1480", vat="2148"),)
    return case("JP", dt.date(2026, 1, 31), export, lines, filing_date=filing)


def jp_same_condition(export: dt.date, filing: dt.date | None) -> ReclaimCase:
    lines = (line("JPY", value="20000", duty="1480", vat="2148"),)
    return case(
        "JP",
        dt.date(2026, 1, 31),
        export,
        lines,
        reason=ReturnReason.CHANGED_MIND,
        identification=True,
        filing_date=filing,
    )


@dataclass(frozen=True)
class Window:
    regime_id: str
    build: Build
    export_last: dt.date | None  # last export date that qualifies (None: no export limit)
    filing_last: dt.date  # last filing date
    export_for_filing: dt.date  # an export date within the window, for the filing boundary


WINDOWS = [
    Window("us-1313j1-unused", us_unused, dt.date(2031, 1, 10), dt.date(2031, 1, 10), dt.date(2026, 3, 1)),
    Window("us-1313c-rejected", us_rejected, dt.date(2031, 1, 10), dt.date(2031, 1, 10), dt.date(2026, 3, 1)),
    # 19 CFR 191.45: the designated import must be within 1 year before the export.
    Window(
        "us-1313c-retail-return", us_retail, dt.date(2027, 1, 10), dt.date(2031, 1, 10), dt.date(2026, 3, 1)
    ),
    Window(
        "eu-ucc118-rejected", eu_rejected, dt.date(2027, 3, 10), dt.date(2027, 3, 10), dt.date(2026, 4, 1)
    ),
    Window("eu-ioss-vat-adjustment", eu_ioss, None, dt.date(2026, 9, 30), dt.date(2026, 8, 15)),
    Window(
        "gb-ce1179-rejected", gb_rejected, dt.date(2027, 3, 10), dt.date(2027, 3, 10), dt.date(2026, 4, 1)
    ),
    Window("gb-vat-return-adjustment", gb_vat_return, None, dt.date(2030, 3, 10), dt.date(2026, 4, 1)),
    Window("ca-b2g-casual", ca_casual, dt.date(2027, 3, 10), dt.date(2027, 3, 10), dt.date(2026, 4, 1)),
    Window("ca-k32-drawback", ca_drawback, dt.date(2030, 3, 10), dt.date(2030, 3, 10), dt.date(2026, 4, 1)),
    Window("au-b807-drawback", au_drawback, None, dt.date(2030, 4, 1), dt.date(2026, 4, 1)),
    Window("au-reg112-price-rebate", au_rebate, None, dt.date(2030, 2, 1), dt.date(2026, 2, 1)),
    Window(
        "jp-faq1604-breach-of-contract",
        jp_breach,
        dt.date(2026, 7, 31),
        dt.date(2026, 7, 31),
        dt.date(2026, 3, 1),
    ),
    Window(
        "jp-faq1606-same-condition",
        jp_same_condition,
        dt.date(2027, 1, 31),
        dt.date(2027, 1, 31),
        dt.date(2026, 3, 1),
    ),
]
IDS = [window.regime_id for window in WINDOWS]


def test_every_packaged_regime_has_a_window_test() -> None:
    from customs.reclaim import load_regime_book

    book = load_regime_book()
    assert sorted(IDS) == sorted(rid for market in book.markets() for rid in book.regime_ids(market))


@pytest.mark.parametrize("window", WINDOWS, ids=IDS)
def test_eligible_with_positive_refund(window: Window) -> None:
    regime = assess(window.build(window.export_for_filing, None)).regime(window.regime_id)
    assert regime.eligible, [c.text for c in regime.checks] + [c.text for o in regime.lines for c in o.checks]
    assert regime.refundable_total.amount > 0
    assert regime.filing_deadline == window.filing_last


@pytest.mark.parametrize(
    "window", [w for w in WINDOWS if w.export_last], ids=[w.regime_id for w in WINDOWS if w.export_last]
)
def test_export_on_the_last_day_is_eligible_and_the_day_after_is_not(window: Window) -> None:
    assert window.export_last is not None
    on_time = assess(window.build(window.export_last, None)).regime(window.regime_id)
    assert on_time.eligible
    late = assess(window.build(window.export_last + ONE_DAY, None)).regime(window.regime_id)
    assert not late.eligible
    assert late.refundable_total.is_zero()
    failed = [c.text for o in late.lines for c in o.checks if not c.passed]
    assert failed, "the failing time check must be reported"
    if window.regime_id == "us-1313c-retail-return":  # the designation window, a condition of the line
        assert any("designate a later import" in text for text in failed)
    else:
        assert any(w.code is WarningCode.DEADLINE_PASSED for w in late.warnings)


@pytest.mark.parametrize("window", WINDOWS, ids=IDS)
def test_filing_on_the_last_day_is_eligible_and_the_day_after_is_not(window: Window) -> None:
    on_time = assess(window.build(window.export_for_filing, window.filing_last)).regime(window.regime_id)
    assert on_time.eligible
    late = assess(window.build(window.export_for_filing, window.filing_last + ONE_DAY)).regime(
        window.regime_id
    )
    assert not late.eligible
    assert any("after the deadline" in c.text for o in late.lines for c in o.checks)


# --- conditions ------------------------------------------------------------------------------------------


def _failed(result_case: ReclaimCase, regime_id: str) -> list[str]:
    regime = assess(result_case).regime(regime_id)
    assert not regime.eligible
    return [c.text for c in regime.checks if not c.passed] + [
        c.text for o in regime.lines for c in o.checks if not c.passed
    ]


def test_us_unused_drawback_refuses_used_goods() -> None:
    reclaim = case(
        "US",
        dt.date(2026, 1, 10),
        dt.date(2026, 3, 1),
        (line("USD", duty="100"),),
        condition=ItemCondition.USED,
    )
    assert any("used" in text and "H263493" in text for text in _failed(reclaim, "us-1313j1-unused"))


def test_us_rejected_drawback_refuses_change_of_mind() -> None:
    reclaim = us_rejected(dt.date(2026, 3, 1), None)
    changed = case(
        "US",
        dt.date(2026, 1, 10),
        dt.date(2026, 3, 1),
        (line("USD", duty="100"),),
        reason=ReturnReason.CHANGED_MIND,
    )
    assert assess(reclaim).regime("us-1313c-rejected").eligible
    assert any("changed_mind" in text for text in _failed(changed, "us-1313c-rejected"))


def test_us_retail_return_needs_a_business_importer() -> None:
    reclaim = case(
        "US",
        dt.date(2026, 1, 10),
        dt.date(2026, 3, 1),
        (line("USD", duty="100"),),
        reason=ReturnReason.CHANGED_MIND,
    )
    assert any("importer type 'consumer'" in text for text in _failed(reclaim, "us-1313c-retail-return"))


def _retail_with_designation(hs_code: str, designated_on: dt.date) -> ReclaimCase:
    designated = DesignatedImport("SKU-1", hs_code, "US-ENTRY-9", designated_on, unit_paid=None)
    lines = (line("USD", hs_code="6109.10.0012", quantity=4, returned=2, duty="40.00"),)
    return case(
        "US",
        dt.date(2024, 6, 1),
        dt.date(2026, 3, 1),
        lines,
        importer=ImporterType.BUSINESS,
        reason=ReturnReason.CHANGED_MIND,
        used=True,
        designated=(designated,),
    )


def test_us_retail_return_designates_a_later_import_of_the_same_sku_and_8_digit_number() -> None:
    regime = assess(_retail_with_designation("6109.10.0040", dt.date(2025, 3, 1))).regime(
        "us-1313c-retail-return"
    )
    assert regime.eligible
    # The time limits now run from the designated import: 5 years from 2025-03-01.
    assert regime.filing_deadline == dt.date(2030, 3, 1)
    assert regime.refundable_total == Money.of("19.80", "USD")  # 2 of 4 units, 99 %


def test_us_retail_return_refuses_a_designated_import_with_another_tariff_number() -> None:
    failed = _failed(_retail_with_designation("6109.90.1000", dt.date(2025, 3, 1)), "us-1313c-retail-return")
    assert any("tariff number 61099010" in text for text in failed)


def test_us_retail_return_refuses_a_designated_import_older_than_one_year_before_export() -> None:
    failed = _failed(_retail_with_designation("6109.10.0040", dt.date(2025, 2, 28)), "us-1313c-retail-return")
    assert any("outside the window 2025-03-01" in text for text in failed)


def test_us_retail_return_uses_what_the_designated_import_paid_per_unit() -> None:
    designated = DesignatedImport(
        "SKU-1", "6109.10.00", "US-ENTRY-9", dt.date(2025, 9, 1), unit_paid=line("USD", duty="7.00").paid
    )
    lines = (line("USD", quantity=4, returned=2, duty="40.00"),)
    reclaim = case(
        "US",
        dt.date(2024, 6, 1),
        dt.date(2026, 3, 1),
        lines,
        importer=ImporterType.BUSINESS,
        reason=ReturnReason.CHANGED_MIND,
        used=True,
        designated=(designated,),
    )
    assert assess(reclaim).regime("us-1313c-retail-return").refundable_total == Money.of("13.86", "USD")


def test_eu_rejection_refuses_change_of_mind_and_used_goods() -> None:
    changed = case(
        "DE",
        dt.date(2026, 3, 10),
        dt.date(2026, 4, 1),
        (line("EUR", duty="12"),),
        reason=ReturnReason.CHANGED_MIND,
    )
    assert any("change of mind does not" in text for text in _failed(changed, "eu-ucc118-rejected"))
    used = case("DE", dt.date(2026, 3, 10), dt.date(2026, 4, 1), (line("EUR", duty="12"),), used=True)
    assert any("were used" in text for text in _failed(used, "eu-ucc118-rejected"))


def test_eu_time_limit_runs_from_the_notification_of_the_debt_when_given() -> None:
    lines = (line("EUR", duty="12.00"),)
    reclaim = case(
        "DE", dt.date(2026, 3, 10), dt.date(2027, 3, 20), lines, debt_notified_on=dt.date(2026, 3, 20)
    )
    regime = assess(reclaim).regime("eu-ucc118-rejected")
    assert regime.eligible
    assert regime.filing_deadline == dt.date(2027, 3, 20)
    assert not any(w.code is WarningCode.ASSUMPTION for w in regime.warnings)


def test_eu_ioss_adjustment_needs_vat_collected_by_the_seller() -> None:
    reclaim = case(
        "DE",
        dt.date(2026, 3, 10),
        dt.date(2026, 4, 1),
        (line("EUR", vat="19"),),
        reason=ReturnReason.CHANGED_MIND,
        tax_collected_at_sale=False,
    )
    assert any("point of sale" in text for text in _failed(reclaim, "eu-ioss-vat-adjustment"))


def test_eu_defective_ioss_parcel_combines_duty_repayment_and_ioss_vat_adjustment() -> None:
    lines = (line("EUR", duty="3.00", vat="19.00"),)
    reclaim = case("DE", dt.date(2026, 7, 10), dt.date(2026, 8, 1), lines, tax_collected_at_sale=True)
    result = assess(reclaim)
    assert result.best == ("eu-ioss-vat-adjustment", "eu-ucc118-rejected")
    assert result.refundable_total == Money.of("22.00", "EUR")
    assert result.filing_deadline == dt.date(2026, 9, 30)
    assert not result.not_refundable


def test_uk_rejected_imports_refuse_change_of_mind() -> None:
    changed = case(
        "GB",
        dt.date(2026, 3, 10),
        dt.date(2026, 4, 1),
        (line("GBP", duty="30"),),
        reason=ReturnReason.CHANGED_MIND,
    )
    assert any("change of mind" in text for text in _failed(changed, "gb-ce1179-rejected"))


def test_uk_vat_registered_importer_gets_duty_on_c_e1179_and_vat_through_the_vat_return() -> None:
    lines = (line("GBP", value="250", duty="30.00", vat="56.00"),)
    reclaim = case(
        "GB", dt.date(2026, 3, 10), dt.date(2026, 4, 1), lines, importer=ImporterType.VAT_REGISTERED_BUSINESS
    )
    result = assess(reclaim)
    assert result.best == ("gb-ce1179-rejected", "gb-vat-return-adjustment")
    assert result.refundable_total == Money.of("86.00", "GBP")
    ce1179 = result.regime("gb-ce1179-rejected")
    assert ce1179.refundable_total == Money.of("30.00", "GBP")
    (lost,) = ce1179.lines[0].not_refundable
    assert lost.component is ChargeComponent.VAT
    assert "VAT return" in lost.reason
    assert [form.code for form in result.forms] == ["C&E1179", "VAT return"]


def test_uk_vat_return_route_is_for_vat_registered_importers_only() -> None:
    reclaim = gb_rejected(dt.date(2026, 4, 1), None)
    assert any("importer type 'consumer'" in text for text in _failed(reclaim, "gb-vat-return-adjustment"))


def test_uk_point_of_sale_vat_is_refunded_by_the_seller_not_hmrc() -> None:
    lines = (line("GBP", value="100", vat="20.00", duty="12.00"),)
    reclaim = case("GB", dt.date(2026, 3, 10), dt.date(2026, 4, 1), lines, tax_collected_at_sale=True)
    result = assess(reclaim)
    assert result.best == ("gb-ce1179-rejected",)
    assert result.refundable_total == Money.of("12.00", "GBP")
    (lost,) = result.not_refundable
    assert lost.component is ChargeComponent.VAT
    assert "seller or marketplace" in lost.reason


def test_canada_casual_refund_is_for_consumers_and_warns_under_cad_2() -> None:
    business = ca_drawback(dt.date(2026, 4, 1), None)
    assert any("importer type 'business'" in text for text in _failed(business, "ca-b2g-casual"))
    small = case("CA", dt.date(2026, 3, 10), dt.date(2026, 4, 1), (line("CAD", duty="1.50"),))
    result = assess(small)
    assert result.regime("ca-b2g-casual").below_minimum
    assert any(w.code is WarningCode.MINIMUM_NOT_REACHED and "2.00 CAD" in w.message for w in result.warnings)
    # The B2G time limit rests on a broker source: the answer says so.
    assert any("ca-b2g-casual: time limit 1 year" in point for point in result.unconfirmed_points)


def test_canada_drawback_does_not_refund_gst() -> None:
    result = assess(ca_drawback(dt.date(2026, 4, 1), None))
    assert result.best == ("ca-k32-drawback",)
    assert result.refundable_total == Money.of("18.00", "CAD")
    (lost,) = result.not_refundable
    assert lost.component is ChargeComponent.VAT
    assert "GST/HST is not refundable by drawback" in lost.reason


def test_australian_drawback_refuses_used_goods_and_low_export_value() -> None:
    used = case(
        "AU", dt.date(2026, 3, 10), dt.date(2026, 4, 1), (line("AUD", value="2000", duty="150"),), used=True
    )
    assert any("inspection or exhibition" in text for text in _failed(used, "au-b807-drawback"))
    low = case(
        "AU",
        dt.date(2026, 3, 10),
        dt.date(2026, 4, 1),
        (line("AUD", value="2000", duty="150", export_value="499.99"),),
    )
    assert any("below 25 %" in text for text in _failed(low, "au-b807-drawback"))
    enough = case(
        "AU",
        dt.date(2026, 3, 10),
        dt.date(2026, 4, 1),
        (line("AUD", value="2000", duty="150", export_value="500.00"),),
    )
    assert assess(enough).regime("au-b807-drawback").eligible


def test_australian_drawback_warns_under_aud_100_and_keeps_gst() -> None:
    lines = (line("AUD", value="1200", duty="60.00", vat="126.00"),)
    result = assess(case("AU", dt.date(2026, 3, 10), dt.date(2026, 4, 1), lines))
    regime = result.regime("au-b807-drawback")
    assert regime.refundable_total == Money.of("60.00", "AUD")
    assert regime.below_minimum
    assert any(w.code is WarningCode.MINIMUM_NOT_REACHED for w in result.warnings)
    assert any(n.component is ChargeComponent.VAT and "GST" in n.reason for n in result.not_refundable)


def test_australian_rebate_needs_a_rebate() -> None:
    lines = (line("AUD", value="1000", duty="50.00"),)
    reclaim = case("AU", dt.date(2026, 2, 1), dt.date(2026, 3, 1), lines, used=True)
    assert any("no price rebate" in text for text in _failed(reclaim, "au-reg112-price-rebate"))


def test_japan_breach_of_contract_refuses_change_of_mind_and_flags_consumption_tax() -> None:
    changed = case(
        "JP",
        dt.date(2026, 1, 31),
        dt.date(2026, 3, 1),
        (line("JPY", duty="1480"),),
        reason=ReturnReason.CHANGED_MIND,
    )
    assert any("changed_mind" in text for text in _failed(changed, "jp-faq1604-breach-of-contract"))
    result = assess(jp_breach(dt.date(2026, 3, 1), None))
    breach = result.regime("jp-faq1604-breach-of-contract")
    assert breach.refundable_total == Money.of(1480 + 2148, "JPY")
    assert any("refund of vat" in point for point in breach.unconfirmed_points)
    assert any(w.code is WarningCode.RULE_UNCONFIRMED for w in breach.warnings)


def test_japan_six_months_from_the_end_of_a_month_ends_on_the_last_day_of_february() -> None:
    lines = (line("JPY", value="20000", duty="1480"),)
    on_time = case("JP", dt.date(2026, 8, 31), dt.date(2027, 2, 28), lines)
    late = case("JP", dt.date(2026, 8, 31), dt.date(2027, 3, 1), lines)
    assert assess(on_time).regime("jp-faq1604-breach-of-contract").eligible
    assert not assess(late).regime("jp-faq1604-breach-of-contract").eligible


def test_japan_same_condition_reexport_needs_identification_at_import() -> None:
    reclaim = case(
        "JP",
        dt.date(2026, 1, 31),
        dt.date(2026, 3, 1),
        (line("JPY", duty="1480"),),
        reason=ReturnReason.CHANGED_MIND,
    )
    assert any("identification" in text for text in _failed(reclaim, "jp-faq1606-same-condition"))


def test_a_regime_not_yet_in_force_on_the_case_date_is_reported_as_such() -> None:
    lines = (line("EUR", vat="19.00"),)
    reclaim = case(
        "DE",
        dt.date(2021, 3, 1),
        dt.date(2021, 4, 1),
        lines,
        reason=ReturnReason.CHANGED_MIND,
        tax_collected_at_sale=True,
    )
    regime = assess(reclaim).regime("eu-ioss-vat-adjustment")
    assert not regime.in_effect
    assert not regime.eligible
    assert "not in force on 2021-04-01" in regime.checks[0].text
