"""Every RPC of the contract is served: a servicer that lacks a method answers UNIMPLEMENTED, saying why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from backhaul.v1 import insights_pb2
from service.auth import Principal
from service.grpc.pipeline import RpcPipeline
from service.grpc.services import contract_services, register_contract
from service.metrics import ServiceMetrics

KEY = "test-key"
METADATA = (("authorization", f"Bearer {KEY}"),)


class OneKey:
    async def authenticate(self, credential: str) -> Principal | None:
        return Principal("merchant") if credential == KEY else None


class OnlyCompare:
    async def CompareCarriers(
        self, request: insights_pb2.CompareCarriersRequest, context: object
    ) -> insights_pb2.CompareCarriersResponse:
        return insights_pb2.CompareCarriersResponse()


@pytest.fixture
async def target() -> AsyncIterator[str]:
    server = grpc.aio.server(interceptors=[RpcPipeline(OneKey(), ServiceMetrics())])
    register_contract(server, {"InsightsService": OnlyCompare()})
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(None)


async def _call(target: str, method: str) -> grpc.aio.AioRpcError | None:
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        try:
            await call(b"", metadata=METADATA, timeout=5)
        except grpc.aio.AioRpcError as error:
            return error
    return None


async def test_an_implemented_method_answers(target: str) -> None:
    assert await _call(target, "/backhaul.v1.InsightsService/CompareCarriers") is None


async def test_a_missing_method_is_unimplemented_with_a_reason(target: str) -> None:
    error = await _call(target, "/backhaul.v1.RatesService/QuoteReturn")
    assert error is not None
    assert error.code() is grpc.StatusCode.UNIMPLEMENTED
    assert "backhaul.v1.RatesService/QuoteReturn" in (error.details() or "")
    assert "has not landed" in (error.details() or "")
    trailing: Any = error.trailing_metadata() or ()
    trailer = next(value for key, value in trailing if key == "grpc-status-details-bin")
    assert isinstance(trailer, bytes)
    info = error_details_pb2.ErrorInfo()
    assert any(detail.Unpack(info) for detail in status_pb2.Status.FromString(trailer).details)
    assert info.reason == "UNIMPLEMENTED"


async def test_registration_refuses_a_servicer_for_a_service_outside_the_contract() -> None:
    server = grpc.aio.server()
    with pytest.raises(ValueError, match="not in the contract"):
        register_contract(server, {"TeleportService": object()})
    await server.stop(None)


def test_the_contract_has_the_five_services() -> None:
    assert {s.full_name for s in contract_services()} == {
        "backhaul.v1.RatesService",
        "backhaul.v1.LabelsService",
        "backhaul.v1.CustomsService",
        "backhaul.v1.TrackingService",
        "backhaul.v1.InsightsService",
    }
