"""One replica's live feed: committed events from the bus, put in cursor order, handed to its streams.

The fan-out takes this replica's commits straight from the log writer (`accept_local`, in commit order) and
other replicas' from the bus (its own publications it recognises and skips). The bus delivers what any
replica committed, but not necessarily in cursor order (two replicas publish independently) and not
necessarily everything (a replica may die between its commit and its publication).
The log has no holes (see event_log.py), so the fan-out keeps `position`, the cursor up to which it has
dispatched every event, and holds back anything beyond a missing cursor: having received N + 2, it knows
N + 1 is committed and reads it from the log at once. When the bus is quiet it compares its position with
the log head every `store_check_seconds`, which bounds how late an unpublished event can be.

Each stream attaches a `LiveQueue`. Dispatch never waits for a stream: a queue that is full stops taking
events and is marked overflowed, and its stream reads what it missed from the log (see streams.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections import deque
from collections.abc import Callable

from service.bus.port import BusSubscription, EventBus
from service.logging import get_logger
from service.tracking.event_log import EventLog
from service.tracking.model import LoggedEvent
from service.tracking.selection import EventSelection
from service.tracking.wire import SUBJECT, decode_events, published_by

log = get_logger("backhaul.tracking.fanout")

_FILL_PAGE = 1000
_RETRY_SECONDS = 0.5


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LiveQueue:
    """A stream's bounded buffer of live events, filled by the fan-out and drained by the stream."""

    def __init__(self, selection: EventSelection, capacity: int) -> None:
        self.selection = selection
        self._capacity = capacity
        self._items: deque[LoggedEvent] = deque()
        self._ready = asyncio.Event()
        self.overflowed = False
        # recorded_at of the oldest event this stream has not delivered yet while it reads from the log.
        self.behind_since: dt.datetime | None = None

    def offer(self, event: LoggedEvent) -> None:
        if self.overflowed:
            return
        if len(self._items) >= self._capacity:
            self.overflowed = True
            if self.behind_since is None:
                self.behind_since = event.recorded_at
        else:
            self._items.append(event)
        self._ready.set()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def pending(self) -> bool:
        return bool(self._items) or self.overflowed

    async def wait(self, quiet_seconds: float) -> bool:
        """True when events (or an overflow) are waiting; False after `quiet_seconds` without any."""
        if not self.pending:
            self._ready.clear()
            try:
                async with asyncio.timeout(quiet_seconds):
                    await self._ready.wait()
            except TimeoutError:
                return False
        return True

    def take(self) -> list[LoggedEvent]:
        items = list(self._items)
        self._items.clear()
        return items

    def rearm(self) -> None:
        """Take live events again; the stream reads everything dispatched until now from the log."""
        self.overflowed = False

    def lag_seconds(self, now: dt.datetime) -> float:
        oldest = self._items[0].recorded_at if self._items else None
        if self.behind_since is not None and (oldest is None or self.behind_since < oldest):
            oldest = self.behind_since
        return max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0


