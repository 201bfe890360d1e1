"""Polling carriers for parcels whose tracking does not come to us (and as a backstop behind webhooks).

Every replica runs a poller. Each round it leases the parcels that are due (see shipments.py: one replica
per parcel at a time), asks their carriers under a per-account rate limit, ingests what they report, and
schedules the next poll with jitter. A parcel stops being polled once it is final or older than the
configured maximum age. Failures back off exponentially, never beyond the normal interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from carriers.errors import CarrierError, NotFound
from carriers.port import CarrierAdapter
from service.errors import ApplicationError
from service.logging import get_logger
from service.tracking.ingestion import PollingPolicy, TrackingIngestion
from service.tracking.model import TrackedShipment
from service.tracking.shipments import ShipmentRegistry

log = get_logger("backhaul.tracking.poller")

Sleep = Callable[[float], Awaitable[None]]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AccountRateLimit:
    """Spaces calls to one carrier account at least 1/rate seconds apart (per replica)."""

    def __init__(self, per_second: float, *, clock: Callable[[], float], sleep: Sleep) -> None:
        self._spacing = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._next_slot = 0.0

    async def acquire(self) -> None:
        now = self._clock()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self._spacing
        if slot > now:
            await self._sleep(slot - now)


@dataclass(frozen=True, slots=True)
class PollerSettings:
    rate_per_account: float
    round_seconds: float = 5.0  # pause between rounds (jittered +-50 %)
    lease: dt.timedelta = dt.timedelta(minutes=2)
    batch: int = 100  # parcels leased per round
    call_timeout_seconds: float = 30.0
    retry_after: dt.timedelta = dt.timedelta(minutes=1)  # first retry after a failed poll, doubling


class TrackingPoller:
    def __init__(
        self,
        *,
        shipments: ShipmentRegistry,
        ingestion: TrackingIngestion,
        adapters: Mapping[str, CarrierAdapter],
        policy: PollingPolicy,
        settings: PollerSettings,
        owner: str | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._shipments = shipments
        self._ingestion = ingestion
        self._adapters = adapters
        self._policy = policy
        self._settings = settings
        self.owner = owner or f"poller-{uuid.uuid4().hex[:12]}"
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._limits: dict[str, AccountRateLimit] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tracking-poller")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_round()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("tracking.poll_round_failed", exc_info=True)
            await self._sleep(self._settings.round_seconds * self._rng.uniform(0.5, 1.5))

    async def poll_round(self) -> list[str]:
        """Lease the due parcels and poll each once; the ids of the parcels polled."""
        claimed = await self._shipments.claim_due(
            self.owner, self._clock(), self._settings.lease, self._settings.batch
        )
        await asyncio.gather(*(self._poll(shipment) for shipment in claimed))
        return [shipment.id for shipment in claimed]

    async def _poll(self, shipment: TrackedShipment) -> None:
        adapter = self._adapters.get(shipment.carrier_account_id)
        interval = self._policy.interval_for(adapter) if adapter is not None else None
        failures = 0
        estimated = None
        if adapter is not None and interval is not None:
            try:
                await self._limit(shipment.carrier_account_id).acquire()
                async with asyncio.timeout(self._settings.call_timeout_seconds):
                    snapshot = await adapter.track(shipment.tracking_number)
                await self._ingestion.ingest_snapshot(shipment, snapshot)
                estimated = snapshot.estimated_delivery
            except NotFound:
                pass  # not scanned yet: carriers often do not know a label until its first scan
            except (CarrierError, ApplicationError, TimeoutError) as exc:
                failures = shipment.poll_failures + 1
                log.info("tracking.poll_failed", shipment_id=shipment.id, failures=failures, error=str(exc))
        await self._shipments.finish_poll(
            shipment.id,
            self.owner,
            polled_at=self._clock(),
            next_poll_at=self._next_poll(shipment, interval, failures),
            failures=failures,
            estimated_delivery=estimated,
        )

    def _next_poll(
        self, shipment: TrackedShipment, interval: dt.timedelta | None, failures: int
    ) -> dt.datetime | None:
        now = self._clock()
        if interval is None or now - shipment.registered_at > self._policy.max_age:
            return None
        if failures:
            interval = min(interval, self._settings.retry_after * 2 ** (failures - 1))
        return now + self._policy.jittered(interval, self._rng)

    def _limit(self, account_id: str) -> AccountRateLimit:
        limit = self._limits.get(account_id)
        if limit is None:
            loop = asyncio.get_running_loop()
            limit = AccountRateLimit(self._settings.rate_per_account, clock=loop.time, sleep=self._sleep)
            self._limits[account_id] = limit
        return limit
