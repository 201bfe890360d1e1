"""The duty reclaim calculator: which regimes apply to a return, what each brings back, by when, with which
forms, and the best option.

Per line and component, a regime refunds `percent` of what the line paid (to 4 decimals, as 19 CFR
190.51(b) works drawback), per unit when only part of the line comes back; the refund for the returned units
is then rounded to the currency. Regimes that combine (e.g. the UK C&E1179 duty repayment and the VAT-return
route of a VAT-registered importer) may form one option when they refund different components; the best
option has the largest refund, then the earliest filing deadline, then the fewest and simplest filings, then
the fewest unconfirmed points.
Everything is decided by the case's dates, and nothing depends on the order of the lines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import combinations

from customs.deminimis import DeMinimisBook, load_de_minimis
from customs.money import FxTable, MissingFxRate, Money, validate_currency
from customs.reclaim.apportionment import four_places
from customs.reclaim.assessment import (
    ComponentAmount,
    ComponentRefund,
    ConditionCheck,
    LineAssessment,
    LineRegimeOutcome,
    NonRefundable,
    ReclaimAssessment,
    ReclaimWarning,
    RegimeAssessment,
    WarningCode,
)
from customs.reclaim.book import RegimeBook
from customs.reclaim.case import EntryLine, ReclaimCase
from customs.reclaim.components import ChargeComponent
from customs.reclaim.estimate import LineCharges, ResolvedCharges, resolve_charges
from customs.reclaim.regime import ExclusionCondition, ImporterType, RefundMethod, Regime
from customs.reclaim.timelimits import Anchor, LimitScope, TimeLimit
from customs.tariffs import TariffTable, load_tariff_table, tariff_digits


class _Display:
    """Converts import-currency amounts for display; remembers when it could not."""

    def __init__(self, currency: str, fx: FxTable | None) -> None:
        self.currency = currency
        self.fx = fx
        self.failed = False

    def __call__(self, amount: Money) -> Money | None:
        if amount.currency == self.currency:
            return amount.rounded()
        if self.fx is None:
            self.failed = True
            return None
        try:
            return self.fx.convert(amount, self.currency)
        except MissingFxRate:
            self.failed = True
            return None


def _percent_text(value: Decimal) -> str:
    return f"{value.normalize():f} %"


@dataclass(frozen=True, slots=True)
class _LineBasis:
    """What a regime computes a line's refund from: the charges, the quantities and the import date."""

    charges: dict[ChargeComponent, Money]
    imported_quantity: int
    refunded_quantity: int
    import_date: dt.date
    debt_notified_on: dt.date
    estimated: frozenset[ChargeComponent]


