"""The reclaim claims of one return label, as LabelsService sees them: the estimate a label carries
(`ReturnLabel.reclaim_estimate`, label_summary.py), and their cancellation when the label is voided.

A voided label cancels its open claims at once: the goods will not leave with it, and many carriers never
send a CANCELLED scan for an unused label (the tracking path, export_evidence.py, cancels on one when they
do). A claim whose export is already proven is left alone, as there.
"""

from __future__ import annotations

import datetime as dt

from customs.reclaim import OPEN_STATUSES, cancel_claim
from service.logging import get_logger
from service.reclaim.label_summary import LabelReclaimSummary, summarize
from service.reclaim.model import ClaimChange, changed, label_actor
from service.reclaim.repository import ClaimRepository

log = get_logger("backhaul.reclaim.labels")


class LabelClaims:
    def __init__(self, claims: ClaimRepository) -> None:
        self._claims = claims

    async def of_label(self, merchant_id: str, label_id: str) -> LabelReclaimSummary | None:
        return summarize(await self._claims.claims_of_label(merchant_id, label_id))

    async def label_voided(self, merchant_id: str, label_id: str, at: dt.datetime, reason: str) -> int:
        """Cancel the label's open claims; how many were cancelled."""
        async with self._claims.transaction() as transaction:
            changes: list[ClaimChange] = []
            for stored in await transaction.claims_of_label(merchant_id, label_id):
                if stored.status not in OPEN_STATUSES or stored.export_proven:
                    continue
                change = changed(stored, cancel_claim(stored.domain(), at, reason), at, label_actor(label_id))
                if change is not None:
                    changes.append(change)
            await transaction.save(changes)
        if changes:
            log.info("reclaim.claims_cancelled", label_id=label_id, claims=len(changes))
        return len(changes)
