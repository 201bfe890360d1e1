"""Reclaim claims and their lifecycle, as pure functions over immutable values.

A claim is recorded per regime of the best option when a cross-border return label is bought (ESTIMATED, or
READY_TO_FILE for regimes that need no export). Tracking evidence moves it on: a first carrier scan means the
goods are on their way (AWAITING_EXPORT); departure from the import country, or arrival at a returns hub
outside it, proves the export and fixes the export date, from which the filing deadline follows
(READY_TO_FILE), unless a deadline has already passed by the date of the evidence (EXPIRED). Dates come from
the evidence, never from today's date. Every change is appended to the claim's history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum

from customs.money import Money
from customs.reclaim.assessment import ComponentAmount, ReclaimAssessment, RegimeAssessment, WarningCode
from customs.reclaim.book import RegimeBook
from customs.reclaim.case import ReclaimCase
from customs.reclaim.regime import Regime
from customs.reclaim.timelimits import Anchor, LimitScope
from customs.territories import customs_territory


class ClaimStatus(StrEnum):
    ESTIMATED = "estimated"  # recorded with the label; the goods have not moved yet
    AWAITING_EXPORT = "awaiting_export"  # the carrier has the goods; they have not left the country yet
    READY_TO_FILE = "ready_to_file"
    FILED = "filed"
    EXPIRED = "expired"
    NOT_ELIGIBLE = "not_eligible"
    CANCELLED = "cancelled"  # label voided or parcel never sent


OPEN_STATUSES = frozenset({ClaimStatus.ESTIMATED, ClaimStatus.AWAITING_EXPORT, ClaimStatus.READY_TO_FILE})


class ExportMilestone(StrEnum):
    FIRST_SCAN = "first_scan"
    DEPARTED_COUNTRY = "departed_country"
    ARRIVED_AT_HUB = "arrived_at_hub"


class ClaimTransitionError(ValueError):
    """A change the claim's status does not allow (e.g. filing an expired claim)."""


@dataclass(frozen=True, slots=True)
class ExportEvidence:
    milestone: ExportMilestone
    occurred_at: dt.datetime  # timezone-aware; its local date is the date of the event
    country: str | None = None  # where the scan happened (the hub's country on arrival)
    reference: str = ""  # tracking number or event id

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise ValueError("export evidence needs a timezone-aware timestamp")

    @property
    def day(self) -> dt.date:
        return self.occurred_at.date()


@dataclass(frozen=True, slots=True)
class ClaimEvent:
    at: dt.datetime
    status: ClaimStatus
    description: str


@dataclass(frozen=True, slots=True)
class ReclaimClaim:
    regime_id: str | None  # None for a NOT_ELIGIBLE record
    market: str
    import_country: str
    entry_number: str
    import_date: dt.date
    debt_notified_on: dt.date
    rules_date: dt.date  # the case date that selected the regime version
    destination_country: str | None
    refundable: tuple[ComponentAmount, ...]
    refundable_total: Money
    amounts_estimated: bool
    basis_confirmed: bool
    status: ClaimStatus
    export_date: dt.date | None  # expected until `export_proven`
    export_proven: bool
    export_deadline: dt.date | None
    filing_deadline: dt.date | None
    evidence: tuple[ExportEvidence, ...] = ()
    history: tuple[ClaimEvent, ...] = ()
    filing_reference: str = ""

    def _moved(self, status: ClaimStatus, at: dt.datetime, description: str) -> ReclaimClaim:
        event = ClaimEvent(at, status, description)
        return replace(self, status=status, history=(*self.history, event))


