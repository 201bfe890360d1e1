"""Recording a reclaim estimate with a cross-border return label.

The label knows the goods (items with value, HS code, reason and condition), the customer's country (where
the goods were imported), the original order (dates, import entry number, duties and taxes paid) and the
day the parcel is expected to leave. From them one reclaim case is built per group of items sharing a
return reason and condition (a regime's conditions are per case); every case lists all the label's items so
the order's charges are apportioned over all of them by value, with only the group's items returned.

- import date: the order's delivery date, else its order date (the time limits then end no later than the
  real ones);
- import currency: the import country's currency on that date; paid amounts and item values in another
  currency are converted with the service's FX table;
- importer: the merchant (BUSINESS) when the order records what was paid, else the customer (CONSUMER),
  stated as an assumption;
- unknown paid amounts are estimated by the calculator and flagged.

What the order lacks becomes a warning on the claim, or a NOT_ELIGIBLE record saying why no case could be
built; recording never fails the label (errors are logged, the label goes on without a claim).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from babel.numbers import get_territory_currencies
from sqlalchemy.exc import IntegrityError

from carriers.models import ReturnShipment
from customs.countries import UnknownCountry
from customs.goods import ItemCondition, OriginalOrder, ReturnReason
from customs.money import FxTable, MissingFxRate, Money
from customs.reclaim import (
    ChargesPaid,
    ClaimStatus,
    EntryLine,
    ImportEntry,
    ImporterType,
    InvalidReclaimCase,
    ReclaimAssessment,
    ReclaimCase,
    ReclaimClaim,
    ReclaimWarning,
    ReturnDetails,
    WarningCode,
    claims_from_assessment,
)
from customs.territories import customs_territory
from service.logging import get_logger
from service.reclaim.calculation import DutyReclaimCalculator
from service.reclaim.model import UNSTATED_CONDITION, AuditEntry, StoredClaim, label_actor
from service.reclaim.repository import ClaimRepository, NewClaim, new_claim_id
from service.reclaim.tracking_evidence import TrackingEvidence

log = get_logger("backhaul.reclaim.labels")


@dataclass(frozen=True, slots=True)
class LabelReturn:
    """What a bought cross-border return label tells the reclaim estimate."""

    merchant_id: str
    label_id: str
    shipment: ReturnShipment
    expected_export_date: dt.date  # the day the parcel is expected to leave (the label's date)
    tracking_number: str = ""


@dataclass(frozen=True, slots=True)
class ItemGroup:
    reason: ReturnReason
    condition: ItemCondition
    positions: tuple[int, ...]  # 0-based positions of the label's items

    @property
    def key(self) -> str:
        return f"{self.reason.value}/{self.condition.value}"


@dataclass(frozen=True, slots=True)
class LabelCase:
    """The reclaim case of one group of items, or why none could be built."""

    group: ItemGroup
    skus: tuple[str, ...]
    case: ReclaimCase | None
    problem: str  # set when `case` is None
    warnings: tuple[ReclaimWarning, ...]
    market: str
    import_country: str
    currency: str
    entry_number: str
    import_date: dt.date | None


def item_groups(shipment: ReturnShipment) -> tuple[ItemGroup, ...]:
    positions: dict[tuple[ReturnReason, ItemCondition], list[int]] = {}
    for index, item in enumerate(shipment.items):
        positions.setdefault((item.return_reason, item.condition), []).append(index)
    return tuple(
        ItemGroup(reason, condition, tuple(found)) for (reason, condition), found in positions.items()
    )


def _country_currency(country: str, on: dt.date) -> str | None:
    currencies: list[str] = get_territory_currencies(country, start_date=on, end_date=on, tender=True)
    return currencies[0] if currencies else None


def _market(country: str, on: dt.date) -> str:
    try:
        return customs_territory(country, on)
    except UnknownCountry:
        return country


def _in_currency(amount: Money, currency: str, fx: FxTable) -> Money:
    return amount if amount.currency == currency else fx.convert(amount, currency)


def _assumption(message: str) -> ReclaimWarning:
    return ReclaimWarning(WarningCode.ASSUMPTION, message)


def _problem_text(error: InvalidReclaimCase) -> str:
    """A case error in the label's terms: `import_entry.lines[2].hs_code` is the label's item 3."""
    field = error.field
    if field.startswith("import_entry.lines[") and "]" in field:
        index_text, _, rest = field.removeprefix("import_entry.lines[").partition("]")
        if index_text.isdigit():
            field = f"items[{index_text}]{rest}"
    return f"{field}: {error.message}"


def label_cases(label: LabelReturn, fx: FxTable) -> tuple[LabelCase, ...]:
    """The reclaim case of each group of the label's items (pure)."""
    shipment = label.shipment
    if not shipment.items:
        return ()
    country = shipment.origin_country
    order = shipment.original_order or OriginalOrder()
    import_date = order.delivery_date or order.order_date
    rules_day = import_date or label.expected_export_date
    market = _market(country, rules_day)
    currency = _country_currency(country, rules_day) or shipment.items[0].unit_value.currency
    warnings: list[ReclaimWarning] = []
    problem = ""
    if import_date is None:
        problem = (
            "the original order has neither a delivery date nor an order date: the import date, from "
            "which the time limits run, is unknown"
        )
    elif order.delivery_date is None:
        warnings.append(
            _assumption(
                f"the original order has no delivery date: the import date is taken as its order date "
                f"{import_date.isoformat()}, so the time limits may end a few days before the real ones"
            )
        )
    if not order.import_entry_number:
        warnings.append(
            _assumption("the original order has no import entry number: a claim cannot be filed without it")
        )
    values: list[Money] = []
    for item in shipment.items:
        try:
            values.append(_in_currency(item.line_value, currency, fx))
        except MissingFxRate:
            problem = problem or (
                f"no FX rate {item.unit_value.currency}->{currency} to value the goods in the import currency"
            )
            values.append(Money.zero(currency))
    paid: dict[str, Money] = {}
    for name, amount in (("duty", order.duties_paid), ("vat", order.taxes_paid)):
        if amount is None:
            continue
        try:
            paid[name] = _in_currency(amount, currency, fx)
        except MissingFxRate:
            warnings.append(
                ReclaimWarning(
                    WarningCode.FX_UNAVAILABLE,
                    f"no FX rate {amount.currency}->{currency}: the {name} paid is estimated instead",
                )
            )
            continue
        if amount.currency != currency:
            warnings.append(
                _assumption(
                    f"the {name} paid ({amount}) is converted to {paid[name]} with the FX table of "
                    f"{fx.as_of.isoformat()}; the authority refunds what was paid in {currency}"
                )
            )
    if paid:
        importer = ImporterType.BUSINESS
        warnings.append(
            _assumption(
                "the order records the duties and taxes paid: the merchant is taken as the importer of record"
            )
        )
        warnings.append(
            _assumption(
                "the order's duties and taxes are spread over the returned items by value; if the order "
                "had other items, the refund is overstated"
            )
        )
    else:
        importer = ImporterType.CONSUMER
        warnings.append(
            _assumption("the order records no duties or taxes paid: the customer is taken as the importer")
        )
    cases: list[LabelCase] = []
    for group in item_groups(shipment):
        skus = tuple(shipment.items[position].sku for position in group.positions)
        case: ReclaimCase | None = None
        group_problem = problem
        group_warnings = tuple(warnings)
        if group.condition is ItemCondition.UNSPECIFIED:
            group_warnings += (_assumption(UNSTATED_CONDITION),)
        if not group_problem and import_date is not None:
            try:
                case = _case(label, group, import_date, currency, importer, values, paid, order)
            except InvalidReclaimCase as error:
                group_problem = _problem_text(error)
        cases.append(
            LabelCase(
                group=group,
                skus=skus,
                case=case,
                problem=group_problem,
                warnings=group_warnings,
                market=market,
                import_country=country,
                currency=currency,
                entry_number=order.import_entry_number,
                import_date=import_date,
            )
        )
    return tuple(cases)


