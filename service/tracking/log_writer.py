"""Group commit in front of the event log, and publication of what was committed, in commit order.

Appends arriving while a transaction is in flight wait and are written together in the next one: the
log head is locked once per group instead of once per webhook or pushed batch, which is what lets one
replica keep up with thousands of events a second. Each caller still gets its own results, and only after
the commit. Publication to the bus happens after the commit, from a single task, so this replica publishes
its events in cursor order; a failed publication is logged and left to the consumers, which find the
missing cursors in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from service.logging import get_logger
from service.tracking.event_log import EventLog
from service.tracking.model import AppendResult, LoggedEvent, PendingEvent

log = get_logger("backhaul.tracking.writer")

Publish = Callable[[Sequence[LoggedEvent]], Awaitable[None]]
Deliver = Callable[[list[LoggedEvent]], None]

# Events per transaction; bounded so one transaction's lock hold and IN-list stay small.
MAX_GROUP_EVENTS = 2000


@dataclass(slots=True)
class _Request:
    pending: Sequence[PendingEvent]
    done: asyncio.Future[list[AppendResult]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class LogWriter:
    def __init__(self, event_log: EventLog, publish: Publish, deliver_locally: Deliver | None = None) -> None:
        """`deliver_locally` receives each commit's events at once, in commit order (this replica's
        streams); `publish` sends them to the bus (other replicas, other followers)."""
        self._log = event_log
        self._publish = publish
        self._deliver_locally = deliver_locally
        self._requests: asyncio.Queue[_Request] = asyncio.Queue()
        self._published: asyncio.Queue[list[LoggedEvent]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._write_groups(), name="tracking-log-writer"),
            asyncio.create_task(self._publish_in_order(), name="tracking-log-publisher"),
        ]

    async def append(self, pending: Sequence[PendingEvent]) -> list[AppendResult]:
        """Results in input order, once the events are committed (atomically with their group)."""
        if not pending:
            return []
        if not self._tasks:
            raise RuntimeError("the log writer is not running")
        request = _Request(pending)
        self._requests.put_nowait(request)
        return await request.done

    async def close(self) -> None:
        """Finish what was submitted and published, then stop."""
        if not self._tasks:
            return
        writer, publisher = self._tasks
        await self._requests.join()
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        await self._published.join()
        publisher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await publisher
        self._tasks = []

    async def _write_groups(self) -> None:
        while True:
            group = [await self._requests.get()]
            size = len(group[0].pending)
            while size < MAX_GROUP_EVENTS and not self._requests.empty():
                request = self._requests.get_nowait()
                group.append(request)
                size += len(request.pending)
            try:
                await self._write(group)
            finally:
                for _ in group:
                    self._requests.task_done()

    async def _write(self, group: list[_Request]) -> None:
        try:
            results, stored = await self._log.append([item for request in group for item in request.pending])
        except Exception as exc:  # the callers decide what to answer; the writer keeps going
            for request in group:
                if not request.done.done():
                    request.done.set_exception(exc)
            return
        if stored:
            if self._deliver_locally is not None:
                self._deliver_locally(stored)
            self._published.put_nowait(stored)
        offset = 0
        for request in group:
            count = len(request.pending)
            if not request.done.done():
                request.done.set_result(results[offset : offset + count])
            offset += count

    async def _publish_in_order(self) -> None:
        while True:
            # Whatever committed while the last publication was under way goes out as one publication:
            # under load, subscribers on every replica wake once per publication, not once per commit.
            events = await self._published.get()
            taken = 1
            while not self._published.empty():
                events = events + self._published.get_nowait()
                taken += 1
            try:
                await self._publish(events)
            except Exception:
                log.warning(
                    "tracking.publish_failed",
                    first_cursor=events[0].cursor,
                    last_cursor=events[-1].cursor,
                    exc_info=True,
                )
            finally:
                for _ in range(taken):
                    self._published.task_done()