def claims_from_assessment(
    assessment: ReclaimAssessment,
    case: ReclaimCase,
    at: dt.datetime,
    destination_country: str | None = None,
) -> tuple[ReclaimClaim, ...]:
    """The claims to record for a return: one per regime of the best option, or one NOT_ELIGIBLE record."""
    entry, details = case.import_entry, case.return_details

    def record(
        regime_id: str | None,
        rules_date: dt.date,
        status: ClaimStatus,
        description: str,
        regime: RegimeAssessment | None,
    ) -> ReclaimClaim:
        return ReclaimClaim(
            regime_id=regime_id,
            market=assessment.market,
            import_country=entry.country,
            entry_number=entry.entry_number,
            import_date=entry.import_date,
            debt_notified_on=case.debt_notified_on,
            rules_date=rules_date,
            destination_country=destination_country,
            refundable=regime.refundable if regime else (),
            refundable_total=regime.refundable_total if regime else Money.zero(entry.currency),
            amounts_estimated=assessment.estimated,
            basis_confirmed=regime.basis_confirmed if regime else assessment.basis_confirmed,
            status=status,
            export_date=details.export_date,
            export_proven=details.proof_of_export is not None and not details.export_expected,
            export_deadline=regime.export_deadline if regime else None,
            filing_deadline=regime.filing_deadline if regime else None,
            history=(ClaimEvent(at, status, description),),
        )

    if not assessment.best:
        reasons = [w.message for w in assessment.warnings if w.code is WarningCode.NO_ELIGIBLE_REGIME]
        description = "; ".join(reasons) or "no reclaim regime applies"
        return (record(None, entry.import_date, ClaimStatus.NOT_ELIGIBLE, description, None),)
    claims: list[ReclaimClaim] = []
    for regime_id in assessment.best:
        regime_assessment = assessment.regime(regime_id)
        regime = regime_assessment.regime
        rules_date = entry.import_date if regime.selected_by is Anchor.IMPORT_DATE else details.export_date
        status, description = _initial_status(regime, regime_assessment, case, destination_country)
        claims.append(record(regime_id, rules_date, status, description, regime_assessment))
    return tuple(claims)


def _initial_status(
    regime: Regime, assessment: RegimeAssessment, case: ReclaimCase, destination: str | None
) -> tuple[ClaimStatus, str]:
    entry, details = case.import_entry, case.return_details
    total = assessment.refundable_total.rounded()
    if not regime.export_required:
        return (
            ClaimStatus.READY_TO_FILE,
            f"{regime.name}: {total} refundable, no export needed; "
            f"file by {_day(assessment.filing_deadline)}",
        )
    territory = customs_territory(entry.country, entry.import_date)
    if destination is not None and customs_territory(destination, details.export_date) == territory:
        return (
            ClaimStatus.NOT_ELIGIBLE,
            f"the return goes to {destination}, inside {territory}: the goods do not leave",
        )
    if details.proof_of_export is not None and not details.export_expected:
        return ClaimStatus.READY_TO_FILE, (
            f"{regime.name}: exported on {details.export_date.isoformat()} "
            f"({details.proof_of_export.kind.value} {details.proof_of_export.reference}); "
            f"{total} refundable; file by {_day(assessment.filing_deadline)}"
        )
    return ClaimStatus.ESTIMATED, f"{regime.name}: {total} estimated refundable once the goods leave"


def _day(day: dt.date | None) -> str:
    return day.isoformat() if day else "no deadline on file"


def _deadlines(
    claim: ReclaimClaim, regime: Regime, export_date: dt.date
) -> tuple[dt.date | None, dt.date | None]:
    anchors = {
        Anchor.IMPORT_DATE: claim.import_date,
        Anchor.IMPORT_PERMIT: claim.import_date,
        Anchor.DEBT_NOTIFICATION: claim.debt_notified_on,
        Anchor.EXPORT_DATE: export_date,
    }
    export_limits = list(regime.limits(LimitScope.EXPORT))
    if regime.export_required and not regime.claim_before_export:
        export_limits += [
            limit for limit in regime.limits(LimitScope.CLAIM) if limit.anchor is not Anchor.EXPORT_DATE
        ]
    export_deadline = min((limit.last_day(anchors[limit.anchor]) for limit in export_limits), default=None)
    filing_deadline = min(
        (limit.last_day(anchors[limit.anchor]) for limit in regime.limits(LimitScope.CLAIM)), default=None
    )
    return export_deadline, filing_deadline


def _proves_export(claim: ReclaimClaim, evidence: ExportEvidence) -> bool:
    if evidence.milestone is ExportMilestone.DEPARTED_COUNTRY:
        return True
    if evidence.milestone is ExportMilestone.ARRIVED_AT_HUB:
        hub = evidence.country or claim.destination_country
        return hub is not None and customs_territory(hub, evidence.day) != claim.market
    return False


def _export_date(claim: ReclaimClaim, evidence: tuple[ExportEvidence, ...]) -> dt.date | None:
    """The departure date when known, else the date of arrival at a hub abroad (the latest the export can
    have been)."""
    departures = [e.day for e in evidence if e.milestone is ExportMilestone.DEPARTED_COUNTRY]
    if departures:
        return min(departures)
    arrivals = [e.day for e in evidence if _proves_export(claim, e)]
    return min(arrivals, default=None)


