"""`backhaul demo`: a throwaway server on the embedded default, and a guided tour of it as a client.

The server runs in this process on free ports over a temporary SQLite database; the tour talks to it over
real gRPC like any client, so what it shows is what a caller gets.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import secrets
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import grpc
from google.type import date_pb2, money_pb2, postal_address_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from rich.console import Console
from rich.table import Table

from backhaul.v1 import (
    common_pb2,
    customs_pb2,
    customs_pb2_grpc,
    insights_pb2,
    insights_pb2_grpc,
    labels_pb2,
    labels_pb2_grpc,
    rates_pb2,
    rates_pb2_grpc,
    tracking_pb2,
    tracking_pb2_grpc,
)
from service.app import build_application
from service.config import Settings
from service.grpc import convert
from service.insights.report import print_comparison
from service.insights.simulator import SimulationRequest, simulate
from service.logging import configure_logging
from service.server import BackhaulServer, BoundPorts

DEMO_MERCHANT = "demo-merchant"


@dataclass(frozen=True, slots=True)
class DemoClient:
    channel: grpc.aio.Channel
    api_key: str
    database_url: str = ""  # the throwaway server's database (the history simulator writes into it)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.api_key}"),)


DemoStep = Callable[[DemoClient, Console], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ThrowawayServer:
    workdir: Path
    ports: BoundPorts
    key_id: str
    client: DemoClient


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


# Quotes ------------------------------------------------------------------------------------------------


def _money(currency: str, amount: str) -> money_pb2.Money:
    units, _, fraction = amount.partition(".")
    return money_pb2.Money(currency_code=currency, units=int(units), nanos=int(fraction.ljust(9, "0")))


def _recent_order(today: dt.date) -> common_pb2.OriginalOrder:
    return common_pb2.OriginalOrder(
        order_id="SO-10482",
        order_date=convert.date_to_proto(today - dt.timedelta(days=12)),
        delivery_date=convert.date_to_proto(today - dt.timedelta(days=9)),
    )


def german_customer_return(today: dt.date) -> rates_pb2.QuoteReturnRequest:
    """A customer in Berlin sends back a T-shirt ordered twelve days ago (routed to the EU hub)."""
    return rates_pb2.QuoteReturnRequest(
        customer=common_pb2.Party(
            contact=common_pb2.Contact(name="Erika Mustermann", email="erika@example.com"),
            address=postal_address_pb2.PostalAddress(
                region_code="DE",
                address_lines=["Invalidenstraße 117"],
                locality="Berlin",
                postal_code="10115",
            ),
        ),
        parcels=[common_pb2.Parcel(weight_grams=800, length_mm=300, width_mm=200, height_mm=100)],
        items=[
            common_pb2.ReturnedItem(
                sku="TS-BLUE-M",
                description="cotton T-shirt",
                hs_code="6109.10",
                origin_country="PT",
                quantity=1,
                unit_value=_money("EUR", "29.90"),
                unit_weight_grams=200,
                return_reason=common_pb2.RETURN_REASON_WRONG_SIZE,
            )
        ],
        original_order=_recent_order(today),
    )


def canadian_customer_return(today: dt.date) -> rates_pb2.QuoteReturnRequest:
    """A customer in Toronto sends back a defective jacket (routed to the Canada hub), prices in CAD."""
    return rates_pb2.QuoteReturnRequest(
        customer=common_pb2.Party(
            contact=common_pb2.Contact(name="Jean Tremblay", email="jean@example.com"),
            address=postal_address_pb2.PostalAddress(
                region_code="CA",
                address_lines=["100 King Street West"],
                locality="Toronto",
                administrative_area="ON",
                postal_code="M5X 1A9",
            ),
        ),
        parcels=[common_pb2.Parcel(weight_grams=2300, length_mm=450, width_mm=350, height_mm=150)],
        items=[
            common_pb2.ReturnedItem(
                sku="JK-RAIN-L",
                description="waterproof rain jacket",
                hs_code="6201.40",
                origin_country="VN",
                quantity=1,
                unit_value=_money("CAD", "189.00"),
                unit_weight_grams=1900,
                return_reason=common_pb2.RETURN_REASON_DEFECTIVE,
            )
        ],
        original_order=_recent_order(today),
        preferences=rates_pb2.QuotePreferences(display_currency="CAD", sort=rates_pb2.QUOTE_SORT_BEST_VALUE),
    )


def _shown(message: money_pb2.Money) -> str:
    money = convert.money_from_proto(message, "", convert.Violations())
    return str(money) if money is not None else ""


def _day(message: date_pb2.Date) -> str:
    date = convert.date_from_proto(message, "", convert.Violations())
    return date.isoformat() if date else ""


def print_quote_response(console: Console, response: rates_pb2.QuoteReturnResponse) -> None:
    """The quotes, the carriers that could not quote, and the return-policy decision, as rich tables."""
    hub = response.quotes[0].destination_hub if response.quotes else None
    table = Table(
        "carrier",
        "service",
        "price",
        "display price",
        "days",
        "delivery by",
        "handover",
        "tags",
        title=f"{len(response.quotes)} quotes" + (f" to {hub.id} ({hub.name})" if hub and hub.id else ""),
        caption=f"FX as of {_day(response.fx_as_of)}; crosses a customs border: "
        + ("yes" if response.cross_border else "no"),
    )
    for quote in response.quotes:
        table.add_row(
            quote.carrier.name,
            quote.service_name,
            _shown(quote.price),
            _shown(quote.display_price) if quote.HasField("display_price") else "[dim]no FX rate[/]",
            str(quote.transit_days or ""),
            _day(quote.estimated_delivery_date),
            common_pb2.Handover.Name(quote.handover).removeprefix("HANDOVER_").lower().replace("_", "-"),
            ", ".join(rates_pb2.QuoteTag.Name(t).removeprefix("QUOTE_TAG_").lower() for t in quote.tags),
        )
    console.print(table)
    if response.errors:
        errors = Table("carrier account", "error", "message", "retryable", title="Carriers without a quote")
        for error in response.errors:
            retry = "yes" if error.retryable else "no"
            if error.HasField("retry_after"):
                retry += f", after {error.retry_after.ToTimedelta().total_seconds():g} s"
            errors.add_row(
                error.carrier.account_id,
                rates_pb2.CarrierErrorCode.Name(error.code).removeprefix("CARRIER_ERROR_CODE_"),
                error.message,
                retry,
            )
        console.print(errors)
    policy = response.return_policy
    verdict = "[bold green]eligible[/]" if policy.eligible else "[bold red]not eligible[/]"
    window = f"; window ends {_day(policy.window_end_date)}" if policy.HasField("window_end_date") else ""
    console.print(f"Return policy [bold]{policy.policy_id}[/]: {verdict}: {policy.reason}{window}")


async def _quote(client: DemoClient, console: Console, request: rates_pb2.QuoteReturnRequest) -> None:
    stub = rates_pb2_grpc.RatesServiceStub(client.channel)
    response = await stub.QuoteReturn(request, metadata=client.metadata, timeout=5)
    print_quote_response(console, response)


async def show_quote_from_germany(client: DemoClient, console: Console) -> None:
    console.print("A customer in Berlin returns a T-shirt; Backhaul routes it to the EU hub in Venlo.")
    await _quote(client, console, german_customer_return(dt.datetime.now(dt.UTC).date()))


async def show_quote_from_canada(client: DemoClient, console: Console) -> None:
    console.print("A customer in Toronto returns a defective jacket: best value first, prices in CAD.")
    await _quote(client, console, canadian_customer_return(dt.datetime.now(dt.UTC).date()))


# Labels ------------------------------------------------------------------------------------------------


async def show_cross_border_label(client: DemoClient, console: Console) -> None:
    """Buy the Swiss return's label from a quote token, list its documents and write them to a folder."""
    shipment = _demo_return_ch_to_eu_hub()
    quotes = await rates_pb2_grpc.RatesServiceStub(client.channel).QuoteReturn(
        rates_pb2.QuoteReturnRequest.FromString(shipment.SerializeToString()),
        metadata=client.metadata,
        timeout=5,
    )
    quote = quotes.quotes[0]
    stub = labels_pb2_grpc.LabelsServiceStub(client.channel)
    request = labels_pb2.CreateReturnLabelRequest(
        idempotency_key="demo-rma-ch-1",
        shipment=shipment,
        quote_token=quote.quote_token,
        customer_locale="de-CH",
    )
    label = (await stub.CreateReturnLabel(request, metadata=client.metadata, timeout=15)).label
    summary = label.declaration_summary
    console.print(
        f"Label [bold]{label.id}[/] bought from {label.carrier.name} ({label.service_name}) for "
        f"{_amount(label.price)}: tracking number [bold]{label.tracking_number}[/]. Customs: "
        f"{customs_pb2.CustomsForm.Name(summary.form).removeprefix('CUSTOMS_FORM_')}, "
        f"{summary.line_count} lines, {_amount(summary.total_value)}, {summary.total_net_weight_grams} g net."
    )
    folder = Path(tempfile.mkdtemp(prefix="backhaul-demo-documents-"))
    table = Table(
        "document", "format", "language", "bytes", "file", title=f"The label's documents, in {folder}"
    )
    documents = [label.label_document, *label.customs_documents, label.instructions_document]
    for document in documents:
        path = folder / document.filename
        path.write_bytes(document.content)
        table.add_row(
            common_pb2.DocumentKind.Name(document.kind).removeprefix("DOCUMENT_KIND_").lower(),
            common_pb2.DocumentFormat.Name(document.format).removeprefix("DOCUMENT_FORMAT_"),
            document.language_code or "-",
            str(document.size_bytes),
            path.name,
        )
    console.print(table)
    console.print(f"Open them: {folder}")
    again = (await stub.CreateReturnLabel(request, metadata=client.metadata, timeout=15)).label
    console.print(
        f"The same request under the same idempotency key: label {again.id} again "
        f"({'the same' if again.id == label.id else 'ANOTHER'} label, nothing bought twice)."
    )
    request.customer_locale = "fr-CH"
    try:
        await stub.CreateReturnLabel(request, metadata=client.metadata, timeout=15)
    except grpc.aio.AioRpcError as error:
        console.print(
            f"The same key with another request: [bold red]{error.code().name}[/] ({error.details()})"
        )


