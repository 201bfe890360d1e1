"""Tracking streams: replay from the log, then live events, each event exactly once and in cursor order.

The handover. The stream attaches its live queue to the fan-out *before* replaying, so every matching event
dispatched from then on is queued; then it replays from the log, page by page, until a page comes back
short; then it delivers the queue, skipping cursors it already sent. Nothing falls between the two: an event
dispatched before the queue was attached was committed before the last replay read began, so that read
returned it.

A stream that falls behind (its client reads slowly) never holds up the others: once its queue is full it
stops receiving live events and, when it gets to them, delivers what it had queued, re-attaches, and reads
the rest from the log by the same argument. Heartbeats go out after `heartbeat` seconds without an event
and carry the highest cursor the stream has covered: resuming from it misses nothing.

`batches` hands out the events that are ready together (a replay page, what a live queue held) as one
EventBatch, so a transport can send them in fewer messages; `stream` gives them one at a time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass

from service.errors import InvalidArgument
from service.tracking.event_log import EventLog
from service.tracking.fanout import LiveQueue, TrackingFanout
from service.tracking.model import LoggedEvent
from service.tracking.selection import EventSelection

REPLAY_PAGE = 500


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class ReplayComplete:
    last_cursor: int
    replayed: int


@dataclass(frozen=True, slots=True)
class Heartbeat:
    at: dt.datetime
    last_cursor: int


@dataclass(frozen=True, slots=True)
class EventBatch:
    """Events ready at the same time, in cursor order; never empty."""

    events: tuple[LoggedEvent, ...]


StreamItem = LoggedEvent | ReplayComplete | Heartbeat
BatchItem = EventBatch | ReplayComplete | Heartbeat


class TrackingStreams:
    def __init__(
        self,
        event_log: EventLog,
        fanout: TrackingFanout,
        *,
        queue_capacity: int,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self._log = event_log
        self._fanout = fanout
        self._capacity = queue_capacity
        self._clock = clock

    async def stream(
        self, selection: EventSelection, resume_after: int | None, heartbeat_seconds: float
    ) -> AsyncIterator[StreamItem]:
        """Events after `resume_after` (None: only those stored from now on), a ReplayComplete once the
        stored ones are out, then live events and heartbeats until the caller stops iterating."""
        # Closing this stream closes the batches under it at once (detaching its queue), not when collected.
        async with aclosing(self.batches(selection, resume_after, heartbeat_seconds)) as items:
            async for item in items:
                if isinstance(item, EventBatch):
                    for event in item.events:
                        yield event
                else:
                    yield item

    async def batches(
        self, selection: EventSelection, resume_after: int | None, heartbeat_seconds: float
    ) -> AsyncGenerator[BatchItem, None]:
        """As `stream`, with the events that are ready together in one EventBatch."""
        queue = self._fanout.attach(selection, self._capacity)
        try:
            head = await self._log.head()
            if resume_after is not None and resume_after > head:
                raise InvalidArgument.single(
                    "resume_after_cursor", f"{resume_after} is beyond the end of the event log ({head})"
                )
            sent = head if resume_after is None else resume_after
            replayed = 0
            async for batch in self._stored(selection, sent):
                yield batch
                sent = batch.events[-1].cursor
                replayed += len(batch.events)
            yield ReplayComplete(sent, replayed)
            async for item in self._live(queue, sent, heartbeat_seconds):
                yield item
        finally:
            self._fanout.detach(queue)

    async def _stored(self, selection: EventSelection, after: int) -> AsyncIterator[EventBatch]:
        while True:
            page = await self._log.read(selection, after, REPLAY_PAGE)
            if page:
                yield EventBatch(tuple(page))
                after = page[-1].cursor
            if len(page) < REPLAY_PAGE:
                return

    async def _live(self, queue: LiveQueue, sent: int, heartbeat_seconds: float) -> AsyncIterator[BatchItem]:
        while True:
            if not await queue.wait(heartbeat_seconds):
                yield Heartbeat(self._clock(), max(sent, self._fanout.position))
                continue
            events = queue.take()
            overflowed = queue.overflowed
            fresh = tuple(event for event in events if event.cursor > sent)
            if fresh:
                yield EventBatch(fresh)
                sent = fresh[-1].cursor
            if overflowed:
                queue.rearm()
                async for batch in self._stored(queue.selection, sent):
                    yield batch
                    sent = batch.events[-1].cursor
                queue.behind_since = None
