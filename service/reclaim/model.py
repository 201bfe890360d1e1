"""Claims as the service stores them: the domain claim (customs.reclaim.ReclaimClaim) plus what ties it to a
merchant, a label and the goods it covers, the warnings it was recorded with, and its audit trail."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum

from customs.goods import ItemCondition, ReturnReason
from customs.money import Money
from customs.reclaim import (
    ClaimStatus,
    ComponentAmount,
    ExportEvidence,
    ReclaimClaim,
    ReclaimWarning,
)

TRACKING_ACTOR = "tracking"
EXPIRY_ACTOR = "expiry"
# An unstated condition counts as possibly used (common.proto, ItemCondition): no regime for unused goods.
UNSTATED_CONDITION = "the condition of the goods is not stated: they are treated as possibly used"


def label_actor(label_id: str) -> str:
    return f"label:{label_id}"


@dataclass(frozen=True, slots=True)
class RecordedEvidence:
    """Export evidence with the cursor of the tracking event it came from (0: not from the log)."""

    evidence: ExportEvidence
    cursor: int = 0


@dataclass(frozen=True, slots=True)
class AuditEntry:
    sequence: int
    at: dt.datetime
    status: ClaimStatus
    description: str
    actor: str
    evidence: RecordedEvidence | None = None
    tracking_cursor: int = 0  # of the tracking event that caused it; 0 when none did


@dataclass(frozen=True, slots=True)
class StoredClaim:
    id: str
    merchant_id: str
    label_id: str
    group_key: str  # "<return reason>/<condition>" of the items it covers
    regime_id: str | None  # None: a NOT_ELIGIBLE record
    status: ClaimStatus
    revision: int  # number of audit entries
    market: str
    import_country: str
    entry_number: str
    import_date: dt.date | None  # None only on a NOT_ELIGIBLE record whose order had no date
    debt_notified_on: dt.date | None
    rules_date: dt.date | None
    destination_country: str | None
    refundable: tuple[ComponentAmount, ...]
    refundable_total: Money
    amounts_estimated: bool
    basis_confirmed: bool
    unconfirmed_points: tuple[str, ...]
    export_date: dt.date | None
    export_proven: bool
    export_deadline: dt.date | None
    filing_deadline: dt.date | None
    evidence: tuple[RecordedEvidence, ...]
    filing_reference: str
    warnings: tuple[ReclaimWarning, ...]
    return_reason: ReturnReason
    item_condition: ItemCondition
    skus: tuple[str, ...]
    tracking_number: str
    created_at: dt.datetime
    updated_at: dt.datetime
    audit_trail: tuple[AuditEntry, ...] = ()  # loaded for listings, oldest first

    def domain(self) -> ReclaimClaim:
        """The claim for the pure transitions of customs.reclaim (history left empty: new entries are what
        a transition appends)."""
        if self.import_date is None or self.debt_notified_on is None or self.rules_date is None:
            raise ValueError(f"claim {self.id} has no import date: it cannot change")
        return ReclaimClaim(
            regime_id=self.regime_id,
            market=self.market,
            import_country=self.import_country,
            entry_number=self.entry_number,
            import_date=self.import_date,
            debt_notified_on=self.debt_notified_on,
            rules_date=self.rules_date,
            destination_country=self.destination_country,
            refundable=self.refundable,
            refundable_total=self.refundable_total,
            amounts_estimated=self.amounts_estimated,
            basis_confirmed=self.basis_confirmed,
            status=self.status,
            export_date=self.export_date,
            export_proven=self.export_proven,
            export_deadline=self.export_deadline,
            filing_deadline=self.filing_deadline,
            evidence=tuple(item.evidence for item in self.evidence),
            filing_reference=self.filing_reference,
        )


@dataclass(frozen=True, slots=True)
class ClaimChange:
    """A stored claim after a transition, and the audit entries the transition appends."""

    claim: StoredClaim
    entries: tuple[AuditEntry, ...]


def changed(
    stored: StoredClaim,
    after: ReclaimClaim,
    at: dt.datetime,
    actor: str,
    evidence: RecordedEvidence | None = None,
    cursor: int = 0,
) -> ClaimChange | None:
    """What a transition from `stored.domain()` to `after` changes; None when nothing did. `cursor`: the
    tracking event that caused it (default: the evidence's)."""
    known = {item.evidence for item in stored.evidence}
    trail = stored.evidence + tuple(
        evidence if evidence is not None and item == evidence.evidence else RecordedEvidence(item)
        for item in after.evidence
        if item not in known
    )
    entries = tuple(
        AuditEntry(
            sequence=stored.revision + index + 1,
            at=event.at,
            status=event.status,
            description=event.description,
            actor=actor,
            evidence=evidence,
            tracking_cursor=cursor or (evidence.cursor if evidence else 0),
        )
        for index, event in enumerate(after.history)
    )
    if not entries and len(trail) == len(stored.evidence):
        return None
    claim = replace(
        stored,
        status=after.status,
        revision=stored.revision + len(entries),
        export_date=after.export_date,
        export_proven=after.export_proven,
        export_deadline=after.export_deadline,
        filing_deadline=after.filing_deadline,
        evidence=trail,
        filing_reference=after.filing_reference,
        updated_at=at,
    )
    return ClaimChange(claim, entries)


class ClaimOrder(StrEnum):
    FILING_DEADLINE = "filing_deadline"  # nearest deadline first; claims without one last
    NEWEST = "newest"


@dataclass(frozen=True, slots=True)
class ClaimQuery:
    merchant_id: str
    statuses: frozenset[ClaimStatus] = frozenset()  # empty: every status
    deadline_on_or_before: dt.date | None = None
    label_id: str = ""
    order: ClaimOrder = ClaimOrder.FILING_DEADLINE


@dataclass(frozen=True, slots=True)
class ClaimPage:
    claims: tuple[StoredClaim, ...]
    next_after: tuple[str, str] | None  # keyset of the last claim (sort value, id) when more follow
