"""The durable tracking event log: append with deduplication, cursors in commit order, reads by cursor.

Cursor allocation. An autoincrement id is not enough: two PostgreSQL transactions can take ids 7 and 8 and
commit 8 first, and a reader of "cursor > 6" at that moment sees 8, moves on, and never sees 7. Here the
appending transaction first locks the single `tracking_log_head` row (`SELECT ... FOR UPDATE`), numbers its
new events from the head, and moves the head before committing. The next appender waits for that lock,
which PostgreSQL releases only once the commit is visible, so cursor order is commit order and a reader who
has seen cursor N can never later find a cursor below N appear. A rolled-back append moves no head, so the
log has no holes either: a consumer that received N + 2 but not N + 1 knows N + 1 is committed and reads it.
On SQLite the append runs in a `BEGIN IMMEDIATE` transaction (Database.write_sessions), which serialises
writers the same way; the row lock clause is simply not emitted there.

Deduplication happens under the same lock: keys already in the log are answered with their existing
cursor; the UNIQUE constraint on `dedup_key` stays as the last line of defence.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, select, update

from carriers.tracking import ExceptionReason, TrackingEvent, TrackingLocation, TrackingStatus
from service.storage.engine import Database
from service.tracking.milestones import MilestoneRules, ReturnMilestone, ReturnRoute, milestone_reached
from service.tracking.model import AppendResult, EventSource, IngestOutcome, LoggedEvent, PendingEvent
from service.tracking.selection import EventSelection
from service.tracking.tables import (
    CODE_LENGTH,
    LOCATION_PART_LENGTH,
    LOG_HEAD_ID,
    TrackedShipmentRow,
    TrackingEventRow,
    TrackingLogHeadRow,
)

_EVENTS = cast(Table, TrackingEventRow.__table__)
_SHIPMENTS = cast(Table, TrackedShipmentRow.__table__)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclasses.dataclass(slots=True)
class _ShipmentState:
    status: str
    substatus: str
    last_event_at: dt.datetime | None
    milestone: ReturnMilestone | None
    route: ReturnRoute
    changed: bool = False


class EventLog:
    def __init__(
        self, database: Database, rules: MilestoneRules, *, clock: Callable[[], dt.datetime] = _utc_now
    ) -> None:
        self._database = database
        self._rules = rules
        self._clock = clock

    async def append(self, pending: Sequence[PendingEvent]) -> tuple[list[AppendResult], list[LoggedEvent]]:
        """Store the new events in one transaction; one result per input, in input order, and the events
        stored (in cursor order). Returns only after the commit."""
        if not pending:
            return [], []
        recorded_at = self._clock()
        async with self._database.write_sessions() as session, session.begin():
            head = (
                await session.execute(
                    select(TrackingLogHeadRow.last_cursor)
                    .where(TrackingLogHeadRow.id == LOG_HEAD_ID)
                    .with_for_update()
                )
            ).scalar_one()
            keys = {item.id for item in pending}
            rows = await session.execute(
                select(TrackingEventRow.dedup_key, TrackingEventRow.cursor).where(
                    TrackingEventRow.dedup_key.in_(keys)
                )
            )
            known = {row.dedup_key: row.cursor for row in rows}
            states = await self._shipment_states(session, {item.shipment.id for item in pending})
            results: list[AppendResult] = []
            stored: list[LoggedEvent] = []
            for item in pending:
                existing = known.get(item.id)
                if existing is not None:
                    results.append(AppendResult(IngestOutcome.DUPLICATE, existing))
                    continue
                head += 1
                known[item.id] = head
                state = states[item.shipment.id]
                milestone = milestone_reached(state.milestone, item.event, state.route, self._rules)
                _advance(state, item.event, milestone)
                stored.append(
                    LoggedEvent(
                        cursor=head,
                        id=item.id,
                        merchant_id=item.shipment.merchant_id,
                        shipment_id=item.shipment.id,
                        label_id=item.shipment.label_id,
                        source=item.source,
                        recorded_at=recorded_at,
                        event=item.event,
                        milestone=milestone,
                        facility=item.facility,
                    )
                )
                results.append(AppendResult(IngestOutcome.ACCEPTED, head))
            if stored:
                await session.execute(_EVENTS.insert(), [_event_row(event) for event in stored])
                await self._save_states(session, states)
                await session.execute(
                    update(TrackingLogHeadRow)
                    .where(TrackingLogHeadRow.id == LOG_HEAD_ID)
                    .values(last_cursor=head)
                )
        return results, stored

    async def _shipment_states(self, session: Any, ids: set[str]) -> dict[str, _ShipmentState]:
        rows = await session.execute(
            select(
                TrackedShipmentRow.id,
                TrackedShipmentRow.status,
                TrackedShipmentRow.substatus,
                TrackedShipmentRow.last_event_at,
                TrackedShipmentRow.milestone,
                TrackedShipmentRow.route,
            ).where(TrackedShipmentRow.id.in_(ids))
        )
        states = {
            row.id: _ShipmentState(
                status=row.status,
                substatus=row.substatus,
                last_event_at=row.last_event_at,
                milestone=ReturnMilestone(row.milestone) if row.milestone else None,
                route=ReturnRoute(row.route),
            )
            for row in rows
        }
        missing = ids - states.keys()
        if missing:
            raise LookupError(f"tracked shipments not found: {sorted(missing)}")
        return states

    async def _save_states(self, session: Any, states: dict[str, _ShipmentState]) -> None:
        changed = [
            {
                "b_id": shipment_id,
                "status": state.status,
                "substatus": state.substatus,
                "last_event_at": state.last_event_at,
                "milestone": state.milestone.value if state.milestone else None,
                "final": TrackingStatus(state.status).is_final,
            }
            for shipment_id, state in states.items()
            if state.changed
        ]
        if not changed:
            return
        statement = (
            update(_SHIPMENTS)
            .where(_SHIPMENTS.c.id == bindparam("b_id"))
            .values(
                status=bindparam("status"),
                substatus=bindparam("substatus"),
                last_event_at=bindparam("last_event_at"),
                milestone=bindparam("milestone"),
                final=bindparam("final"),
            )
        )
        await session.execute(statement, changed)
        # A parcel that reached a final status is not polled again.
        finished = [item["b_id"] for item in changed if item["final"]]
        if finished:
            await session.execute(
                update(_SHIPMENTS).where(_SHIPMENTS.c.id.in_(finished)).values(next_poll_at=None)
            )

    async def head(self) -> int:
        """The last cursor committed."""
        async with self._database.sessions() as session:
            cursor = await session.scalar(
                select(TrackingLogHeadRow.last_cursor).where(TrackingLogHeadRow.id == LOG_HEAD_ID)
            )
        return int(cursor or 0)

    async def read(
        self, selection: EventSelection, after: int, limit: int, *, through: int | None = None
    ) -> list[LoggedEvent]:
        """Events of the selection with cursor > `after` (and <= `through`), oldest first, at most `limit`."""
        statement = select(_EVENTS).where(
            _EVENTS.c.merchant_id == selection.merchant_id, _EVENTS.c.cursor > after
        )
        if selection.label_ids:
            statement = statement.where(_EVENTS.c.label_id.in_(selection.label_ids))
        elif selection.tracking_numbers:
            statement = statement.where(_EVENTS.c.tracking_number.in_(selection.tracking_numbers))
        if through is not None:
            statement = statement.where(_EVENTS.c.cursor <= through)
        statement = statement.order_by(_EVENTS.c.cursor).limit(limit)
        async with self._database.sessions() as session:
            rows = (await session.execute(statement)).all()
        return [_logged_event(row) for row in rows]

    async def read_all(self, after: int, through: int, limit: int) -> list[LoggedEvent]:
        """Events of every merchant with `after` < cursor <= `through`, oldest first, at most `limit`."""
        statement = (
            select(_EVENTS)
            .where(_EVENTS.c.cursor > after, _EVENTS.c.cursor <= through)
            .order_by(_EVENTS.c.cursor)
            .limit(limit)
        )
        async with self._database.sessions() as session:
            rows = (await session.execute(statement)).all()
        return [_logged_event(row) for row in rows]

    async def history(self, shipment_id: str) -> list[LoggedEvent]:
        """Every event of one parcel, in cursor order."""
        statement = select(_EVENTS).where(_EVENTS.c.shipment_id == shipment_id).order_by(_EVENTS.c.cursor)
        async with self._database.sessions() as session:
            rows = (await session.execute(statement)).all()
        return [_logged_event(row) for row in rows]


def _advance(state: _ShipmentState, event: TrackingEvent, milestone: ReturnMilestone | None) -> None:
    """The parcel's state is its latest event by event time (a late-arriving old scan does not rewind it)."""
    if milestone is not None:
        state.milestone = milestone
        state.changed = True
    if state.last_event_at is None or event.occurred_at >= state.last_event_at:
        state.status = event.status.value
        state.substatus = event.substatus
        state.last_event_at = event.occurred_at
        state.changed = True


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[:length]


