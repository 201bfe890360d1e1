"""The RPC pipeline around one call: log context, principal, error mapping (no network: a fake context)."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
import structlog

from service.auth import Principal, current_merchant
from service.grpc.pipeline import RpcPipeline
from service.metrics import ServiceMetrics

METHOD = "/backhaul.v1.RatesService/QuoteReturn"


class OneKey:
    async def authenticate(self, credential: str) -> Principal | None:
        return Principal("m-1") if credential == "key-1" else None


class FakeContext:
    """The part of grpc.aio.ServicerContext the pipeline uses."""

    def __init__(self, *metadata: tuple[str, str]) -> None:
        self.metadata = metadata
        self.aborted: tuple[Any, ...] | None = None

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata

    def code(self) -> None:
        return None

    async def abort(self, code: grpc.StatusCode, details: str, trailing_metadata: object = ()) -> None:
        self.aborted = (code, details)
        raise grpc.aio.AbortError()


async def _in_call(
    pipeline: RpcPipeline, context: FakeContext, *, public: bool = False, fail: bool = False
) -> dict[str, Any]:
    """The log context a handler sees, read in a task of its own as gRPC runs each call."""

    async def handler() -> dict[str, Any]:
        async with pipeline.call(METHOD, public, context):  # type: ignore[arg-type]
            seen = dict(structlog.contextvars.get_contextvars())
            if not public:
                seen["principal"] = current_merchant()
            if fail:
                raise RuntimeError("a bug")
            return seen

    return await asyncio.create_task(handler())


async def test_each_call_binds_its_correlation_id_method_and_merchant() -> None:
    pipeline = RpcPipeline(OneKey(), ServiceMetrics())
    given = await _in_call(
        pipeline, FakeContext(("authorization", "Bearer key-1"), ("x-request-id", "req-42"))
    )
    assert given == {"correlation_id": "req-42", "method": METHOD, "merchant_id": "m-1", "principal": "m-1"}
    first = await _in_call(pipeline, FakeContext(("authorization", "Bearer key-1")))
    second = await _in_call(pipeline, FakeContext(("authorization", "Bearer key-1")))
    for made in (first, second):
        assert len(made["correlation_id"]) == 32
        int(made["correlation_id"], 16)
    assert first["correlation_id"] != second["correlation_id"]
    public = await _in_call(pipeline, FakeContext(), public=True)
    assert "merchant_id" not in public
    assert set(public) == {"correlation_id", "method"}


async def test_a_refused_credential_is_answered_unauthenticated() -> None:
    pipeline = RpcPipeline(OneKey(), ServiceMetrics())
    context = FakeContext(("authorization", "Bearer other"))
    with pytest.raises(grpc.aio.AbortError):
        await _in_call(pipeline, context)
    assert context.aborted == (grpc.StatusCode.UNAUTHENTICATED, "unknown or revoked API key")


async def test_an_unexpected_error_answers_internal_with_the_correlation_id() -> None:
    pipeline = RpcPipeline(OneKey(), ServiceMetrics())
    context = FakeContext(("authorization", "Bearer key-1"), ("x-request-id", "req-7"))
    with pytest.raises(grpc.aio.AbortError):
        await _in_call(pipeline, context, fail=True)
    assert context.aborted is not None
    code, details = context.aborted
    assert code is grpc.StatusCode.INTERNAL
    assert "req-7" in details
    assert "a bug" not in details