def _case(
    label: LabelReturn,
    group: ItemGroup,
    import_date: dt.date,
    currency: str,
    importer: ImporterType,
    values: list[Money],
    paid: dict[str, Money],
    order: OriginalOrder,
) -> ReclaimCase:
    shipment = label.shipment
    lines = tuple(
        EntryLine(
            line_id=str(position + 1),
            sku=item.sku,
            hs_code=item.hs_code,
            imported_quantity=item.quantity,
            returned_quantity=item.quantity if position in group.positions else 0,
            customs_value=values[position],
            origin_country=item.origin_country or None,
            description=item.description,
        )
        for position, item in enumerate(shipment.items)
    )
    entry = ImportEntry(
        country=shipment.origin_country,
        import_date=import_date,
        currency=currency,
        entry_number=order.import_entry_number,
        importer_type=importer,
        lines=lines,
        entry_charges=ChargesPaid.of(**paid),
    )
    details = ReturnDetails(
        reason=group.reason,
        condition=group.condition,
        export_date=label.expected_export_date,
        export_expected=True,
        used=True if group.condition is ItemCondition.UNSPECIFIED else None,
    )
    return ReclaimCase(entry, details)


def _claim_points(assessment: ReclaimAssessment, regime_id: str | None) -> tuple[str, ...]:
    """The estimate's unconfirmed points and those of the claim's own regime."""
    best = {p for rid in assessment.best for p in assessment.regime(rid).unconfirmed_points}
    points = [p for p in assessment.unconfirmed_points if p not in best]
    if regime_id is not None:
        points += assessment.regime(regime_id).unconfirmed_points
    return tuple(dict.fromkeys(points))


