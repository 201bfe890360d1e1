"""Prometheus metrics of one service instance, in a registry of its own (so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


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

    def observe_rpc(self, method: str, code: str, seconds: float) -> None:
        self.rpc_requests.labels(method, code).inc()
        self.rpc_latency.labels(method, code).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