class _RegimeEvaluator:
    def __init__(
        self, case: ReclaimCase, charges: ResolvedCharges, display: _Display, fx: FxTable | None
    ) -> None:
        self.case = case
        self.entry = case.import_entry
        self.details = case.return_details
        self.charges = charges
        self.display = display
        self.fx = fx

    # --- case-level conditions ---------------------------------------------------------------------------

    def case_checks(self, regime: Regime) -> list[ConditionCheck]:
        conditions = regime.conditions
        details = self.details
        checks: list[ConditionCheck] = []
        reason = details.reason.value
        if conditions.reasons is None:
            checks.append(ConditionCheck(True, f"return reason '{reason}': any reason qualifies"))
        elif details.reason in conditions.reasons:
            checks.append(ConditionCheck(True, f"return reason '{reason}' qualifies"))
        else:
            allowed = ", ".join(sorted(r.value for r in conditions.reasons))
            rule = conditions.reasons_rule or f"qualifying reasons: {allowed}"
            checks.append(ConditionCheck(False, f"return reason '{reason}' does not qualify: {rule}"))
        if conditions.conditions is not None:
            state = details.condition.value
            if details.condition in conditions.conditions:
                checks.append(ConditionCheck(True, f"condition '{state}' qualifies"))
            else:
                allowed = ", ".join(sorted(c.value for c in conditions.conditions))
                checks.append(
                    ConditionCheck(False, f"condition '{state}' does not qualify (qualifying: {allowed})")
                )
        if conditions.unused_required:
            if details.goods_used:
                rule = conditions.used_rule or "the goods must not have been used"
                checks.append(ConditionCheck(False, f"the goods were used: {rule}"))
            else:
                checks.append(ConditionCheck(True, "the goods were not used"))
        importer = self.entry.importer_type
        if conditions.importer_types is not None:
            allowed = ", ".join(sorted(t.value for t in conditions.importer_types))
            passed = importer in conditions.importer_types
            verdict = "qualifies" if passed else f"does not qualify (qualifying: {allowed})"
            checks.append(ConditionCheck(passed, f"importer type '{importer.value}' {verdict}"))
        if conditions.tax_collected_at_sale is not None:
            at_sale = self.charges.tax_collected_at_sale
            passed = at_sale == conditions.tax_collected_at_sale
            if conditions.tax_collected_at_sale:
                text = (
                    "the seller collected the VAT at the point of sale"
                    if passed
                    else ("applies only when the seller collected the VAT at the point of sale")
                )
            else:
                text = (
                    "the VAT was charged at import"
                    if passed
                    else ("the VAT was charged by the seller at the point of sale, not at import")
                )
            checks.append(ConditionCheck(passed, text))
        if conditions.identification_at_import:
            passed = self.entry.identification_filed_at_import
            text = (
                "identification was filed at import"
                if passed
                else ("requires the identification application filed at the time of import")
            )
            checks.append(ConditionCheck(passed, text))
        return checks

    # --- per line ------------------------------------------------------------------------------------------

    def line_basis(self, regime: Regime, line: EntryLine, checks: list[ConditionCheck]) -> _LineBasis | None:
        """The basis of the line's refund, after the line-level conditions (None: the line is ineligible)."""
        resolved: LineCharges = self.charges.lines[line.line_id]
        basis = _LineBasis(
            charges=dict(resolved.amounts),
            imported_quantity=line.imported_quantity,
            refunded_quantity=line.returned_quantity,
            import_date=self.entry.import_date,
            debt_notified_on=self.case.debt_notified_on,
            estimated=resolved.estimated,
        )
        ok = True
        if regime.refund_method is RefundMethod.PRICE_REBATE:
            if line.price_rebate is None and not self.details.no_commercial_value_at_entry:
                checks.append(ConditionCheck(False, "no price rebate was granted on this line"))
                ok = False
            elif line.price_rebate is not None:  # a rebate concerns the whole line, returned or not
                basis = _replace_quantities(basis, line.imported_quantity)
        elif line.returned_quantity == 0:
            checks.append(ConditionCheck(False, "no units of this line are returned"))
            ok = False
        rule = regime.conditions.designated_import
        if rule is not None and ok:
            basis_or_none = self._designated(
                rule.within.before(self.details.export_date), rule.hs_digits, line, basis, checks
            )
            ok = basis_or_none is not None
            basis = basis_or_none or basis
        minimum_share = regime.conditions.min_export_value_percent
        if minimum_share is not None and ok and line.returned_quantity:
            import_value = line.customs_value.amount * line.returned_quantity / line.imported_quantity
            needed = four_places(import_value * minimum_share / 100)
            if line.export_value is None:
                checks.append(
                    ConditionCheck(
                        True,
                        f"export value not given: it must be at least {_percent_text(minimum_share)} of "
                        f"the import value ({Money(needed, self.entry.currency)})",
                    )
                )
            elif line.export_value.amount >= needed:
                checks.append(
                    ConditionCheck(
                        True,
                        f"export value {line.export_value} is at least {_percent_text(minimum_share)} "
                        "of the import value",
                    )
                )
            else:
                checks.append(
                    ConditionCheck(
                        False,
                        f"export value {line.export_value} is below {_percent_text(minimum_share)} of the "
                        f"import value ({Money(needed, self.entry.currency)})",
                    )
                )
                ok = False
        return basis if ok else None

    def _designated(
        self, earliest: dt.date, digits: int, line: EntryLine, basis: _LineBasis, checks: list[ConditionCheck]
    ) -> _LineBasis | None:
        export = self.details.export_date
        designated = self.details.designated_import_for(line.sku)
        if designated is None:
            if earliest <= self.entry.import_date <= export:
                checks.append(
                    ConditionCheck(
                        True,
                        f"the import of {self.entry.entry_number or 'the entry'} on "
                        f"{self.entry.import_date.isoformat()} is within the designation window "
                        f"(from {earliest.isoformat()})",
                    )
                )
                return basis
            checks.append(
                ConditionCheck(
                    False,
                    f"the import on {self.entry.import_date.isoformat()} is before "
                    f"{earliest.isoformat()}: designate a later import of SKU {line.sku} "
                    "with the same tariff number",
                )
            )
            return None
        own, theirs = tariff_digits(line.hs_code), tariff_digits(designated.hs_code)
        if len(own) < digits or len(theirs) < digits:
            checks.append(
                ConditionCheck(
                    False, f"the {digits}-digit tariff numbers are needed to match the designated import"
                )
            )
            return None
        if own[:digits] != theirs[:digits]:
            checks.append(
                ConditionCheck(
                    False,
                    f"designated import {designated.entry_number} has tariff number "
                    f"{theirs[:digits]}, the line {own[:digits]}",
                )
            )
            return None
        if not earliest <= designated.import_date <= export:
            checks.append(
                ConditionCheck(
                    False,
                    f"designated import {designated.entry_number} of "
                    f"{designated.import_date.isoformat()} is outside the window "
                    f"{earliest.isoformat()} to {export.isoformat()}",
                )
            )
            return None
        checks.append(
            ConditionCheck(
                True,
                f"designated import {designated.entry_number} of "
                f"{designated.import_date.isoformat()}: same SKU and tariff number, within the window",
            )
        )
        charges = dict(basis.charges)
        estimated = basis.estimated
        if designated.unit_paid is not None:
            for component in ChargeComponent:
                unit = designated.unit_paid.get(component)
                charges[component] = (
                    Money(unit.amount * line.returned_quantity, unit.currency)
                    if unit is not None
                    else Money.zero(self.entry.currency)
                )
            estimated = frozenset()
            imported = line.returned_quantity
        else:
            imported = basis.imported_quantity
            checks.append(
                ConditionCheck(
                    True,
                    f"what designated import {designated.entry_number} paid per unit is "
                    "not given: the line's own per-unit charges are used",
                )
            )
        return _LineBasis(
            charges=charges,
            imported_quantity=imported,
            refunded_quantity=line.returned_quantity,
            import_date=designated.import_date,
            debt_notified_on=designated.import_date,
            estimated=estimated,
        )

    def deadlines(
        self, regime: Regime, basis: _LineBasis
    ) -> tuple[tuple[dt.date, TimeLimit] | None, tuple[dt.date, TimeLimit] | None]:
        anchors = {
            Anchor.IMPORT_DATE: basis.import_date,
            Anchor.IMPORT_PERMIT: basis.import_date,
            Anchor.DEBT_NOTIFICATION: basis.debt_notified_on,
            Anchor.EXPORT_DATE: self.details.export_date,
        }
        export_limits = list(regime.limits(LimitScope.EXPORT))
        if regime.export_required and not regime.claim_before_export:
            export_limits += [
                limit for limit in regime.limits(LimitScope.CLAIM) if limit.anchor is not Anchor.EXPORT_DATE
            ]
        export = _earliest((limit.last_day(anchors[limit.anchor]), limit) for limit in export_limits)
        claim = _earliest(
            (limit.last_day(anchors[limit.anchor]), limit) for limit in regime.limits(LimitScope.CLAIM)
        )
        return export, claim

    def time_checks(
        self,
        regime: Regime,
        export: tuple[dt.date, TimeLimit] | None,
        claim: tuple[dt.date, TimeLimit] | None,
        checks: list[ConditionCheck],
    ) -> bool:
        ok = True
        exported_on = self.details.export_date
        verb = "expected to leave" if self.details.export_expected else "exported"
        if regime.export_required and export is not None:
            last, limit = export
            if exported_on <= last:
                checks.append(
                    ConditionCheck(
                        True,
                        f"{verb} on {exported_on.isoformat()}, within {limit.describe()} "
                        f"(last day {last.isoformat()})",
                    )
                )
            else:
                checks.append(
                    ConditionCheck(
                        False,
                        f"{verb} on {exported_on.isoformat()}, after the last day "
                        f"{last.isoformat()} ({limit.describe()})",
                    )
                )
                ok = False
        filing = self.details.filing_date
        if filing is not None and claim is not None:
            last, limit = claim
            if filing <= last:
                checks.append(
                    ConditionCheck(True, f"filed on {filing.isoformat()}, by the deadline {last.isoformat()}")
                )
            else:
                checks.append(
                    ConditionCheck(
                        False,
                        f"filing on {filing.isoformat()} is after the deadline "
                        f"{last.isoformat()} ({limit.describe()})",
                    )
                )
                ok = False
        return ok

    def refunds(
        self, regime: Regime, line: EntryLine, basis: _LineBasis
    ) -> tuple[list[ComponentRefund], list[NonRefundable]]:
        refunds: list[ComponentRefund] = []
        lost: list[NonRefundable] = []
        for component in ChargeComponent:
            line_paid = basis.charges[component]
            paid = _share(line_paid, basis.refunded_quantity, basis.imported_quantity).rounded()
            if paid.is_zero():
                continue
            exclusion = self._exclusion(regime, component)
            rule = regime.refund_rule(component)
            if exclusion is not None or rule is None:
                reason = exclusion or f"{component.value} is not refundable under {regime.name}"
                lost.append(NonRefundable(line.line_id, component, paid, reason))
                continue
            unit: Decimal | None = None
            if regime.refund_method is RefundMethod.PRICE_REBATE:
                eligible = self._rebate_share(line, line_paid)
            else:
                eligible = four_places(line_paid.amount * rule.percent / 100)
            if basis.refunded_quantity == basis.imported_quantity:
                refundable = Money(eligible, line_paid.currency).rounded()
            else:
                unit = four_places(eligible / basis.imported_quantity)
                refundable = Money(unit * basis.refunded_quantity, line_paid.currency).rounded()
            refundable = refundable.min(paid)
            refunds.append(
                ComponentRefund(
                    component=component,
                    percent=rule.percent,
                    line_paid=four_places(line_paid.amount),
                    line_eligible=eligible,
                    unit_eligible=unit,
                    paid=paid,
                    refundable=refundable,
                    refundable_display=self.display(refundable),
                    estimated=component in basis.estimated,
                    confirmed=rule.confirmed,
                )
            )
            if refundable < paid:
                reason = rule.retained_reason or "rounding of the per-unit amount to 4 decimals"
                lost.append(NonRefundable(line.line_id, component, paid - refundable, reason))
        return refunds, lost

    def _rebate_share(self, line: EntryLine, duty: Money) -> Decimal:
        if self.details.no_commercial_value_at_entry or line.price_rebate is None:
            return four_places(duty.amount)
        if line.customs_value.is_zero():
            return Decimal(0)
        return min(
            four_places(duty.amount * line.price_rebate.amount / line.customs_value.amount), duty.amount
        )

    def _exclusion(self, regime: Regime, component: ChargeComponent) -> str | None:
        for exclusion in regime.exclusions:
            if exclusion.component is not component:
                continue
            if exclusion.when is None:
                return exclusion.reason
            if (
                exclusion.when is ExclusionCondition.VAT_REGISTERED
                and self.entry.importer_type is ImporterType.VAT_REGISTERED_BUSINESS
            ):
                return exclusion.reason
            if (
                exclusion.when is ExclusionCondition.TAX_COLLECTED_AT_SALE
                and self.charges.tax_collected_at_sale
            ):
                return exclusion.reason
        return None

    # --- the regime as a whole -----------------------------------------------------------------------------

    def assess(self, regime: Regime, in_effect: bool, rule_date: dt.date) -> RegimeAssessment:
        currency = self.entry.currency
        if not in_effect:
            zero = Money.zero(currency)
            check = ConditionCheck(
                False, f"not in force on {rule_date.isoformat()} (in force {regime.describe_dates()})"
            )
            return RegimeAssessment(
                regime.id, regime, False, False, (check,), (), (), zero, self.display(zero), None, None,
                regime.minimum_claim, False, (), (),
            )  # fmt: skip
        case_checks = [
            ConditionCheck(True, f"in force on {rule_date.isoformat()} ({regime.describe_dates()})")
        ]
        case_checks += self.case_checks(regime)
        case_failures = [check.text for check in case_checks if not check.passed]
        outcomes: list[LineRegimeOutcome] = []
        warnings: list[ReclaimWarning] = []
        for line in sorted(self.entry.lines, key=lambda item: item.line_id):
            if not line.in_return:
                continue
            outcomes.append(self._line_outcome(regime, line, case_failures))
        eligible_lines = [outcome for outcome in outcomes if outcome.eligible]
        eligible = not case_failures and bool(eligible_lines)
        totals: dict[ChargeComponent, Money] = {}
        for outcome in eligible_lines:
            for refund in outcome.refunds:
                totals[refund.component] = (
                    totals.get(refund.component, Money.zero(currency)) + refund.refundable
                )
        refundable = tuple(
            ComponentAmount(component, totals[component], self.display(totals[component]))
            for component in ChargeComponent
            if component in totals
        )
        total = sum((item.amount for item in refundable), Money.zero(currency))
        deadline_pool = eligible_lines or outcomes
        export_deadline = min((o.export_deadline for o in deadline_pool if o.export_deadline), default=None)
        filing_deadline = min((o.filing_deadline for o in deadline_pool if o.filing_deadline), default=None)
        below_minimum = False
        if not case_failures and not eligible_lines and any(outcome.late for outcome in outcomes):
            last = export_deadline if regime.export_required and export_deadline else filing_deadline
            warnings.append(
                ReclaimWarning(
                    WarningCode.DEADLINE_PASSED,
                    f"{regime.name} would apply, but its time limit passed"
                    + (f" on {last.isoformat()}" if last else ""),
                    regime_id=regime.id,
                )
            )
        if eligible:
            below_minimum = self._below_minimum(regime, total, warnings)
            warnings += self._export_warnings(regime)
            if any(limit.anchor is Anchor.DEBT_NOTIFICATION for limit in regime.time_limits) and (
                self.entry.debt_notified_on is None
            ):
                warnings.append(
                    ReclaimWarning(
                        WarningCode.ASSUMPTION,
                        "the notification of the customs debt is taken to be the import date",
                        regime_id=regime.id,
                    )
                )
        used = frozenset(item.component for item in refundable if not item.amount.is_zero())
        points = regime.unconfirmed_points(used)
        if eligible and points:
            warnings.append(
                ReclaimWarning(
                    WarningCode.RULE_UNCONFIRMED,
                    "basis: unconfirmed — " + "; ".join(points),
                    regime_id=regime.id,
                )
            )
        return RegimeAssessment(
            regime_id=regime.id,
            regime=regime,
            in_effect=True,
            eligible=eligible,
            checks=tuple(case_checks),
            lines=tuple(outcomes),
            refundable=refundable,
            refundable_total=total,
            refundable_total_display=self.display(total),
            export_deadline=export_deadline,
            filing_deadline=filing_deadline,
            minimum_claim=regime.minimum_claim,
            below_minimum=below_minimum,
            unconfirmed_points=points,
            warnings=tuple(warnings),
        )

    def _line_outcome(self, regime: Regime, line: EntryLine, case_failures: list[str]) -> LineRegimeOutcome:
        checks: list[ConditionCheck] = []
        basis = self.line_basis(regime, line, checks)
        resolved = self.charges.lines[line.line_id]
        fallback = _LineBasis(
            dict(resolved.amounts), line.imported_quantity, line.returned_quantity, self.entry.import_date,
            self.case.debt_notified_on, resolved.estimated,
        )  # fmt: skip
        export, claim = self.deadlines(regime, basis or fallback)
        in_time = self.time_checks(regime, export, claim, checks)
        eligible = not case_failures and basis is not None and in_time
        zero = Money.zero(self.entry.currency)
        if eligible and basis is not None:
            refunds, lost = self.refunds(regime, line, basis)
            total = sum((refund.refundable for refund in refunds), zero)
        else:
            refunds = []
            failed = case_failures + [check.text for check in checks if not check.passed]
            reason = f"not eligible under {regime.name}: {failed[0]}"
            shown = basis or fallback
            lost = [
                NonRefundable(line.line_id, component, amount, reason)
                for component in ChargeComponent
                if not (
                    amount := _share(
                        shown.charges[component], shown.refunded_quantity, shown.imported_quantity
                    ).rounded()
                ).is_zero()
            ]
            total = zero
        return LineRegimeOutcome(
            line_id=line.line_id,
            eligible=eligible,
            checks=tuple(checks),
            refunds=tuple(refunds),
            not_refundable=tuple(lost),
            refundable_total=total,
            export_deadline=export[0] if export else None,
            filing_deadline=claim[0] if claim else None,
            late=basis is not None and not in_time,
        )

    def _below_minimum(self, regime: Regime, total: Money, warnings: list[ReclaimWarning]) -> bool:
        minimum = regime.minimum_claim
        if minimum is None:
            return False
        comparable: Money | None = total
        if total.currency != minimum.currency:
            comparable = None
            if self.fx is not None:
                try:
                    comparable = Money(
                        total.amount * self.fx.rate(total.currency, minimum.currency), minimum.currency
                    )
                except MissingFxRate:
                    comparable = None
        if comparable is None:
            warnings.append(
                ReclaimWarning(
                    WarningCode.FX_UNAVAILABLE,
                    f"cannot compare the claim with the minimum of {minimum}: "
                    f"no FX rate {total.currency}->{minimum.currency}",
                    regime_id=regime.id,
                )
            )
            return False
        if comparable < minimum:
            warnings.append(
                ReclaimWarning(
                    WarningCode.MINIMUM_NOT_REACHED,
                    f"{regime.name}: the claim ({total.rounded()}) is below the minimum of {minimum}; "
                    "combine it with other entries in one claim where the rules allow",
                    regime_id=regime.id,
                )
            )
            return True
        return False

    def _export_warnings(self, regime: Regime) -> list[ReclaimWarning]:
        if not regime.export_required:
            return []
        details = self.details
        warnings: list[ReclaimWarning] = []
        if not regime.claim_before_export:
            if details.export_expected:
                warnings.append(
                    ReclaimWarning(
                        WarningCode.NOT_YET_EXPORTED,
                        f"{regime.name}: the claim may only be filed once the goods have left "
                        f"(expected {details.export_date.isoformat()})",
                        regime_id=regime.id,
                    )
                )
            elif details.filing_date is not None and details.filing_date < details.export_date:
                warnings.append(
                    ReclaimWarning(
                        WarningCode.NOT_YET_EXPORTED,
                        f"{regime.name}: a claim filed on {details.filing_date.isoformat()} would precede "
                        f"the export on {details.export_date.isoformat()}; it may not be filed before export",
                        regime_id=regime.id,
                    )
                )
        if details.proof_of_export is None:
            needed = "; ".join(regime.proof_of_export) or "evidence that the goods left"
            warnings.append(
                ReclaimWarning(
                    WarningCode.PROOF_OF_EXPORT_MISSING,
                    f"{regime.name}: keep proof of export ({needed})",
                    regime_id=regime.id,
                )
            )
        return warnings


