"""The reclaim capability of one running instance: the calculator, the claims use cases, and the background
task that applies tracking evidence and expires overdue claims.

The task reads the durable log from its stored position (tracking_evidence.py) when a tracking bus message
says some replica committed events, and at least every `poll_seconds`, so it depends on the bus only for
promptness. Wake-ups are coalesced: messages only set a flag, one catch-up runs at a time, and catch-ups
start at least `min_interval_seconds` apart, so a busy log (a bus message per commit, a hundred a second)
costs one read of what accumulated per interval rather than a read per commit; claims move seconds after
their evidence, against deadlines of weeks. Expiry runs every `expiry_seconds` for all merchants, and for
one merchant on each listing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from customs.money import FxTable
from service.bus.port import BusSubscription, EventBus
from service.logging import get_logger
from service.reclaim.calculation import DutyReclaimCalculator, ReclaimRules
from service.reclaim.expiry import ClaimExpiry
from service.reclaim.label_estimates import LabelEstimates
from service.reclaim.listing import ClaimLister
from service.reclaim.repository import ClaimRepository
from service.reclaim.tracking_evidence import TrackingEvidence
from service.storage.engine import Database
from service.tracking.event_log import EventLog
from service.tracking.milestones import MilestoneRules
from service.tracking.wire import SUBJECT

log = get_logger("backhaul.reclaim")

POLL_SECONDS = 5.0
MIN_INTERVAL_SECONDS = 1.0
EXPIRY_SECONDS = 3600.0


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ReclaimFollower:
    def __init__(
        self,
        bus: EventBus,
        evidence: TrackingEvidence,
        expiry: ClaimExpiry,
        clock: Callable[[], dt.datetime],
        *,
        poll_seconds: float,
        min_interval_seconds: float,
        expiry_seconds: float,
    ) -> None:
        self._bus = bus
        self._evidence = evidence
        self._expiry = expiry
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._min_interval = min_interval_seconds
        self._expiry_seconds = expiry_seconds
        self._subscription: BusSubscription | None = None
        self._logged = asyncio.Event()  # set by bus messages, cleared as a catch-up starts
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        subscription = await self._bus.subscribe(SUBJECT)
        self._subscription = subscription
        self._tasks = [
            asyncio.create_task(self._watch_bus(subscription), name="reclaim-follower-bus"),
            asyncio.create_task(self._run(), name="reclaim-follower"),
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

    async def _watch_bus(self, subscription: BusSubscription) -> None:
        # A message's content does not matter (the log is read from the stored position), only that the
        # log moved: however many arrive before the next catch-up, they ask for that one catch-up.
        while True:
            await subscription.get()
            self._logged.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_expiry = loop.time()
        while True:
            started = loop.time()
            # Cleared before reading: a commit during the catch-up asks for the next one.
            self._logged.clear()
            try:
                await self._evidence.catch_up()
                if loop.time() >= next_expiry:
                    await self._expiry.expire_overdue(self._clock().date())
                    next_expiry = loop.time() + self._expiry_seconds
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("reclaim.follower_error", exc_info=True)
            await asyncio.sleep(max(0.0, started + self._min_interval - loop.time()))
            await self._wait()

    async def _wait(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._poll_seconds):
                await self._logged.wait()


@dataclass
class Reclaim:
    calculator: DutyReclaimCalculator
    claims: ClaimRepository
    labels: LabelEstimates
    evidence: TrackingEvidence
    expiry: ClaimExpiry
    lister: ClaimLister
    follower: ReclaimFollower | None = None

    async def close(self) -> None:
        if self.follower is not None:
            await self.follower.close()


async def open_reclaim(
    database: Database,
    bus: EventBus,
    rules: ReclaimRules,
    fx: FxTable,
    *,
    clock: Callable[[], dt.datetime] = _utc_now,
    start_follower: bool = True,
    poll_seconds: float = POLL_SECONDS,
    min_interval_seconds: float = MIN_INTERVAL_SECONDS,
    expiry_seconds: float = EXPIRY_SECONDS,
) -> Reclaim:
    repository = ClaimRepository(database)
    calculator = DutyReclaimCalculator(rules, fx)
    # Only reads events by cursor; milestone rules matter to appends, which this log never makes.
    evidence = TrackingEvidence(repository, EventLog(database, MilestoneRules()), rules.regimes)
    expiry = ClaimExpiry(repository, clock)
    reclaim = Reclaim(
        calculator=calculator,
        claims=repository,
        labels=LabelEstimates(repository, calculator, evidence, clock),
        evidence=evidence,
        expiry=expiry,
        lister=ClaimLister(repository, expiry, lambda: clock().date()),
    )
    if start_follower:
        reclaim.follower = ReclaimFollower(
            bus,
            evidence,
            expiry,
            clock,
            poll_seconds=poll_seconds,
            min_interval_seconds=min_interval_seconds,
            expiry_seconds=expiry_seconds,
        )
        await reclaim.follower.start()
    return reclaim
