"""Draining: calls in flight when the server is asked to stop finish; calls after that are refused."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from backhaul.v1 import rates_pb2
from service.app import build_application
from service.config import Settings
from service.server import BackhaulServer


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SlowRates:
    """Answers after a pause, long enough to be in flight when draining starts."""

    def __init__(self, expected: int) -> None:
        self.started = 0
        self.expected = expected
        self.all_started = asyncio.Event()

    async def QuoteReturn(
        self, request: rates_pb2.QuoteReturnRequest, context: object
    ) -> rates_pb2.QuoteReturnResponse:
        self.started += 1
        if self.started == self.expected:
            self.all_started.set()
        await asyncio.sleep(0.8)
        return rates_pb2.QuoteReturnResponse(cross_border=True)


async def test_drain_finishes_in_flight_calls_and_refuses_new_ones(tmp_path: Path) -> None:
    settings = Settings.load(
        {
            "BACKHAUL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'drain.db'}",
            "BACKHAUL_GRPC_ADDRESS": f"127.0.0.1:{_free_port()}",
            "BACKHAUL_HTTP_ADDRESS": f"127.0.0.1:{_free_port()}",
            "BACKHAUL_DRAIN_SECONDS": "10",
        }
    )
    application = await build_application(settings)
    await application.tenancy.ensure_merchant("m", "M")
    _, key = await application.tenancy.create_api_key("m")
    slow = SlowRates(expected=5)
    application.servicers["RatesService"] = slow
    server = BackhaulServer(application)
    ports = await server.start()
    metadata = (("authorization", f"Bearer {key}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{ports.grpc}") as channel:
        quote = channel.unary_unary(
            "/backhaul.v1.RatesService/QuoteReturn",
            request_serializer=rates_pb2.QuoteReturnRequest.SerializeToString,
            response_deserializer=rates_pb2.QuoteReturnResponse.FromString,
        )
        in_flight = [
            asyncio.ensure_future(quote(rates_pb2.QuoteReturnRequest(), metadata=metadata)) for _ in range(5)
        ]
        await asyncio.wait_for(slow.all_started.wait(), timeout=10)
        drain = asyncio.create_task(server.drain())
        await asyncio.sleep(0.1)
        # Draining: health says so at once, and a new call is refused.
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await quote(rates_pb2.QuoteReturnRequest(), metadata=metadata, timeout=2)
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
        replies = await asyncio.gather(*in_flight)
        assert all(reply.cross_border for reply in replies)
        await drain
    assert slow.started == 5


async def test_health_turns_not_serving_while_draining(tmp_path: Path) -> None:
    settings = Settings.load(
        {
            "BACKHAUL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'health.db'}",
            "BACKHAUL_GRPC_ADDRESS": f"127.0.0.1:{_free_port()}",
            "BACKHAUL_HTTP_ADDRESS": f"127.0.0.1:{_free_port()}",
            "BACKHAUL_DRAIN_SECONDS": "5",
        }
    )
    application = await build_application(settings)
    server = BackhaulServer(application)
    ports = await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{ports.grpc}") as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
        first = await watch.read()
        assert first.status == health_pb2.HealthCheckResponse.SERVING
        drain = asyncio.create_task(server.drain())
        second = await watch.read()
        assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
        watch.cancel()
        await drain
