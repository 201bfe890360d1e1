"""`backhaul demo`: a throwaway server on the embedded default, and a guided tour of it as a client.

The server runs in this process on free ports over a temporary SQLite database; the tour talks to it over
real gRPC like any client, so what it shows is what a caller gets.
"""

from __future__ import annotations

import logging
import secrets
import socket
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from rich.console import Console
from rich.table import Table

from service.app import build_application
from service.config import Settings
from service.logging import configure_logging
from service.server import BackhaulServer

DEMO_MERCHANT = "demo-merchant"


@dataclass(frozen=True, slots=True)
class DemoClient:
    channel: grpc.aio.Channel
    api_key: str

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.api_key}"),)


DemoStep = Callable[[DemoClient, Console], Awaitable[None]]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def show_health_and_services(client: DemoClient, console: Console) -> None:
    health = await health_pb2_grpc.HealthStub(client.channel).Check(health_pb2.HealthCheckRequest())
    console.print(
        f"Health check: [bold green]{health_pb2.HealthCheckResponse.ServingStatus.Name(health.status)}[/]"
    )
    stub = reflection_pb2_grpc.ServerReflectionStub(client.channel)
    names: list[str] = []
    async for reply in stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    ):
        names.extend(s.name for s in reply.list_services_response.service)
    table = Table("services listed by server reflection")
    for name in sorted(names):
        table.add_row(name)
    console.print(table)


async def show_authentication(client: DemoClient, console: Console) -> None:
    call = client.channel.unary_unary(
        "/backhaul.v1.RatesService/QuoteReturn",
        request_serializer=lambda raw: raw,
        response_deserializer=lambda raw: raw,
    )
    try:
        await call(b"")
    except grpc.aio.AioRpcError as error:
        console.print(f"A call without an API key: [bold red]{error.code().name}[/] ({error.details()})")


STEPS: tuple[tuple[str, DemoStep], ...] = (
    ("The server", show_health_and_services),
    ("Authentication", show_authentication),
)


async def run_demo(console: Console, *, verbose_logs: bool = False) -> int:
    configure_logging("INFO" if verbose_logs else "WARNING", "console")
    if not verbose_logs:
        logging.getLogger().setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="backhaul-demo-") as workdir:
        settings = Settings.load(
            {
                "BACKHAUL_DATABASE_URL": f"sqlite+aiosqlite:///{Path(workdir) / 'demo.db'}",
                "BACKHAUL_GRPC_ADDRESS": f"127.0.0.1:{_free_port()}",
                "BACKHAUL_HTTP_ADDRESS": f"127.0.0.1:{_free_port()}",
                "BACKHAUL_QUOTE_TOKEN_SECRET": secrets.token_urlsafe(48),
                "BACKHAUL_DRAIN_SECONDS": "2",
            }
        )
        application = await build_application(settings)
        server = BackhaulServer(application)
        ports = await server.start()
        try:
            await application.tenancy.ensure_merchant(DEMO_MERCHANT, "Demo Merchant")
            key, plaintext = await application.tenancy.create_api_key(DEMO_MERCHANT, "demo")
            console.rule("[bold]Backhaul demo")
            console.print(
                f"A throwaway server: gRPC on 127.0.0.1:{ports.grpc}, HTTP on 127.0.0.1:{ports.http}, "
                f"database {workdir}/demo.db. Demo merchant [bold]{DEMO_MERCHANT}[/] "
                f"with API key id {key.id}."
            )
            async with grpc.aio.insecure_channel(f"127.0.0.1:{ports.grpc}") as channel:
                client = DemoClient(channel, plaintext)
                for title, step in STEPS:
                    console.rule(title)
                    await step(client, console)
        finally:
            await server.drain()
    console.rule("[bold]Done")
    return 0
