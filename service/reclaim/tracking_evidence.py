"""Applying tracking evidence of export to the claims, from the durable tracking log.

The claims follow the log itself, not the bus: `reclaim_tracking_position` holds the cursor up to which
events have been applied, and it moves in the same transaction as the claims the events changed. So an
event is applied once even with several replicas (they take turns on the position row and a replica that
finds it moved starts again from the new position), and none is missed when a replica dies between a
commit and its bus publication. The bus only says when to look (see runtime.py).

Only the events of labels that have an open claim are read: the others change nothing, and most parcels
have no claim (or none still open). A claim recorded after some of its label's events were logged replays
them (`replay_label`, which reads the log after the claim is committed), so the follower may skip a label
whose claim is recorded after its read; applying the same evidence twice changes nothing, so the replay
and the follower may both see an event.
"""

from __future__ import annotations

from customs.reclaim import RegimeBook
from service.logging import get_logger
from service.reclaim.export_evidence import changes_for_events
from service.reclaim.repository import ClaimRepository, StaleClaim
from service.tracking.event_log import EventLog
from service.tracking.log_statements import EVENTS
from service.tracking.model import LoggedEvent
from service.tracking.selection import EventSelection

log = get_logger("backhaul.reclaim.tracking")

PAGE_EVENTS = 500
LABEL_HISTORY_LIMIT = 10_000


class TrackingEvidence:
    def __init__(
        self,
        repository: ClaimRepository,
        event_log: EventLog,
        regimes: RegimeBook,
        *,
        page_events: int = PAGE_EVENTS,
    ) -> None:
        self._repository = repository
        self._log = event_log
        self._regimes = regimes
        self._page = page_events
        self._claimed = repository.has_open_claim(EVENTS.c.merchant_id, EVENTS.c.label_id)

    async def catch_up(self) -> int:
        """Apply every event logged after the position; the number of claims changed."""
        changed = 0
        while True:
            position = await self._repository.tracking_position()
            head = await self._log.head()
            if position >= head:
                return changed
            events = await self._log.read_all(position, head, self._page, where=self._claimed)
            # A short page is every claimed label's events through the head.
            through = events[-1].cursor if len(events) == self._page else head
            try:
                applied = await self._apply_page(position, through, events)
            except StaleClaim:
                continue  # a claim changed under us (a label replay): read it again
            if applied is None:
                continue  # another replica moved the position first
            changed += applied

    async def _apply_page(self, position: int, through: int, events: list[LoggedEvent]) -> int | None:
        async with self._repository.transaction() as transaction:
            if await transaction.lock_tracking_position() != position:
                return None
            labels = {(e.merchant_id, e.label_id) for e in events if e.label_id is not None}
            claims = await transaction.open_claims_of_labels(labels)
            changes = changes_for_events(claims, events, self._regimes)
            await transaction.save(changes)
            await transaction.move_tracking_position(through)
        return len(changes)

    async def replay_label(self, merchant_id: str, label_id: str) -> int:
        """Apply the events already logged for a label to its open claims; the number of claims changed."""
        selection = EventSelection(merchant_id, label_ids=frozenset({label_id}))
        events = await self._log.read(selection, 0, LABEL_HISTORY_LIMIT)
        if not events:
            return 0
        for _ in range(3):
            try:
                async with self._repository.transaction() as transaction:
                    claims = await transaction.open_claims_of_labels({(merchant_id, label_id)})
                    changes = changes_for_events(claims, events, self._regimes)
                    await transaction.save(changes)
                return len(changes)
            except StaleClaim:
                continue
        log.warning("reclaim.label_replay_contended", label_id=label_id)
        return 0
