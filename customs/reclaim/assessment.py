"""The answer of the reclaim calculator: per regime, per line and in total."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from customs.deminimis import DeMinimisDecision
from customs.money import Money
from customs.reclaim.components import ChargeComponent
from customs.reclaim.regime import ReclaimForm, Regime


class WarningCode(StrEnum):
    MINIMUM_NOT_REACHED = "MINIMUM_NOT_REACHED"
    NOT_YET_EXPORTED = "NOT_YET_EXPORTED"  # the claim may not be filed before the goods leave
    DEADLINE_PASSED = "DEADLINE_PASSED"  # a regime would apply but its time limit has passed
    PROOF_OF_EXPORT_MISSING = "PROOF_OF_EXPORT_MISSING"
    RULE_UNCONFIRMED = "RULE_UNCONFIRMED"
    ESTIMATE_USED = "ESTIMATE_USED"
    NO_ELIGIBLE_REGIME = "NO_ELIGIBLE_REGIME"
    FX_UNAVAILABLE = "FX_UNAVAILABLE"
    ASSUMPTION = "ASSUMPTION"


@dataclass(frozen=True, slots=True)
class ReclaimWarning:
    code: WarningCode
    message: str
    regime_id: str = ""
    line_id: str = ""


@dataclass(frozen=True, slots=True)
class ComponentAmount:
    """An amount of one component in the import currency and, when an FX rate is known, in the display
    currency."""

    component: ChargeComponent
    amount: Money
    display: Money | None


@dataclass(frozen=True, slots=True)
class ComponentRefund:
    """What one component of one line brings back under one regime.

    `line_paid` and `line_eligible` are for the whole line, to 4 decimals (19 CFR 190.51(b)); `unit_eligible`
    is set when only part of the line is returned and the refund is worked out per unit; `paid` and
    `refundable` are for the returned units, rounded to the currency.
    """

    component: ChargeComponent
    percent: Decimal
    line_paid: Decimal
    line_eligible: Decimal
    unit_eligible: Decimal | None
    paid: Money
    refundable: Money
    refundable_display: Money | None
    estimated: bool
    confirmed: bool


@dataclass(frozen=True, slots=True)
class NonRefundable:
    line_id: str
    component: ChargeComponent
    amount: Money
    reason: str


@dataclass(frozen=True, slots=True)
class ConditionCheck:
    passed: bool
    text: str


@dataclass(frozen=True, slots=True)
class LineRegimeOutcome:
    line_id: str
    eligible: bool
    checks: tuple[ConditionCheck, ...]
    refunds: tuple[ComponentRefund, ...]
    not_refundable: tuple[NonRefundable, ...]
    refundable_total: Money
    export_deadline: dt.date | None
    filing_deadline: dt.date | None
    late: bool = False  # the line meets the conditions but a time limit has passed


@dataclass(frozen=True, slots=True)
class RegimeAssessment:
    regime_id: str
    regime: Regime  # the version in force on the case's date, or the nearest one when none is
    in_effect: bool
    eligible: bool
    checks: tuple[ConditionCheck, ...]  # case-level; line-level checks are in `lines`
    lines: tuple[LineRegimeOutcome, ...]
    refundable: tuple[ComponentAmount, ...]
    refundable_total: Money
    refundable_total_display: Money | None
    export_deadline: dt.date | None
    filing_deadline: dt.date | None
    minimum_claim: Money | None
    below_minimum: bool
    unconfirmed_points: tuple[str, ...]
    warnings: tuple[ReclaimWarning, ...]

    @property
    def basis_confirmed(self) -> bool:
        return not self.unconfirmed_points

    @property
    def refunded_components(self) -> frozenset[ChargeComponent]:
        return frozenset(item.component for item in self.refundable if not item.amount.is_zero())


@dataclass(frozen=True, slots=True)
class LineAssessment:
    line_id: str
    sku: str
    hs_code: str
    returned_quantity: int
    paid: tuple[ComponentAmount, ...]  # on the returned units: given, apportioned or estimated
    refundable: tuple[ComponentAmount, ...]  # under the best option
    refundable_total: Money
    refundable_total_display: Money | None
    estimated_components: frozenset[ChargeComponent]
    estimate_sources: tuple[str, ...]

    @property
    def estimated(self) -> bool:
        return bool(self.estimated_components)


@dataclass(frozen=True, slots=True)
class ReclaimAssessment:
    market: str
    import_country: str
    import_currency: str
    display_currency: str
    fx_as_of: dt.date | None
    fx_source: str
    regimes: tuple[RegimeAssessment, ...]
    best: tuple[str, ...]  # regime ids of the best option (several when they combine), empty when none
    lines: tuple[LineAssessment, ...]
    refundable: tuple[ComponentAmount, ...]
    refundable_total: Money
    refundable_total_display: Money | None
    not_refundable: tuple[NonRefundable, ...]
    filing_deadline: dt.date | None
    forms: tuple[ReclaimForm, ...]
    documents: tuple[str, ...]
    proof_of_export: tuple[str, ...]
    warnings: tuple[ReclaimWarning, ...]
    unconfirmed_points: tuple[str, ...]
    de_minimis: DeMinimisDecision | None

    @property
    def estimated(self) -> bool:
        return any(line.estimated for line in self.lines)

    @property
    def basis_confirmed(self) -> bool:
        return not self.unconfirmed_points

    def regime(self, regime_id: str) -> RegimeAssessment:
        for assessment in self.regimes:
            if assessment.regime_id == regime_id:
                return assessment
        raise KeyError(regime_id)

    def line(self, line_id: str) -> LineAssessment:
        for line in self.lines:
            if line.line_id == line_id:
                return line
        raise KeyError(line_id)
