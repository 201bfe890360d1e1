"""Benchmark: tracking fan-out, ingest to delivery, beside a bare grpc.aio server-streaming baseline.

One Backhaul server (embedded default unless --database-url / --bus-url say otherwise) with 1,000 per-label
subscribers (each authenticated with its label's tracking token) and 2 merchant-wide subscribers. Events
are pushed with IngestTrackingEvents at a fixed rate, in a batch every --batch-interval-ms, spread evenly
over the labels, so every event is delivered three times. The baseline is a bare grpc.aio server speaking
the same two RPCs with the same messages, fanning out from memory (no storage, bus or auth), driven by the
same client code in the same run.

The servers run in this process; subscribers and the ingesting client run in a separate process (the
machine has 2 cores). Latency is measured from the moment the ingest call is sent to the moment a
subscriber has the event (both in the client process, same clock).

Run:  .venv/bin/python tests/perf/bench_tracking.py [--rate 1000] [--find-max]
      [--database-url postgresql+asyncpg://...] [--bus-url nats://127.0.0.1:4222]
Prints one JSON object on its last line. --find-max also reports max_events_per_s: the highest rate at
which p99 stays <= --max-p99-ms with nothing lost or duplicated (and the same figure for the baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import multiprocessing
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import timestamp_pb2

from backhaul.v1 import tracking_pb2, tracking_pb2_grpc
from service.app import build_application
from service.cli import serving_loop_factory
from service.collector import CollectorThresholds, settle_after_start
from service.config import Settings
from service.logging import configure_logging
from service.server import BackhaulServer

ACCOUNT = "tulip-parcel"
MERCHANT = "bench-merchant"
CHANNELS = 16
DRAIN_SECONDS = 5.0
MIN_SEARCH_RATE = 50.0
SUBSCRIBE = "/backhaul.v1.TrackingService/SubscribeTracking"
INGEST = "/backhaul.v1.TrackingService/IngestTrackingEvents"


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- the bare baseline server ------------------------------------------------------------------------------


class BaselineTracking:
    """The same RPCs from memory: a cursor counter, a label index and one queue per stream."""

    def __init__(self, labels_by_number: dict[str, str]) -> None:
        self._labels = labels_by_number
        self._cursor = 0
        self._by_label: dict[str, list[asyncio.Queue[tracking_pb2.SubscribeTrackingResponse]]] = {}
        self._everything: list[asyncio.Queue[tracking_pb2.SubscribeTrackingResponse]] = []

    async def subscribe(
        self, request: tracking_pb2.SubscribeTrackingRequest, context: Any
    ) -> AsyncIterator[tracking_pb2.SubscribeTrackingResponse]:
        queue: asyncio.Queue[tracking_pb2.SubscribeTrackingResponse] = asyncio.Queue()
        targets = (
            [self._by_label.setdefault(label, []) for label in request.labels.label_ids]
            if request.WhichOneof("filter") == "labels"
            else [self._everything]
        )
        for target in targets:
            target.append(queue)
        yield tracking_pb2.SubscribeTrackingResponse(
            replay_complete=tracking_pb2.TrackingReplayComplete(last_cursor=self._cursor)
        )
        per_message = request.max_events_per_message
        try:
            while True:
                message = await queue.get()
                if per_message <= 1:
                    yield message
                    continue
                # As the service does: what is ready goes in one message, nothing waits for more.
                batch = [message.event]
                while len(batch) < per_message and not queue.empty():
                    batch.append(queue.get_nowait().event)
                response = tracking_pb2.SubscribeTrackingResponse()
                response.events.events.extend(batch)
                yield response
        finally:
            for target in targets:
                target.remove(queue)

    async def ingest(
        self, request: tracking_pb2.IngestTrackingEventsRequest, context: Any
    ) -> tracking_pb2.IngestTrackingEventsResponse:
        results = []
        for pushed in request.events:
            self._cursor += 1
            label = self._labels.get(pushed.tracking_number, "")
            message = tracking_pb2.SubscribeTrackingResponse(
                event=tracking_pb2.TrackingEvent(
                    cursor=self._cursor,
                    label_id=label,
                    tracking_number=pushed.tracking_number,
                    occurred_at=pushed.occurred_at,
                    code=pushed.code,
                    raw_payload=pushed.raw_payload,
                )
            )
            for queue in (*self._by_label.get(label, ()), *self._everything):
                queue.put_nowait(message)
            results.append(
                tracking_pb2.IngestedEventResult(
                    outcome=tracking_pb2.INGEST_OUTCOME_ACCEPTED, cursor=self._cursor
                )
            )
        return tracking_pb2.IngestTrackingEventsResponse(accepted_count=len(results), results=results)


async def start_baseline(labels_by_number: dict[str, str]) -> tuple[grpc.aio.Server, int]:
    servicer = BaselineTracking(labels_by_number)
    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler(
        "backhaul.v1.TrackingService",
        {
            "SubscribeTracking": grpc.unary_stream_rpc_method_handler(
                servicer.subscribe,
                request_deserializer=tracking_pb2.SubscribeTrackingRequest.FromString,
                response_serializer=tracking_pb2.SubscribeTrackingResponse.SerializeToString,
            ),
            "IngestTrackingEvents": grpc.unary_unary_rpc_method_handler(
                servicer.ingest,
                request_deserializer=tracking_pb2.IngestTrackingEventsRequest.FromString,
                response_serializer=tracking_pb2.IngestTrackingEventsResponse.SerializeToString,
            ),
        },
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


# -- the client process ------------------------------------------------------------------------------------


@dataclass
class Plan:
    target: str
    api_key: str
    numbers: list[str]  # tracking number of label i
    tokens: list[str]  # tracking token of label i ("" for the baseline: it does not authenticate)
    merchant_subscribers: int
    merchant_max_events_per_message: int  # the merchant-wide streams' max_events_per_message
    rates: list[float]  # fixed rates to measure, in order; empty with find_max
    find_max: bool
    start_rate: float
    duration: float
    warmup: float
    batch_interval: float
    max_p99_ms: float
    run_id: str
    gc_thresholds: str  # the client process settles its collector as the server does, once subscribed


@dataclass
class Level:
    rate: float
    ingested: int = 0
    delivered: int = 0
    delivered_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    lost: int = 0
    duplicated: int = 0
    achieved_rate: float = 0.0
    errors: int = 0

    def passed(self, max_p99_ms: float) -> bool:
        return (
            self.lost == 0
            and self.duplicated == 0
            and self.errors == 0
            and self.p99_ms <= max_p99_ms
            and self.achieved_rate >= 0.95 * self.rate
        )


@dataclass
class Subscriber:
    label: int  # -1: merchant-wide
    seen: dict[int, int] = field(default_factory=dict)  # cursor -> times received
    latency: dict[int, float] = field(default_factory=dict)  # cursor -> seconds, first receipt
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class Client:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.channels = [grpc.aio.insecure_channel(plan.target) for _ in range(CHANNELS)]
        self.subscribers: list[Subscriber] = []
        self.recording = False
        self.sequence = 0
        self.calls: list[grpc.aio.UnaryStreamCall] = []  # type: ignore[type-arg]
        self.receivers: list[asyncio.Task[None]] = []
        self.label_of = {number: index for index, number in enumerate(plan.numbers)}

    def _metadata(self, credential: str) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {credential}"),) if credential else ()

    async def subscribe_all(self) -> None:
        plan = self.plan
        tasks = []
        for index in range(len(plan.numbers)):
            self.subscribers.append(Subscriber(index))
        for _ in range(plan.merchant_subscribers):
            self.subscribers.append(Subscriber(-1))
        for position, subscriber in enumerate(self.subscribers):
            channel = self.channels[position % CHANNELS]
            stub = tracking_pb2_grpc.TrackingServiceStub(channel)
            if subscriber.label >= 0:
                request = tracking_pb2.SubscribeTrackingRequest(
                    labels=tracking_pb2.TrackingLabelFilter(label_ids=[f"{plan.run_id}-{subscriber.label}"])
                )
                credential = plan.tokens[subscriber.label]
            else:
                request = tracking_pb2.SubscribeTrackingRequest(
                    merchant=tracking_pb2.TrackingMerchantFilter(),
                    max_events_per_message=plan.merchant_max_events_per_message,
                )
                credential = plan.api_key
            call = stub.SubscribeTracking(request, metadata=self._metadata(credential))
            self.calls.append(call)
            tasks.append(asyncio.create_task(self._receive(call, subscriber)))
        async with asyncio.timeout(120):
            await asyncio.gather(*(s.ready.wait() for s in self.subscribers))
        self.receivers = tasks

    async def _receive(self, call: Any, subscriber: Subscriber) -> None:
        with contextlib.suppress(grpc.aio.AioRpcError, asyncio.CancelledError):
            async for message in call:
                kind = message.WhichOneof("kind")
                if kind in ("event", "events"):
                    if self.recording:
                        received = time.time()
                        events = [message.event] if kind == "event" else message.events.events
                        for event in events:
                            cursor = event.cursor
                            count = subscriber.seen.get(cursor, 0)
                            if not count:
                                subscriber.latency[cursor] = received - event.raw_payload["sent_at"]
                            subscriber.seen[cursor] = count + 1
                elif kind == "replay_complete":
                    subscriber.ready.set()

    def _batch(self, count: int, sent_at: float) -> tracking_pb2.IngestTrackingEventsRequest:
        plan = self.plan
        base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        events = []
        for _ in range(count):
            self.sequence += 1
            at = timestamp_pb2.Timestamp()
            at.FromDatetime(base + dt.timedelta(microseconds=self.sequence))
            event = tracking_pb2.PartnerTrackingEvent(
                tracking_number=plan.numbers[self.sequence % len(plan.numbers)],
                occurred_at=at,
                code="EMC",
                description="departure from outward office of exchange",
            )
            event.raw_payload.update({"sent_at": sent_at})
            events.append(event)
        return tracking_pb2.IngestTrackingEventsRequest(carrier_account_id=ACCOUNT, events=events)

    async def run_level(self, rate: float) -> Level:
        plan = self.plan
        stub = tracking_pb2_grpc.TrackingServiceStub(self.channels[0])
        metadata = self._metadata(plan.api_key)
        level = Level(rate)
        expected: list[tuple[int, int]] = []  # (cursor, label)
        in_flight: set[asyncio.Task[None]] = set()

        async def ingest(request: tracking_pb2.IngestTrackingEventsRequest, record: bool) -> None:
            try:
                reply = await stub.IngestTrackingEvents(request, metadata=metadata, timeout=30)
            except grpc.aio.AioRpcError:
                level.errors += 1
                return
            if record:
                for pushed, result in zip(request.events, reply.results, strict=True):
                    expected.append((result.cursor, self.label_of[pushed.tracking_number]))

        for phase, seconds in (("warmup", plan.warmup), ("measure", plan.duration)):
            record = phase == "measure"
            for subscriber in self.subscribers:
                subscriber.seen.clear()
                subscriber.latency.clear()
            self.recording = record
            loop = asyncio.get_running_loop()
            started = loop.time()
            sent = 0
            while (elapsed := loop.time() - started) < seconds:
                due = int(rate * min(elapsed + plan.batch_interval, seconds)) - sent
                if due > 0:
                    task = asyncio.create_task(ingest(self._batch(due, time.time()), record))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                    sent += due
                await asyncio.sleep(plan.batch_interval)
            if record:
                level.ingested = sent
                level.achieved_rate = sent / (loop.time() - started)
            if in_flight:
                await asyncio.wait(in_flight, timeout=30)
        wanted = self._wanted(expected)
        await self._drain(wanted)
        self.recording = False
        self._score(level, wanted)
        return level

    def _wanted(self, expected: list[tuple[int, int]]) -> list[set[int]]:
        """The cursors each subscriber must receive: its label's, or all of them."""
        per_label: dict[int, set[int]] = {}
        for cursor, label in expected:
            per_label.setdefault(label, set()).add(cursor)
        everything = {cursor for cursor, _ in expected}
        return [everything if s.label < 0 else per_label.get(s.label, set()) for s in self.subscribers]

    async def _drain(self, wanted: list[set[int]]) -> None:
        deadline = asyncio.get_running_loop().time() + DRAIN_SECONDS
        while asyncio.get_running_loop().time() < deadline:
            if all(cursors <= s.seen.keys() for s, cursors in zip(self.subscribers, wanted, strict=True)):
                return
            await asyncio.sleep(0.05)

    def _score(self, level: Level, wanted: list[set[int]]) -> None:
        """Only the measured events count (late deliveries of warm-up events are ignored)."""
        latencies: list[float] = []
        for subscriber, cursors in zip(self.subscribers, wanted, strict=True):
            received = cursors & subscriber.seen.keys()
            level.delivered += len(received)
            level.lost += len(cursors) - len(received)
            level.duplicated += sum(subscriber.seen[c] - 1 for c in received)
            latencies.extend(subscriber.latency[c] for c in received)
        level.delivered_per_s = level.delivered / self.plan.duration
        if latencies:
            latencies.sort()
            level.p50_ms = statistics.median(latencies) * 1000
            level.p99_ms = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000

    async def find_max(self) -> tuple[float, list[Level]]:
        """Step the rate up (x1.5) from the start rate until a level fails, or down (/1.5, to 50/s at
        least) until one passes; then halve the interval between the best pass and the first failure
        three times."""
        plan = self.plan
        levels: list[Level] = []
        best = 0.0
        failed: float | None = None
        rate = plan.start_rate
        while True:
            level = await self.run_level(rate)
            levels.append(level)
            if level.passed(plan.max_p99_ms):
                best = rate
                if failed is not None:
                    break
                rate *= 1.5
            else:
                failed = rate
                if best or rate < MIN_SEARCH_RATE:
                    break
                rate /= 1.5
        for _ in range(3):
            if best == 0.0 or failed is None or failed / best < 1.1:
                break
            rate = round((best + failed) / 2)
            level = await self.run_level(rate)
            levels.append(level)
            if level.passed(plan.max_p99_ms):
                best = rate
            else:
                failed = rate
        return best, levels

    async def close(self) -> None:
        for call in self.calls:
            call.cancel()
        await asyncio.gather(*self.receivers, return_exceptions=True)
        for channel in self.channels:
            await channel.close(None)


