"""Tracing and carrier telemetry: RPC and carrier spans, carrier metrics, and the OTEL_* switches."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from backhaul.v1 import rates_pb2, rates_pb2_grpc
from carriers.accounts import CallPolicy
from carriers.errors import CircuitOpen, Unavailable
from carriers.models import Rate
from carriers.resilience import ResilientCarrier
from customs.money import Money
from service.app import build_application
from service.config import ConfigError, Settings
from service.metrics import ServiceMetrics
from service.server import BackhaulServer
from service.telemetry import CarrierTelemetry, exporter_names, tracer_provider_from_environment
from tests.e2e.server_process import BACKHAUL, free_port
from tests.unit.carriers.fake_carriers import FakeClock, ScriptedCarrier
from tests.unit.carriers.sample_shipments import return_shipment

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"
QUOTE_METHOD = "/backhaul.v1.RatesService/QuoteReturn"
RATE = Rate("scripted", "Scripted", "std", "Standard", Money.of("5", "EUR"), 2)


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


class AnsweringRates:
    async def QuoteReturn(
        self, request: rates_pb2.QuoteReturnRequest, context: object
    ) -> rates_pb2.QuoteReturnResponse:
        return rates_pb2.QuoteReturnResponse(cross_border=True)


async def test_each_rpc_gets_a_server_span_named_by_method_continuing_the_callers_trace(
    tmp_path: Path, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = spans
    settings = Settings.load(
        {
            "BACKHAUL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'traced.db'}",
            "BACKHAUL_GRPC_ADDRESS": f"127.0.0.1:{free_port()}",
            "BACKHAUL_HTTP_ADDRESS": f"127.0.0.1:{free_port()}",
            "BACKHAUL_DRAIN_SECONDS": "2",
        }
    )
    application = await build_application(settings)
    await application.tenancy.ensure_merchant("m", "M")
    _, key = await application.tenancy.create_api_key("m")
    application.servicers["RatesService"] = AnsweringRates()
    server = BackhaulServer(application, tracer_provider=provider)
    ports = await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{ports.grpc}") as channel:
            health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            rates = rates_pb2_grpc.RatesServiceStub(channel)
            traceparent = ("traceparent", f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01")
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await rates.QuoteReturn(rates_pb2.QuoteReturnRequest(), metadata=(traceparent,))
            assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
            answer = await rates.QuoteReturn(
                rates_pb2.QuoteReturnRequest(), metadata=(("authorization", f"Bearer {key}"),)
            )
            assert answer.cross_border
    finally:
        await server.drain()

    finished: tuple[ReadableSpan, ...] = exporter.get_finished_spans()
    # The health check is excluded by default; each backhaul call has its span.
    assert [span.name for span in finished] == [QUOTE_METHOD, QUOTE_METHOD]
    unauthenticated, answered = finished
    assert unauthenticated.kind is SpanKind.SERVER
    assert unauthenticated.attributes is not None
    assert answered.attributes is not None
    assert unauthenticated.attributes["rpc.service"] == "backhaul.v1.RatesService"
    assert unauthenticated.attributes["rpc.method"] == "QuoteReturn"
    assert unauthenticated.attributes["rpc.grpc.status_code"] == grpc.StatusCode.UNAUTHENTICATED.value[0]
    # Semantic conventions: a code the client caused leaves a server span's status unset, not ERROR.
    assert unauthenticated.status.status_code is StatusCode.UNSET
    assert format(unauthenticated.context.trace_id, "032x") == TRACE_ID
    assert unauthenticated.parent is not None
    assert format(unauthenticated.parent.span_id, "016x") == PARENT_SPAN_ID
    assert answered.attributes["rpc.grpc.status_code"] == 0
    assert answered.status.status_code is not StatusCode.ERROR
    assert answered.parent is None  # no traceparent sent: a new trace


def _resilient(
    carrier: ScriptedCarrier, clock: FakeClock, observer: CarrierTelemetry, **policy: float
) -> ResilientCarrier:
    return ResilientCarrier(
        carrier,
        CallPolicy(**{"max_attempts": 3, "backoff_initial_seconds": 0.1, **policy}),  # type: ignore[arg-type]
        clock=clock.time,
        sleep=clock.sleep,
        observer=observer,
    )


def _sample(metrics: ServiceMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def test_each_carrier_attempt_gets_a_client_span_under_the_rpc_and_latency_and_error_metrics(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    metrics = ServiceMetrics()
    clock = FakeClock()
    carrier = _resilient(
        ScriptedCarrier([Unavailable("503"), [RATE]], account_id="acme-post"),
        clock,
        CarrierTelemetry(metrics, provider.get_tracer("test")),
    )
    with provider.get_tracer("test").start_as_current_span("rpc") as rpc_span:
        assert list(await carrier.quote(return_shipment("DE", "10115"), deadline=clock.now + 10)) == [RATE]

    failed, succeeded, _ = exporter.get_finished_spans()
    for span in (failed, succeeded):
        assert span.name == "carrier quote"
        assert span.kind is SpanKind.CLIENT
        assert span.parent is not None
        assert span.parent.span_id == rpc_span.get_span_context().span_id
        assert span.attributes is not None
        assert span.attributes["backhaul.carrier.account"] == "acme-post"
        assert span.attributes["backhaul.carrier.breaker"] == "closed"
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "UNAVAILABLE"
    assert [event.name for event in failed.events] == ["exception"]
    assert succeeded.status.status_code is not StatusCode.ERROR

    labels = {"carrier": "acme-post", "operation": "quote"}
    assert _sample(metrics, "backhaul_carrier_errors_total", code="UNAVAILABLE", **labels) == 1
    assert _sample(metrics, "backhaul_carrier_call_duration_seconds_count", outcome="OK", **labels) == 1
    assert (
        _sample(metrics, "backhaul_carrier_call_duration_seconds_count", outcome="UNAVAILABLE", **labels) == 1
    )
    assert _sample(metrics, "backhaul_carrier_errors_total", code="OK", **labels) is None
    assert _sample(metrics, "backhaul_carrier_breaker_state", carrier="acme-post") == 0


async def test_without_tracing_each_attempt_still_counts_its_outcome() -> None:
    metrics = ServiceMetrics()
    telemetry = CarrierTelemetry(metrics)  # no tracer provider installed: tracing is off
    carrier = ResilientCarrier(ScriptedCarrier([], account_id="quiet"), CallPolicy())
    with telemetry.attempt(carrier, "quote"):
        pass
    with pytest.raises(Unavailable), telemetry.attempt(carrier, "quote"):
        raise Unavailable("503")
    with pytest.raises(asyncio.CancelledError), telemetry.attempt(carrier, "track"):
        raise asyncio.CancelledError
    labels = {"carrier": "quiet", "operation": "quote"}
    timed = "backhaul_carrier_call_duration_seconds_count"
    for outcome in ("OK", "UNAVAILABLE"):
        assert _sample(metrics, timed, outcome=outcome, **labels) == 1
    assert _sample(metrics, "backhaul_carrier_errors_total", code="UNAVAILABLE", **labels) == 1
    track = {"carrier": "quiet", "operation": "track"}
    assert _sample(metrics, timed, outcome="CANCELLED", **track) == 1
    assert _sample(metrics, "backhaul_carrier_errors_total", code="CANCELLED", **track) is None
    assert _sample(metrics, "backhaul_carrier_breaker_state", carrier="quiet") == 0


async def test_breaker_state_is_read_at_scrape_time_and_fail_fast_refusals_are_counted() -> None:
    metrics = ServiceMetrics()
    clock = FakeClock()
    carrier = _resilient(
        ScriptedCarrier([Unavailable("503")], account_id="flaky"),
        clock,
        CarrierTelemetry(metrics),  # global tracer provider: none installed, so spans are no-ops
        max_attempts=1,
        breaker_failure_threshold=1,
        breaker_reset_seconds=30,
    )
    shipment = return_shipment("DE", "10115")
    with pytest.raises(Unavailable):
        await carrier.quote(shipment)
    assert _sample(metrics, "backhaul_carrier_breaker_state", carrier="flaky") == 2
    with pytest.raises(CircuitOpen):
        await carrier.quote(shipment)
    assert (
        _sample(
            metrics, "backhaul_carrier_errors_total", carrier="flaky", operation="quote", code="CIRCUIT_OPEN"
        )
        == 1
    )
    clock.advance(30)
    assert _sample(metrics, "backhaul_carrier_breaker_state", carrier="flaky") == 1
    assert b'backhaul_carrier_breaker_state{carrier="flaky"} 1.0' in metrics.exposition()


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, ()),
        ({"OTEL_TRACES_EXPORTER": "console"}, ("console",)),
        ({"OTEL_TRACES_EXPORTER": "otlp, console,otlp"}, ("otlp", "console")),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, ("otlp",)),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4317"}, ("otlp",)),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, ()),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, ()),
    ],
)
def test_tracing_is_off_unless_the_standard_variables_ask_for_it(
    environ: dict[str, str], expected: tuple[str, ...]
) -> None:
    assert exporter_names(environ) == expected


def test_no_variables_no_provider() -> None:
    assert tracer_provider_from_environment({}) is None


def test_unknown_exporter_or_protocol_is_a_configuration_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="OTEL_TRACES_EXPORTER: exporter 'jaeger' is not installed"):
        tracer_provider_from_environment({"OTEL_TRACES_EXPORTER": "jaeger"})
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_PROTOCOL: 'carrier-pigeon'"):
        tracer_provider_from_environment(
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"}
        )


def test_serve_refuses_to_start_with_a_bad_exporter(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "BACKHAUL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'never.db'}",
        "OTEL_TRACES_EXPORTER": "jaeger",
    }
    result = subprocess.run([BACKHAUL, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "OTEL_TRACES_EXPORTER" in result.stdout + result.stderr
    assert not (tmp_path / "never.db").exists()


class FakeCollector(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


def test_otlp_exporter_sends_spans_to_the_collector_named_by_the_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    collector = FakeCollector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        for name in (
            "OTEL_TRACES_EXPORTER",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_RESOURCE_ATTRIBUTES",
        ):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "backhaul-eu")
        provider = tracer_provider_from_environment()
        assert provider is not None
        with provider.get_tracer("test").start_as_current_span("probe"):
            pass
        assert provider.force_flush(10_000)
        provider.shutdown()
    finally:
        server.stop(None)

    exported = [
        (resource.resource, span)
        for request in collector.requests
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    assert [span.name for _, span in exported] == ["probe"]
    attributes = {a.key: a.value.string_value for a in exported[0][0].attributes}
    assert attributes["service.name"] == "backhaul-eu"
    assert attributes["service.version"]


def test_service_name_defaults_to_backhaul(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    provider = tracer_provider_from_environment({"OTEL_TRACES_EXPORTER": "console"})
    assert provider is not None
    assert provider.resource.attributes["service.name"] == "backhaul"
    provider.shutdown()


def test_observability_guide_documents_exactly_the_metrics_the_service_exports() -> None:
    guide = (Path(__file__).resolve().parents[2] / "deploy" / "observability.md").read_text()
    documented = {
        (line.split("`")[1], line.split("|")[2].strip())
        for line in guide.splitlines()
        if line.startswith("| `backhaul_")
    }
    exported = {
        (name, kind)
        for line in ServiceMetrics().exposition().decode().splitlines()
        if line.startswith("# TYPE ")
        for name, kind in [line.split()[2:4]]
    }
    assert documented == exported
