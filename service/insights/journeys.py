"""The journey projection: keeps each return leg's journey columns in step with the tracking log, in SQL.

The comparison aggregates one row per label instead of every event on every call. The rows are kept up to
date three ways, each an UPDATE .. FROM over the labels' own events (comparison_queries.refresh_journeys),
which recomputes a label's journey from all its events, so running it twice or out of order changes
nothing:
- when legs are recorded, for those labels (their events may have come first);
- `catch_up`: for the labels with events in the log after `return_leg_journey_position`, in batches of
  cursors, moving the position in the same transaction. The position row is locked (FOR UPDATE on
  PostgreSQL; BEGIN IMMEDIATE on SQLite), so replicas take turns;
- voids: legs whose labels `return_labels` shows voided are marked in the same pass.
A background task runs `catch_up` every `interval_seconds`; CompareCarriers reads what the last run wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.insights.comparison_queries import labels_with_events, mark_voided, refresh_journeys
from service.insights.tables import JOURNEY_POSITION_ID, JourneyPositionRow, ReturnLegRow
from service.storage.engine import Database
from service.tracking.tables import LOG_HEAD_ID, TrackingLogHeadRow

_log = logging.getLogger(__name__)

_LEGS = cast(Table, ReturnLegRow.__table__)
_POSITION = cast(Table, JourneyPositionRow.__table__)
_HEAD = cast(Table, TrackingLogHeadRow.__table__)
# Log cursors handled per transaction.
CURSORS_PER_BATCH = 5_000


async def refresh_labels(session: AsyncSession, label_ids: Sequence[str]) -> None:
    """Recompute the journeys (and voids) of these labels' legs, inside the caller's transaction."""
    if not label_ids:
        return
    chosen = select(_LEGS.c.label_id).where(_LEGS.c.label_id.in_(list(label_ids)))
    await session.execute(refresh_journeys(session.get_bind().dialect.name, chosen))
    for statement in mark_voided(chosen):
        await session.execute(statement)


class JourneyProjection:
    def __init__(self, database: Database, *, interval_seconds: float = 5.0) -> None:
        self._database = database
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    async def catch_up(self, *, max_batches: int = 1000) -> int:
        """Bring the legs up to the log's head (at most `max_batches` batches); the cursors handled."""
        handled = 0
        for _ in range(max_batches):
            moved = await self._batch()
            handled += moved
            if not moved:
                break
        return handled

    async def _batch(self) -> int:
        async with self._database.write_sessions() as session, session.begin():
            dialect = session.get_bind().dialect.name
            position = await session.scalar(
                select(_POSITION.c.last_cursor).where(_POSITION.c.id == JOURNEY_POSITION_ID).with_for_update()
            )
            head = await session.scalar(select(_HEAD.c.last_cursor).where(_HEAD.c.id == LOG_HEAD_ID))
            after, newest = int(position or 0), int(head or 0)
            for statement in mark_voided(None):
                await session.execute(statement)
            if newest <= after:
                return 0
            through = min(newest, after + CURSORS_PER_BATCH)
            await session.execute(refresh_journeys(dialect, labels_with_events(after, through)))
            await session.execute(
                update(_POSITION).where(_POSITION.c.id == JOURNEY_POSITION_ID).values(last_cursor=through)
            )
            return through - after

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="insights-journeys")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.catch_up()
            except Exception:
                # The next run starts from the same position; the comparison meanwhile reads older figures.
                _log.exception("return leg journeys not brought up to date")
            await asyncio.sleep(self._interval)
