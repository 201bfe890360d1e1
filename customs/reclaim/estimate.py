"""What each entry line paid: given by the caller, apportioned from entry-level charges, or estimated.

Estimates use the de minimis rules in force on the import date (exempt, flat duty, tax collected at sale) and
the tariff tables (MFN duty, import tax rate, US processing fee). Every estimated component is marked, with
the source and as-of date of the row used, so the answer can say it is an estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from customs.deminimis import DeMinimisBook, DeMinimisDecision, DutyTreatment
from customs.money import FxTable, MissingFxRate, Money
from customs.reclaim.apportionment import apportion_by_value, four_places
from customs.reclaim.assessment import ReclaimWarning, WarningCode
from customs.reclaim.case import EntryLine, ImportEntry
from customs.reclaim.components import ChargeComponent
from customs.tariffs import ProcessingFeeSchedule, TariffTable
from customs.territories import customs_territory

_US_FEES = (ChargeComponent.MPF, ChargeComponent.HMT)


@dataclass(frozen=True, slots=True)
class LineCharges:
    """Charges of a whole entry line (all imported units), in the import currency, to 4 decimals."""

    line_id: str
    amounts: Mapping[ChargeComponent, Money]
    estimated: frozenset[ChargeComponent]
    sources: tuple[str, ...]

    def amount(self, component: ChargeComponent) -> Money:
        return self.amounts[component]


@dataclass(frozen=True, slots=True)
class ResolvedCharges:
    market: str
    lines: Mapping[str, LineCharges]
    de_minimis: DeMinimisDecision | None
    tax_collected_at_sale: bool
    warnings: tuple[ReclaimWarning, ...]
    unconfirmed_points: tuple[str, ...]


def _citation(label: str, citation: str, confirmed: bool) -> str:
    return f"{label}: {citation}" + ("" if confirmed else " (figure not confirmed)")


def _convert(amount: Money, currency: str, fx: FxTable | None) -> Money | None:
    if amount.currency == currency:
        return amount
    if fx is None:
        return None
    try:
        return Money(amount.amount * fx.rate(amount.currency, currency), currency)
    except MissingFxRate:
        return None


class _Resolver:
    def __init__(
        self, entry: ImportEntry, tariffs: TariffTable, de_minimis: DeMinimisBook, fx: FxTable | None
    ):
        self.entry = entry
        self.tariffs = tariffs
        self.book = de_minimis
        self.fx = fx
        self.currency = entry.currency
        self.market = customs_territory(entry.country, entry.import_date)
        self.warnings: list[ReclaimWarning] = []
        self.unconfirmed: list[str] = []
        self.amounts: dict[str, dict[ChargeComponent, Money]] = {line.line_id: {} for line in entry.lines}
        self.estimated: dict[str, set[ChargeComponent]] = {line.line_id: set() for line in entry.lines}
        self.sources: dict[str, list[str]] = {line.line_id: [] for line in entry.lines}
        self.decision: DeMinimisDecision | None = None

    def _needs_estimate(self) -> bool:
        entry_level = {component for component, _ in self.entry.entry_charges.known()}
        return any(
            line.paid.get(component) is None and component not in entry_level
            for line in self.entry.lines
            for component in ChargeComponent
        )

    def resolve(self) -> ResolvedCharges:
        if self._needs_estimate() or self.entry.tax_collected_at_sale is None:
            self.decision = self._decide_de_minimis()
        at_sale = self.entry.tax_collected_at_sale
        if at_sale is None:
            at_sale = self.decision.tax_collected_at_sale if self.decision else False
        values = {line.line_id: line.customs_value for line in self.entry.lines}
        for component, charge in self.entry.entry_charges.known():
            for line_id, share in apportion_by_value(charge, values).items():
                self.amounts[line_id][component] = share.amount
        for line in self.entry.lines:
            for component, paid in line.paid.known():
                self.amounts[line.line_id][component] = paid
        self._estimate_us_fees()
        for line in self.entry.lines:
            self._estimate_duty(line)
            self._estimate_tax(line, at_sale)
            for component in (ChargeComponent.AD_CVD, ChargeComponent.OTHER):
                self._assume_none(line, component, "trade-remedy duties and other levies cannot be estimated")
        for line in self.entry.lines:
            estimated = self.estimated[line.line_id]
            if estimated:
                names = ", ".join(sorted(component.value for component in estimated))
                self.warnings.append(
                    ReclaimWarning(
                        WarningCode.ESTIMATE_USED,
                        f"line {line.line_id}: {names} not given; estimated ("
                        + "; ".join(self.sources[line.line_id])
                        + ")",
                        line_id=line.line_id,
                    )
                )
        if self.decision is not None and not self.decision.confirmed:
            self.unconfirmed.append(f"de minimis rule {self.decision.rule_id}: {self.decision.explanation}")
        lines = {
            line.line_id: LineCharges(
                line.line_id,
                {component: self.amounts[line.line_id][component] for component in ChargeComponent},
                frozenset(self.estimated[line.line_id]),
                tuple(self.sources[line.line_id]),
            )
            for line in self.entry.lines
        }
        return ResolvedCharges(
            self.market,
            lines,
            self.decision,
            at_sale,
            tuple(self.warnings),
            tuple(dict.fromkeys(self.unconfirmed)),
        )

    def _decide_de_minimis(self) -> DeMinimisDecision | None:
        rule = self.book.rule_for(self.market, self.entry.import_date)
        value = self.entry.total_value
        if rule is not None:
            converted = _convert(value, rule.currency, self.fx)
            if converted is None:
                self.warnings.append(
                    ReclaimWarning(
                        WarningCode.FX_UNAVAILABLE,
                        f"no FX rate {self.currency}->{rule.currency}: de minimis rule {rule.id} not "
                        "applied; duty and tax assumed due",
                    )
                )
                return None
            value = converted
        return self.book.decide(
            self.entry.country,
            self.entry.import_date,
            value,
            channel=self.entry.channel,
            shipped_from=self.entry.shipped_from,
            origins=[line.origin_country for line in self.entry.lines if line.origin_country],
            seller_collects_tax=bool(self.entry.tax_collected_at_sale),
            hs_codes=[line.hs_code for line in self.entry.lines],
        )

    def _unknown(self, line: EntryLine, component: ChargeComponent) -> bool:
        return component not in self.amounts[line.line_id]

    def _set_estimate(self, line: EntryLine, component: ChargeComponent, amount: Money, source: str) -> None:
        self.amounts[line.line_id][component] = Money(four_places(amount.amount), self.currency)
        self.estimated[line.line_id].add(component)
        if source not in self.sources[line.line_id]:
            self.sources[line.line_id].append(source)

    def _assume_none(self, line: EntryLine, component: ChargeComponent, why: str) -> None:
        if self._unknown(line, component):
            self._set_estimate(
                line, component, Money.zero(self.currency), f"{component.value} assumed none: {why}"
            )

    def _estimate_us_fees(self) -> None:
        if self.market != "US":
            for line in self.entry.lines:
                for component in _US_FEES:
                    if self._unknown(line, component):  # US fees: nothing of the kind is charged elsewhere
                        self.amounts[line.line_id][component] = Money.zero(self.currency)
            return
        for line in self.entry.lines:
            self._assume_none(
                line, ChargeComponent.HMT, "HMT is charged on cargo unloaded from vessels, not on parcels"
            )
        pending = [line for line in self.entry.lines if self._unknown(line, ChargeComponent.MPF)]
        if not pending:
            return
        if self.decision is not None and not self.decision.import_tax_due:
            for line in pending:
                self._set_estimate(
                    line,
                    ChargeComponent.MPF,
                    Money.zero(self.currency),
                    f"no MPF: {self.decision.explanation}",
                )
            return
        schedule = self._fee_schedule()
        fee = Money.zero(self.currency)
        source = "MPF assumed none: no fee schedule on file"
        if schedule is not None:
            value = _convert(self.entry.total_value, schedule.formal_minimum.currency, self.fx)
            converted_fee = (
                None if value is None else _convert(schedule.fee_for(value), self.currency, self.fx)
            )
            if converted_fee is None:
                source = f"MPF assumed none: no FX rate between {self.currency} and USD"
            else:
                fee = converted_fee
                source = _citation("MPF", schedule.source, schedule.confirmed)
        shares = apportion_by_value(fee, {line.line_id: line.customs_value for line in self.entry.lines})
        for line in pending:
            self._set_estimate(line, ChargeComponent.MPF, shares[line.line_id].amount, source)

    def _fee_schedule(self) -> ProcessingFeeSchedule | None:
        on = self.entry.import_date
        schedule = self.tariffs.processing_fees(self.market, on)
        if schedule is not None:
            return schedule
        earlier = [
            s for s in self.tariffs.fee_schedules if s.market == self.market and s.effective_from <= on
        ]
        if not earlier:
            return None
        latest = max(earlier, key=lambda s: s.effective_from)
        self.warnings.append(
            ReclaimWarning(
                WarningCode.ASSUMPTION,
                f"no MPF schedule for {on.isoformat()}: the schedule from "
                f"{latest.effective_from.isoformat()} is used",
            )
        )
        return latest

    def _estimate_duty(self, line: EntryLine) -> None:
        if not self._unknown(line, ChargeComponent.DUTY):
            return
        decision = self.decision
        if decision is not None and decision.duty is DutyTreatment.EXEMPT:
            self._set_estimate(line, ChargeComponent.DUTY, Money.zero(self.currency), decision.explanation)
            return
        if decision is not None and decision.duty is DutyTreatment.FLAT:
            share = self._flat_duty_share(line)
            if share is not None:
                self._set_estimate(line, ChargeComponent.DUTY, share, decision.explanation)
                return
        rate = self.tariffs.duty_rate(self.market, line.hs_code)
        if rate is None:
            self._set_estimate(
                line,
                ChargeComponent.DUTY,
                Money.zero(self.currency),
                f"no {self.market} tariff row for HS {line.hs_code}: duty unknown, counted as none",
            )
            self.warnings.append(
                ReclaimWarning(
                    WarningCode.ASSUMPTION,
                    f"line {line.line_id}: no tariff row for HS {line.hs_code} in {self.market}; "
                    "give the duty paid",
                    line_id=line.line_id,
                )
            )
            return
        amount = Money(line.customs_value.amount * rate.rate_percent / 100, self.currency)
        label = f"duty {rate.rate_percent} % on HS {rate.hs_prefix}"
        self._set_estimate(
            line, ChargeComponent.DUTY, amount, _citation(label, rate.citation, rate.confirmed)
        )

    def _flat_duty_share(self, line: EntryLine) -> Money | None:
        """The line's share of the flat duty of its subheading, split by value among the lines sharing it."""
        rule = self.book.rule_for(self.market, self.entry.import_date)
        if rule is None or rule.flat_duty is None:
            return None
        flat = rule.flat_duty
        per_subheading = _convert(flat.per_distinct_subheading, self.currency, self.fx)
        if per_subheading is None:
            return None
        subheading = flat.subheading_of(line.hs_code)
        siblings = [other for other in self.entry.lines if flat.subheading_of(other.hs_code) == subheading]
        total = sum((other.customs_value.amount for other in siblings), Decimal(0))
        ratio = line.customs_value.amount / total if total else Decimal(1) / len(siblings)
        return Money(per_subheading.amount * ratio, self.currency)

    def _estimate_tax(self, line: EntryLine, at_sale: bool) -> None:
        if not self._unknown(line, ChargeComponent.VAT):
            return
        decision = self.decision
        if decision is not None and not decision.import_tax_due and not at_sale:
            self._set_estimate(line, ChargeComponent.VAT, Money.zero(self.currency), decision.explanation)
            return
        rate = self.tariffs.import_tax_rate(self.entry.country)
        if rate is None:
            self._set_estimate(
                line,
                ChargeComponent.VAT,
                Money.zero(self.currency),
                f"no import tax rate on file for {self.entry.country}: counted as none",
            )
            return
        base = line.customs_value.amount
        if not at_sale:  # import VAT/GST is charged on the value plus the duty
            base += self.amounts[line.line_id][ChargeComponent.DUTY].amount
        where = "charged by the seller at sale" if at_sale else "at import"
        label = f"{rate.tax_name} {rate.rate_percent} % {where}"
        amount = Money(base * rate.rate_percent / 100, self.currency)
        self._set_estimate(line, ChargeComponent.VAT, amount, _citation(label, rate.citation, rate.confirmed))


def resolve_charges(
    entry: ImportEntry, tariffs: TariffTable, de_minimis: DeMinimisBook, fx: FxTable | None
) -> ResolvedCharges:
    """Every component of every line of `entry`: given, apportioned by value, or estimated."""
    return _Resolver(entry, tariffs, de_minimis, fx).resolve()