def apply_export_evidence(claim: ReclaimClaim, evidence: ExportEvidence, rules: RegimeBook) -> ReclaimClaim:
    """The claim after one piece of tracking evidence. Repeated evidence changes nothing; evidence for a
    claim that is no longer open is kept in its evidence trail without changing its status."""
    if evidence in claim.evidence:
        return claim
    trail = (*claim.evidence, evidence)
    claim = replace(claim, evidence=trail)
    if claim.status not in OPEN_STATUSES or claim.regime_id is None:
        return claim
    regime = rules.version_on(claim.regime_id, claim.rules_date)
    if regime is None:
        raise LookupError(f"regime {claim.regime_id} is not in force on {claim.rules_date.isoformat()}")
    if not regime.export_required:
        return claim
    at, day = evidence.occurred_at, evidence.day
    event = f"{evidence.milestone.value}" + (f" in {evidence.country}" if evidence.country else "")
    export_date = _export_date(claim, trail)
    if export_date is None:
        if claim.export_deadline is not None and day > claim.export_deadline:
            return claim._moved(
                ClaimStatus.EXPIRED,
                at,
                f"{event} on {day.isoformat()}: the goods had not left by the last day "
                f"{claim.export_deadline.isoformat()}",
            )
        if claim.status is ClaimStatus.ESTIMATED:
            return claim._moved(
                ClaimStatus.AWAITING_EXPORT, at, f"{event} on {day.isoformat()}: the goods are on their way"
            )
        return claim
    unchanged = (
        claim.status is ClaimStatus.READY_TO_FILE and claim.export_proven and claim.export_date == export_date
    )
    export_deadline, filing_deadline = _deadlines(claim, regime, export_date)
    claim = replace(
        claim,
        export_date=export_date,
        export_proven=True,
        export_deadline=export_deadline,
        filing_deadline=filing_deadline,
    )
    if export_deadline is not None and export_date > export_deadline:
        return claim._moved(
            ClaimStatus.EXPIRED,
            at,
            f"exported on {export_date.isoformat()}, after the last day {export_deadline.isoformat()}",
        )
    if filing_deadline is not None and day > filing_deadline:
        return claim._moved(
            ClaimStatus.EXPIRED,
            at,
            f"{event} on {day.isoformat()} is after the filing deadline {filing_deadline.isoformat()}",
        )
    if unchanged:
        return claim
    verb = "export date corrected" if claim.status is ClaimStatus.READY_TO_FILE else "export evidenced"
    return claim._moved(
        ClaimStatus.READY_TO_FILE,
        at,
        f"{event} on {day.isoformat()}: {verb}, exported on {export_date.isoformat()}; "
        f"file by {_day(filing_deadline)}",
    )


def expire_overdue(claim: ReclaimClaim, on: dt.date, at: dt.datetime) -> ReclaimClaim:
    """EXPIRED when `on` is past the claim's filing deadline (or, before export, its export deadline)."""
    if claim.status not in OPEN_STATUSES:
        return claim
    if claim.filing_deadline is not None and on > claim.filing_deadline:
        return claim._moved(
            ClaimStatus.EXPIRED, at, f"not filed by the deadline {claim.filing_deadline.isoformat()}"
        )
    if not claim.export_proven and claim.export_deadline is not None and on > claim.export_deadline:
        return claim._moved(
            ClaimStatus.EXPIRED,
            at,
            f"the goods had not left by the last day {claim.export_deadline.isoformat()}",
        )
    return claim


def mark_filed(claim: ReclaimClaim, at: dt.datetime, reference: str) -> ReclaimClaim:
    if claim.status is not ClaimStatus.READY_TO_FILE:
        raise ClaimTransitionError(
            f"only a claim ready to file can be filed, this one is {claim.status.value}"
        )
    if claim.filing_deadline is not None and at.date() > claim.filing_deadline:
        raise ClaimTransitionError(f"the filing deadline {claim.filing_deadline.isoformat()} has passed")
    return replace(claim, filing_reference=reference)._moved(
        ClaimStatus.FILED, at, f"filed, reference {reference}"
    )


def cancel_claim(claim: ReclaimClaim, at: dt.datetime, reason: str) -> ReclaimClaim:
    if claim.status not in OPEN_STATUSES:
        raise ClaimTransitionError(f"a {claim.status.value} claim cannot be cancelled")
    return claim._moved(ClaimStatus.CANCELLED, at, reason)
