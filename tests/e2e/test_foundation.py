"""The server as a client meets it: health, reflection, auth, unimplemented capabilities, metrics, logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.e2e.server_process import ServerProcess, run_cli

CONTRACT_SERVICES = {
    "backhaul.v1.RatesService",
    "backhaul.v1.LabelsService",
    "backhaul.v1.CustomsService",
    "backhaul.v1.TrackingService",
    "backhaul.v1.InsightsService",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("foundation"))
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def api_key(server: ServerProcess) -> str:
    return server.create_key("merchant-a")


def _raw_call(target: str, method: str, metadata: tuple[tuple[str, str], ...] = ()) -> grpc.RpcError:
    """Call `method` with an empty request, expecting it to be refused."""
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as caught:
            call(b"", metadata=metadata, timeout=10)
    return caught.value


def _status_of(target: str, method: str, metadata: tuple[tuple[str, str], ...] = ()) -> grpc.StatusCode:
    """The status of `method` called with an empty request: OK, or the code it was refused with."""
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        try:
            call(b"", metadata=metadata, timeout=10)
        except grpc.RpcError as error:
            code: grpc.StatusCode = error.code()
            return code
    return grpc.StatusCode.OK


def test_health_reports_serving(server: ServerProcess) -> None:
    with grpc.insecure_channel(server.target) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        per_service = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="backhaul.v1.RatesService"), timeout=5
        )
        assert per_service.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_five_services(server: ServerProcess) -> None:
    with grpc.insecure_channel(server.target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert names >= CONTRACT_SERVICES | {"grpc.health.v1.Health"}


def test_call_without_key_is_unauthenticated(server: ServerProcess) -> None:
    error = _raw_call(server.target, "/backhaul.v1.RatesService/QuoteReturn")
    assert error.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "authorization" in (error.details() or "")


def test_call_with_wrong_key_is_unauthenticated(server: ServerProcess, api_key: str) -> None:
    forged = api_key[:-4] + ("AAAA" if not api_key.endswith("AAAA") else "BBBB")
    error = _raw_call(
        server.target, "/backhaul.v1.RatesService/QuoteReturn", (("authorization", f"Bearer {forged}"),)
    )
    assert error.code() is grpc.StatusCode.UNAUTHENTICATED


def test_revoked_key_stops_working(server: ServerProcess) -> None:
    key = server.create_key("merchant-revoked")
    method = "/backhaul.v1.InsightsService/CompareCarriers"
    assert _status_of(server.target, method, (("authorization", f"Bearer {key}"),)) is grpc.StatusCode.OK
    run_cli(["keys", "revoke", key], server.env)
    after = _raw_call(server.target, method, (("authorization", f"Bearer {key}"),))
    assert after.code() is grpc.StatusCode.UNAUTHENTICATED


def test_http_side_serves_health_and_metrics(server: ServerProcess, api_key: str) -> None:
    _raw_call(server.target, "/backhaul.v1.RatesService/QuoteReturn")
    base = f"http://127.0.0.1:{server.http_port}"
    assert httpx.get(f"{base}/healthz", timeout=5).json() == {"status": "SERVING"}
    metrics = httpx.get(f"{base}/metrics", timeout=5).text
    assert (
        'backhaul_rpc_requests_total{code="UNAUTHENTICATED",method="/backhaul.v1.RatesService/QuoteReturn"}'
        in metrics
    )
    assert "backhaul_rpc_duration_seconds_bucket" in metrics


def test_keys_create_prints_the_key_alone_on_its_last_line(server: ServerProcess) -> None:
    result = run_cli(["keys", "create", "--merchant", "merchant-b"], server.env)
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("bh_")
    assert " " not in last
    listing = run_cli(["keys", "list", "--merchant", "merchant-b"], server.env).stdout
    assert last not in listing
    assert last.split("_")[1] in listing  # the public key id is listed, the secret is not


def test_logs_never_contain_key_material(server: ServerProcess, api_key: str, tmp_path: Path) -> None:
    # Exercise the paths that log: successful auth, failed auth with the key in a bad header, errors.
    for metadata in ((("authorization", f"Bearer {api_key}"),), (("authorization", f"Bearer {api_key}x"),)):
        _status_of(server.target, "/backhaul.v1.InsightsService/CompareCarriers", metadata)
    logs = server.logs()
    assert "server.started" in logs
    secret = api_key.split("_", 2)[2]
    assert api_key not in logs
    assert secret not in logs