def _scan(number: str, at: dt.datetime, code: str, description: str) -> tracking_pb2.PartnerTrackingEvent:
    scan = tracking_pb2.PartnerTrackingEvent(tracking_number=number, code=code, description=description)
    scan.occurred_at.FromDatetime(at)
    return scan


async def show_tracking(client: DemoClient, console: Console) -> None:
    """Buy a rate-card label, watch its stream with the customer's token while the partner pushes scans."""
    request = german_customer_return(dt.datetime.now(dt.UTC).date())
    quotes = await rates_pb2_grpc.RatesServiceStub(client.channel).QuoteReturn(
        request, metadata=client.metadata, timeout=5
    )
    quote = next(q for q in quotes.quotes if q.carrier.provider == "ratecard")
    bought = await labels_pb2_grpc.LabelsServiceStub(client.channel).CreateReturnLabel(
        labels_pb2.CreateReturnLabelRequest(
            idempotency_key="demo-tracking",
            shipment=common_pb2.ReturnShipment.FromString(request.SerializeToString()),
            quote_token=quote.quote_token,
        ),
        metadata=client.metadata,
        timeout=10,
    )
    label = bought.label
    console.print(
        f"Label {label.id} bought from {label.carrier.name}: tracking number "
        f"[bold]{label.tracking_number}[/]. The customer's app streams it with the label's tracking token; "
        "the partner pushes its scans."
    )
    tracking = tracking_pb2_grpc.TrackingServiceStub(client.channel)
    token = (("authorization", f"Bearer {label.tracking_token}"),)
    stream = tracking.SubscribeTracking(
        tracking_pb2.SubscribeTrackingRequest(resume_after_cursor=0), metadata=token
    )
    start = dt.datetime.now(dt.UTC).replace(microsecond=0)
    scans = [
        _scan(label.tracking_number, start, "EMA", "handed in at a Packstation, Berlin"),
        _scan(label.tracking_number, start + dt.timedelta(hours=5), "EMC", "left the Berlin parcel centre"),
        _scan(
            label.tracking_number, start + dt.timedelta(hours=30), "EMI", "delivered to the Venlo returns hub"
        ),
        _scan(label.tracking_number, start + dt.timedelta(hours=52), "HUB_RELEASED", "inspected, released"),
    ]
    push = tracking_pb2.IngestTrackingEventsRequest(carrier_account_id=label.carrier.account_id, events=scans)
    first = await tracking.IngestTrackingEvents(push, metadata=client.metadata, timeout=5)
    again = await tracking.IngestTrackingEvents(push, metadata=client.metadata, timeout=5)
    console.print(
        f"Partner push: {first.accepted_count} accepted; the same push again: "
        f"{again.accepted_count} accepted, {again.duplicate_count} duplicates (nothing stored twice)."
    )
    table = Table("cursor", "occurred", "status", "code", "milestone reached", title="The customer's stream")
    events = 0
    async for message in stream:
        if message.WhichOneof("kind") == "replay_complete":
            table.caption = f"replay complete at cursor {message.replay_complete.last_cursor}"
            continue
        event = message.event
        if message.WhichOneof("kind") != "event":
            continue
        table.add_row(
            str(event.cursor),
            event.occurred_at.ToDatetime().strftime("%a %H:%M"),
            tracking_pb2.TrackingStatus.Name(event.status).removeprefix("TRACKING_STATUS_").lower(),
            event.code,
            tracking_pb2.ReturnMilestone.Name(event.milestone).removeprefix("RETURN_MILESTONE_").lower()
            if event.milestone
            else "",
        )
        events += 1
        if event.code == "HUB_RELEASED":
            break
    stream.cancel()
    console.print(table)
    state = (await tracking.GetTracking(tracking_pb2.GetTrackingRequest(), metadata=token, timeout=5)).state
    refund = state.expected_refund_date
    console.print(
        f"GetTracking with the token: status [bold]{tracking_pb2.TrackingStatus.Name(state.status)}[/], "
        f"{sum(m.reached for m in state.milestones)} of 4 milestones reached, expected refund by "
        f"[bold]{refund.year:04d}-{refund.month:02d}-{refund.day:02d}[/] ({events} events streamed)."
    )


