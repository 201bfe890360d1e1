"""A reclaim case: the import (entry and its lines, what was paid) and the return (why, in what state, when
the goods leave). Validated on construction; errors name the field
(`import_entry.lines[1].returned_quantity`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from customs.countries import UnknownCountry, validate_country
from customs.deminimis import ImportChannel
from customs.goods import ItemCondition, ReturnReason
from customs.money import Money, UnknownCurrency, validate_currency
from customs.reclaim.components import ChargesPaid
from customs.reclaim.regime import ImporterType
from customs.tariffs import tariff_digits


class InvalidReclaimCase(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ProofOfExportKind(StrEnum):
    CARRIER_TRACKING = "carrier_tracking"
    EXPORT_DECLARATION = "export_declaration"  # EU MRN, AU EDN, US AES ITN
    WAYBILL = "waybill"
    POSTAL_RECEIPT = "postal_receipt"
    DESTRUCTION_CERTIFICATE = "destruction_certificate"


@dataclass(frozen=True, slots=True)
class ProofOfExport:
    kind: ProofOfExportKind
    reference: str
    date: dt.date


@dataclass(frozen=True, slots=True)
class EntryLine:
    """One line of the import entry. Lines not being returned (returned_quantity 0) still count for the
    value-based apportionment of entry charges and for the de minimis value of the consignment."""

    line_id: str
    sku: str
    hs_code: str
    imported_quantity: int
    returned_quantity: int
    customs_value: Money
    paid: ChargesPaid = field(default_factory=ChargesPaid)
    origin_country: str | None = None
    description: str = ""
    export_value: Money | None = None  # value declared on export (Australia: at least 25 % of import value)
    price_rebate: Money | None = None  # price decrease granted to the importer (Australia, reg. 112)

    @property
    def in_return(self) -> bool:
        return self.returned_quantity > 0 or self.price_rebate is not None


@dataclass(frozen=True, slots=True)
class ImportEntry:
    country: str
    import_date: dt.date
    currency: str
    entry_number: str
    importer_type: ImporterType
    lines: tuple[EntryLine, ...]
    entry_charges: ChargesPaid = field(default_factory=ChargesPaid)  # apportioned to lines by value
    debt_notified_on: dt.date | None = None  # EU/UK anchor; the import date when not given
    channel: ImportChannel | None = None
    shipped_from: str | None = None
    tax_collected_at_sale: bool | None = None  # IOSS / point-of-sale VAT; None: from the de minimis rules
    identification_filed_at_import: bool = False  # Japan FAQ 1606

    @property
    def total_value(self) -> Money:
        result = Money.zero(self.currency)
        for line in self.lines:
            result = result + line.customs_value
        return result


@dataclass(frozen=True, slots=True)
class DesignatedImport:
    """An earlier import of the same SKU designated for a returned-retail claim (19 CFR 191.45).
    `unit_paid` is what that import paid per unit; when absent the case's own line is assumed."""

    sku: str
    hs_code: str
    entry_number: str
    import_date: dt.date
    unit_paid: ChargesPaid | None = None


@dataclass(frozen=True, slots=True)
class ReturnDetails:
    reason: ReturnReason
    condition: ItemCondition
    export_date: dt.date
    export_expected: bool = False  # True: the date is expected (e.g. from the label), the goods have not left
    used: bool | None = None  # None: derived from the condition
    proof_of_export: ProofOfExport | None = None
    designated_imports: tuple[DesignatedImport, ...] = ()
    filing_date: dt.date | None = None  # when the claim would be filed; None: assumed in time
    no_commercial_value_at_entry: bool = False  # goods worthless on arrival (Australia, reg. 112 item 1)

    @property
    def goods_used(self) -> bool:
        return self.used if self.used is not None else self.condition is ItemCondition.USED

    def designated_import_for(self, sku: str) -> DesignatedImport | None:
        return next((item for item in self.designated_imports if item.sku == sku), None)


@dataclass(frozen=True, slots=True)
class ReclaimCase:
    import_entry: ImportEntry
    return_details: ReturnDetails

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def debt_notified_on(self) -> dt.date:
        return self.import_entry.debt_notified_on or self.import_entry.import_date


