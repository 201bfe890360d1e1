"""Two real Backhaul replicas on one database, and a real Envoy in front of them, for the deploy tests.

The replicas share a SQLite file (one migrates it, then the other starts; an API key made once works on
both) and trace to their logs with the console exporter. Envoy runs deploy/envoy/envoy.yaml with only its
addresses changed to loopback ports (see envoy_config.py). Where the Envoy binary cannot run the tests skip
locally and fail under CI=true.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.deploy.envoy_config import SHIPPED_CONFIG, envoy_binary, render_for_loopback
from tests.e2e.server_process import ServerProcess, free_port

REPLICAS = 2


@dataclass(frozen=True)
class Replicas:
    servers: tuple[ServerProcess, ...]
    api_key: str


@dataclass(frozen=True)
class RunningEnvoy:
    port: int
    admin_port: int
    log_path: Path

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def healthy_upstreams(self) -> int:
        """How many replicas Envoy's active health checks hold in rotation."""
        clusters = httpx.get(f"http://127.0.0.1:{self.admin_port}/clusters", timeout=2).text
        return sum(
            1
            for line in clusters.splitlines()
            if line.startswith("backhaul_grpc::") and line.endswith("::health_flags::healthy")
        )

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    database = tmp_path_factory.mktemp("shared-db") / "backhaul.db"
    servers = tuple(
        ServerProcess(
            tmp_path_factory.mktemp(f"replica-{index}"),
            extra_env={
                "BACKHAUL_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
                "BACKHAUL_LOG_LEVEL": "INFO",
                "OTEL_TRACES_EXPORTER": "console",
                "OTEL_BSP_SCHEDULE_DELAY": "100",
                "OTEL_SERVICE_NAME": f"backhaul-replica-{index}",
            },
        )
        for index in range(REPLICAS)
    )
    try:
        for server in servers:  # one after the other: the first one migrates the shared file
            server.start()
        yield Replicas(servers, servers[0].create_key("merchant-envoy"))
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="session")
def envoy(replicas: Replicas, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEnvoy]:
    binary = envoy_binary()
    workdir = tmp_path_factory.mktemp("envoy")
    running = RunningEnvoy(free_port(), free_port(), workdir / "envoy.log")
    config = render_for_loopback(
        yaml.safe_load(SHIPPED_CONFIG.read_text()),
        listener_port=running.port,
        admin_port=running.admin_port,
        upstream_ports=[server.grpc_port for server in replicas.servers],
    )
    config_path = workdir / "envoy.yaml"
    config_path.write_text(yaml.safe_dump(config))
    with running.log_path.open("ab") as log:
        process = subprocess.Popen(
            [str(binary), "-c", str(config_path), "--disable-hot-restart", "--concurrency", "1"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:  # it can run (envoy_binary checked), so the config is wrong
                raise RuntimeError(f"Envoy exited with {process.returncode}:\n{running.logs()[-3000:]}")
            try:
                if running.healthy_upstreams() == len(replicas.servers):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"Envoy did not see both replicas healthy:\n{running.logs()[-3000:]}")
            time.sleep(0.1)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