def _charge(
    component: customs_pb2.ChargeComponent.ValueType, currency: str, amount: str
) -> customs_pb2.ChargeAmount:
    return customs_pb2.ChargeAmount(component=component, amount=_money(currency, amount))


def _component(value: customs_pb2.ChargeComponent.ValueType) -> str:
    return customs_pb2.ChargeComponent.Name(value).removeprefix("CHARGE_COMPONENT_").replace("_", "/").lower()


def us_retail_return_reclaim(today: dt.date) -> customs_pb2.CalculateDutyReclaimRequest:
    """Worn jackets and T-shirts sent back to a US importer that sold them at retail (19 CFR 191.45)."""
    imported = today - dt.timedelta(days=70)
    entry = "BHL-0093121-4"

    def line(
        line_id: str, sku: str, text: str, hs_code: str, units: tuple[int, int], value: str, duty: str
    ) -> customs_pb2.ReclaimEntryLine:
        zero = [
            _charge(c, "USD", "0")
            for c in (customs_pb2.CHARGE_COMPONENT_AD_CVD, customs_pb2.CHARGE_COMPONENT_VAT)
        ]
        return customs_pb2.ReclaimEntryLine(
            line_id=line_id,
            sku=sku,
            description=text,
            hs_code=hs_code,
            imported_quantity=units[0],
            returned_quantity=units[1],
            customs_value=_money("USD", value),
            paid=[_charge(customs_pb2.CHARGE_COMPONENT_DUTY, "USD", duty), *zero],
        )

    return customs_pb2.CalculateDutyReclaimRequest(
        import_country="US",
        import_date=convert.date_to_proto(imported),
        import_currency="USD",
        import_entry_number=entry,
        importer_type=customs_pb2.IMPORTER_TYPE_BUSINESS,
        lines=[
            line("jackets", "JKT-100", "wool jackets", "6201.40.0010", (40, 3), "4800", "1344.00"),
            line("shirts", "TSH-200", "cotton T-shirts", "6109.10.0012", (200, 12), "2400", "396.00"),
        ],
        entry_charges=[
            _charge(customs_pb2.CHARGE_COMPONENT_MPF, "USD", "32.71"),
            _charge(customs_pb2.CHARGE_COMPONENT_HMT, "USD", "9.00"),
            _charge(customs_pb2.CHARGE_COMPONENT_OTHER, "USD", "0"),
        ],
        return_reason=common_pb2.RETURN_REASON_WRONG_SIZE,
        condition=common_pb2.ITEM_CONDITION_USED,
        export_date=convert.date_to_proto(today + dt.timedelta(days=5)),
        designated_imports=[
            customs_pb2.DesignatedImport(
                sku=sku, hs_code=code, import_entry_number=entry, import_date=convert.date_to_proto(imported)
            )
            for sku, code in (("JKT-100", "6201.40.0010"), ("TSH-200", "6109.10.0012"))
        ],
        display_currency="EUR",
    )


