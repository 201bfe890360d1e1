"""Polling with two pollers (two replicas) sharing one database: each parcel is polled once per round,
leases keep a parcel with one poller, and polling stops for final and old parcels."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence

import pytest

from carriers.models import LabelReference, PurchasedLabel, PurchaseRequest, Rate, ReturnShipment, VoidResult
from carriers.port import Capabilities, Operation, TrackingUpdates
from carriers.tracking import TrackingEvent, TrackingSnapshot, TrackingStatus
from service.metrics import ServiceMetrics
from service.storage.engine import Database, create_database
from service.storage.schema import upgrade_database
from service.storage.tenancy import Tenancy
from service.tracking.event_log import EventLog
from service.tracking.ingestion import PollingPolicy, TrackingIngestion
from service.tracking.log_writer import LogWriter
from service.tracking.milestones import MilestoneRules
from service.tracking.model import LoggedEvent
from service.tracking.partner_scans import PartnerStatusTable
from service.tracking.polling import PollerSettings, TrackingPoller
from service.tracking.shipments import ShipmentRegistry
from tests.unit.tracking.events import START, scan

ACCOUNT = "polled-carrier"
INTERVAL = dt.timedelta(minutes=15)
POLICY = PollingPolicy(interval=INTERVAL, backstop=dt.timedelta(hours=6), max_age=dt.timedelta(days=2))


class PolledCarrier:
    """A carrier without webhooks that counts how often each parcel is tracked."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.delivered: set[str] = set()

    account_id = ACCOUNT
    carrier = "Polled Carrier"
    capabilities = Capabilities(
        operations=frozenset({Operation.TRACK}), tracking_updates=frozenset({TrackingUpdates.POLLING})
    )

    async def track(self, tracking_number: str) -> TrackingSnapshot:
        self.calls[tracking_number] += 1
        await asyncio.sleep(0.005)  # a network call: lets the other poller run meanwhile
        status = TrackingStatus.DELIVERED if tracking_number in self.delivered else TrackingStatus.IN_TRANSIT
        minutes = self.calls[tracking_number]
        event = scan(status, minutes, number=tracking_number, carrier=ACCOUNT)
        return TrackingSnapshot(ACCOUNT, tracking_number, status, (event,))

    async def quote(self, shipment: ReturnShipment) -> Sequence[Rate]:
        raise NotImplementedError

    async def purchase(self, request: PurchaseRequest) -> PurchasedLabel:
        raise NotImplementedError

    async def void(self, label: LabelReference) -> VoidResult:
        raise NotImplementedError

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[TrackingEvent]:
        raise NotImplementedError

    async def close(self) -> None:
        return None


class Replica:
    def __init__(self, url: str, carrier: PolledCarrier, clock: list[dt.datetime], name: str) -> None:
        self.database: Database = create_database(url)
        self.shipments = ShipmentRegistry(self.database)

        async def publish(events: Sequence[LoggedEvent]) -> None:
            return None

        self.log = EventLog(self.database, MilestoneRules())
        self.writer = LogWriter(self.log, publish)
        adapters = {ACCOUNT: carrier}
        self.ingestion = TrackingIngestion(
            shipments=self.shipments,
            writer=self.writer,
            adapters=adapters,
            partner_codes=PartnerStatusTable(),
            polling=POLICY,
            metrics=ServiceMetrics(),
            clock=lambda: clock[0],
        )
        self.poller = TrackingPoller(
            shipments=self.shipments,
            ingestion=self.ingestion,
            adapters=adapters,
            policy=POLICY,
            settings=PollerSettings(rate_per_account=10_000, batch=8),
            owner=name,
            clock=lambda: clock[0],
        )

    async def close(self) -> None:
        await self.writer.close()
        self.log.close()
        await self.database.dispose()


@pytest.fixture
async def replicas(
    database_url: str,
) -> AsyncIterator[tuple[Replica, Replica, PolledCarrier, list[dt.datetime]]]:
    await upgrade_database(database_url)
    carrier = PolledCarrier()
    clock = [START]
    first, second = (
        Replica(database_url, carrier, clock, "replica-a"),
        Replica(database_url, carrier, clock, "replica-b"),
    )
    await Tenancy(first.database).ensure_merchant("acme", "Acme")
    first.writer.start()
    second.writer.start()
    try:
        yield first, second, carrier, clock
    finally:
        await first.close()
        await second.close()


async def _round(first: Replica, second: Replica) -> tuple[list[str], list[str]]:
    """Both replicas poll side by side, batch after batch, until nothing is due."""
    by_first: list[str] = []
    by_second: list[str] = []
    while True:
        taken_first, taken_second = await asyncio.gather(
            first.poller.poll_round(), second.poller.poll_round()
        )
        if not taken_first and not taken_second:
            return by_first, by_second
        by_first += taken_first
        by_second += taken_second


async def test_two_pollers_poll_each_parcel_once_per_round(replicas) -> None:  # type: ignore[no-untyped-def]
    first, second, carrier, clock = replicas
    numbers = [f"PC{index:04d}" for index in range(40)]
    for index, number in enumerate(numbers):
        await first.ingestion.register_shipment("acme", f"lbl_{index}", ACCOUNT, number)
    assert await _round(first, second) == ([], [])  # nothing due before the first interval

    for expected_calls in (1, 2):
        clock[0] += INTERVAL * 1.2  # past every jittered schedule (at most +10 %)
        by_first, by_second = await _round(first, second)
        assert not set(by_first) & set(by_second)
        assert len(by_first) + len(by_second) == len(numbers)
        assert set(carrier.calls.values()) == {expected_calls}
        assert by_first
        assert by_second  # both replicas took a share
        assert await _round(first, second) == ([], [])  # polled parcels are not due again at once

    stored = await first.shipments.find("acme", label_id="lbl_0")
    assert stored is not None
    assert stored.next_poll_at is not None
    assert INTERVAL * 0.9 <= stored.next_poll_at - clock[0] <= INTERVAL * 1.1


async def test_polling_stops_when_final_or_too_old_and_leases_keep_parcels_apart(replicas) -> None:  # type: ignore[no-untyped-def]
    first, second, carrier, clock = replicas
    for index in range(6):
        await first.ingestion.register_shipment("acme", f"lbl_{index}", ACCOUNT, f"PC{index:04d}")
    carrier.delivered = {"PC0000", "PC0001"}
    clock[0] += INTERVAL * 1.2
    await _round(first, second)
    clock[0] += INTERVAL * 1.2
    by_first, by_second = await _round(first, second)
    assert len(by_first) + len(by_second) == 4
    assert carrier.calls["PC0000"] == carrier.calls["PC0001"] == 1  # delivered: never polled again
    assert carrier.calls["PC0002"] == 2

    # A replica that crashed holding leases: the other one waits for them to expire.
    clock[0] += INTERVAL * 1.2
    crashed = await first.shipments.claim_due("crashed-replica", clock[0], dt.timedelta(minutes=2), 100)
    assert len(crashed) == 4
    assert await _round(first, second) == ([], [])
    clock[0] += dt.timedelta(minutes=3)
    by_first, by_second = await _round(first, second)
    assert len(by_first) + len(by_second) == 4

    # Too old: once past the maximum age, a parcel's poll schedules nothing more.
    clock[0] += POLICY.max_age
    by_first, by_second = await _round(first, second)
    assert len(by_first) + len(by_second) == 4
    clock[0] += INTERVAL * 10
    assert await _round(first, second) == ([], [])
