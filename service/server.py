"""The running process: a grpc.aio server and the HTTP side on one event loop, with graceful draining.

Start-up: migrations, then both listeners, then health SERVING. SIGTERM/SIGINT: health NOT_SERVING (load
balancers stop routing), the gRPC server stops accepting calls and gives in-flight ones `drain_seconds` to
finish, the HTTP side closes, resources are released, and `serve()` returns 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import uvicorn
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from opentelemetry.sdk.trace import TracerProvider

from service.app import Application, build_application
from service.collector import settle_after_start
from service.config import ConfigError, Settings
from service.grpc.pipeline import RpcPipeline
from service.grpc.services import register_contract
from service.http.app import create_http_app
from service.http.tracking_page import TrackingPage
from service.logging import get_logger
from service.telemetry import configure_tracing, rpc_tracing_interceptor

log = get_logger("backhaul.server")

OVERALL_HEALTH = ""  # the empty service name is the server's overall health


class _EmbeddedUvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: this process drains both sides itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(frozen=True, slots=True)
class BoundPorts:
    grpc: int
    http: int


def _server_credentials(settings: Settings) -> grpc.ServerCredentials:
    assert settings.tls_cert_file is not None
    assert settings.tls_key_file is not None
    client_ca = settings.tls_client_ca_file.read_bytes() if settings.tls_client_ca_file else None
    return grpc.ssl_server_credentials(
        [(settings.tls_key_file.read_bytes(), settings.tls_cert_file.read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def _tls_mode(settings: Settings) -> str:
    if settings.tls_client_ca_file is not None:
        return "mutual"
    return "server" if settings.tls_enabled else "off"


class BackhaulServer:
    def __init__(self, application: Application, *, tracer_provider: TracerProvider | None = None) -> None:
        self.application = application
        settings = application.settings
        self._health = HealthServicer()
        self._state = "NOT_SERVING"
        interceptors: list[grpc.aio.ServerInterceptor[Any, Any]] = []
        if tracer_provider is not None:  # outermost, so the RPC's span covers authentication and errors
            interceptors.append(rpc_tracing_interceptor(tracer_provider))
        interceptors.append(RpcPipeline(application.authenticator, application.metrics))
        self._grpc = grpc.aio.server(
            interceptors=interceptors,
            options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 8 * 1024 * 1024)],
        )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._grpc)
        names = register_contract(self._grpc, application.servicers)
        reflection.enable_server_reflection(
            [*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
            self._grpc,
        )
        self._service_names = names
        if settings.tls_enabled:
            self._grpc_port = self._grpc.add_secure_port(settings.grpc_address, _server_credentials(settings))
        else:
            self._grpc_port = self._grpc.add_insecure_port(settings.grpc_address)
        if self._grpc_port == 0:
            raise OSError(f"cannot listen for gRPC on {settings.grpc_address}")
        host, _, port = settings.http_address.rpartition(":")
        tracking = application.tracking
        self._tracking_page = TrackingPage(tracking, application.carriers.accounts) if tracking else None
        self._http = _EmbeddedUvicorn(
            uvicorn.Config(
                create_http_app(
                    application.metrics,
                    lambda: self._state,
                    tracking=tracking.ingestion if tracking else None,
                    tracking_page=self._tracking_page,
                ),
                host=host,
                port=int(port),
                log_config=None,
                lifespan="off",
                access_log=False,
            )
        )
        self._http_task: asyncio.Task[None] | None = None

    async def start(self) -> BoundPorts:
        await self._grpc.start()
        self._http_task = asyncio.create_task(self._http.serve(), name="http-side")
        while not self._http.started:
            if self._http_task.done():
                self._http_task.result()
                raise OSError(f"cannot listen for HTTP on {self.application.settings.http_address}")
            await asyncio.sleep(0.01)
        http_port = self._http.servers[0].sockets[0].getsockname()[1]
        await self._set_health(health_pb2.HealthCheckResponse.SERVING)
        ports = BoundPorts(grpc=self._grpc_port, http=http_port)
        log.info(
            "server.started",
            grpc_port=ports.grpc,
            http_port=ports.http,
            tls=_tls_mode(self.application.settings),
            services=self._service_names,
        )
        return ports

    async def _set_health(self, status: health_pb2.HealthCheckResponse.ServingStatus.ValueType) -> None:
        self._state = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
        for name in (OVERALL_HEALTH, *self._service_names):
            await self._health.set(name, status)

    async def drain(self) -> None:
        """Refuse new calls, let in-flight ones finish within the grace period, then close everything."""
        log.info("server.draining", grace_seconds=self.application.settings.drain_seconds)
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self._grpc.stop(self.application.settings.drain_seconds)
        if self._tracking_page is not None:
            self._tracking_page.close()  # open pages end their event streams, so the HTTP side can stop
        self._http.should_exit = True
        if self._http_task is not None:
            await self._http_task
        await self.application.close()
        log.info("server.stopped")

    async def wait_for_termination(self) -> None:
        await self._grpc.wait_for_termination()


async def serve(settings: Settings) -> int:
    """Run until SIGTERM or SIGINT, then drain; the process exit code."""
    try:
        tracer_provider = configure_tracing()
    except ConfigError as error:
        log.error("server.config_invalid", error=str(error))
        return 2
    try:
        return await _serve(settings, tracer_provider)
    finally:
        if tracer_provider is not None:  # flush the last spans; exporting may block on the network
            await asyncio.to_thread(tracer_provider.shutdown)


async def _serve(settings: Settings, tracer_provider: TracerProvider | None) -> int:
    application = await build_application(settings)
    server = BackhaulServer(application, tracer_provider=tracer_provider)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
    except BaseException:
        await application.close()
        raise
    settle_after_start(settings.gc_thresholds)
    await stop.wait()
    await server.drain()
    return 0