def eu_defective_reclaim(today: dt.date) -> customs_pb2.CalculateDutyReclaimRequest:
    """A defective jacket a German customer bought from an IOSS seller goes back to the UK hub."""
    return customs_pb2.CalculateDutyReclaimRequest(
        import_country="DE",
        import_date=convert.date_to_proto(today - dt.timedelta(days=40)),
        import_currency="EUR",
        import_entry_number="26DE0045102931R7",
        importer_type=customs_pb2.IMPORTER_TYPE_CONSUMER,
        tax_collected_at_sale=True,
        lines=[
            customs_pb2.ReclaimEntryLine(
                line_id="1",
                sku="JK-RAIN-L",
                description="waterproof rain jacket",
                hs_code="6201.40.10",
                imported_quantity=1,
                returned_quantity=1,
                customs_value=_money("EUR", "139.00"),
                paid=[
                    _charge(customs_pb2.CHARGE_COMPONENT_DUTY, "EUR", "16.68"),
                    _charge(customs_pb2.CHARGE_COMPONENT_VAT, "EUR", "29.58"),
                ],
            )
        ],
        return_reason=common_pb2.RETURN_REASON_DEFECTIVE,
        condition=common_pb2.ITEM_CONDITION_DEFECTIVE,
        export_date=convert.date_to_proto(today - dt.timedelta(days=3)),
        proof_of_export=customs_pb2.ProofOfExport(
            kind=customs_pb2.PROOF_OF_EXPORT_KIND_CARRIER_TRACKING,
            reference="RR123456785DE",
            date=convert.date_to_proto(today - dt.timedelta(days=3)),
        ),
        display_currency="USD",
    )