def _event_row(logged: LoggedEvent) -> dict[str, Any]:
    event = logged.event
    location = event.location
    return {
        "cursor": logged.cursor,
        "dedup_key": logged.id,
        "merchant_id": logged.merchant_id,
        "shipment_id": logged.shipment_id,
        "label_id": logged.label_id,
        "carrier_account_id": event.carrier,
        "tracking_number": event.tracking_number,
        "occurred_at": event.occurred_at,
        "recorded_at": logged.recorded_at,
        "status": event.status.value,
        "substatus": event.substatus,
        "code": _clip(event.code, CODE_LENGTH),
        "description": event.description,
        "location_city": _clip(location.city, LOCATION_PART_LENGTH),
        "location_region": _clip(location.region, LOCATION_PART_LENGTH),
        "location_postal_code": _clip(location.postal_code, LOCATION_PART_LENGTH),
        "location_country": _clip(location.country, 2),
        "location_facility": _clip(logged.facility, LOCATION_PART_LENGTH),
        "reason": event.reason.value if event.reason else None,
        "milestone": logged.milestone.value if logged.milestone else None,
        "source": logged.source.value,
        "raw": dict(event.raw),
    }


def _logged_event(row: Row[Any]) -> LoggedEvent:
    return LoggedEvent(
        cursor=row.cursor,
        id=row.dedup_key,
        merchant_id=row.merchant_id,
        shipment_id=row.shipment_id,
        label_id=row.label_id,
        source=EventSource(row.source),
        recorded_at=row.recorded_at,
        event=TrackingEvent(
            carrier=row.carrier_account_id,
            tracking_number=row.tracking_number,
            occurred_at=row.occurred_at,
            status=TrackingStatus(row.status),
            substatus=row.substatus,
            code=row.code,
            description=row.description,
            location=TrackingLocation(
                city=row.location_city,
                region=row.location_region,
                postal_code=row.location_postal_code,
                country=row.location_country,
            ),
            reason=ExceptionReason(row.reason) if row.reason else None,
            raw=row.raw,
        ),
        milestone=ReturnMilestone(row.milestone) if row.milestone else None,
        facility=row.location_facility,
    )
