"""Builders for reclaim cases in tests: every paid component is given (zero unless stated), so nothing is
estimated unless a test asks for it."""

from __future__ import annotations

import datetime as dt

from customs.goods import ItemCondition, ReturnReason
from customs.money import Money
from customs.reclaim import (
    ChargesPaid,
    DesignatedImport,
    EntryLine,
    ImportEntry,
    ImporterType,
    ProofOfExport,
    ProofOfExportKind,
    ReclaimAssessment,
    ReclaimCase,
    ReturnDetails,
    calculate_duty_reclaim,
    load_regime_book,
)

CURRENCY = {"US": "USD", "DE": "EUR", "FR": "EUR", "GB": "GBP", "CA": "CAD", "AU": "AUD", "JP": "JPY"}


def paid(currency: str, unknown: tuple[str, ...] = (), **amounts: str) -> ChargesPaid:
    """Every component given (the named ones with their amount, the others zero) except the `unknown` ones."""
    names = ("duty", "ad_cvd", "vat", "mpf", "hmt", "other")
    return ChargesPaid.of(**{n: Money.of(amounts.get(n, "0"), currency) for n in names if n not in unknown})


def line(
    currency: str,
    line_id: str = "1",
    *,
    sku: str = "SKU-1",
    hs_code: str = "6109.10.00",
    quantity: int = 1,
    returned: int | None = None,
    value: str = "100",
    charges: ChargesPaid | None = None,
    export_value: str | None = None,
    price_rebate: str | None = None,
    origin: str | None = None,
    **amounts: str,
) -> EntryLine:
    return EntryLine(
        line_id=line_id,
        sku=sku,
        hs_code=hs_code,
        imported_quantity=quantity,
        returned_quantity=quantity if returned is None else returned,
        customs_value=Money.of(value, currency),
        paid=charges if charges is not None else paid(currency, (), **amounts),
        origin_country=origin,
        export_value=Money.of(export_value, currency) if export_value is not None else None,
        price_rebate=Money.of(price_rebate, currency) if price_rebate is not None else None,
    )


def case(
    country: str,
    import_date: dt.date,
    export_date: dt.date,
    lines: tuple[EntryLine, ...],
    *,
    importer: ImporterType = ImporterType.CONSUMER,
    reason: ReturnReason = ReturnReason.DEFECTIVE,
    condition: ItemCondition = ItemCondition.NEW_OPENED,
    used: bool | None = None,
    proof: bool = True,
    expected: bool = False,
    filing_date: dt.date | None = None,
    designated: tuple[DesignatedImport, ...] = (),
    no_commercial_value: bool = False,
    entry_charges: ChargesPaid | None = None,
    tax_collected_at_sale: bool | None = False,
    identification: bool = False,
    debt_notified_on: dt.date | None = None,
) -> ReclaimCase:
    entry = ImportEntry(
        country=country,
        import_date=import_date,
        currency=CURRENCY[country],
        entry_number=f"{country}-ENTRY-1",
        importer_type=importer,
        lines=lines,
        entry_charges=entry_charges or ChargesPaid(),
        tax_collected_at_sale=tax_collected_at_sale,
        identification_filed_at_import=identification,
        debt_notified_on=debt_notified_on,
    )
    details = ReturnDetails(
        reason=reason,
        condition=condition,
        export_date=export_date,
        export_expected=expected,
        used=used,
        proof_of_export=ProofOfExport(ProofOfExportKind.WAYBILL, "WB-1", export_date) if proof else None,
        designated_imports=designated,
        filing_date=filing_date,
        no_commercial_value_at_entry=no_commercial_value,
    )
    return ReclaimCase(entry, details)


def assess(reclaim_case: ReclaimCase, display_currency: str | None = None) -> ReclaimAssessment:
    return calculate_duty_reclaim(reclaim_case, load_regime_book(), None, display_currency)
