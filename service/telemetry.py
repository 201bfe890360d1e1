"""OpenTelemetry tracing, off unless the standard OTEL_* variables ask for it, and carrier-call telemetry.

Tracing is on when OTEL_TRACES_EXPORTER names exporters (`otlp`, `console`, or any other installed in the
`opentelemetry_traces_exporter` entry-point group), or when only an OTLP endpoint is set
(OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). `none`, or OTEL_SDK_DISABLED=true,
keeps it off. The SDK and the exporters read the other standard variables themselves: OTEL_SERVICE_NAME
(default here: backhaul), OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_*, and
OTEL_EXPORTER_OTLP_* (endpoint, headers, insecure, certificate, timeout, compression).

Spans: one SERVER span per RPC, named by its full method and continuing the caller's W3C `traceparent`
(opentelemetry-instrumentation-grpc's aio interceptor), except for the services in
OTEL_PYTHON_GRPC_EXCLUDED_SERVICES (default: the health service, whose probes would drown the traces); one
CLIENT span per carrier attempt, a child of the RPC's span, with the carrier error code as its status.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from importlib.metadata import entry_points, version
from types import TracebackType
from typing import Any

import grpc
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from carriers.errors import CarrierError
from carriers.resilience import CircuitBreaker, CircuitState, ResilientCarrier
from service.config import ConfigError
from service.metrics import (
    BREAKER_CLOSED,
    BREAKER_HALF_OPEN,
    BREAKER_OPEN,
    CARRIER_CANCELLED,
    CARRIER_OK,
    ServiceMetrics,
)

EXPORTER_GROUP = "opentelemetry_traces_exporter"
DEFAULT_EXCLUDED_SERVICES = ("grpc.health.v1.Health",)
_OTLP_PROTOCOLS = {"grpc": "otlp_proto_grpc", "http/protobuf": "otlp_proto_http"}
_BREAKER_VALUES = {
    CircuitState.CLOSED: BREAKER_CLOSED,
    CircuitState.HALF_OPEN: BREAKER_HALF_OPEN,
    CircuitState.OPEN: BREAKER_OPEN,
}


def exporter_names(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The trace exporters the environment asks for; empty when tracing stays off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return ()
    names = [name.strip().lower() for name in environ.get("OTEL_TRACES_EXPORTER", "").split(",")]
    names = [name for name in names if name]
    if not names and (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    ):
        names = ["otlp"]
    if "none" in names:
        return ()
    return tuple(dict.fromkeys(names))


def _one_line(span: ReadableSpan) -> str:
    # One JSON object per line, like the service's logs, instead of the SDK's indented default.
    return f"{span.to_json(indent=None)}{os.linesep}"


def _exporter(name: str, environ: Mapping[str, str]) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter(formatter=_one_line)
    entry_name = name
    if name == "otlp":
        protocol = (
            environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "grpc"
        )
        if protocol not in _OTLP_PROTOCOLS:
            raise ConfigError(
                "OTEL_EXPORTER_OTLP_PROTOCOL", f"{protocol!r} is not one of {', '.join(_OTLP_PROTOCOLS)}"
            )
        entry_name = _OTLP_PROTOCOLS[protocol]
    installed = {ep.name: ep for ep in entry_points(group=EXPORTER_GROUP)}
    if entry_name not in installed:
        known = ", ".join(sorted({"console", "otlp", "none", *installed}))
        raise ConfigError(
            "OTEL_TRACES_EXPORTER", f"exporter {entry_name!r} is not installed (known: {known})"
        )
    exporter: SpanExporter = installed[entry_name].load()()
    return exporter


def tracer_provider_from_environment(environ: Mapping[str, str] | None = None) -> TracerProvider | None:
    """A tracer provider exporting to what the OTEL_* variables name, or None when tracing is off.

    Raises ConfigError naming the variable for an unknown exporter or OTLP protocol.
    """
    environ = os.environ if environ is None else environ
    names = exporter_names(environ)
    if not names:
        return None
    exporters = [_exporter(name, environ) for name in names]
    resource = Resource.create({SERVICE_VERSION: version("backhaul")})
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "backhaul"}))
    provider = TracerProvider(resource=resource)
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def configure_tracing() -> TracerProvider | None:
    """Once per process, at start: the provider from the environment, installed as the global one."""
    provider = tracer_provider_from_environment()
    if provider is not None:
        trace.set_tracer_provider(provider)
    return provider


def rpc_tracing_interceptor(
    provider: TracerProvider, environ: Mapping[str, str] | None = None
) -> grpc.aio.ServerInterceptor[Any, Any]:
    """A server interceptor making a SERVER span per RPC; put it before the RPC pipeline."""
    environ = os.environ if environ is None else environ
    configured = environ.get("OTEL_PYTHON_GRPC_EXCLUDED_SERVICES")
    excluded = (
        tuple(s.strip() for s in configured.split(",") if s.strip())
        if configured is not None
        else DEFAULT_EXCLUDED_SERVICES
    )
    keep = (
        filters.negate(filters.any_of(*(filters.service_name(name) for name in excluded)))
        if excluded
        else None
    )
    interceptor: grpc.aio.ServerInterceptor[Any, Any] = aio_server_interceptor(  # type: ignore[no-untyped-call]
        tracer_provider=provider, filter_=keep
    )
    return interceptor


class CarrierTelemetry:
    """The service's carrier CallObserver: a CLIENT span and latency/error/breaker metrics per attempt.

    Spans go to the given tracer, else to the global tracer provider installed when this observer is built
    (configure_tracing() runs before the application is built). Without one (tracing off) an attempt makes
    no span object at all: only the metrics, through one small context manager.
    """

    def __init__(self, metrics: ServiceMetrics, tracer: trace.Tracer | None = None) -> None:
        self._metrics = metrics
        self._tracer = tracer or _installed_tracer()
        self._watched: dict[str, CircuitBreaker] = {}  # account -> the breaker its gauge reads

    def attempt(self, carrier: ResilientCarrier, operation: str) -> AbstractContextManager[object]:
        account = carrier.account_id
        breaker = carrier.breaker
        if self._watched.get(account) is not breaker:
            self._metrics.watch_breaker(account, lambda: _BREAKER_VALUES[breaker.state])
            self._watched[account] = breaker
        if self._tracer is None:
            return _MeasuredAttempt(self._metrics, account, operation)
        return self._traced(self._tracer, carrier, operation)

    @contextmanager
    def _traced(self, tracer: trace.Tracer, carrier: ResilientCarrier, operation: str) -> Iterator[None]:
        account = carrier.account_id
        outcome = CARRIER_OK
        started = time.perf_counter()
        with tracer.start_as_current_span(
            f"carrier {operation}",
            kind=trace.SpanKind.CLIENT,
            attributes={
                "backhaul.carrier.account": account,
                "backhaul.carrier.name": carrier.carrier,
                "backhaul.carrier.operation": operation,
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield
            except CarrierError as error:
                outcome = error.code
                span.record_exception(error)
                span.set_status(trace.Status(trace.StatusCode.ERROR, error.code))
                raise
            except asyncio.CancelledError:
                outcome = CARRIER_CANCELLED
                raise
            finally:
                self._metrics.observe_carrier_attempt(
                    account, operation, outcome, time.perf_counter() - started
                )
                span.set_attribute("backhaul.carrier.outcome", outcome)
                span.set_attribute("backhaul.carrier.breaker", carrier.breaker.state.value)


def _installed_tracer() -> trace.Tracer | None:
    """The global provider's tracer, or None while none is installed (tracing off)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    return provider.get_tracer("backhaul.carriers")


class _MeasuredAttempt(AbstractContextManager[None]):
    """One attempt's latency and outcome metrics, without tracing."""

    __slots__ = ("_account", "_metrics", "_operation", "_started")

    def __init__(self, metrics: ServiceMetrics, account: str, operation: str) -> None:
        self._metrics = metrics
        self._account = account
        self._operation = operation
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            outcome = CARRIER_OK
        elif isinstance(exc, CarrierError):
            outcome = exc.code
        else:
            outcome = CARRIER_CANCELLED  # the attempt's exceptions are CarrierErrors or a cancellation
        self._metrics.observe_carrier_attempt(
            self._account, self._operation, outcome, time.perf_counter() - self._started
        )