async def _client_main(plan: Plan) -> dict[str, Any]:
    client = Client(plan)
    await client.subscribe_all()
    # Without this the client's own full collections (over 100 ms with a thousand open streams) stalled
    # its receiving and counted against whichever server it was measuring.
    settle_after_start(CollectorThresholds.parse(plan.gc_thresholds))
    try:
        if plan.find_max:
            best, levels = await client.find_max()
            return {"max_events_per_s": best, "levels": [asdict(level) for level in levels]}
        levels = [await client.run_level(rate) for rate in plan.rates]
        return {"levels": [asdict(level) for level in levels]}
    finally:
        await client.close()


def client_process(plan: Plan, connection: Connection) -> None:
    with asyncio.Runner(loop_factory=serving_loop_factory()) as runner:
        connection.send(runner.run(_client_main(plan)))
    connection.close()


def _run_client(plan: Plan) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=client_process, args=(plan, sending))
    process.start()
    sending.close()
    result: dict[str, Any] = receiving.recv()
    process.join()
    return result


# -- the server side ---------------------------------------------------------------------------------------


async def _serve_and_measure(args: argparse.Namespace) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="backhaul-bench-") as workdir:
        environ = {
            "BACKHAUL_DATABASE_URL": args.database_url or f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}",
            "BACKHAUL_BUS_URL": args.bus_url,
            "BACKHAUL_GRPC_ADDRESS": f"127.0.0.1:{_free_port()}",
            "BACKHAUL_HTTP_ADDRESS": f"127.0.0.1:{_free_port()}",
            "BACKHAUL_QUOTE_TOKEN_SECRET": secrets.token_urlsafe(48),
            "BACKHAUL_LOG_LEVEL": "WARNING",
            "BACKHAUL_TRACKING_HEARTBEAT_SECONDS": "15",
            "BACKHAUL_GC_THRESHOLDS": args.gc_thresholds,
        }
        settings = Settings.load(environ)
        application = await build_application(settings)
        tracking = application.tracking
        assert tracking is not None
        if args.without_reclaim_follower and application.reclaim is not None:
            # Diagnostic: the duty-reclaim follower catches up with the tracking log on every bus message.
            await application.reclaim.close()
        await application.tenancy.ensure_merchant(MERCHANT, "Bench Merchant")
        _, api_key = await application.tenancy.create_api_key(MERCHANT)
        numbers = [f"BH{run_id}{index:05d}".upper() for index in range(args.subscribers)]
        tokens = []
        for index, number in enumerate(numbers):
            label = f"{run_id}-{index}"
            await tracking.ingestion.register_shipment(MERCHANT, label, ACCOUNT, number)
            tokens.append(tracking.tokens.issue(MERCHANT, label))
        server = BackhaulServer(application)
        ports = await server.start()
        settle_after_start(settings.gc_thresholds)  # as `backhaul serve` does once it is up
        baseline, baseline_port = await start_baseline(
            {number: f"{run_id}-{index}" for index, number in enumerate(numbers)}
        )
        common = {
            "numbers": numbers,
            "merchant_subscribers": args.merchant_subscribers,
            "merchant_max_events_per_message": args.merchant_max_events_per_message,
            "rates": [] if args.find_max else [args.rate],
            "find_max": args.find_max,
            "start_rate": args.rate,
            "duration": args.duration,
            "warmup": args.warmup,
            "batch_interval": args.batch_interval_ms / 1000,
            "max_p99_ms": args.max_p99_ms,
            "run_id": run_id,
            "gc_thresholds": args.gc_thresholds,
        }
        loop = asyncio.get_running_loop()
        try:
            measured = await loop.run_in_executor(
                None,
                _run_client,
                Plan(target=f"127.0.0.1:{ports.grpc}", api_key=api_key, tokens=tokens, **common),
            )
            # Fixed-rate comparisons use the baseline at the same rate; --find-max compares the maxima.
            base = await loop.run_in_executor(
                None,
                _run_client,
                Plan(target=f"127.0.0.1:{baseline_port}", api_key="", tokens=[""] * len(numbers), **common),
            )
        finally:
            await baseline.stop(None)
            await server.drain()
    return {"backhaul": measured, "baseline": base}


