"""The durable tracking event log: append with deduplication, cursors in commit order, reads by cursor.

Cursor allocation. An autoincrement id is not enough: two PostgreSQL transactions can take ids 7 and 8 and
commit 8 first, and a reader of "cursor > 6" at that moment sees 8, moves on, and never sees 7. Here the
appending transaction moves the single `tracking_log_head` row (`UPDATE ... SET last_cursor = last_cursor +
n RETURNING last_cursor`) and numbers its n new events below the new head. That UPDATE holds the row lock
until the transaction ends, and the next appender waits for it; PostgreSQL releases it only once the commit
is visible, so cursor order is commit order, and a reader who has seen cursor N never later finds a cursor
below N appear. A rolled-back append moves no head, so the log has no holes either: a consumer that received
N + 2 but not N + 1 knows N + 1 is committed and reads it. On SQLite the append runs in a `BEGIN IMMEDIATE`
transaction, which serialises writers the same way.

Deduplication. Keys already in the log are looked up first and answered with their existing cursor. Two
appenders racing with the same new event both miss it there; the UNIQUE constraint on `dedup_key` stops the
second, whose transaction rolls back (moving no head) and is retried, and then finds the event.

The append is the hot path of every ingestion: its statements are SQLAlchemy Core on a plain connection
(the ORM's per-statement bookkeeping cost more than the statements), written once as a synchronous
transaction and run through `AsyncConnection.run_sync` on PostgreSQL and in the appender's own thread on
SQLite (see sqlite_appender.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, select
from sqlalchemy.exc import IntegrityError

from carriers.tracking import ExceptionReason, TrackingEvent, TrackingLocation, TrackingStatus
from service.storage.engine import Database
from service.tracking.log_statements import EVENTS, HEAD, CoreLogStatements, LogStatements
from service.tracking.milestones import MilestoneRules, ReturnMilestone, ReturnRoute, milestone_reached
from service.tracking.model import AppendResult, EventSource, IngestOutcome, LoggedEvent, PendingEvent
from service.tracking.selection import EventSelection
from service.tracking.sqlite_appender import SqliteAppender
from service.tracking.tables import (
    CODE_LENGTH,
    LOCATION_PART_LENGTH,
    LOG_HEAD_ID,
)

_EVENTS = EVENTS
_E = EVENTS.c
_READ_HEAD = select(HEAD.c.last_cursor).where(HEAD.c.id == LOG_HEAD_ID)
# Attempts of an append that lost a deduplication race (see the module docstring).
_APPEND_ATTEMPTS = 3


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclasses.dataclass(slots=True)
class _ShipmentState:
    merchant_id: str
    label_id: str | None
    status: str
    substatus: str
    last_event_at: dt.datetime | None
    milestone: ReturnMilestone | None
    route: ReturnRoute
    changed: bool = False

    @property
    def final(self) -> bool:
        return TrackingStatus(self.status).is_final


class EventLog:
    def __init__(
        self, database: Database, rules: MilestoneRules, *, clock: Callable[[], dt.datetime] = _utc_now
    ) -> None:
        self._database = database
        self._rules = rules
        self._clock = clock
        self._sqlite: SqliteAppender | None = None  # opened by the first append on SQLite

    def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None

    async def append(self, pending: Sequence[PendingEvent]) -> tuple[list[AppendResult], list[LoggedEvent]]:
        """Store the new events in one transaction; one result per input, in input order, and the events
        stored (in cursor order). Returns only after the commit.

        The parcel's merchant, label and route are read under the log lock, so an event is always stored
        with the label its parcel has at that moment, whatever the caller's copy of the parcel says.
        """
        if not pending:
            return [], []
        for attempt in range(1, _APPEND_ATTEMPTS + 1):
            append = functools.partial(self._append_once, pending=pending, recorded_at=self._clock())
            try:
                if self._database.backend == "sqlite":
                    if self._sqlite is None:
                        self._sqlite = SqliteAppender(self._database.url)
                    return await self._sqlite.run(append)
                async with self._database.writer_engine().begin() as connection:
                    return await connection.run_sync(_with_core_statements, append)
            except IntegrityError:
                if attempt == _APPEND_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _append_once(
        self, statements: LogStatements, pending: Sequence[PendingEvent], recorded_at: dt.datetime
    ) -> tuple[list[AppendResult], list[LoggedEvent]]:
        """The append transaction (synchronous: see sqlite_appender.py and `append`)."""
        known = statements.known_keys(list({item.id for item in pending}))
        fresh = list({item.id: item for item in pending if item.id not in known}.values())
        if not fresh:
            return [AppendResult(IngestOutcome.DUPLICATE, known[item.id]) for item in pending], []
        head = statements.advance_head(len(fresh)) - len(fresh)
        states = _shipment_states(statements, {item.shipment.id for item in fresh})
        stored: list[LoggedEvent] = []
        for item in fresh:
            head += 1
            known[item.id] = head
            state = states[item.shipment.id]
            milestone = milestone_reached(state.milestone, item.event, state.route, self._rules)
            _advance(state, item.event, milestone)
            stored.append(
                LoggedEvent(
                    cursor=head,
                    id=item.id,
                    merchant_id=state.merchant_id,
                    shipment_id=item.shipment.id,
                    label_id=state.label_id,
                    source=item.source,
                    recorded_at=recorded_at,
                    event=item.event,
                    milestone=milestone,
                    facility=item.facility,
                )
            )
        statements.insert_events([_event_row(event) for event in stored])
        _save_states(statements, states)
        fresh_ids = {event.id for event in stored}
        results = []
        for item in pending:
            outcome = IngestOutcome.ACCEPTED if item.id in fresh_ids else IngestOutcome.DUPLICATE
            fresh_ids.discard(item.id)  # a second copy in the same batch is a duplicate of the first
            results.append(AppendResult(outcome, known[item.id]))
        return results, stored

    async def head(self) -> int:
        """The last cursor committed."""
        async with self._database.engine.connect() as connection:
            cursor = await connection.scalar(_READ_HEAD)
        return int(cursor or 0)

    async def read(
        self, selection: EventSelection, after: int, limit: int, *, through: int | None = None
    ) -> list[LoggedEvent]:
        """Events of the selection with cursor > `after` (and <= `through`), oldest first, at most `limit`."""
        statement = select(_EVENTS).where(_E.merchant_id == selection.merchant_id, _E.cursor > after)
        if selection.label_ids:
            statement = statement.where(_E.label_id.in_(selection.label_ids))
        elif selection.tracking_numbers:
            statement = statement.where(_E.tracking_number.in_(selection.tracking_numbers))
        if through is not None:
            statement = statement.where(_E.cursor <= through)
        return await self._events(statement.order_by(_E.cursor).limit(limit))

    async def read_all(
        self, after: int, through: int, limit: int, *, where: ColumnElement[bool] | None = None
    ) -> list[LoggedEvent]:
        """Events of every merchant with `after` < cursor <= `through`, oldest first, at most `limit`;
        `where`, a condition on the columns of `log_statements.EVENTS`, narrows them further."""
        statement = select(_EVENTS).where(_E.cursor > after, _E.cursor <= through)
        if where is not None:
            statement = statement.where(where)
        return await self._events(statement.order_by(_E.cursor).limit(limit))

    async def history(self, shipment_id: str) -> list[LoggedEvent]:
        """Every event of one parcel, in cursor order."""
        return await self._events(select(_EVENTS).where(_E.shipment_id == shipment_id).order_by(_E.cursor))

    async def _events(self, statement: Select[Any]) -> list[LoggedEvent]:
        async with self._database.engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return [_logged_event(row) for row in rows]


_Appended = tuple[list[AppendResult], list[LoggedEvent]]


def _with_core_statements(connection: Connection, append: Callable[[LogStatements], _Appended]) -> _Appended:
    return append(CoreLogStatements(connection))


def _shipment_states(statements: LogStatements, ids: set[str]) -> dict[str, _ShipmentState]:
    rows = statements.shipment_states(list(ids))
    states = {
        row.id: _ShipmentState(
            merchant_id=row.merchant_id,
            label_id=row.label_id,
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


def _save_states(statements: LogStatements, states: dict[str, _ShipmentState]) -> None:
    changed = [
        {
            "b_id": shipment_id,
            "status": state.status,
            "substatus": state.substatus,
            "last_event_at": state.last_event_at,
            "milestone": state.milestone.value if state.milestone else None,
            "final": state.final,
        }
        for shipment_id, state in states.items()
        if state.changed
    ]
    if not changed:
        return
    statements.save_states(changed)
    # A parcel that reached a final status is not polled again.
    finished = [shipment_id for shipment_id, state in states.items() if state.changed and state.final]
    if finished:
        statements.stop_polling(finished)


def _advance(state: _ShipmentState, event: TrackingEvent, milestone: ReturnMilestone | None) -> None:
    """The parcel's state is its latest event by event time (a late-arriving old scan does not rewind it)
    whose status is known."""
    if milestone is not None:
        state.milestone = milestone
        state.changed = True
    if state.last_event_at is None or event.occurred_at >= state.last_event_at:
        # A scan the carrier's table could not map says nothing about where the parcel is.
        if event.status is not TrackingStatus.UNKNOWN or state.status == TrackingStatus.UNKNOWN.value:
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
