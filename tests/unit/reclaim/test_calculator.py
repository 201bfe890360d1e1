"""Calculator behaviour beyond single regimes: display currency, warnings, best option, validation."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from customs.goods import ItemCondition, ReturnReason
from customs.money import FxTable, Money
from customs.reclaim import (
    ChargesPaid,
    EntryLine,
    ImporterType,
    InvalidReclaimCase,
    ReclaimCase,
    WarningCode,
    calculate_duty_reclaim,
    load_regime_book,
)

from .cases import assess, case, line

EUR_CASE = case("DE", dt.date(2026, 3, 10), dt.date(2026, 4, 1), (line("EUR", duty="12.00", vat="7.00"),))
FX = FxTable(base="EUR", as_of=dt.date(2026, 3, 31), rates={"USD": Decimal("1.0850")}, source="test rates")


def test_amounts_are_shown_in_the_display_currency_with_the_fx_date() -> None:
    result = calculate_duty_reclaim(EUR_CASE, load_regime_book(), FX, "USD")
    assert result.refundable_total == Money.of("19.00", "EUR")
    assert result.refundable_total_display == Money.of("20.62", "USD")
    assert result.fx_as_of == dt.date(2026, 3, 31)
    assert result.display_currency == "USD"
    assert {item.display.currency for item in result.refundable if item.display} == {"USD"}


def test_missing_fx_rate_leaves_display_amounts_out_with_a_warning() -> None:
    result = calculate_duty_reclaim(EUR_CASE, load_regime_book(), None, "JPY")
    assert result.refundable_total_display is None
    assert any(w.code is WarningCode.FX_UNAVAILABLE for w in result.warnings)


def test_expected_export_warns_that_the_claim_must_wait() -> None:
    reclaim = case(
        "DE", dt.date(2026, 3, 10), dt.date(2026, 4, 1), (line("EUR", duty="12"),), expected=True, proof=False
    )
    codes = {w.code for w in assess(reclaim).warnings}
    assert WarningCode.NOT_YET_EXPORTED in codes
    assert WarningCode.PROOF_OF_EXPORT_MISSING in codes


def test_filing_before_export_is_not_allowed() -> None:
    reclaim = case(
        "DE",
        dt.date(2026, 3, 10),
        dt.date(2026, 4, 1),
        (line("EUR", duty="12"),),
        filing_date=dt.date(2026, 3, 20),
    )
    assert any(
        w.code is WarningCode.NOT_YET_EXPORTED and "before export" in w.message
        for w in assess(reclaim).warnings
    )


def test_no_regime_applies_lists_every_charge_as_not_refundable() -> None:
    reclaim = case(
        "DE",
        dt.date(2026, 3, 10),
        dt.date(2026, 4, 1),
        (line("EUR", duty="12", vat="21"),),
        reason=ReturnReason.CHANGED_MIND,
    )
    result = assess(reclaim)
    assert result.best == ()
    assert result.refundable_total == Money.of(0, "EUR")
    assert any(w.code is WarningCode.NO_ELIGIBLE_REGIME for w in result.warnings)
    assert sum((n.amount.amount for n in result.not_refundable), Decimal(0)) == Decimal("33.00")
    assert all("change of mind" in n.reason for n in result.not_refundable)


def test_equal_refunds_prefer_the_firmer_basis() -> None:
    # Unused, defective goods with MPF: 1313(j)(1) and 1313(c) refund the same, but MPF under 1313(c) is
    # unconfirmed, so 1313(j)(1) wins.
    lines = (line("USD", duty="100.00", mpf="10.00"),)
    reclaim = case("US", dt.date(2026, 1, 10), dt.date(2026, 3, 1), lines, importer=ImporterType.BUSINESS)
    result = assess(reclaim)
    assert (
        result.regime("us-1313c-rejected").refundable_total
        == result.regime("us-1313j1-unused").refundable_total
    )
    assert result.best == ("us-1313j1-unused",)
    assert result.basis_confirmed


def test_partial_return_refunds_only_the_returned_units() -> None:
    lines = (line("EUR", quantity=3, returned=1, duty="30.00"),)
    result = assess(case("DE", dt.date(2026, 3, 10), dt.date(2026, 4, 1), lines))
    assert result.refundable_total == Money.of("10.00", "EUR")
    (returned,) = result.lines
    assert returned.returned_quantity == 1


def _entry_line(**changes: Any) -> EntryLine:
    return replace(line("EUR", quantity=2), **changes)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"returned_quantity": 3}, "import_entry.lines[0].returned_quantity"),
        ({"imported_quantity": 0}, "import_entry.lines[0].imported_quantity"),
        ({"customs_value": Money.of(10, "USD")}, "import_entry.lines[0].customs_value"),
        ({"hs_code": "61A9"}, "import_entry.lines[0].hs_code"),
        ({"hs_code": "6109"}, "import_entry.lines[0].hs_code"),
        ({"paid": ChargesPaid(duty=Money.of(-1, "EUR"))}, "import_entry.lines[0].paid.duty"),
        ({"origin_country": "XX"}, "import_entry.lines[0].origin_country"),
        ({"returned_quantity": 0}, "import_entry.lines"),
    ],
)
def test_invalid_cases_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidReclaimCase) as error:
        case("DE", dt.date(2026, 3, 10), dt.date(2026, 4, 1), (_entry_line(**changes),))
    assert error.value.field == field


def test_a_charge_given_for_the_entry_and_a_line_is_refused() -> None:
    with pytest.raises(InvalidReclaimCase) as error:
        case(
            "US",
            dt.date(2026, 1, 10),
            dt.date(2026, 2, 1),
            (line("USD", mpf="2.00"),),
            entry_charges=ChargesPaid(mpf=Money.of("2.69", "USD")),
        )
    assert error.value.field == "import_entry.lines[0].paid.mpf"


def test_duplicate_line_ids_and_export_before_import_are_refused() -> None:
    with pytest.raises(InvalidReclaimCase, match=r"lines\[1\]\.line_id: duplicate"):
        case("DE", dt.date(2026, 3, 10), dt.date(2026, 4, 1), (line("EUR"), line("EUR")))
    with pytest.raises(InvalidReclaimCase, match=r"return_details\.export_date: is before the import date"):
        case("DE", dt.date(2026, 3, 10), dt.date(2026, 3, 9), (line("EUR"),))


def test_reclaim_case_is_valid_only_with_a_returned_or_rebated_line() -> None:
    good = case(
        "DE", dt.date(2026, 3, 10), dt.date(2026, 4, 1), (line("EUR", returned=0, price_rebate="10"),)
    )
    assert isinstance(good, ReclaimCase)
    assert good.return_details.condition is ItemCondition.NEW_OPENED
