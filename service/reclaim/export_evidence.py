"""What a tracking event proves about the export of a return, and how it moves the label's claims.

- arrival at the returns hub (or delivery to the merchant on a direct route) is ARRIVED_AT_HUB, with the
  scan's country (the domain proves the export when the hub lies outside the import market);
- any other scan in the carrier's hands outside the import market's customs territory is
  DEPARTED_COUNTRY: the goods left on or before that day;
- the first scan (the DROPPED_OFF milestone) inside the market is FIRST_SCAN: the goods are on their way;
- a parcel returned to the sender, or cancelled (its label voided) before it left, takes its open claims
  with it: they are cancelled.

Pure functions; the transitions themselves are customs.reclaim's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from carriers.tracking import TrackingStatus
from customs.countries import UnknownCountry
from customs.reclaim import (
    OPEN_STATUSES,
    ExportEvidence,
    ExportMilestone,
    RegimeBook,
    apply_export_evidence,
    cancel_claim,
)
from customs.territories import customs_territory
from service.reclaim.model import TRACKING_ACTOR, ClaimChange, RecordedEvidence, StoredClaim, changed
from service.tracking.milestones import ReturnMilestone
from service.tracking.model import LoggedEvent

_ARRIVALS = frozenset({ReturnMilestone.ARRIVED_AT_HUB, ReturnMilestone.DELIVERED_TO_MERCHANT})
_NOT_IN_CARRIER_HANDS = frozenset(
    {
        TrackingStatus.PRE_TRANSIT,
        TrackingStatus.UNKNOWN,
        TrackingStatus.CANCELLED,
        TrackingStatus.RETURNED_TO_SENDER,
    }
)


def _territory(country: str, on: dt.date) -> str | None:
    try:
        return customs_territory(country, on)
    except UnknownCountry:
        return None  # a carrier's unreadable country proves nothing


def export_evidence_of(logged: LoggedEvent, market: str) -> ExportEvidence | None:
    """The export evidence in one tracking event for a claim of `market`, or None when it shows none."""
    event = logged.event
    country = event.location.country.strip().upper() or None
    occurred_at = event.occurred_at

    def evidence(milestone: ExportMilestone) -> ExportEvidence:
        return ExportEvidence(milestone, occurred_at, country, event.tracking_number)

    if logged.milestone in _ARRIVALS:
        return evidence(ExportMilestone.ARRIVED_AT_HUB)
    if event.status in _NOT_IN_CARRIER_HANDS:
        return None
    if country is not None:
        territory = _territory(country, occurred_at.date())
        if territory is not None and territory != market:
            return evidence(ExportMilestone.DEPARTED_COUNTRY)
    if logged.milestone is ReturnMilestone.DROPPED_OFF:
        return evidence(ExportMilestone.FIRST_SCAN)
    return None


def claim_after_event(stored: StoredClaim, logged: LoggedEvent, rules: RegimeBook) -> ClaimChange | None:
    """The change one tracking event makes to an open claim, if any."""
    if stored.status not in OPEN_STATUSES:
        return None
    event = logged.event
    on = event.occurred_at.date().isoformat()
    description = ""
    if event.status is TrackingStatus.RETURNED_TO_SENDER:
        description = f"the carrier returned parcel {event.tracking_number} to the customer on {on}"
    elif event.status is TrackingStatus.CANCELLED and not stored.export_proven:
        description = f"the carrier cancelled parcel {event.tracking_number} on {on} (label voided)"
    if description:
        after = cancel_claim(stored.domain(), event.occurred_at, f"{description}: the goods did not leave")
        return changed(stored, after, logged.recorded_at, TRACKING_ACTOR, cursor=logged.cursor)
    evidence = export_evidence_of(logged, stored.market)
    if evidence is None:
        return None
    after = apply_export_evidence(stored.domain(), evidence, rules)
    return changed(
        stored, after, logged.recorded_at, TRACKING_ACTOR, RecordedEvidence(evidence, logged.cursor)
    )


def merge(first: ClaimChange | None, second: ClaimChange | None) -> ClaimChange | None:
    """Two successive changes of one claim as one (the second computed from the first's claim)."""
    if first is None or second is None:
        return second or first
    return ClaimChange(second.claim, first.entries + second.entries)


def changes_for_events(
    claims: Iterable[StoredClaim], events: Sequence[LoggedEvent], rules: RegimeBook
) -> list[ClaimChange]:
    """Every claim after the events of its label, in log order; only claims that changed."""
    by_label: dict[tuple[str, str | None], list[LoggedEvent]] = {}
    for logged in events:
        by_label.setdefault((logged.merchant_id, logged.label_id), []).append(logged)
    changes: list[ClaimChange] = []
    for claim in claims:
        total: ClaimChange | None = None
        current = claim
        for logged in by_label.get((claim.merchant_id, claim.label_id), ()):
            step = claim_after_event(current, logged, rules)
            if step is not None:
                total = merge(total, step)
                current = step.claim
        if total is not None:
            changes.append(total)
    return changes