def _replace_quantities(basis: _LineBasis, quantity: int) -> _LineBasis:
    return _LineBasis(
        basis.charges, quantity, quantity, basis.import_date, basis.debt_notified_on, basis.estimated
    )


def _share(amount: Money, part: int, whole: int) -> Money:
    return amount if part == whole else Money(amount.amount * part / whole, amount.currency)


def _earliest(
    candidates: Iterable[tuple[dt.date, TimeLimit]],
) -> tuple[dt.date, TimeLimit] | None:
    return min(candidates, key=lambda item: item[0], default=None)


def _option_key(
    option: Sequence[RegimeAssessment],
) -> tuple[Decimal, dt.date, int, int, int, tuple[str, ...]]:
    total = sum((assessment.refundable_total.amount for assessment in option), Decimal(0))
    deadline = min((a.filing_deadline for a in option if a.filing_deadline), default=dt.date.max)
    effort = sum(assessment.regime.filing_effort for assessment in option)
    unconfirmed = sum(len(assessment.unconfirmed_points) for assessment in option)
    return (-total, deadline, len(option), effort, unconfirmed, tuple(a.regime_id for a in option))


def best_option(regimes: Sequence[RegimeAssessment]) -> tuple[RegimeAssessment, ...]:
    """The eligible regimes (one, or several that combine and refund different components) bringing back the
    most; ties go to the earliest filing deadline, then to fewer and simpler filings, then to the firmer
    basis."""
    candidates = [r for r in regimes if r.eligible and not r.refundable_total.is_zero()]
    options: list[tuple[RegimeAssessment, ...]] = []
    for size in range(1, len(candidates) + 1):
        for option in combinations(candidates, size):
            if size > 1 and not _combinable(option):
                continue
            options.append(option)
    return min(options, key=_option_key, default=())


