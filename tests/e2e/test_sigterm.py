"""SIGTERM with quotes in flight: they finish OK, a new call is refused, the process exits 0."""

from __future__ import annotations

import datetime as dt
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import grpc

from backhaul.v1 import rates_pb2, rates_pb2_grpc
from service.demo import german_customer_return
from tests.e2e.server_process import ServerProcess

IN_FLIGHT = 4
CARRIER_LATENCY_MS = 1500

CARRIERS_TOML = f"""
[[accounts]]
id = "sandbox"
adapter = "sandbox"
carrier = "Slow Sandbox"
[accounts.options]
latency_ms = {CARRIER_LATENCY_MS}
currency = "EUR"
"""


def _http(server: ServerProcess, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}{path}", timeout=2) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _rpcs_in_flight(server: ServerProcess) -> float:
    _, text = _http(server, "/metrics")
    line = next(line for line in text.splitlines() if line.startswith("backhaul_rpc_in_flight "))
    return float(line.split()[1])


def test_sigterm_lets_quotes_in_flight_finish_refuses_new_ones_and_exits_zero(tmp_path: Path) -> None:
    carriers = tmp_path / "carriers.toml"
    carriers.write_text(CARRIERS_TOML)
    server = ServerProcess(tmp_path, extra_env={"BACKHAUL_CARRIERS_FILE": str(carriers)})
    server.start()
    try:
        key = server.create_key("merchant-drain")
        metadata = (("authorization", f"Bearer {key}"),)
        request = german_customer_return(dt.datetime.now(dt.UTC).date())
        with grpc.insecure_channel(server.target) as channel:
            stub = rates_pb2_grpc.RatesServiceStub(channel)
            started = time.monotonic()
            calls = [
                stub.QuoteReturn.future(request, metadata=metadata, timeout=10) for _ in range(IN_FLIGHT)
            ]
            _wait_for(lambda: _rpcs_in_flight(server) == IN_FLIGHT, "the quotes to be in flight")

            assert server.process is not None
            server.process.terminate()  # SIGTERM
            _wait_for(lambda: _http(server, "/healthz")[0] == 503, "the server to report NOT_SERVING")
            time.sleep(0.2)  # the gRPC server stops accepting right after reporting NOT_SERVING
            assert time.monotonic() - started < CARRIER_LATENCY_MS / 1000, "the quotes ended too early"
            try:
                stub.QuoteReturn(request, metadata=metadata, timeout=5)
                refused = None
            except grpc.RpcError as error:
                refused = error.code()
            assert refused == grpc.StatusCode.UNAVAILABLE

            responses: list[rates_pb2.QuoteReturnResponse] = [call.result() for call in calls]
        for response in responses:
            assert not response.errors
            assert {q.carrier.account_id for q in response.quotes} == {"sandbox"}
        assert time.monotonic() - started >= CARRIER_LATENCY_MS / 1000
        assert server.process.wait(timeout=30) == 0
        logs = server.logs()
        assert "server.draining" in logs
        assert "server.stopped" in logs
    finally:
        server.stop()