class LabelEstimates:
    def __init__(
        self,
        repository: ClaimRepository,
        calculator: DutyReclaimCalculator,
        evidence: TrackingEvidence,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._repository = repository
        self._calculator = calculator
        self._evidence = evidence
        self._clock = clock

    async def record_label_estimate(self, label: LabelReturn) -> tuple[StoredClaim, ...]:
        """Record the label's claims (once per label: a repeated call returns those recorded), then apply
        the tracking events the label already has. Never raises: a failure is logged and the label goes on
        without a claim."""
        try:
            return await self._record(label)
        except Exception:
            log.exception("reclaim.label_estimate_failed", label_id=label.label_id)
            return ()

    async def _record(self, label: LabelReturn) -> tuple[StoredClaim, ...]:
        merchant, label_id = label.merchant_id, label.label_id
        existing = await self._repository.claims_of_label(merchant, label_id)
        if existing:
            return tuple(existing)
        claims = self._new_claims(label, self._clock())
        if not claims:
            return ()
        try:
            async with self._repository.transaction() as transaction:
                if not await transaction.claims_of_label(merchant, label_id):
                    await transaction.insert(claims)
        except IntegrityError:
            pass  # recorded concurrently (a retried purchase): read what was recorded
        await self._evidence.replay_label(merchant, label_id)
        return tuple(await self._repository.claims_of_label(merchant, label_id))

    def _new_claims(self, label: LabelReturn, now: dt.datetime) -> list[NewClaim]:
        destination = label.shipment.destination_country or None
        claims: list[NewClaim] = []
        for label_case in label_cases(label, self._calculator.fx):
            if label_case.case is None:
                claims.append(self._not_eligible(label, label_case, now))
                continue
            assessment = self._calculator.calculate(label_case.case)
            for claim in claims_from_assessment(assessment, label_case.case, now, destination):
                warnings = label_case.warnings + tuple(
                    w for w in assessment.warnings if w.regime_id in ("", claim.regime_id)
                )
                claims.append(
                    self._stored(
                        label, label_case, claim, warnings, _claim_points(assessment, claim.regime_id)
                    )
                )
        return claims

    def _stored(
        self,
        label: LabelReturn,
        label_case: LabelCase,
        claim: ReclaimClaim,
        warnings: tuple[ReclaimWarning, ...],
        points: tuple[str, ...],
    ) -> NewClaim:
        created = claim.history[0].at
        entries = tuple(
            AuditEntry(index + 1, event.at, event.status, event.description, label_actor(label.label_id))
            for index, event in enumerate(claim.history)
        )
        stored = StoredClaim(
            id=new_claim_id(),
            merchant_id=label.merchant_id,
            label_id=label.label_id,
            group_key=label_case.group.key,
            regime_id=claim.regime_id,
            status=claim.status,
            revision=len(entries),
            market=claim.market,
            import_country=claim.import_country,
            entry_number=claim.entry_number,
            import_date=claim.import_date,
            debt_notified_on=claim.debt_notified_on,
            rules_date=claim.rules_date,
            destination_country=claim.destination_country,
            refundable=claim.refundable,
            refundable_total=claim.refundable_total,
            amounts_estimated=claim.amounts_estimated,
            basis_confirmed=claim.basis_confirmed and not points,
            unconfirmed_points=points,
            export_date=claim.export_date,
            export_proven=claim.export_proven,
            export_deadline=claim.export_deadline,
            filing_deadline=claim.filing_deadline,
            evidence=(),
            filing_reference="",
            warnings=warnings,
            return_reason=label_case.group.reason,
            item_condition=label_case.group.condition,
            skus=label_case.skus,
            tracking_number=label.tracking_number,
            created_at=created,
            updated_at=created,
        )
        return NewClaim(stored, entries)

    def _not_eligible(self, label: LabelReturn, label_case: LabelCase, now: dt.datetime) -> NewClaim:
        description = f"no reclaim estimate: {label_case.problem}"
        stored = StoredClaim(
            id=new_claim_id(),
            merchant_id=label.merchant_id,
            label_id=label.label_id,
            group_key=label_case.group.key,
            regime_id=None,
            status=ClaimStatus.NOT_ELIGIBLE,
            revision=1,
            market=label_case.market,
            import_country=label_case.import_country,
            entry_number=label_case.entry_number,
            import_date=label_case.import_date,
            debt_notified_on=label_case.import_date,
            rules_date=label_case.import_date,
            destination_country=label.shipment.destination_country or None,
            refundable=(),
            refundable_total=Money.zero(label_case.currency),
            amounts_estimated=False,
            basis_confirmed=True,
            unconfirmed_points=(),
            export_date=label.expected_export_date,
            export_proven=False,
            export_deadline=None,
            filing_deadline=None,
            evidence=(),
            filing_reference="",
            warnings=label_case.warnings,
            return_reason=label_case.group.reason,
            item_condition=label_case.group.condition,
            skus=label_case.skus,
            tracking_number=label.tracking_number,
            created_at=now,
            updated_at=now,
        )
        entry = AuditEntry(1, now, ClaimStatus.NOT_ELIGIBLE, description, label_actor(label.label_id))
        return NewClaim(stored, (entry,))