def _validate(case: ReclaimCase) -> None:
    entry, details = case.import_entry, case.return_details
    prefix = "import_entry"
    try:
        currency = validate_currency(entry.currency)
    except UnknownCurrency as exc:
        raise InvalidReclaimCase(f"{prefix}.currency", str(exc)) from None
    if currency != entry.currency:
        raise InvalidReclaimCase(f"{prefix}.currency", f"use the upper-case code {currency}")
    for name, country in (("country", entry.country), ("shipped_from", entry.shipped_from)):
        if country is not None:
            _check_country(f"{prefix}.{name}", country)
    if not entry.lines:
        raise InvalidReclaimCase(f"{prefix}.lines", "at least one line is required")
    if entry.debt_notified_on is not None and entry.debt_notified_on < entry.import_date:
        raise InvalidReclaimCase(f"{prefix}.debt_notified_on", "is before the import date")
    _check_charges(f"{prefix}.entry_charges", entry.entry_charges, currency)
    entry_level = {component for component, _ in entry.entry_charges.known()}
    seen: set[str] = set()
    for index, line in enumerate(entry.lines):
        path = f"{prefix}.lines[{index}]"
        if not line.line_id.strip():
            raise InvalidReclaimCase(f"{path}.line_id", "required")
        if line.line_id in seen:
            raise InvalidReclaimCase(f"{path}.line_id", f"duplicate line id {line.line_id!r}")
        seen.add(line.line_id)
        try:
            tariff_digits(line.hs_code)
        except ValueError as exc:
            raise InvalidReclaimCase(f"{path}.hs_code", str(exc)) from None
        if line.imported_quantity < 1:
            raise InvalidReclaimCase(f"{path}.imported_quantity", "must be at least 1")
        if not 0 <= line.returned_quantity <= line.imported_quantity:
            raise InvalidReclaimCase(
                f"{path}.returned_quantity", "must be between 0 and the imported quantity"
            )
        for name, amount in (
            ("customs_value", line.customs_value),
            ("export_value", line.export_value),
            ("price_rebate", line.price_rebate),
        ):
            if amount is not None:
                _check_money(f"{path}.{name}", amount, currency)
        if line.price_rebate is not None and line.price_rebate > line.customs_value:
            raise InvalidReclaimCase(f"{path}.price_rebate", "exceeds the customs value of the line")
        if line.origin_country is not None:
            _check_country(f"{path}.origin_country", line.origin_country)
        _check_charges(f"{path}.paid", line.paid, currency)
        for component, _ in line.paid.known():
            if component in entry_level:
                raise InvalidReclaimCase(
                    f"{path}.paid.{component.value}",
                    "already given for the whole entry (entry_charges); give it in one place only",
                )
    if not any(line.in_return for line in entry.lines):
        raise InvalidReclaimCase(f"{prefix}.lines", "no line is returned (returned_quantity) or rebated")
    if details.export_date < entry.import_date:
        raise InvalidReclaimCase("return_details.export_date", "is before the import date")
    skus: set[str] = set()
    for index, designated in enumerate(details.designated_imports):
        path = f"return_details.designated_imports[{index}]"
        if designated.sku in skus:
            raise InvalidReclaimCase(f"{path}.sku", f"SKU {designated.sku!r} designated twice")
        skus.add(designated.sku)
        try:
            tariff_digits(designated.hs_code)
        except ValueError as exc:
            raise InvalidReclaimCase(f"{path}.hs_code", str(exc)) from None
        if designated.unit_paid is not None:
            _check_charges(f"{path}.unit_paid", designated.unit_paid, currency)


def _check_country(path: str, code: str) -> None:
    try:
        if validate_country(code) != code:
            raise InvalidReclaimCase(path, f"use the upper-case code {code.strip().upper()}")
    except UnknownCountry as exc:
        raise InvalidReclaimCase(path, str(exc)) from None


def _check_money(path: str, amount: Money, currency: str) -> None:
    if amount.currency != currency:
        raise InvalidReclaimCase(path, f"is in {amount.currency}; the entry's currency is {currency}")
    if amount.amount < 0:
        raise InvalidReclaimCase(path, "must not be negative")


def _check_charges(path: str, charges: ChargesPaid, currency: str) -> None:
    for component, amount in charges.known():
        _check_money(f"{path}.{component.value}", amount, currency)
