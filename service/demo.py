"""`backhaul demo`: a throwaway server on the embedded default, and a guided tour of it as a client.

The server runs in this process on free ports over a temporary SQLite database; the tour talks to it over
real gRPC like any client, so what it shows is what a caller gets.
"""

from __future__ import annotations

import logging
import secrets
import socket
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import grpc
from google.type import money_pb2, postal_address_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from rich.console import Console
from rich.table import Table

from backhaul.v1 import common_pb2, customs_pb2, customs_pb2_grpc
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


def _hs_table(title: str, codes: Sequence[customs_pb2.HsCode]) -> Table:
    table = Table("code", "level", "description", title=title)
    for code in codes:
        level = customs_pb2.HsCodeLevel.Name(code.level).removeprefix("HS_CODE_LEVEL_").lower()
        table.add_row(code.code, level, code.description)
    return table


def _amount(money: money_pb2.Money) -> str:
    return f"{Decimal(money.units) + Decimal(money.nanos) / 1_000_000_000:.2f} {money.currency_code}"


def _demo_return_ch_to_eu_hub() -> common_pb2.ReturnShipment:
    def item(
        sku: str, what: str, hs: str, origin: str, qty: int, units: int, nanos: int, grams: int
    ) -> common_pb2.ReturnedItem:
        return common_pb2.ReturnedItem(
            sku=sku,
            description=what,
            hs_code=hs,
            origin_country=origin,
            quantity=qty,
            unit_value=money_pb2.Money(currency_code="CHF", units=units, nanos=nanos),
            unit_weight_grams=grams,
        )

    return common_pb2.ReturnShipment(
        customer=common_pb2.Party(
            contact=common_pb2.Contact(name="Anna Muster", email="anna@example.ch"),
            address=postal_address_pb2.PostalAddress(
                region_code="CH", address_lines=["Bahnhofstrasse 1"], locality="Zürich", postal_code="8001"
            ),
        ),
        destination=common_pb2.ReturnDestination(hub_id="EU_HUB"),
        parcels=[common_pb2.Parcel(weight_grams=1500, length_mm=400, width_mm=300, height_mm=120)],
        items=[
            item("TS-1", "Cotton T-shirt", "6109.10", "PT", 2, 25, 0, 180),
            item("JK-9", "Wool jacket", "6103.31", "IT", 1, 189, 900_000_000, 900),
        ],
        original_order=common_pb2.OriginalOrder(
            order_id="O-1001",
            outbound_tracking_number="RR123456785DE",
            invoice_number="INV-2026-1001",
            import_entry_number="CH-IMP-77",
        ),
    )


async def show_customs(client: DemoClient, console: Console) -> None:
    stub = customs_pb2_grpc.CustomsServiceStub(client.channel)
    found = (
        await stub.LookupHsCode(customs_pb2.LookupHsCodeRequest(code="6109.10"), metadata=client.metadata)
    ).hs_code
    hierarchy = Table("level", "code", "description", title=f"LookupHsCode 6109.10 ({found.edition.name})")
    for level, node in (
        ("section", found.section),
        ("chapter", found.chapter),
        ("heading", found.heading),
        ("subheading", found.subheading),
    ):
        hierarchy.add_row(level, node.code, node.description)
    console.print(hierarchy)
    for query in ("wool sweater", "wool pullover"):
        page = await stub.SearchHsCodes(
            customs_pb2.SearchHsCodesRequest(query=query, page_size=5), metadata=client.metadata
        )
        if page.hs_codes:
            console.print(_hs_table(f"SearchHsCodes {query!r}, best first", page.hs_codes))
        else:
            console.print(f"SearchHsCodes {query!r}: no entry of the nomenclature contains every word")
    reply = await stub.PreviewCustomsDeclaration(
        customs_pb2.PreviewCustomsDeclarationRequest(shipment=_demo_return_ch_to_eu_hub()),
        metadata=client.metadata,
    )
    if reply.problems:  # e.g. on a date whose HS edition is not shipped
        for problem in reply.problems:
            console.print(f"[red]{problem.field}[/] {problem.code}: {problem.message}")
        return
    declaration = reply.declaration
    form = customs_pb2.CustomsForm.Name(declaration.form).removeprefix("CUSTOMS_FORM_")
    lines = Table(
        "SKU",
        "description",
        "HS",
        "origin",
        "qty",
        "net g",
        "value",
        title=f"PreviewCustomsDeclaration: {form}, returned goods, Zürich (CH) to the EU returns hub (NL)",
    )
    for line in declaration.lines:
        lines.add_row(
            line.sku,
            line.description,
            line.hs_code,
            line.origin_country,
            str(line.quantity),
            str(line.net_weight_grams),
            _amount(line.value),
        )
    lines.add_row(
        "",
        "total",
        "",
        "",
        "",
        str(declaration.total_net_weight_grams),
        _amount(declaration.total_value),
        style="bold",
    )
    console.print(lines)
    console.print(
        f"Gross weight {declaration.total_gross_weight_grams} g · invoice "
        f"{declaration.references.invoice_number} · outbound parcel "
        f"{declaration.references.outbound_tracking_number} · importer EORI "
        f"{declaration.importer_reference} · "
        f"{customs_pb2.Incoterm.Name(declaration.incoterm).removeprefix('INCOTERM_')}, duty paid by the "
        f"{customs_pb2.DutyPayer.Name(declaration.duty_payer).removeprefix('DUTY_PAYER_').lower()}"
    )


STEPS: tuple[tuple[str, DemoStep], ...] = (
    ("The server", show_health_and_services),
    ("Authentication", show_authentication),
    ("Customs: HS codes and a return's declaration", show_customs),
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