class TrackingFanout:
    def __init__(
        self,
        event_log: EventLog,
        bus: EventBus,
        *,
        store_check_seconds: float,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self._log = event_log
        self._bus = bus
        self._store_check_seconds = store_check_seconds
        self._clock = clock
        self.position = 0
        self._held: dict[int, LoggedEvent] = {}
        self.origin = uuid.uuid4().hex  # names this replica's publications on the bus
        self._inbox: asyncio.Queue[list[LoggedEvent]] = asyncio.Queue()
        self._subscription: BusSubscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # Queues by what they select: ("merchant", m, ""), ("label", m, label), ("number", m, number).
        self._index: dict[tuple[str, str, str], set[LiveQueue]] = {}
        self._queues: set[LiveQueue] = set()

    async def start(self) -> None:
        # Subscribe before reading the head: whatever commits in between arrives on the bus.
        self._subscription = await self._bus.subscribe(SUBJECT)
        self.position = await self._log.head()
        self._tasks = [
            asyncio.create_task(self._read_bus(self._subscription), name="tracking-fanout-bus"),
            asyncio.create_task(self._run(), name="tracking-fanout"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._subscription is not None:
            await self._subscription.close()
            self._subscription = None

    def accept_local(self, events: list[LoggedEvent]) -> None:
        """Events this replica just committed, in commit order (called by the log writer)."""
        self._inbox.put_nowait(events)

    # -- streams --------------------------------------------------------------------------------------------

    def attach(self, selection: EventSelection, capacity: int) -> LiveQueue:
        """A queue receiving every matching event dispatched from now on (cursor > `position`)."""
        queue = LiveQueue(selection, capacity)
        self._queues.add(queue)
        for key in _index_keys(selection):
            self._index.setdefault(key, set()).add(queue)
        return queue

    def detach(self, queue: LiveQueue) -> None:
        self._queues.discard(queue)
        for key in _index_keys(queue.selection):
            members = self._index.get(key)
            if members is not None:
                members.discard(queue)
                if not members:
                    del self._index[key]

    @property
    def subscriber_count(self) -> int:
        return len(self._queues)

    def max_lag_seconds(self) -> float:
        now = self._clock()
        return max((queue.lag_seconds(now) for queue in self._queues), default=0.0)

    # -- the feed -------------------------------------------------------------------------------------------

    async def _read_bus(self, subscription: BusSubscription) -> None:
        while True:
            message = await subscription.get()
            if published_by(message.payload, self.origin):
                continue
            try:
                self._inbox.put_nowait(decode_events(message.payload))
            except ValueError:
                log.warning("tracking.unreadable_bus_message", subject=message.subject, exc_info=True)

    async def _run(self) -> None:
        while True:
            try:
                try:
                    async with asyncio.timeout(self._store_check_seconds):
                        events = await self._inbox.get()
                except TimeoutError:
                    await self._catch_up(await self._log.head())
                    continue
                await self._accept(events)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("tracking.fanout_error", position=self.position, exc_info=True)
                await asyncio.sleep(_RETRY_SECONDS)

    async def _accept(self, events: list[LoggedEvent]) -> None:
        for event in events:
            if event.cursor > self.position:
                self._held[event.cursor] = event
        self._release_held()
        if self._held:
            # A cursor below one received is missing: it is committed (no holes), so read it now.
            await self._catch_up(min(self._held) - 1)

    def _release_held(self) -> None:
        while self.position + 1 in self._held:
            self._dispatch(self._held.pop(self.position + 1))

    async def _catch_up(self, through: int) -> None:
        """Dispatch every event up to `through` from the log, then whatever the bus delivered beyond it."""
        while self.position < through:
            page = await self._log.read_all(self.position, through, _FILL_PAGE)
            if not page:
                log.error("tracking.log_gap", after=self.position, through=through)
                self.position = through
                break
            for event in page:
                self._held.pop(event.cursor, None)
                self._dispatch(event)
        for cursor in [c for c in self._held if c <= self.position]:
            del self._held[cursor]
        self._release_held()

    def _dispatch(self, event: LoggedEvent) -> None:
        self.position = event.cursor
        merchant = event.merchant_id
        index = self._index
        for queue in index.get(("merchant", merchant, ""), ()):
            queue.offer(event)
        if event.label_id is not None:
            for queue in index.get(("label", merchant, event.label_id), ()):
                queue.offer(event)
        for queue in index.get(("number", merchant, event.tracking_number), ()):
            queue.offer(event)


def _index_keys(selection: EventSelection) -> list[tuple[str, str, str]]:
    merchant = selection.merchant_id
    if selection.label_ids:
        return [("label", merchant, label) for label in selection.label_ids]
    if selection.tracking_numbers:
        return [("number", merchant, number) for number in selection.tracking_numbers]
    return [("merchant", merchant, "")]