def _summary(args: argparse.Namespace, result: dict[str, Any]) -> dict[str, Any]:
    ours, base = result["backhaul"], result["baseline"]
    summary: dict[str, Any] = {
        "benchmark": "tracking_fanout",
        "database": "postgresql" if args.database_url.startswith("postgresql") else "sqlite",
        "bus": "nats" if args.bus_url.startswith(("nats", "tls")) else "memory",
        "label_subscribers": args.subscribers,
        "merchant_subscribers": args.merchant_subscribers,
        "merchant_max_events_per_message": args.merchant_max_events_per_message,
        "cores": multiprocessing.cpu_count(),
        "loop": "asyncio" if serving_loop_factory() is None else "uvloop",
        "reclaim_follower": not args.without_reclaim_follower,
        "gc_thresholds": args.gc_thresholds,
    }
    if args.find_max:
        at_max = next((lvl for lvl in ours["levels"] if lvl["rate"] == ours["max_events_per_s"]), None)
        summary.update(
            max_events_per_s=ours["max_events_per_s"],
            baseline_max_events_per_s=base["max_events_per_s"],
            max_ratio_to_baseline=round(ours["max_events_per_s"] / base["max_events_per_s"], 3)
            if base["max_events_per_s"]
            else None,
            at_max=at_max,
            levels=[
                {k: round(v, 1) if isinstance(v, float) else v for k, v in lvl.items()}
                for lvl in ours["levels"]
            ],
            baseline_levels=[
                {k: round(v, 1) if isinstance(v, float) else v for k, v in lvl.items()}
                for lvl in base["levels"]
            ],
        )
        return summary
    level, baseline = ours["levels"][0], base["levels"][0]
    summary.update(
        rate=args.rate,
        ingested=level["ingested"],
        delivered_per_s=round(level["delivered_per_s"], 1),
        p50_ms=round(level["p50_ms"], 2),
        p99_ms=round(level["p99_ms"], 2),
        lost=level["lost"],
        duplicated=level["duplicated"],
        errors=level["errors"],
        baseline_delivered_per_s=round(baseline["delivered_per_s"], 1),
        baseline_p50_ms=round(baseline["p50_ms"], 2),
        baseline_p99_ms=round(baseline["p99_ms"], 2),
        ratio_to_baseline=round(level["delivered_per_s"] / baseline["delivered_per_s"], 3)
        if baseline["delivered_per_s"]
        else None,
        p99_ratio_to_baseline=round(level["p99_ms"] / baseline["p99_ms"], 2) if baseline["p99_ms"] else None,
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--subscribers", type=int, default=1000, help="per-label subscribers (one label each)"
    )
    parser.add_argument("--merchant-subscribers", type=int, default=2)
    parser.add_argument(
        "--merchant-max-events-per-message",
        type=int,
        default=100,
        help="max_events_per_message of the merchant-wide streams (both servers); 1: an event per message",
    )
    parser.add_argument(
        "--rate", type=float, default=1000.0, help="events/s ingested (start rate with --find-max)"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per rate")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured seconds before each measurement"
    )
    parser.add_argument(
        "--batch-interval-ms", type=float, default=10.0, help="one IngestTrackingEvents per interval"
    )
    parser.add_argument("--find-max", action="store_true")
    parser.add_argument("--max-p99-ms", type=float, default=100.0)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary directory")
    parser.add_argument("--bus-url", default="memory://")
    parser.add_argument(
        "--gc-thresholds",
        default=str(Settings().gc_thresholds),
        help="BACKHAUL_GC_THRESHOLDS of the server (700,10,10: CPython's default)",
    )
    parser.add_argument(
        "--without-reclaim-follower",
        action="store_true",
        help="diagnostic: stop the duty-reclaim follower, which reads the log after every tracking commit",
    )
    args = parser.parse_args()
    configure_logging("WARNING", "console")
    # Servers and clients on the event loop `backhaul serve` runs on (uvloop when installed).
    with asyncio.Runner(loop_factory=serving_loop_factory()) as runner:
        result = runner.run(_serve_and_measure(args))
    print(json.dumps(_summary(args, result)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
