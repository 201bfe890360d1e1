"""The server interceptor every RPC passes through.

In order: a correlation id (from `x-request-id` or new); authentication (every method but the public
health and reflection services); the call itself; error mapping (application and carrier errors become
rich statuses, anything unexpected is logged with the correlation id and answered INTERNAL without
internals); metrics. Handlers are wrapped rather than intercepted so that the principal is bound in the
handler's own task.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import itertools
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any

import grpc
import structlog
from grpc.aio import AbortError

from carriers.errors import CarrierError
from service.auth import Authenticator, Principal, bearer_credential, bind_principal, reset_principal
from service.errors import ApplicationError, Unauthenticated
from service.grpc.status import MappedStatus, internal_status, to_grpc_status
from service.metrics import ServiceMetrics

PUBLIC_SERVICES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)

log = structlog.get_logger("backhaul.rpc")
# structlog runs its whole processor chain (timestamp, redaction) before the stdlib level check: ask the
# level first so the per-call debug line costs nothing at INFO.
_level = logging.getLogger("backhaul.rpc")

# Outcomes that are routine for a client; everything else is logged at INFO for audit and debugging.
_QUIET_CODES = frozenset({"OK", "CANCELLED", "NOT_FOUND"})


def _log_context_variables() -> tuple[contextvars.ContextVar[Any], ...]:
    """structlog's context variables for the keys every call binds (each token names its variable).

    A call sets them directly: each RPC runs in a task of its own, whose context starts from the server's,
    so nothing of another call is there to clear, and clear_contextvars() would copy and walk the context.
    """
    tokens = structlog.contextvars.bind_contextvars(correlation_id=None, method=None, merchant_id=None)
    structlog.contextvars.reset_contextvars(**tokens)
    return tokens["correlation_id"].var, tokens["method"].var, tokens["merchant_id"].var


_CORRELATION_ID, _METHOD, _MERCHANT_ID = _log_context_variables()
# Correlation ids for calls without an x-request-id: a random prefix per process and a counter (unique like
# a UUID across replicas, without reading the system's random source on every call).
_CORRELATION_PREFIX = secrets.token_hex(8)
_CALL_NUMBERS = itertools.count(1)


class RpcPipeline(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    def __init__(self, authenticator: Authenticator, metrics: ServiceMetrics) -> None:
        self._authenticator = authenticator
        self._metrics = metrics
        # Wrapped handlers by method: the registered handlers do not change, so each is wrapped once.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler[Any, Any], grpc.RpcMethodHandler[Any, Any]]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method: str = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = _wrap(handler, method, method.startswith(PUBLIC_SERVICES), self)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def call(
        self, method: str, public: bool, context: grpc.aio.ServicerContext[Any, Any]
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """The pipeline around one call: `async with pipeline.call(...)` runs the handler inside it."""
        return _RpcCall(self, method, public, context)

    async def _authenticate(
        self, method: str, public: bool, context: grpc.aio.ServicerContext[Any, Any]
    ) -> contextvars.Token[Principal | None] | None:
        metadata = context.invocation_metadata() or ()
        request_id = next((v for k, v in metadata if k == "x-request-id" and isinstance(v, str) and v), "")
        _CORRELATION_ID.set(request_id[:64] or f"{_CORRELATION_PREFIX}{next(_CALL_NUMBERS):016x}")
        _METHOD.set(method)
        if public:
            return None
        credential = bearer_credential(metadata)
        principal = await self._authenticator.authenticate(credential) if credential else None
        if principal is None:
            raise Unauthenticated(
                "unknown or revoked API key"
                if credential
                else "missing `authorization: Bearer <api key>` metadata"
            )
        _MERCHANT_ID.set(principal.merchant_id)
        return bind_principal(principal)

    def _map(self, exc: Exception) -> MappedStatus:
        if isinstance(exc, ApplicationError | CarrierError):
            return to_grpc_status(exc)
        correlation_id = str(structlog.contextvars.get_contextvars().get("correlation_id", "unknown"))
        log.error("rpc.unexpected_error", exc_info=exc)
        return internal_status(correlation_id)

    @property
    def metrics(self) -> ServiceMetrics:
        return self._metrics


class _RpcCall(contextlib.AbstractAsyncContextManager[None]):
    """One call's passage through the pipeline: a class rather than a generator, as it runs on every call."""

    __slots__ = ("_context", "_method", "_pipeline", "_public", "_started", "_token")

    def __init__(
        self, pipeline: RpcPipeline, method: str, public: bool, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        self._pipeline = pipeline
        self._method = method
        self._public = public
        self._context = context
        self._started = 0.0
        self._token: contextvars.Token[Principal | None] | None = None

    async def __aenter__(self) -> None:
        self._started = time.perf_counter()
        self._pipeline.metrics.rpc_in_flight.inc()
        try:
            self._token = await self._pipeline._authenticate(self._method, self._public, self._context)
        except BaseException as exc:
            # __aexit__ does not run for a failing __aenter__: a refused call is answered and counted here.
            await self.__aexit__(type(exc), exc, exc.__traceback__)
            raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        context = self._context
        code = "OK"
        try:
            if exc is None:
                code = _code_of(context, "OK")
            elif isinstance(exc, AbortError):
                code = _code_of(context, "UNKNOWN")
            elif isinstance(exc, asyncio.CancelledError | GeneratorExit):
                code = "CANCELLED"
            elif isinstance(exc, Exception):
                mapped = self._pipeline._map(exc)
                code = mapped.code.name
                await context.abort(
                    mapped.status.code, mapped.status.details, mapped.status.trailing_metadata
                )
        finally:
            if self._token is not None:
                reset_principal(self._token)
            metrics = self._pipeline.metrics
            metrics.rpc_in_flight.dec()
            elapsed = time.perf_counter() - self._started
            metrics.observe_rpc(self._method, code, elapsed)
            if code not in _QUIET_CODES:
                log.info("rpc.refused", code=code, duration_ms=round(elapsed * 1000, 2))
            elif _level.isEnabledFor(logging.DEBUG):
                log.debug("rpc.completed", code=code, duration_ms=round(elapsed * 1000, 2))


def _code_of(context: grpc.aio.ServicerContext[Any, Any], default: str) -> str:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    return default


def _wrap(
    handler: grpc.RpcMethodHandler[Any, Any], method: str, public: bool, pipeline: RpcPipeline
) -> grpc.RpcMethodHandler[Any, Any]:
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(
            _wrap_streaming(handler.stream_stream, method, public, pipeline),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(
            _wrap_streaming(handler.unary_stream, method, public, pipeline),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(
            _wrap_unary(handler.stream_unary, method, public, pipeline),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return grpc.unary_unary_rpc_method_handler(
        _wrap_unary(handler.unary_unary, method, public, pipeline),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _wrap_unary(behavior: Any, method: str, public: bool, pipeline: RpcPipeline) -> Any:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        async with pipeline.call(method, public, context):
            return await behavior(request, context)

    return wrapped


def _wrap_streaming(behavior: Any, method: str, public: bool, pipeline: RpcPipeline) -> Any:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        async with pipeline.call(method, public, context):
            produced = behavior(request, context)
            if inspect.isasyncgen(produced):
                async for response in produced:
                    yield response
            else:  # a coroutine that writes with context.write()
                await produced

    return wrapped
