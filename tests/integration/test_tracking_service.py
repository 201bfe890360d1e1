"""Tracking through the real application: webhooks over HTTP, partner pushes, GetTracking and streams
over gRPC, tracking tokens, and a slow subscriber falling back to the store."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
from google.protobuf import duration_pb2, timestamp_pb2

from backhaul.v1 import tracking_pb2, tracking_pb2_grpc
from carriers.easypost.adapter import expected_signature
from carriers.sandbox.adapter import sign_webhook
from service.app import Application, build_application
from service.http.app import create_http_app
from service.server import BackhaulServer
from service.tracking.milestones import ReturnRoute
from service.tracking.selection import EventSelection
from service.tracking.streams import ReplayComplete
from tests.unit.tracking.application import (
    CARRIER_ENVIRONMENT,
    EASYPOST_SECRET,
    WEBHOOK_SECRET,
    tracking_settings,
)

MERCHANT = "acme"
OTHER = "globex"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday


@dataclass
class Running:
    application: Application
    server: BackhaulServer
    channel: grpc.aio.Channel
    key: str
    other_key: str
    http: httpx.AsyncClient

    @property
    def stub(self) -> tracking_pb2_grpc.TrackingServiceStub:
        return tracking_pb2_grpc.TrackingServiceStub(self.channel)

    def auth(self, credential: str | None = None) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {credential or self.key}"),)


async def _running(tmp_path: Path, database_url: str, **overrides: str) -> AsyncIterator[Running]:
    application = await build_application(tracking_settings(tmp_path, database_url, **overrides))
    for merchant in (MERCHANT, OTHER):
        await application.tenancy.ensure_merchant(merchant, merchant.title())
    _, key = await application.tenancy.create_api_key(MERCHANT)
    _, other_key = await application.tenancy.create_api_key(OTHER)
    server = BackhaulServer(application)
    ports = await server.start()
    assert application.tracking is not None
    http_app = create_http_app(
        application.metrics, lambda: "SERVING", tracking=application.tracking.ingestion
    )
    async with (
        grpc.aio.insecure_channel(f"127.0.0.1:{ports.grpc}") as channel,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=http_app), base_url="http://backhaul") as http,
    ):
        try:
            yield Running(application, server, channel, key, other_key, http)
        finally:
            await server.drain()


@pytest.fixture
async def running(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Running]:
    for name, value in CARRIER_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    async for started in _running(tmp_path, database_url):
        yield started


@pytest.fixture
async def small_queues(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Running]:
    for name, value in CARRIER_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    async for started in _running(tmp_path, sqlite_url, tracking_subscriber_queue="5"):
        yield started


def _tracking(running: Running):  # type: ignore[no-untyped-def]
    tracking = running.application.tracking
    assert tracking is not None
    return tracking


def _sandbox_body(number: str, *scans: tuple[str, str, int]) -> bytes:
    return json.dumps(
        {
            "tracking_number": number,
            "events": [
                {
                    "occurred_at": (T0 + dt.timedelta(hours=hours)).isoformat(),
                    "status": status,
                    "code": code,
                    "description": code.lower(),
                    "location": {"city": "Utrecht", "country": "NL"},
                }
                for status, code, hours in scans
            ],
        }
    ).encode()


async def _post(running: Running, account: str, body: bytes, signature: str) -> httpx.Response:
    return await running.http.post(
        f"/webhooks/{account}", content=body, headers={"X-Sandbox-Signature": signature}
    )


async def test_webhooks_good_bad_and_replayed(running: Running) -> None:
    tracking = _tracking(running)
    await tracking.ingestion.register_shipment(MERCHANT, "lbl_1", "sandbox-hooks", "sb 0001")
    body = _sandbox_body("SB0001", ("in_transit", "AC", 0), ("delivered", "DL", 30))

    good = await _post(running, "sandbox-hooks", body, sign_webhook(WEBHOOK_SECRET, body))
    assert (good.status_code, good.json()) == (200, {"accepted": 2, "duplicates": 0, "unmatched": 0})
    replayed = await _post(running, "sandbox-hooks", body, sign_webhook(WEBHOOK_SECRET, body))
    assert replayed.json() == {"accepted": 0, "duplicates": 2, "unmatched": 0}

    head = await tracking.queries._log.head()
    tampered = body.replace(b"Utrecht", b"Utrecht!")
    bad = await _post(running, "sandbox-hooks", tampered, sign_webhook(WEBHOOK_SECRET, body))
    assert bad.status_code == 401
    unsigned = await running.http.post("/webhooks/sandbox-hooks", content=tampered)
    assert unsigned.status_code == 401
    assert await tracking.queries._log.head() == head  # nothing stored

    assert (await _post(running, "no-such-account", body, "x")).status_code == 404
    assert (await _post(running, "tulip-parcel", body, "x")).status_code == 404  # pushes, no webhooks
    stranger = _sandbox_body("SB9999", ("in_transit", "AC", 0))
    unmatched = await _post(running, "sandbox-hooks", stranger, sign_webhook(WEBHOOK_SECRET, stranger))
    assert unmatched.json() == {"accepted": 0, "duplicates": 0, "unmatched": 1}

    reply = await running.stub.GetTracking(
        tracking_pb2.GetTrackingRequest(label_id="lbl_1"), metadata=running.auth()
    )
    assert [e.code for e in reply.history] == ["AC", "DL"]
    assert reply.history[0].source == tracking_pb2.TRACKING_EVENT_SOURCE_WEBHOOK
    assert reply.state.status == tracking_pb2.TRACKING_STATUS_DELIVERED
    assert reply.state.final
    assert reply.state.carrier.name == "Sandbox Express"
    assert reply.state.carrier.provider == "sandbox"
    refused = running.application.metrics.tracking_webhooks_refused.labels("sandbox-hooks")._value.get()
    assert refused == 2


async def test_an_easypost_webhook_is_verified_and_parsed_by_its_adapter(running: Running) -> None:
    tracking = _tracking(running)
    await tracking.ingestion.register_shipment(MERCHANT, "lbl_ep", "easypost-main", "9400111899223197428490")
    tracker = {
        "id": "trk_1",
        "object": "Tracker",
        "tracking_code": "9400111899223197428490",
        "status": "in_transit",
        "status_detail": "arrived_at_facility",
        "est_delivery_date": "2026-03-05T00:00:00Z",
        "public_url": "https://track.example/trk_1",
        "tracking_details": [
            {
                "object": "TrackingDetail",
                "message": "Arrived at USPS facility",
                "status": "in_transit",
                "status_detail": "arrived_at_facility",
                "datetime": "2026-03-02T10:00:00Z",
                "source": "USPS",
                "carrier_code": "10",
                "tracking_location": {"city": "CHICAGO", "state": "IL", "country": "US", "zip": "60601"},
            }
        ],
    }
    body = json.dumps({"object": "Event", "description": "tracker.updated", "result": tracker}).encode()
    headers = {"X-Hmac-Signature": expected_signature(body, EASYPOST_SECRET)}
    good = await running.http.post("/webhooks/easypost-main", content=body, headers=headers)
    assert good.json() == {"accepted": 1, "duplicates": 0, "unmatched": 0}
    again = await running.http.post("/webhooks/easypost-main", content=body, headers=headers)
    assert again.json()["duplicates"] == 1
    forged = await running.http.post(
        "/webhooks/easypost-main", content=body, headers={"X-Hmac-Signature": "hmac-sha256-hex=00"}
    )
    assert forged.status_code == 401
    reply = await running.stub.GetTracking(
        tracking_pb2.GetTrackingRequest(tracking_number="9400 1118 9922 3197 4284 90"),
        metadata=running.auth(),
    )
    (event,) = reply.history
    assert (event.location.city, event.location.administrative_area, event.substatus) == (
        "CHICAGO",
        "IL",
        "arrived_at_facility",
    )
    assert event.raw_payload["source"] == "USPS"


def _push(number: str, code: str, hours: float, **fields: object) -> tracking_pb2.PartnerTrackingEvent:
    at = timestamp_pb2.Timestamp()
    at.FromDatetime(T0 + dt.timedelta(hours=hours))
    return tracking_pb2.PartnerTrackingEvent(tracking_number=number, occurred_at=at, code=code, **fields)  # type: ignore[arg-type]


async def _ingest(running: Running, *events: tracking_pb2.PartnerTrackingEvent, key: str | None = None):  # type: ignore[no-untyped-def]
    return await running.stub.IngestTrackingEvents(
        tracking_pb2.IngestTrackingEventsRequest(carrier_account_id="tulip-parcel", events=events),
        metadata=running.auth(key),
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_partner_pushes_are_merchant_scoped_and_deduplicated(running: Running) -> None:
    tracking = _tracking(running)
    await tracking.ingestion.register_shipment(MERCHANT, "lbl_2", "tulip-parcel", "RR000000017NL")
    await tracking.ingestion.register_shipment(OTHER, "lbl_x", "tulip-parcel", "RR000000025NL")
    first = await _ingest(running, _push("RR000000017NL", "EMA", 0), _push("RR000000017NL", "EMC", 5))
    assert (first.accepted_count, first.duplicate_count) == (2, 0)
    again = await _ingest(running, _push("RR000000017NL", "EMC", 5), _push("RR000000017NL", "EMD", 20))
    assert [r.outcome for r in again.results] == [
        tracking_pb2.INGEST_OUTCOME_DUPLICATE,
        tracking_pb2.INGEST_OUTCOME_ACCEPTED,
    ]
    assert again.results[0].cursor == first.results[1].cursor

    with pytest.raises(grpc.aio.AioRpcError) as foreign:
        await _ingest(running, _push("RR000000017NL", "EMI", 30), _push("RR000000025NL", "EMI", 30))
    assert foreign.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "events[1].tracking_number" in (foreign.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as bad_country:
        await _ingest(
            running, _push("RR000000017NL", "EMI", 30, location=tracking_pb2.TrackingLocation(country="XX"))
        )
    assert "events[0].location.country" in (bad_country.value.details() or "")
    history = await running.stub.GetTracking(
        tracking_pb2.GetTrackingRequest(label_id="lbl_2"), metadata=running.auth()
    )
    assert [e.code for e in history.history] == ["EMA", "EMC", "EMD"]  # the refused batches stored nothing


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_get_tracking_state_milestones_refund_date_and_tokens(running: Running) -> None:
    tracking = _tracking(running)
    await tracking.ingestion.register_shipment(MERCHANT, "lbl_3", "tulip-parcel", "RR000000034NL")
    await tracking.ingestion.register_shipment(MERCHANT, "lbl_4", "tulip-parcel", "RR000000048NL")
    await _ingest(
        running,
        _push("RR000000034NL", "EMA", 0),
        _push("RR000000034NL", "EME", 24),
        _push("RR000000034NL", "EMI", 72),  # Thursday 09:00
        _push("RR000000034NL", "HUB_RELEASED", 80, status=tracking_pb2.TRACKING_STATUS_DELIVERED),
    )
    token = tracking.tokens.issue(MERCHANT, "lbl_3")
    reply = await running.stub.GetTracking(tracking_pb2.GetTrackingRequest(), metadata=running.auth(token))
    state = reply.state
    assert state.label_id == "lbl_3"
    assert state.status == tracking_pb2.TRACKING_STATUS_DELIVERED
    assert [(m.reached, m.cursor) for m in state.milestones] == [
        (True, reply.history[0].cursor),
        (True, reply.history[1].cursor),
        (True, reply.history[2].cursor),
        (True, reply.history[3].cursor),
    ]
    assert reply.history[1].exception_reason == tracking_pb2.EXCEPTION_REASON_CUSTOMS_DELAY
    assert reply.history[3].milestone == tracking_pb2.RETURN_MILESTONE_DELIVERED_TO_MERCHANT
    # Released Thursday 2026-03-05 17:00 UTC; five business days later is Thursday 2026-03-12.
    assert (
        state.expected_refund_date.year,
        state.expected_refund_date.month,
        state.expected_refund_date.day,
    ) == (
        2026,
        3,
        12,
    )
    assert state.last_cursor == reply.history[-1].cursor

    for request in (
        tracking_pb2.GetTrackingRequest(label_id="lbl_4"),
        tracking_pb2.GetTrackingRequest(tracking_number="RR000000048NL"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await running.stub.GetTracking(request, metadata=running.auth(token))
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as not_for_tokens:
        await _ingest(running, _push("RR000000034NL", "EMI", 90), key=token)
    assert not_for_tokens.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as other_merchant:
        await running.stub.GetTracking(
            tracking_pb2.GetTrackingRequest(label_id="lbl_3"), metadata=running.auth(running.other_key)
        )
    assert other_merchant.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as forged:
        await running.stub.GetTracking(
            tracking_pb2.GetTrackingRequest(), metadata=running.auth(token[:-3] + "abc")
        )
    assert forged.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def _next(stream: grpc.aio.UnaryStreamCall, kind: str) -> tracking_pb2.SubscribeTrackingResponse:  # type: ignore[type-arg]
    async with asyncio.timeout(10):
        message = await stream.read()
    assert message is not grpc.aio.EOF
    assert message.WhichOneof("kind") == kind, message
    return message  # type: ignore[no-any-return]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_streams_replay_then_go_live_resume_and_beat(running: Running) -> None:
    tracking = _tracking(running)
    await tracking.ingestion.register_shipment(MERCHANT, "lbl_5", "tulip-parcel", "RR000000051NL")
    await tracking.ingestion.register_shipment(MERCHANT, "lbl_6", "tulip-parcel", "RR000000065NL")
    stored = await _ingest(running, _push("RR000000051NL", "EMA", 0), _push("RR000000065NL", "EMA", 0))
    first_cursor = stored.results[0].cursor

    token = tracking.tokens.issue(MERCHANT, "lbl_5")
    from_start = running.stub.SubscribeTracking(
        tracking_pb2.SubscribeTrackingRequest(resume_after_cursor=0), metadata=running.auth(token)
    )
    only_new = running.stub.SubscribeTracking(
        tracking_pb2.SubscribeTrackingRequest(
            merchant=tracking_pb2.TrackingMerchantFilter(),
            heartbeat_interval=duration_pb2.Duration(seconds=1),
        ),
        metadata=running.auth(),
    )
    assert (await _next(from_start, "event")).event.cursor == first_cursor  # lbl_6 is not the token's
    done = await _next(from_start, "replay_complete")
    assert (done.replay_complete.last_cursor, done.replay_complete.replayed_count) == (first_cursor, 1)
    assert (await _next(only_new, "replay_complete")).replay_complete.replayed_count == 0

    live = await _ingest(running, _push("RR000000051NL", "EMC", 5), _push("RR000000065NL", "EMC", 5))
    assert (await _next(from_start, "event")).event.cursor == live.results[0].cursor
    assert [(await _next(only_new, "event")).event.cursor for _ in range(2)] == [
        r.cursor for r in live.results
    ]
    beat = await _next(only_new, "heartbeat")
    assert beat.heartbeat.last_cursor == live.results[1].cursor

    resumed = running.stub.SubscribeTracking(
        tracking_pb2.SubscribeTrackingRequest(
            labels=tracking_pb2.TrackingLabelFilter(label_ids=["lbl_6"]), resume_after_cursor=first_cursor
        ),
        metadata=running.auth(),
    )
    assert (await _next(resumed, "event")).event.cursor == stored.results[1].cursor
    assert (await _next(resumed, "event")).event.cursor == live.results[1].cursor
    await _next(resumed, "replay_complete")
    for stream in (from_start, only_new, resumed):
        stream.cancel()

    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await _next(
            running.stub.SubscribeTracking(
                tracking_pb2.SubscribeTrackingRequest(merchant=tracking_pb2.TrackingMerchantFilter()),
                metadata=running.auth(token),
            ),
            "event",
        )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as beyond:
        await _next(
            running.stub.SubscribeTracking(
                tracking_pb2.SubscribeTrackingRequest(
                    merchant=tracking_pb2.TrackingMerchantFilter(), resume_after_cursor=10**9
                ),
                metadata=running.auth(),
            ),
            "event",
        )
    assert beyond.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_streams_may_send_the_events_ready_together_in_one_message(running: Running) -> None:
    tracking = _tracking(running)
    numbers = [f"RR0000001{index:02d}NL" for index in range(12)]
    for index, number in enumerate(numbers):
        await tracking.ingestion.register_shipment(MERCHANT, f"lbl_b{index}", "tulip-parcel", number)
    stored = await _ingest(running, *(_push(number, "EMA", 0) for number in numbers))
    batched = running.stub.SubscribeTracking(
        tracking_pb2.SubscribeTrackingRequest(
            merchant=tracking_pb2.TrackingMerchantFilter(), resume_after_cursor=0, max_events_per_message=5
        ),
        metadata=running.auth(),
    )
    # The replay is one page: 12 events in messages of at most 5, in cursor order.
    sizes, cursors = [], []
    for _ in range(3):
        events = (await _next(batched, "events")).events.events
        sizes.append(len(events))
        cursors += [event.cursor for event in events]
    assert (sizes, cursors) == ([5, 5, 2], [result.cursor for result in stored.results])
    assert (await _next(batched, "replay_complete")).replay_complete.replayed_count == 12

    live = await _ingest(running, _push(numbers[0], "EMC", 5))  # one ready event goes at once, alone
    (event,) = (await _next(batched, "events")).events.events
    assert event.cursor == live.results[0].cursor
    assert event.tracking_number == numbers[0]
    batched.cancel()

    with pytest.raises(grpc.aio.AioRpcError) as too_many:
        await _next(
            running.stub.SubscribeTracking(
                tracking_pb2.SubscribeTrackingRequest(
                    merchant=tracking_pb2.TrackingMerchantFilter(), max_events_per_message=501
                ),
                metadata=running.auth(),
            ),
            "events",
        )
    assert too_many.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "max_events_per_message" in (too_many.value.details() or "")


async def test_a_slow_subscriber_reads_from_the_store_and_never_slows_the_others(
    small_queues: Running,
) -> None:
    tracking = _tracking(small_queues)
    shipment = await tracking.ingestion.register_shipment(
        MERCHANT, "lbl_7", "tulip-parcel", "RR000000079NL", route=ReturnRoute.DIRECT
    )
    everything = EventSelection(MERCHANT)
    slow = tracking.streams.stream(everything, None, 60)
    fast = tracking.streams.stream(everything, None, 60)
    assert isinstance(await anext(slow), ReplayComplete)
    assert isinstance(await anext(fast), ReplayComplete)

    cursors = []
    received_fast = []
    for hour in range(40):  # eight times the queue capacity of 5
        (result,) = await tracking.ingestion.ingest_partner_scans(
            MERCHANT, "tulip-parcel", [_scan(shipment.tracking_number, hour)]
        )
        cursors.append(result.cursor)
        received_fast.append((await asyncio.wait_for(anext(fast), 5)).cursor)
    assert received_fast == cursors
    assert tracking.fanout.max_lag_seconds() > 0  # the slow stream is behind and knows it

    received_slow = [(await asyncio.wait_for(anext(slow), 5)).cursor for _ in cursors]
    assert received_slow == cursors
    (late,) = await tracking.ingestion.ingest_partner_scans(
        MERCHANT, "tulip-parcel", [_scan(shipment.tracking_number, 99)]
    )
    assert (await asyncio.wait_for(anext(slow), 5)).cursor == late.cursor
    assert (await asyncio.wait_for(anext(fast), 5)).cursor == late.cursor
    assert tracking.fanout.max_lag_seconds() == 0  # caught up, and live again
    await slow.aclose()
    await fast.aclose()
    assert tracking.fanout.subscriber_count == 0


def _scan(number: str, hours: int):  # type: ignore[no-untyped-def]
    from service.tracking.partner_scans import PartnerScan

    return PartnerScan(tracking_number=number, occurred_at=T0 + dt.timedelta(hours=hours), code="EMC")
