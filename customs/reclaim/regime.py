"""A duty reclaim regime: one dated rule of one market, as read from customs/data/reclaim/*.toml.

Every point the research could not confirm in primary text carries `confirmed = False`; the calculator lists
those points in its answer ("basis: unconfirmed") instead of presenting them as certain.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from customs.goods import ItemCondition, ReturnReason
from customs.money import Money
from customs.reclaim.components import ChargeComponent
from customs.reclaim.timelimits import Anchor, LimitScope, Period, TimeLimit


class ImporterType(StrEnum):
    CONSUMER = "consumer"  # a private person: casual, non-commercial import
    BUSINESS = "business"  # a business not registered for VAT/GST in the import country
    VAT_REGISTERED_BUSINESS = "vat_registered_business"  # recovers import VAT through its VAT return


class RefundMethod(StrEnum):
    SHARE_OF_PAID = "share_of_paid"  # a percentage of each refundable component paid
    PRICE_REBATE = "price_rebate"  # duty x rebate / customs value (Australia, Customs Regulation 2015 s.112)


class ExclusionCondition(StrEnum):
    """When a component exclusion applies (no condition: always)."""

    VAT_REGISTERED = "vat_registered"
    TAX_COLLECTED_AT_SALE = "tax_collected_at_sale"


@dataclass(frozen=True, slots=True)
class Source:
    citation: str
    url: str = ""


@dataclass(frozen=True, slots=True)
class ReclaimForm:
    code: str
    name: str
    authority: str


@dataclass(frozen=True, slots=True)
class ComponentRefundRule:
    component: ChargeComponent
    percent: Decimal
    confirmed: bool
    retained_reason: str = ""  # why the part above `percent` stays with the authority
    citation: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class ComponentExclusion:
    component: ChargeComponent
    reason: str
    when: ExclusionCondition | None = None


@dataclass(frozen=True, slots=True)
class DesignatedImportRule:
    """19 CFR 191.45: the claim may designate an import made within `within` before the export, with the
    same tariff number (first `hs_digits` digits) and the same SKU."""

    within: Period
    hs_digits: int
    confirmed: bool
    citation: str = ""


@dataclass(frozen=True, slots=True)
class RegimeConditions:
    """Who and what qualifies. None means 'any'."""

    reasons: frozenset[ReturnReason] | None = None
    reasons_rule: str = ""
    conditions: frozenset[ItemCondition] | None = None
    unused_required: bool = False
    used_rule: str = ""
    importer_types: frozenset[ImporterType] | None = None
    tax_collected_at_sale: bool | None = None
    identification_at_import: bool = False
    designated_import: DesignatedImportRule | None = None
    min_export_value_percent: Decimal | None = None
    confirmed: bool = True
    note: str = ""


@dataclass(frozen=True, slots=True)
class Regime:
    id: str
    market: str  # "EU" or an ISO 3166-1 alpha-2 country code
    name: str
    legal_basis: str
    sources: tuple[Source, ...]
    effective_from: dt.date
    effective_to: dt.date | None
    selected_by: Anchor  # which case date picks the version in force
    claimant: str
    filing_effort: int  # 1 = simplest; breaks ties between equal refunds
    combines_with: frozenset[str]
    export_required: bool
    claim_before_export: bool
    refund_method: RefundMethod
    currency: str
    minimum_claim: Money | None
    conditions: RegimeConditions
    time_limits: tuple[TimeLimit, ...]
    refunds: tuple[ComponentRefundRule, ...]
    exclusions: tuple[ComponentExclusion, ...]
    forms: tuple[ReclaimForm, ...]
    documents: tuple[str, ...]
    proof_of_export: tuple[str, ...]
    confirmed: bool  # legal basis and effective dates
    note: str = ""
    file: str = ""

    def in_effect(self, on: dt.date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    def refund_rule(self, component: ChargeComponent) -> ComponentRefundRule | None:
        return next((rule for rule in self.refunds if rule.component is component), None)

    def limits(self, scope: LimitScope) -> tuple[TimeLimit, ...]:
        return tuple(limit for limit in self.time_limits if scope in limit.applies_to)

    def describe_dates(self) -> str:
        end = self.effective_to.isoformat() if self.effective_to else "open-ended"
        return f"{self.effective_from.isoformat()} to {end}"

    def unconfirmed_points(self, components: frozenset[ChargeComponent] | None = None) -> tuple[str, ...]:
        """The points of this rule not confirmed in primary text; component points only for `components`
        (all when None), so an answer lists only what it relied on."""
        points: list[str] = []
        if not self.confirmed:
            points.append(f"{self.id}: legal basis or effective dates ({self.describe_dates()})")
        if not self.conditions.confirmed:
            points.append(f"{self.id}: conditions — {self.conditions.note or 'not confirmed'}")
        if self.conditions.designated_import and not self.conditions.designated_import.confirmed:
            points.append(f"{self.id}: designated-import window")
        for limit in self.time_limits:
            if not limit.confirmed:
                points.append(
                    f"{self.id}: time limit {limit.describe()}" + (f" — {limit.note}" if limit.note else "")
                )
        for rule in self.refunds:
            if not rule.confirmed and (components is None or rule.component in components):
                detail = f" — {rule.note}" if rule.note else ""
                points.append(f"{self.id}: refund of {rule.component.value} at {rule.percent} %{detail}")
        return tuple(points)
