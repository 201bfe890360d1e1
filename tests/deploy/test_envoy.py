"""The shipped Envoy config for real: gRPC balanced per call over two replicas, grpc-web, CORS, tracing."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2
from prometheus_client.parser import text_string_to_metric_families

from backhaul.v1 import customs_pb2, customs_pb2_grpc, rates_pb2, rates_pb2_grpc
from tests.deploy.conftest import Replicas, RunningEnvoy
from tests.deploy.envoy_config import SHIPPED_CONFIG, envoy_binary
from tests.e2e.server_process import ServerProcess

QUOTE = "/backhaul.v1.RatesService/QuoteReturn"
LOOKUP = "/backhaul.v1.CustomsService/LookupHsCode"
GRPC_WEB = "application/grpc-web+proto"
TRAILER_FLAG = 0x80


def rpc_count(server: ServerProcess, method: str, code: str | None = None) -> float:
    """backhaul_rpc_requests_total of one replica for `method` (and `code`, or summed over codes)."""
    text = httpx.get(f"http://127.0.0.1:{server.http_port}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "backhaul_rpc_requests"
        for sample in family.samples
        if sample.name == "backhaul_rpc_requests_total"
        and sample.labels["method"] == method
        and code in (None, sample.labels["code"])
    )


def grpc_web_frame(message: bytes) -> bytes:
    return b"\x00" + len(message).to_bytes(4, "big") + message


def parse_grpc_web(body: bytes) -> tuple[list[bytes], dict[str, str]]:
    """Data frames and the trailer frame (`key: value` lines) of a grpc-web response body."""
    messages: list[bytes] = []
    trailers: dict[str, str] = {}
    offset = 0
    while offset < len(body):
        flag, length = body[offset], int.from_bytes(body[offset + 1 : offset + 5], "big")
        payload = body[offset + 5 : offset + 5 + length]
        assert len(payload) == length, "truncated grpc-web frame"
        offset += 5 + length
        if flag & TRAILER_FLAG:
            for line in payload.decode("ascii").split("\r\n"):
                if line:
                    key, _, value = line.partition(":")
                    trailers[key.strip().lower()] = value.strip()
        else:
            messages.append(payload)
    return messages, trailers


def grpc_web_call(
    envoy: RunningEnvoy, method: str, message: bytes, headers: dict[str, str] | None = None
) -> tuple[httpx.Response, list[bytes], dict[str, str]]:
    with httpx.Client(http1=True, http2=False) as client:
        response = client.post(
            f"{envoy.url}{method}",
            content=grpc_web_frame(message),
            headers={"content-type": GRPC_WEB, "x-grpc-web": "1", **(headers or {})},
            timeout=10,
        )
    assert response.http_version == "HTTP/1.1"
    messages, trailers = parse_grpc_web(response.content)
    return response, messages, trailers


def test_shipped_config_validates_without_deprecated_fields() -> None:
    result = subprocess.run(
        [str(envoy_binary()), "--mode", "validate", "-c", str(SHIPPED_CONFIG), "--disable-hot-restart"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout
    assert "Deprecated" not in result.stdout + result.stderr


def test_grpc_calls_on_one_connection_are_balanced_over_both_replicas(
    envoy: RunningEnvoy, replicas: Replicas
) -> None:
    calls = 20
    before = [rpc_count(server, QUOTE, "UNAUTHENTICATED") for server in replicas.servers]
    with grpc.insecure_channel(envoy.target) as channel:  # one HTTP/2 connection to Envoy
        stub = rates_pb2_grpc.RatesServiceStub(channel)
        for _ in range(calls):
            with pytest.raises(grpc.RpcError) as refused:
                stub.QuoteReturn(rates_pb2.QuoteReturnRequest(), timeout=5)
            assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    reached = [
        rpc_count(server, QUOTE, "UNAUTHENTICATED") - was
        for server, was in zip(replicas.servers, before, strict=True)
    ]
    assert sum(reached) == calls
    # Round robin per call: each replica gets about half, not all-or-nothing as per-connection L4 would.
    assert all(count >= calls / 4 for count in reached), reached


def test_authenticated_calls_get_the_same_answer_from_either_replica(
    envoy: RunningEnvoy, replicas: Replicas
) -> None:
    before = [rpc_count(server, LOOKUP) for server in replicas.servers]
    outcomes = set()
    with grpc.insecure_channel(envoy.target) as channel:
        stub = customs_pb2_grpc.CustomsServiceStub(channel)
        metadata = (("authorization", f"Bearer {replicas.api_key}"),)
        for _ in range(8):
            try:
                reply = stub.LookupHsCode(
                    customs_pb2.LookupHsCodeRequest(code="6109.10"), metadata=metadata, timeout=5
                )
                outcomes.add(("OK", reply.SerializeToString(deterministic=True)))
            except grpc.RpcError as error:
                outcomes.add((error.code().name, b""))
    assert len(outcomes) == 1, outcomes  # stateless replicas on one database: one answer
    assert next(iter(outcomes))[0] != "UNAUTHENTICATED"  # the key made once is valid on both
    assert all(rpc_count(server, LOOKUP) > was for server, was in zip(replicas.servers, before, strict=True))


def test_grpc_web_health_check_through_envoy(envoy: RunningEnvoy) -> None:
    response, messages, trailers = grpc_web_call(
        envoy, "/grpc.health.v1.Health/Check", health_pb2.HealthCheckRequest().SerializeToString()
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRPC_WEB)
    (message,) = messages
    assert health_pb2.HealthCheckResponse.FromString(message).status == health_pb2.HealthCheckResponse.SERVING
    assert trailers["grpc-status"] == "0"


def test_grpc_web_call_without_key_is_unauthenticated(envoy: RunningEnvoy) -> None:
    response, messages, trailers = grpc_web_call(
        envoy, QUOTE, rates_pb2.QuoteReturnRequest().SerializeToString()
    )
    assert response.status_code == 200
    assert messages == []
    # A status-only answer may carry grpc-status in the headers (trailers-only) or in a trailer frame.
    status = {**{k: v for k, v in response.headers.items() if k.startswith("grpc-")}, **trailers}
    assert status["grpc-status"] == str(grpc.StatusCode.UNAUTHENTICATED.value[0])
    assert "authorization" in status["grpc-message"]


def test_grpc_web_call_with_key_reaches_the_service(envoy: RunningEnvoy, replicas: Replicas) -> None:
    _, _, trailers = grpc_web_call(
        envoy,
        LOOKUP,
        customs_pb2.LookupHsCodeRequest(code="6109.10").SerializeToString(),
        {"authorization": f"Bearer {replicas.api_key}"},
    )
    assert trailers.get("grpc-status") != str(grpc.StatusCode.UNAUTHENTICATED.value[0])


def test_cors_preflight_allows_configured_origins_only(envoy: RunningEnvoy) -> None:
    request = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type,x-grpc-web",
    }
    allowed = httpx.options(f"{envoy.url}{QUOTE}", headers={"origin": "http://localhost:5173", **request})
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "authorization" in allowed.headers["access-control-allow-headers"]
    refused = httpx.options(f"{envoy.url}{QUOTE}", headers={"origin": "https://evil.example", **request})
    assert "access-control-allow-origin" not in refused.headers

    response, _, _ = grpc_web_call(
        envoy,
        "/grpc.health.v1.Health/Check",
        health_pb2.HealthCheckRequest().SerializeToString(),
        {"origin": "http://localhost:5173"},
    )
    assert "grpc-status" in response.headers["access-control-expose-headers"]


def test_callers_trace_context_passes_through_envoy_into_a_replica_span(
    envoy: RunningEnvoy, replicas: Replicas
) -> None:
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    with grpc.insecure_channel(envoy.target) as channel, pytest.raises(grpc.RpcError):
        rates_pb2_grpc.RatesServiceStub(channel).QuoteReturn(
            rates_pb2.QuoteReturnRequest(),
            metadata=(("traceparent", f"00-{trace_id}-b7ad6b7169203331-01"),),
            timeout=5,
        )
    deadline = time.monotonic() + 10
    while not any(f"0x{trace_id}" in server.logs() for server in replicas.servers):
        assert time.monotonic() < deadline, "no replica exported a span with the caller's trace id"
        time.sleep(0.1)


def _wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_a_stopped_replica_leaves_the_rotation_and_rejoins_when_serving_again(
    envoy: RunningEnvoy, replicas: Replicas
) -> None:
    stopped = replicas.servers[1]
    assert stopped.terminate() == 0
    try:
        _wait_for(lambda: envoy.healthy_upstreams() == 1, 20, "Envoy kept the stopped replica in rotation")
        with grpc.insecure_channel(envoy.target) as channel:
            stub = rates_pb2_grpc.RatesServiceStub(channel)
            for _ in range(10):  # every call reaches the remaining replica: none is UNAVAILABLE
                with pytest.raises(grpc.RpcError) as refused:
                    stub.QuoteReturn(rates_pb2.QuoteReturnRequest(), timeout=5)
                assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    finally:
        stopped.start()
    _wait_for(lambda: envoy.healthy_upstreams() == 2, 20, "Envoy did not take the replica back")