def print_reclaim_response(console: Console, response: customs_pb2.CalculateDutyReclaimResponse) -> None:
    """Regimes with why or why not, the best option, refundable by component, deadline, forms, warnings."""
    best = set(response.best_regime_ids)
    regimes = Table("", "regime", "refundable", "file by", "why", title=f"Regimes of {response.market}")
    for assessment in response.regimes:
        failed = [check.text for check in assessment.checks if not check.passed]
        failed += [c.text for line in assessment.lines for c in line.checks if not c.passed]
        why = failed[0] if failed else "every condition met"
        if assessment.basis == customs_pb2.RULE_BASIS_UNCONFIRMED:
            why += " [yellow](basis unconfirmed)[/]"
        mark = (
            "[bold green]best[/]"
            if assessment.regime.id in best
            else ("ok" if assessment.eligible else "[red]no[/]")
        )
        regimes.add_row(
            mark,
            f"{assessment.regime.name}\n[dim]{assessment.regime.legal_basis}[/]",
            _shown(assessment.refundable_total),
            _day(assessment.filing_deadline),
            why,
        )
    console.print(regimes)
    amounts = Table(
        "component",
        f"refundable ({response.import_currency})",
        f"display ({response.display_currency})",
        title=f"Refundable under {' + '.join(response.best_regime_ids) or 'no regime'}",
        caption=f"FX as of {_day(response.fx_as_of)}" if response.HasField("fx_as_of") else None,
    )
    for item in response.total_refundable:
        amounts.add_row(_component(item.component), _shown(item.amount), _shown(item.display_amount))
    amounts.add_row(
        "[bold]total[/]",
        _shown(response.total_refundable_amount),
        _shown(response.total_refundable_display_amount),
    )
    for lost in response.not_refundable:
        amounts.add_row(
            f"[dim]not refunded: {_component(lost.component)} ({lost.line_id})[/]", _shown(lost.amount), ""
        )
    console.print(amounts)
    console.print(
        f"File by [bold]{_day(response.filing_deadline)}[/] with: "
        + "; ".join(f"{form.code} ({form.authority})" for form in response.forms)
    )
    if response.documents:
        console.print("Documents: " + "; ".join(response.documents))
    for warning in response.warnings:
        console.print(f"  [yellow]{warning.code}[/] {warning.message}")


