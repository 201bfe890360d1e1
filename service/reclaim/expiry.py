"""Expiring claims whose window closed: a filing deadline before the given day, or goods not exported by
their export deadline. Run periodically for every merchant (runtime.py) and for one merchant before its
claims are listed, so a listing never shows an open claim whose deadline has passed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from customs.reclaim import expire_overdue
from service.reclaim.model import EXPIRY_ACTOR, changed
from service.reclaim.repository import ClaimRepository

BATCH = 200


class ClaimExpiry:
    def __init__(self, repository: ClaimRepository, clock: Callable[[], dt.datetime]) -> None:
        self._repository = repository
        self._clock = clock

    async def expire_overdue(self, on: dt.date, merchant_id: str | None = None) -> int:
        """Expire the open claims overdue on `on` (of one merchant, or all); the number expired."""
        expired = 0
        while True:
            now = self._clock()
            async with self._repository.transaction() as transaction:
                candidates = await transaction.overdue_candidates(on, merchant_id, BATCH)
                changes = [
                    change
                    for stored in candidates
                    if (
                        change := changed(stored, expire_overdue(stored.domain(), on, now), now, EXPIRY_ACTOR)
                    )
                ]
                await transaction.save(changes)
            expired += len(changes)
            if len(candidates) < BATCH or not changes:
                return expired
