"""Prometheus metrics of one service instance, in a registry of its own (so tests can run several)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

CARRIER_OK = "OK"
CARRIER_CANCELLED = "CANCELLED"  # the caller gave up on the attempt: timed, but not a carrier error
# Values of backhaul_carrier_breaker_state: higher is worse, so max() over replicas shows the worst.
BREAKER_CLOSED, BREAKER_HALF_OPEN, BREAKER_OPEN = 0, 1, 2


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.rpc_requests = Counter(
            "backhaul_rpc_requests_total",
            "Completed RPCs by full method name and gRPC status code.",
            ["method", "code"],
            registry=self.registry,
        )
        self.rpc_latency = Histogram(
            "backhaul_rpc_duration_seconds",
            "RPC latency by full method name and gRPC status code (streams: until the stream ends).",
            ["method", "code"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rpc_in_flight = Gauge(
            "backhaul_rpc_in_flight", "RPCs being handled right now.", registry=self.registry
        )
        self.tracking_events_ingested = Counter(
            "backhaul_tracking_events_ingested_total",
            "Tracking events received, by source and outcome (accepted or duplicate).",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.tracking_webhooks_refused = Counter(
            "backhaul_tracking_webhooks_refused_total",
            "Webhook deliveries refused for a missing or wrong signature, by carrier account.",
            ["carrier_account"],
            registry=self.registry,
        )
        # Both gauges read the live streams of this instance when scraped (set by the tracking wiring).
        self.tracking_subscribers = Gauge(
            "backhaul_tracking_subscribers", "Open tracking streams on this instance.", registry=self.registry
        )
        self.tracking_stream_lag = Gauge(
            "backhaul_tracking_stream_lag_seconds",
            "Age of the oldest committed event a tracking stream of this instance has not delivered yet.",
            registry=self.registry,
        )
        self.carrier_latency = Histogram(
            "backhaul_carrier_call_duration_seconds",
            "Carrier call attempts by carrier account, operation and outcome (OK or the carrier error code).",
            ["carrier", "operation", "outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.carrier_errors = Counter(
            "backhaul_carrier_errors_total",
            "Failed carrier call attempts by carrier account, operation and carrier error code.",
            ["carrier", "operation", "code"],
            registry=self.registry,
        )
        self._breakers = _BreakerStates()
        self.registry.register(self._breakers)
        # Labelled children by label values: `labels()` builds and checks its key under a lock on every call,
        # and these are observed several times per RPC. Label values come from a small fixed set (methods,
        # status codes, configured accounts, operations, carrier error codes), so the caches stay small.
        self._rpc_children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        self._carrier_children: dict[tuple[str, str, str], tuple[Histogram, Counter | None]] = {}

    def observe_rpc(self, method: str, code: str, seconds: float) -> None:
        key = (method, code)
        children = self._rpc_children.get(key)
        if children is None:
            children = (self.rpc_requests.labels(method, code), self.rpc_latency.labels(method, code))
            self._rpc_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_carrier_attempt(self, carrier: str, operation: str, outcome: str, seconds: float) -> None:
        key = (carrier, operation, outcome)
        children = self._carrier_children.get(key)
        if children is None:
            failed = outcome not in (CARRIER_OK, CARRIER_CANCELLED)
            children = (
                self.carrier_latency.labels(carrier, operation, outcome),
                self.carrier_errors.labels(carrier, operation, outcome) if failed else None,
            )
            self._carrier_children[key] = children
        children[0].observe(seconds)
        if children[1] is not None:
            children[1].inc()

    def watch_breaker(self, carrier: str, state: Callable[[], int]) -> None:
        """Report `state()` (BREAKER_CLOSED, _HALF_OPEN or _OPEN) for `carrier` at each scrape."""
        self._breakers.sources[carrier] = state

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _BreakerStates(Collector):
    """Reads each carrier's circuit breaker when scraped, so an open breaker turning half-open shows."""

    def __init__(self) -> None:
        self.sources: dict[str, Callable[[], int]] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "backhaul_carrier_breaker_state",
            "Circuit breaker per carrier account: 0 closed, 1 half-open (probing), 2 open (failing fast).",
            labels=["carrier"],
        )
        for carrier, state in sorted(self.sources.items()):
            family.add_metric([carrier], state())
        yield family