def _combinable(option: Sequence[RegimeAssessment]) -> bool:
    for first, second in combinations(option, 2):
        if second.regime_id not in first.regime.combines_with:
            return False
        if first.refunded_components & second.refunded_components:
            return False
    return True


def calculate_duty_reclaim(
    case: ReclaimCase,
    rules: RegimeBook,
    fx: FxTable | None = None,
    display_currency: str | None = None,
    *,
    tariffs: TariffTable | None = None,
    de_minimis: DeMinimisBook | None = None,
) -> ReclaimAssessment:
    """What comes back for the returned goods of `case`, under which regimes, by when and with which forms.

    Paid amounts left unknown are estimated from the de minimis rules and tariff tables (the packaged ones
    unless given) and flagged. Display amounts need `fx` unless the display currency is the import currency.
    """
    entry, details = case.import_entry, case.return_details
    display = _Display(validate_currency(display_currency) if display_currency else entry.currency, fx)
    charges = resolve_charges(entry, tariffs or load_tariff_table(), de_minimis or load_de_minimis(), fx)
    evaluator = _RegimeEvaluator(case, charges, display, fx)
    assessments: list[RegimeAssessment] = []
    for regime_id in rules.regime_ids(charges.market):
        versions = rules.versions(regime_id)
        rule_date = (
            entry.import_date if versions[0].selected_by is Anchor.IMPORT_DATE else details.export_date
        )
        regime = rules.version_on(regime_id, rule_date)
        if regime is None:
            nearest = min(versions, key=lambda v: abs((v.effective_from - rule_date).days))
            assessments.append(evaluator.assess(nearest, False, rule_date))
        else:
            assessments.append(evaluator.assess(regime, True, rule_date))
    best = best_option(assessments)
    lines = _line_assessments(case, charges, best, display)
    currency = entry.currency
    totals: dict[ChargeComponent, Money] = {}
    for chosen in best:
        for item in chosen.refundable:
            totals[item.component] = totals.get(item.component, Money.zero(currency)) + item.amount
    refundable = tuple(
        ComponentAmount(c, totals[c], display(totals[c])) for c in ChargeComponent if c in totals
    )
    total = sum((item.amount for item in refundable), Money.zero(currency))
    warnings = list(charges.warnings)
    for chosen in best:
        warnings += chosen.warnings
    for assessment in assessments:
        warnings += [w for w in assessment.warnings if w.code is WarningCode.DEADLINE_PASSED]
    if not best:
        if any(a.eligible for a in assessments):
            warnings.append(
                ReclaimWarning(
                    WarningCode.NO_ELIGIBLE_REGIME,
                    "nothing to reclaim: no refundable charge was paid on the returned goods",
                )
            )
        else:
            warnings.append(
                ReclaimWarning(
                    WarningCode.NO_ELIGIBLE_REGIME,
                    f"no reclaim regime of {charges.market} applies to this return",
                )
            )
    total_display = display(total)
    if display.failed:
        warnings.append(
            ReclaimWarning(
                WarningCode.FX_UNAVAILABLE,
                f"no FX rate {currency}->{display.currency}: display amounts are missing",
            )
        )
    points = list(charges.unconfirmed_points)
    for chosen in best:
        points += chosen.unconfirmed_points
    return ReclaimAssessment(
        market=charges.market,
        import_country=entry.country,
        import_currency=currency,
        display_currency=display.currency,
        fx_as_of=fx.as_of if fx is not None and display.currency != currency else None,
        fx_source=fx.source if fx is not None and display.currency != currency else "",
        regimes=tuple(assessments),
        best=tuple(regime.regime_id for regime in best),
        lines=lines,
        refundable=refundable,
        refundable_total=total,
        refundable_total_display=total_display,
        not_refundable=_not_refundable(case, charges, best or [a for a in assessments if a.in_effect]),
        filing_deadline=min((r.filing_deadline for r in best if r.filing_deadline), default=None),
        forms=tuple(dict.fromkeys(form for regime in best for form in regime.regime.forms)),
        documents=tuple(dict.fromkeys(doc for regime in best for doc in regime.regime.documents)),
        proof_of_export=tuple(dict.fromkeys(p for regime in best for p in regime.regime.proof_of_export)),
        warnings=tuple(
            sorted(dict.fromkeys(warnings), key=lambda w: (w.line_id, w.regime_id, w.code, w.message))
        ),
        unconfirmed_points=tuple(dict.fromkeys(points)),
        de_minimis=charges.de_minimis,
    )


