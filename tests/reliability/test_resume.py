"""A subscriber that disconnects and resumes at random 100 times while 20,000 events are ingested sees each
event exactly once, in cursor order (over real gRPC, on the embedded default)."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from pathlib import Path

import grpc
import pytest
from google.protobuf import timestamp_pb2

from backhaul.v1 import tracking_pb2, tracking_pb2_grpc
from service.app import build_application
from service.server import BackhaulServer
from tests.unit.tracking.application import tracking_settings

EVENTS = 20_000
DISCONNECTS = 100
PARCELS = 50
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _event(number: str, index: int) -> tracking_pb2.PartnerTrackingEvent:
    at = timestamp_pb2.Timestamp()
    at.FromDatetime(T0 + dt.timedelta(seconds=index))
    return tracking_pb2.PartnerTrackingEvent(tracking_number=number, occurred_at=at, code="EMC")


@pytest.mark.slow
async def test_random_disconnects_lose_and_duplicate_nothing(tmp_path: Path, sqlite_url: str) -> None:
    rng = random.Random(20_000)
    application = await build_application(tracking_settings(tmp_path, sqlite_url))
    assert application.tracking is not None
    await application.tenancy.ensure_merchant("acme", "Acme")
    _, key = await application.tenancy.create_api_key("acme")
    numbers = [f"RR{index:09d}NL" for index in range(PARCELS)]
    for index, number in enumerate(numbers):
        await application.tracking.ingestion.register_shipment("acme", f"lbl_{index}", "tulip-parcel", number)
    server = BackhaulServer(application)
    ports = await server.start()
    metadata = (("authorization", f"Bearer {key}"),)
    disconnect_after = sorted(rng.sample(range(1, EVENTS), DISCONNECTS))
    accepted: list[int] = []
    received: list[int] = []
    reconnects = 0
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{ports.grpc}") as channel:
            stub = tracking_pb2_grpc.TrackingServiceStub(channel)

            async def produce() -> None:
                index = 0
                while index < EVENTS:
                    size = min(rng.randint(1, 200), EVENTS - index)
                    batch = [_event(rng.choice(numbers), index + offset) for offset in range(size)]
                    reply = await stub.IngestTrackingEvents(
                        tracking_pb2.IngestTrackingEventsRequest(
                            carrier_account_id="tulip-parcel", events=batch
                        ),
                        metadata=metadata,
                    )
                    assert reply.accepted_count == size
                    accepted.extend(result.cursor for result in reply.results)
                    index += size
                    await asyncio.sleep(rng.random() * 0.004)

            async def subscribe() -> None:
                nonlocal reconnects
                pending = list(disconnect_after)
                resume_after = 0
                while len(received) < EVENTS:
                    call = stub.SubscribeTracking(
                        tracking_pb2.SubscribeTrackingRequest(
                            merchant=tracking_pb2.TrackingMerchantFilter(), resume_after_cursor=resume_after
                        ),
                        metadata=metadata,
                    )
                    async for message in call:
                        if message.WhichOneof("kind") != "event":
                            continue
                        received.append(message.event.cursor)
                        resume_after = message.event.cursor
                        if pending and len(received) >= pending[0]:
                            pending.pop(0)
                            break
                        if len(received) == EVENTS:
                            break
                    call.cancel()
                    reconnects += 1

            async with asyncio.timeout(120):
                await asyncio.gather(produce(), subscribe())
    finally:
        await server.drain()
    assert reconnects >= DISCONNECTS
    assert len(accepted) == EVENTS
    assert received == sorted(accepted)  # each event once, in cursor order