async def show_duty_reclaim(client: DemoClient, console: Console) -> None:
    customs = customs_pb2_grpc.CustomsServiceStub(client.channel)
    today = dt.datetime.now(dt.UTC).date()
    console.print(
        "Worn jackets and T-shirts come back to a US importer that sold them at retail. Used goods fail "
        "unused merchandise drawback; returned retail merchandise qualifies for any reason: 99 % of duty "
        "and fees."
    )
    us = await customs.CalculateDutyReclaim(
        us_retail_return_reclaim(today), metadata=client.metadata, timeout=5
    )
    print_reclaim_response(console, us)
    console.print(
        "A defective jacket leaves Germany for the UK hub: the EU repays the duty (UCC Art. 118) and the "
        "IOSS seller adjusts the VAT, two regimes that combine."
    )
    eu = await customs.CalculateDutyReclaim(eu_defective_reclaim(today), metadata=client.metadata, timeout=5)
    print_reclaim_response(console, eu)
    claims = await customs.ListReclaimClaims(
        customs_pb2.ListReclaimClaimsRequest(), metadata=client.metadata, timeout=5
    )
    table = Table(
        "label",
        "status",
        "regime",
        "refundable",
        "file by",
        "last change",
        title="Claims recorded with labels",
    )
    for claim in claims.claims:
        last = claim.audit_trail[-1]
        table.add_row(
            claim.label_id,
            customs_pb2.ReclaimClaimStatus.Name(claim.status).removeprefix("RECLAIM_CLAIM_STATUS_").lower(),
            claim.regime.id or "-",
            _shown(claim.refundable_total),
            _day(claim.filing_deadline),
            f"{last.actor}: {last.description}",
        )
    console.print(table)