def _concerned(line: EntryLine) -> tuple[int, int]:
    """(units the paid amounts are shown for, imported units): the returned units, or the whole line when its
    price was rebated (the rebate refund relates to the whole line)."""
    if line.price_rebate is not None or not line.returned_quantity:
        return (line.imported_quantity, line.imported_quantity)
    return (line.returned_quantity, line.imported_quantity)


def _line_assessments(
    case: ReclaimCase, charges: ResolvedCharges, best: Sequence[RegimeAssessment], display: _Display
) -> tuple[LineAssessment, ...]:
    currency = case.import_entry.currency
    result: list[LineAssessment] = []
    for line in sorted(case.import_entry.lines, key=lambda item: item.line_id):
        if not line.in_return:
            continue
        resolved = charges.lines[line.line_id]
        part, whole = _concerned(line)
        paid = tuple(
            ComponentAmount(c, amount, display(amount))
            for c in ChargeComponent
            if not (amount := _share(resolved.amount(c), part, whole).rounded()).is_zero()
        )
        refunded: dict[ChargeComponent, Money] = {}
        for regime in best:
            for outcome in regime.lines:
                if outcome.line_id == line.line_id and outcome.eligible:
                    for refund in outcome.refunds:
                        refunded[refund.component] = (
                            refunded.get(refund.component, Money.zero(currency)) + refund.refundable
                        )
        refundable = tuple(
            ComponentAmount(c, refunded[c], display(refunded[c])) for c in ChargeComponent if c in refunded
        )
        total = sum((item.amount for item in refundable), Money.zero(currency))
        result.append(
            LineAssessment(
                line_id=line.line_id,
                sku=line.sku,
                hs_code=line.hs_code,
                returned_quantity=line.returned_quantity,
                paid=paid,
                refundable=refundable,
                refundable_total=total,
                refundable_total_display=display(total),
                estimated_components=resolved.estimated,
                estimate_sources=resolved.sources,
            )
        )
    return tuple(result)


