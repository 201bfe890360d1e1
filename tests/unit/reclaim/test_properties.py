"""Properties of the calculator over generated cases: a refund never exceeds what was paid per component, a
date past a time limit is never eligible, and results do not depend on the order of the lines."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from random import Random

from hypothesis import given, settings
from hypothesis import strategies as st

from customs.goods import ItemCondition, ReturnReason
from customs.money import Money
from customs.reclaim import (
    Anchor,
    ChargeComponent,
    ChargesPaid,
    EntryLine,
    ImportEntry,
    ImporterType,
    LimitScope,
    ReclaimCase,
    ReturnDetails,
    calculate_duty_reclaim,
    load_regime_book,
)

from .cases import CURRENCY

BOOK = load_regime_book()
COUNTRIES = ["US", "DE", "GB", "CA", "AU", "JP"]
CODES = ["6109.10.00", "6206.10.00", "6206.20.30", "8517.13.00", "6403.99.90", "9503.00.00"]
PROPERTY_SETTINGS = settings(max_examples=100, deadline=None)


def amounts(currency: str) -> st.SearchStrategy[Money]:
    places = 0 if currency == "JPY" else 2
    return st.integers(0, 50_000).map(lambda cents: Money(Decimal(cents).scaleb(-places), currency))


@st.composite
def entry_lines(draw: st.DrawFn, currency: str) -> list[EntryLine]:
    count = draw(st.integers(1, 4))
    lines: list[EntryLine] = []
    for index in range(count):
        quantity = draw(st.integers(1, 40))
        returned = draw(st.integers(1 if index == 0 else 0, quantity))
        value = draw(amounts(currency).filter(lambda m: m.amount > 0))
        percent = draw(st.none() | st.integers(0, 100))
        rebate = None if percent is None else Money(value.amount * percent / 100, currency)
        given = {c.value: draw(st.none() | amounts(currency)) for c in ChargeComponent}
        lines.append(
            EntryLine(
                line_id=f"L{index}",
                sku=f"SKU-{draw(st.integers(0, 2))}",
                hs_code=draw(st.sampled_from(CODES)),
                imported_quantity=quantity,
                returned_quantity=returned,
                customs_value=value,
                paid=ChargesPaid.of(**{k: v for k, v in given.items() if v is not None}),
                export_value=draw(st.none() | amounts(currency)),
                price_rebate=rebate,
            )
        )
    return lines


@st.composite
def reclaim_cases(draw: st.DrawFn) -> ReclaimCase:
    country = draw(st.sampled_from(COUNTRIES))
    currency = CURRENCY[country]
    imported = draw(st.dates(dt.date(2021, 1, 1), dt.date(2027, 12, 31)))
    exported = imported + dt.timedelta(days=draw(st.integers(0, 2200)))
    filing = draw(st.none() | st.integers(0, 2200).map(lambda d: exported + dt.timedelta(days=d)))
    entry = ImportEntry(
        country=country,
        import_date=imported,
        currency=currency,
        entry_number="E-1",
        importer_type=draw(st.sampled_from(list(ImporterType))),
        lines=tuple(draw(entry_lines(currency))),
        tax_collected_at_sale=draw(st.none() | st.booleans()),
        identification_filed_at_import=draw(st.booleans()),
    )
    details = ReturnDetails(
        reason=draw(st.sampled_from(list(ReturnReason))),
        condition=draw(st.sampled_from(list(ItemCondition))),
        export_date=exported,
        used=draw(st.none() | st.booleans()),
        filing_date=filing,
        no_commercial_value_at_entry=draw(st.booleans()),
    )
    return ReclaimCase(entry, details)


@PROPERTY_SETTINGS
@given(reclaim_cases())
def test_a_refund_never_exceeds_what_was_paid_per_component(reclaim: ReclaimCase) -> None:
    result = calculate_duty_reclaim(reclaim, BOOK)
    for regime in result.regimes:
        for outcome in regime.lines:
            for refund in outcome.refunds:
                assert Decimal(0) <= refund.refundable.amount <= refund.paid.amount
    for result_line in result.lines:
        paid = {item.component: item.amount for item in result_line.paid}
        for item in result_line.refundable:
            assert item.amount <= paid[item.component]
    total_paid = sum((item.amount.amount for ln in result.lines for item in ln.paid), Decimal(0))
    assert result.refundable_total.amount <= total_paid


@PROPERTY_SETTINGS
@given(reclaim_cases())
def test_a_date_past_a_time_limit_is_never_eligible(reclaim: ReclaimCase) -> None:
    result = calculate_duty_reclaim(reclaim, BOOK)
    entry, details = reclaim.import_entry, reclaim.return_details
    for assessment in result.regimes:
        if not assessment.in_effect:
            continue
        regime = assessment.regime
        for limit in regime.time_limits:
            anchor = details.export_date if limit.anchor is Anchor.EXPORT_DATE else entry.import_date
            last = limit.last_day(anchor)
            export_bound = LimitScope.EXPORT in limit.applies_to or (
                regime.export_required
                and not regime.claim_before_export
                and limit.anchor is not Anchor.EXPORT_DATE
            )
            if regime.export_required and export_bound and details.export_date > last:
                assert not assessment.eligible, (regime.id, limit, details.export_date)
            if LimitScope.CLAIM in limit.applies_to and details.filing_date and details.filing_date > last:
                assert not assessment.eligible, (regime.id, limit, details.filing_date)


@PROPERTY_SETTINGS
@given(reclaim_cases(), st.randoms(use_true_random=False))
def test_results_do_not_depend_on_line_order(reclaim: ReclaimCase, random: Random) -> None:
    lines = list(reclaim.import_entry.lines)
    random.shuffle(lines)
    entry = replace(reclaim.import_entry, lines=tuple(reversed(lines)))
    shuffled = ReclaimCase(entry, reclaim.return_details)
    assert calculate_duty_reclaim(shuffled, BOOK) == calculate_duty_reclaim(reclaim, BOOK)