async def show_carrier_insights(client: DemoClient, console: Console) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    console.print(
        "Six weeks of returns from the history simulator: the carriers' own prices and promised transit "
        "days, customer and carrier behaviour from its profiles, written through the labels store and "
        "tracking ingestion of this server's database."
    )
    report = await simulate(
        Settings(database_url=client.database_url), SimulationRequest(DEMO_MERCHANT, 300, 42, 11, now)
    )
    console.print(f"{report.returns} returns, {report.scans} scans, {report.quote_answers} quote answers.")
    request = insights_pb2.CompareCarriersRequest(
        lane=common_pb2.Lane(customer_country="DE", hub_id="EU_HUB"), currency="EUR", top_skus=3
    )
    request.since.FromDatetime(now - dt.timedelta(days=42))
    request.until.FromDatetime(now + dt.timedelta(minutes=1))
    stub = insights_pb2_grpc.InsightsServiceStub(client.channel)
    response = await stub.CompareCarriers(request, metadata=client.metadata, timeout=30)
    print_comparison(console, response, "CompareCarriers: Germany to the EU hub, last six weeks")


STEPS: tuple[tuple[str, DemoStep], ...] = (
    ("The server", show_health_and_services),
    ("Authentication", show_authentication),
    ("Customs: HS codes and a return's declaration", show_customs),
    ("Quoting a return from Germany", show_quote_from_germany),
    ("Quoting a return from Canada", show_quote_from_canada),
    ("Buying a cross-border label: customs documents, exactly once", show_cross_border_label),
    ("Tracking a return: label, partner scans, the customer's stream", show_tracking),
    ("Duty reclaim: a US retail return and an EU defective return", show_duty_reclaim),
    ("Carrier insights: a simulated history compared per lane", show_carrier_insights),
)


@contextlib.asynccontextmanager
async def throwaway_server(environ: Mapping[str, str]) -> AsyncIterator[ThrowawayServer]:
    """A server in this process on free ports over a temporary SQLite database, with a demo merchant and key.

    `environ` holds BACKHAUL_* settings; the database, listen addresses and drain time are the throwaway's.
    """
    with tempfile.TemporaryDirectory(prefix="backhaul-demo-") as workdir:
        settings = Settings.load(
            {
                **environ,
                "BACKHAUL_DATABASE_URL": f"sqlite+aiosqlite:///{Path(workdir) / 'demo.db'}",
                "BACKHAUL_GRPC_ADDRESS": f"127.0.0.1:{_free_port()}",
                "BACKHAUL_HTTP_ADDRESS": f"127.0.0.1:{_free_port()}",
                "BACKHAUL_DRAIN_SECONDS": "2",
            }
        )
        application = await build_application(settings)
        server = BackhaulServer(application)
        ports = await server.start()
        try:
            await application.tenancy.ensure_merchant(DEMO_MERCHANT, "Demo Merchant")
            key, plaintext = await application.tenancy.create_api_key(DEMO_MERCHANT, "demo")
            async with grpc.aio.insecure_channel(f"127.0.0.1:{ports.grpc}") as channel:
                client = DemoClient(channel, plaintext, settings.database_url)
                yield ThrowawayServer(Path(workdir), ports, key.id, client)
        finally:
            await server.drain()


def quiet_logs(verbose: bool) -> None:
    configure_logging("INFO" if verbose else "WARNING", "console")
    if not verbose:
        logging.getLogger().setLevel(logging.WARNING)


async def run_demo(console: Console, *, verbose_logs: bool = False) -> int:
    quiet_logs(verbose_logs)
    async with throwaway_server({"BACKHAUL_QUOTE_TOKEN_SECRET": secrets.token_urlsafe(48)}) as throwaway:
        console.rule("[bold]Backhaul demo")
        console.print(
            f"A throwaway server: gRPC on 127.0.0.1:{throwaway.ports.grpc}, HTTP on "
            f"127.0.0.1:{throwaway.ports.http}, database {throwaway.workdir}/demo.db. Demo merchant "
            f"[bold]{DEMO_MERCHANT}[/] with API key id {throwaway.key_id}."
        )
        for title, step in STEPS:
            console.rule(title)
            await step(throwaway.client, console)
    console.rule("[bold]Done")
    return 0
