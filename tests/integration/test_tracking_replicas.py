"""Two server processes sharing PostgreSQL and NATS JetStream: events ingested on either one stream to
subscribers connected to the other, each exactly once and in cursor order."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import timestamp_pb2

from backhaul.v1 import tracking_pb2, tracking_pb2_grpc
from service.storage.engine import create_database
from service.storage.schema import upgrade_database
from service.storage.tenancy import Tenancy
from service.tracking.milestones import ReturnRoute
from service.tracking.shipments import ShipmentRegistry
from tests.e2e.server_process import ServerProcess

pytestmark = [pytest.mark.postgres, pytest.mark.nats, pytest.mark.slow]

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
NUMBERS = ("RR000000017NL", "RR000000025NL")


@pytest.fixture
def replicas(
    tmp_path: Path, postgres_url: str, nats_url: str
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    environment = {"BACKHAUL_DATABASE_URL": postgres_url, "BACKHAUL_BUS_URL": nats_url}
    first = ServerProcess(tmp_path / "a", extra_env=environment)
    second = ServerProcess(tmp_path / "b", extra_env=environment)
    for process in (first, second):
        process.workdir.mkdir()
    try:
        first.start()
        second.start()
        yield first, second
    finally:
        first.stop()
        second.stop()


async def _register(postgres_url: str) -> None:
    await upgrade_database(postgres_url)
    database = create_database(postgres_url)
    try:
        await Tenancy(database).ensure_merchant("acme", "Acme")
        registry = ShipmentRegistry(database)
        for index, number in enumerate(NUMBERS):
            await registry.register(
                merchant_id="acme",
                label_id=f"lbl_{index}",
                carrier_account_id="tulip-parcel",
                tracking_number=number,
                route=ReturnRoute.VIA_HUB,
                registered_at=T0,
                first_poll_at=None,
            )
    finally:
        await database.dispose()


def _scan(number: str, minutes: int) -> tracking_pb2.PartnerTrackingEvent:
    at = timestamp_pb2.Timestamp()
    at.FromDatetime(T0 + dt.timedelta(minutes=minutes))
    return tracking_pb2.PartnerTrackingEvent(tracking_number=number, occurred_at=at, code="EMC")


async def test_events_ingested_on_one_replica_stream_on_the_other(
    replicas: tuple[ServerProcess, ServerProcess], postgres_url: str
) -> None:
    first, second = replicas
    key = first.create_key("acme")
    await _register(postgres_url)
    metadata = (("authorization", f"Bearer {key}"),)
    async with (
        grpc.aio.insecure_channel(first.target) as channel_a,
        grpc.aio.insecure_channel(second.target) as channel_b,
    ):
        stub_a = tracking_pb2_grpc.TrackingServiceStub(channel_a)
        stub_b = tracking_pb2_grpc.TrackingServiceStub(channel_b)
        on_b = stub_b.SubscribeTracking(
            tracking_pb2.SubscribeTrackingRequest(merchant=tracking_pb2.TrackingMerchantFilter()),
            metadata=metadata,
        )
        on_a = stub_a.SubscribeTracking(
            tracking_pb2.SubscribeTrackingRequest(
                labels=tracking_pb2.TrackingLabelFilter(label_ids=["lbl_1"])
            ),
            metadata=metadata,
        )
        for stream in (on_a, on_b):
            first_message = await asyncio.wait_for(stream.read(), 10)
            assert first_message.WhichOneof("kind") == "replay_complete"

        # One event on A, seen live on B.
        single = await stub_a.IngestTrackingEvents(
            tracking_pb2.IngestTrackingEventsRequest(
                carrier_account_id="tulip-parcel", events=[_scan(NUMBERS[0], 0)]
            ),
            metadata=metadata,
        )
        message = await asyncio.wait_for(on_b.read(), 10)
        assert message.event.cursor == single.results[0].cursor
        assert message.event.label_id == "lbl_0"

        # Both replicas ingest at once: each subscriber gets its events exactly once, in cursor order.
        async def push(stub: tracking_pb2_grpc.TrackingServiceStub, start: int) -> list[tuple[int, str]]:
            stored = []
            for minute in range(start, start + 40):
                number = NUMBERS[minute % 2]
                reply = await stub.IngestTrackingEvents(
                    tracking_pb2.IngestTrackingEventsRequest(
                        carrier_account_id="tulip-parcel", events=[_scan(number, minute)]
                    ),
                    metadata=metadata,
                )
                stored.append((reply.results[0].cursor, number))
            return stored

        from_a, from_b = await asyncio.gather(push(stub_a, 1000), push(stub_b, 2000))
        everything = sorted(from_a + from_b)
        seen_on_b = [(await asyncio.wait_for(on_b.read(), 10)).event.cursor for _ in everything]
        assert seen_on_b == [cursor for cursor, _ in everything]
        label_1 = [cursor for cursor, number in everything if number == NUMBERS[1]]
        seen_on_a = [(await asyncio.wait_for(on_a.read(), 10)).event.cursor for _ in label_1]
        assert seen_on_a == label_1
        on_a.cancel()
        on_b.cancel()