def _not_refundable(
    case: ReclaimCase, charges: ResolvedCharges, considered: Sequence[RegimeAssessment]
) -> tuple[NonRefundable, ...]:
    """What the returned goods paid that does not come back under the best option, with the reasons given by
    its regimes (or, when no option refunds anything, by every regime in force)."""
    currency = case.import_entry.currency
    market = charges.market
    result: list[NonRefundable] = []
    for line in sorted(case.import_entry.lines, key=lambda item: item.line_id):
        if not line.in_return:
            continue
        part, whole = _concerned(line)
        outcomes = [o for regime in considered for o in regime.lines if o.line_id == line.line_id]
        for component in ChargeComponent:
            paid = _share(charges.lines[line.line_id].amount(component), part, whole).rounded()
            if paid.is_zero():
                continue
            refunded = sum(
                (r.refundable for o in outcomes if o.eligible for r in o.refunds if r.component is component),
                Money.zero(currency),
            )
            remainder = paid - refunded
            if remainder.amount <= 0:
                continue
            reasons = [n.reason for o in outcomes for n in o.not_refundable if n.component is component]
            if not reasons:
                reasons = [f"no reclaim regime of {market} applies to this return"]
            result.append(
                NonRefundable(line.line_id, component, remainder, "; ".join(dict.fromkeys(reasons)))
            )
    return tuple(result)
