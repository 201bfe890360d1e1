"""Runs the real `backhaul` executable as a client would meet it: a separate process, on free ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

BACKHAUL = str(Path(sys.executable).with_name("backhaul"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _plaintext_health(port: int) -> health_pb2.HealthCheckResponse:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)


def run_cli(args: list[str], env: Mapping[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BACKHAUL, *args], env=dict(env), capture_output=True, text=True, timeout=timeout, check=True
    )


@dataclass
class ServerProcess:
    workdir: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)
    grpc_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BACKHAUL_")}
        env.update(
            BACKHAUL_DATABASE_URL=f"sqlite+aiosqlite:///{self.workdir / 'backhaul.db'}",
            BACKHAUL_GRPC_ADDRESS=f"127.0.0.1:{self.grpc_port}",
            BACKHAUL_HTTP_ADDRESS=f"127.0.0.1:{self.http_port}",
            BACKHAUL_QUOTE_TOKEN_SECRET="e2e-secret-" + "x" * 32,
            BACKHAUL_AUTH_CACHE_SECONDS="0",
            BACKHAUL_DRAIN_SECONDS="10",
            BACKHAUL_LOG_LEVEL="DEBUG",
        )
        env.update(self.extra_env)
        return env

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def create_key(self, merchant: str) -> str:
        result = run_cli(["keys", "create", "--merchant", merchant, "--name", "e2e"], self.env)
        return result.stdout.strip().splitlines()[-1]

    def start(self, timeout: float = 30.0) -> None:
        """Start and wait until the plaintext health check says SERVING."""
        self.start_with(_plaintext_health, timeout)

    def start_with(
        self, probe: Callable[[int], health_pb2.HealthCheckResponse], timeout: float = 30.0
    ) -> None:
        """Start and wait until `probe(grpc_port)` says SERVING (TLS servers need a TLS probe)."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [BACKHAUL, "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.logs()}")
            try:
                if probe(self.grpc_port).status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"server not SERVING within {timeout}s:\n{self.logs()}")

    def terminate(self) -> int:
        """SIGTERM and wait; the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")
