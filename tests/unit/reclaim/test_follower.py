"""The reclaim follower's wake-ups: bus messages ask for a catch-up, bursts are coalesced into one, and
catch-ups never overlap nor start closer together than the minimum interval."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from typing import Any, cast

from service.bus.memory import InProcessBus
from service.reclaim.runtime import ReclaimFollower
from service.tracking.wire import SUBJECT


class CountingEvidence:
    """Records when each catch-up starts; `gate`, while cleared, keeps a catch-up in flight."""

    def __init__(self) -> None:
        self.started: list[float] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self._started_one = asyncio.Event()

    async def catch_up(self) -> int:
        self.started.append(asyncio.get_running_loop().time())
        self._started_one.set()
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.gate.wait()
        finally:
            self.in_flight -= 1
        return 0

    async def until_started(self, count: int, seconds: float = 5.0) -> None:
        async with asyncio.timeout(seconds):
            while len(self.started) < count:
                self._started_one.clear()
                await self._started_one.wait()


class NoExpiry:
    async def expire_overdue(self, on: dt.date) -> int:
        return 0


async def _follower(
    bus: InProcessBus, evidence: CountingEvidence, *, poll_seconds: float, min_interval: float
) -> ReclaimFollower:
    follower = ReclaimFollower(
        bus,
        cast(Any, evidence),
        cast(Any, NoExpiry()),
        lambda: dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
        poll_seconds=poll_seconds,
        min_interval_seconds=min_interval,
        expiry_seconds=3600.0,
    )
    await follower.start()
    return follower


async def test_a_burst_of_messages_during_a_catch_up_asks_for_one_more() -> None:
    bus, evidence = InProcessBus(), CountingEvidence()
    evidence.gate.clear()
    follower = await _follower(bus, evidence, poll_seconds=60.0, min_interval=0.05)
    try:
        await evidence.until_started(1)  # the start-up catch-up, held in flight
        for _ in range(100):
            await bus.publish(SUBJECT, b"commit")
        await asyncio.sleep(0.1)
        assert len(evidence.started) == 1  # nothing starts beside the one in flight
        evidence.gate.set()
        await evidence.until_started(2)
        await asyncio.sleep(0.3)  # several minimum intervals: no further catch-up was asked for
        assert len(evidence.started) == 2
        assert evidence.most_in_flight == 1
    finally:
        await follower.close()


async def test_catch_ups_start_at_least_the_minimum_interval_apart_under_steady_messages() -> None:
    bus, evidence = InProcessBus(), CountingEvidence()
    follower = await _follower(bus, evidence, poll_seconds=60.0, min_interval=0.1)
    try:
        loop = asyncio.get_running_loop()
        until = loop.time() + 0.65
        published = 0
        while loop.time() < until:
            await bus.publish(SUBJECT, b"commit")
            published += 1
            await asyncio.sleep(0.002)
        await asyncio.sleep(0.15)
        gaps = [later - earlier for earlier, later in itertools.pairwise(evidence.started)]
        assert published > 50
        assert 2 <= len(evidence.started) <= 8  # the start-up one, then at most one per interval
        assert min(gaps) >= 0.1 - 0.005  # loop timer granularity
    finally:
        await follower.close()


async def test_a_message_wakes_the_follower_long_before_the_poll_interval() -> None:
    bus, evidence = InProcessBus(), CountingEvidence()
    follower = await _follower(bus, evidence, poll_seconds=60.0, min_interval=0.05)
    try:
        await evidence.until_started(1)
        await asyncio.sleep(0.1)
        assert len(evidence.started) == 1  # a quiet bus: the follower waits
        await bus.publish(SUBJECT, b"commit")
        await evidence.until_started(2, seconds=1.0)
    finally:
        await follower.close()


async def test_a_quiet_bus_still_catches_up_every_poll_interval() -> None:
    bus, evidence = InProcessBus(), CountingEvidence()
    follower = await _follower(bus, evidence, poll_seconds=0.05, min_interval=0.01)
    try:
        await evidence.until_started(4)
    finally:
        await follower.close()
