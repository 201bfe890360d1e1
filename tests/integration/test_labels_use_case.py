"""The labels use cases against a real database and in-process carriers (a sandbox with a purchase ledger,
a rate-card partner drawing S10 numbers from the database, and scripted carriers that fail on cue).

Covers: quote-token redemption and its refusals, explicit rates, customs documents on cross-border lanes,
exactly once (same key, other request, concurrent duplicates, retries after definite and unknown failures,
NEEDS_REVIEW), reconciliation of crashed intents, voids before and after the first scan, merchant scoping,
list filters and pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from carriers.accounts import CallPolicy, CarrierAccount
from carriers.errors import CarrierError, MalformedResponse, RateLimited, TimedOut, Unavailable
from carriers.models import (
    LabelFormat,
    LabelReference,
    Parcel,
    PurchasedLabel,
    PurchaseRequest,
    Rate,
    VoidResult,
)
from carriers.models import ReturnShipment as CarrierShipment
from carriers.port import Capabilities
from carriers.ratecard import RateCardCarrier
from carriers.ratecard.card import packaged_card
from carriers.ratecard.s10 import is_valid_s10
from carriers.resilience import ResilientCarrier
from carriers.sandbox import SandboxCarrier, SandboxSettings
from carriers.tracking import TrackingEvent, TrackingSnapshot
from customs.goods import ItemCondition, ReturnReason
from customs.money import Money
from service.config import default_data_file
from service.customs_declarations import CustomsDeclarations
from service.documents import DocumentKind
from service.documents.customs_documents import CERTIFICATION
from service.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from service.errors import (
    Unavailable as Refused,
)
from service.labels import Labels, LabelsConfig, open_labels
from service.labels.label_files import LabelFileUnavailable
from service.labels.model import (
    CreateLabelRequest,
    ExplicitRate,
    LabelQuery,
    LabelState,
    LabelStatus,
    LabelView,
    PageRequest,
    QuotedRate,
)
from service.labels.repository import LabelRepository, NewIntent, new_id
from service.labels.request_document import request_digest, request_document
from service.labels.serials import DatabaseSerialAllocator
from service.quoting.fx import load_fx_table
from service.quoting.hubs import load_hubs
from service.quoting.policy import load_return_policies
from service.quoting.request import (
    AddressInput,
    ContactInput,
    DestinationInput,
    ItemInput,
    MoneyInput,
    OriginalOrderInput,
    PartyInput,
    ShipmentInput,
)
from service.quoting.token import (
    ExpiredQuoteToken,
    QuoteClaims,
    QuoteShipmentMismatch,
    QuoteTokenSigner,
    QuoteTokenWrongMerchant,
    TamperedQuoteToken,
    shipment_digest,
)
from service.quoting.validation import build_return_shipment
from service.storage import Database, Tenancy, create_database, upgrade_database
from service.tracking.access import TrackingTokens
from service.tracking.milestones import ReturnRoute
from service.tracking.shipments import ShipmentRegistry

SECRET = "labels-integration-secret-0123456789abcdef"
HUBS = load_hubs(default_data_file("hubs.toml"))


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(microseconds=10)  # every reading a little later: creation order is strict
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


class Parcels:
    """Tracking registration through the real parcel registry, remembering what was registered."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.registry = ShipmentRegistry(database)
        self.clock = clock
        self.registered: list[tuple[str, str, str]] = []

    async def register_shipment(
        self,
        merchant_id: str,
        label_id: str | None,
        carrier_account_id: str,
        tracking_number: str,
        *,
        route: ReturnRoute = ReturnRoute.VIA_HUB,
    ) -> object:
        self.registered.append((str(label_id), carrier_account_id, tracking_number))
        return await self.registry.register(
            merchant_id=merchant_id,
            label_id=label_id,
            carrier_account_id=carrier_account_id,
            tracking_number=tracking_number,
            route=route,
            registered_at=self.clock(),
            first_poll_at=None,
        )


class Scripted:
    """A sandbox whose purchases fail on cue: before the sale (`refuse`) or after it (`lose_answer`)."""

    def __init__(self, inner: SandboxCarrier) -> None:
        self.inner = inner
        self.before_sale: list[CarrierError] = []
        self.after_sale: list[CarrierError] = []

    @property
    def account_id(self) -> str:
        return self.inner.account_id

    @property
    def carrier(self) -> str:
        return self.inner.carrier

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    async def quote(self, shipment: CarrierShipment) -> Sequence[Rate]:
        return await self.inner.quote(shipment)

    async def purchase(self, request: PurchaseRequest) -> PurchasedLabel:
        if self.before_sale:
            raise self.before_sale.pop(0)
        label = await self.inner.purchase(request)
        if self.after_sale:
            raise self.after_sale.pop(0)  # sold, but the answer is lost
        return label

    async def void(self, label: LabelReference) -> VoidResult:
        return await self.inner.void(label)

    async def track(self, tracking_number: str) -> TrackingSnapshot:
        return await self.inner.track(tracking_number)

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[TrackingEvent]:
        return await self.inner.parse_webhook(headers, body)

    async def close(self) -> None:
        return None


class ScriptedWithLookup(Scripted):
    async def find_purchase(self, request: PurchaseRequest) -> PurchasedLabel | None:
        return await self.inner.find_purchase(request)


class Hosting(Scripted):
    """A carrier that hosts its labels: the purchase answers with a URL, not the file."""

    async def purchase(self, request: PurchaseRequest) -> PurchasedLabel:
        label = await super().purchase(request)
        url = f"https://labels.example.test/{label.tracking_number}.pdf"
        return dataclasses.replace(label, label_document=b"", label_url=url)


class HostedFiles:
    def __init__(self) -> None:
        self.down = False
        self.fetched: list[str] = []

    async def fetch(self, url: str) -> bytes:
        self.fetched.append(url)
        if self.down:
            raise LabelFileUnavailable("HTTP 503 for the label file")
        return b"%PDF-1.4 hosted " + url.encode()

    async def close(self) -> None:
        return None


@dataclasses.dataclass
class Stack:
    database: Database
    labels: Labels
    repository: LabelRepository
    clock: Clock
    parcels: Parcels
    ledger: Path
    adapters: dict[str, Any]
    signer: QuoteTokenSigner
    files: HostedFiles

    @property
    def use_case(self) -> Any:
        return self.labels.use_case

    def purchases(self, ledger: Path | None = None) -> list[dict[str, Any]]:
        path = ledger or self.ledger
        if not path.exists():
            return []
        entries = [json.loads(line) for line in path.read_text().splitlines()]
        return [entry for entry in entries if entry["event"] == "purchase"]

    async def token(
        self,
        shipment: ShipmentInput,
        account: str = "sandbox",
        service: str = "sandbox_standard",
        merchant: str = "m1",
        ttl: dt.timedelta = dt.timedelta(minutes=30),
    ) -> str:
        """A quote token as QuoteReturn signs it, priced by the carrier."""
        routed = build_return_shipment(shipment, HUBS, today=self.clock().date())
        rates = await self.adapters[account].quote(routed.shipment)
        rate = next(r for r in rates if r.service_code == service)
        claims = QuoteClaims(
            account_id=account,
            service_code=service,
            handover=rate.handover,
            price=rate.price,
            shipment_digest=shipment_digest(routed.shipment),
            merchant_id=merchant,
            expires_at=(self.clock() + ttl).replace(microsecond=0),
        )
        return self.signer.sign(claims)


def sandbox(account: str, ledger: Path, **options: Any) -> SandboxCarrier:
    return SandboxCarrier(
        account, "Sandbox Express", SandboxSettings(seed=3, ledger_file=str(ledger), **options)
    )


@pytest.fixture
async def stack(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    async with open_stack(sqlite_url, tmp_path) as built:
        yield built


@contextlib.asynccontextmanager
async def open_stack(url: str, tmp_path: Path, **sandbox_options: Any) -> AsyncIterator[Stack]:
    await upgrade_database(url)
    database = create_database(url)
    tenancy = Tenancy(database)
    for merchant in ("m1", "m2"):
        await tenancy.ensure_merchant(merchant, merchant.upper())
    clock = Clock()
    ledger = tmp_path / "sandbox-ledger.jsonl"
    adapters: dict[str, Any] = {
        "sandbox": sandbox("sandbox", ledger, **sandbox_options),
        "rhein-paket": RateCardCarrier(
            "rhein-paket", packaged_card("rhein_paket_de"), DatabaseSerialAllocator(database)
        ),
        "flaky-lookup": ScriptedWithLookup(sandbox("flaky-lookup", tmp_path / "flaky-lookup.jsonl")),
        "flaky": Scripted(sandbox("flaky", tmp_path / "flaky.jsonl")),
        "hosting": Hosting(sandbox("hosting", tmp_path / "hosting.jsonl")),
    }
    policy = CallPolicy(max_attempts=1, timeout_seconds=5)
    accounts = {
        name: CarrierAccount(name, "ratecard" if name == "rhein-paket" else "sandbox", adapter.carrier)
        for name, adapter in adapters.items()
    }
    fx = load_fx_table(default_data_file("fx_rates.toml"))
    signer = QuoteTokenSigner(SECRET)
    parcels = Parcels(database, clock)
    files = HostedFiles()
    labels = await open_labels(
        LabelsConfig(
            purchase_budget_seconds=2.0,
            reconcile_after_seconds=5.0,
            reconcile_interval_seconds=3600,
            tracking_page_url="https://track.example.test/{tracking_number}",
        ),
        database=database,
        carriers={name: ResilientCarrier(adapter, policy) for name, adapter in adapters.items()},
        accounts=accounts,
        hubs=HUBS,
        policies=load_return_policies(default_data_file("return_policies.toml")),
        declarations=CustomsDeclarations(
            fx=fx, hubs=HUBS, carrier_account_ids=list(accounts), certification_statement=CERTIFICATION
        ),
        quote_tokens=signer,
        tracking=parcels,
        tracking_tokens=TrackingTokens(SECRET.encode(), validity=dt.timedelta(days=30)),
        clock=clock,
        reconcile=False,
        label_files=files,
    )
    try:
        yield Stack(
            database, labels, LabelRepository(database), clock, parcels, ledger, adapters, signer, files
        )
    finally:
        await labels.close()
        await database.dispose()


def money(amount: str, currency: str = "EUR") -> MoneyInput:
    return MoneyInput(currency, Decimal(amount))


def shipment(
    country: str = "CH",
    postal_code: str = "8001",
    city: str = "Zürich",
    *,
    hub_id: str = "EU_HUB",
    hs_code: str = "6106.20",
    quantity: int = 2,
    address: AddressInput | None = None,
) -> ShipmentInput:
    return ShipmentInput(
        customer=PartyInput(
            ContactInput("Anna Schmidt", "anna@example.com", "+41441234567"),
            AddressInput(country, ("Bahnhofstrasse 1",), city, postal_code),
        ),
        parcels=(Parcel(1200, 300, 200, 100),),
        items=(
            ItemInput(
                sku="SKU-1",
                description="women's wool blouse",
                quantity=quantity,
                unit_value=money("45.00"),
                unit_weight_grams=300,
                origin_country="PT",
                hs_code=hs_code,
                condition=ItemCondition.NEW_OPENED,
                return_reason=ReturnReason.WRONG_SIZE,
            ),
        ),
        destination=DestinationInput(address=address) if address else DestinationInput(hub_id=hub_id),
        original_order=OriginalOrderInput(
            order_id="ORD-1", invoice_number="INV-1", outbound_tracking_number="RR123456785DE"
        ),
    )


GERMAN = dataclasses.replace(
    shipment(),
    customer=PartyInput(
        ContactInput("Jonas Weber"),
        AddressInput("DE", ("Torstraße 1",), "Berlin", "10115", language_code="de"),
    ),
)
WAREHOUSE = AddressInput("DE", ("Lagerstraße 5",), "Hamburg", "20095", organization="Repair GmbH")
# A return to a repair partner's address: no hub, and inside one customs territory.
LOCAL = dataclasses.replace(GERMAN, destination=DestinationInput(address=WAREHOUSE))


def create(
    rate: QuotedRate | ExplicitRate | None,
    key: str = "rma-1",
    merchant: str = "m1",
    ship: ShipmentInput | None = None,
    label_format: LabelFormat | None = None,
    locale: str = "",
) -> CreateLabelRequest:
    return CreateLabelRequest(merchant, key, ship or shipment(), rate, label_format, locale)


def kinds(view: LabelView) -> list[DocumentKind]:
    return [document.kind for document in view.documents]


# Buying ------------------------------------------------------------------------------------------------


async def test_a_cross_border_label_from_a_quote_token_comes_with_customs_documents(stack: Stack) -> None:
    token = await stack.token(shipment())
    view = await stack.use_case.create(create(QuotedRate(token), locale="fr-CH"))
    record = view.record
    assert record.status is LabelStatus.PURCHASED
    assert record.plan.cross_border
    assert record.plan.declaration is not None
    assert (record.plan.declaration.form, record.plan.declaration.line_count) == ("CN23", 1)
    assert record.plan.declaration.total_value == Money(Decimal("90.00"), "EUR")
    assert kinds(view) == [
        DocumentKind.LABEL,
        DocumentKind.CN23,
        DocumentKind.COMMERCIAL_INVOICE,
        DocumentKind.RETURN_INSTRUCTIONS,
    ]
    assert all(d.content for d in view.documents)
    for document in view.customs_documents:
        assert document.content is not None
        assert document.content.startswith(b"%PDF")
        assert record.tracking_number in document.filename
    instructions = view.document(DocumentKind.RETURN_INSTRUCTIONS)
    assert instructions is not None
    assert instructions.language_code == "fr"
    assert [e["idempotency_key"] for e in stack.purchases()] == [f"{record.id}.1"]
    assert stack.parcels.registered == [(record.id, "sandbox", record.tracking_number)]
    assert (await stack.repository.get("m1", record.id)).tracking_registered  # type: ignore[union-attr]
    principal = TrackingTokens(SECRET.encode(), validity=dt.timedelta(days=1)).verify(view.tracking_token)
    assert principal is not None
    assert (principal.merchant_id, principal.label_id) == ("m1", record.id)
    assert view.hub is not None
    assert view.hub.id == "EU_HUB"
    assert view.shipment == shipment()


async def test_a_rate_card_label_is_rendered_here_with_consecutive_s10_numbers(stack: Stack) -> None:
    rate = ExplicitRate("rhein-paket", "paket_retoure")
    pdf = await stack.use_case.create(create(rate, key="r1", ship=GERMAN))
    zpl = await stack.use_case.create(create(rate, key="r2", ship=GERMAN, label_format=LabelFormat.ZPL))
    assert kinds(pdf) == [DocumentKind.LABEL, DocumentKind.RETURN_INSTRUCTIONS]  # domestic for customs
    assert pdf.record.plan.declaration is None
    assert pdf.record.plan.service_name == "Paket Retoure"
    label_pdf = pdf.document(DocumentKind.LABEL)
    label_zpl = zpl.document(DocumentKind.LABEL)
    assert label_pdf is not None
    assert label_zpl is not None
    assert label_pdf.content is not None
    assert label_zpl.content is not None
    assert label_pdf.content.startswith(b"%PDF")
    assert label_zpl.content.startswith(b"^XA")
    assert label_zpl.content.rstrip().endswith(b"^XZ")
    assert label_zpl.content_type == "application/x-zpl"
    numbers = [pdf.record.tracking_number, zpl.record.tracking_number]
    assert all(number and is_valid_s10(number) for number in numbers)
    assert int(numbers[1][2:10]) == int(numbers[0][2:10]) + 1
    instructions = pdf.document(DocumentKind.RETURN_INSTRUCTIONS)
    assert instructions is not None
    assert instructions.language_code == "de"  # from the customer's address
    assert pdf.record.price == Money(Decimal("5.74"), "EUR")


async def test_an_explicit_rate_is_priced_by_the_carrier_and_checked(stack: Stack) -> None:
    view = await stack.use_case.create(create(ExplicitRate("sandbox", "sandbox_express"), key="e1"))
    assert view.record.plan.service_name == "Sandbox Express"
    assert view.record.price == view.record.plan.quoted_price
    with pytest.raises(InvalidArgument) as unknown_service:
        await stack.use_case.create(create(ExplicitRate("sandbox", "teleport"), key="e2"))
    assert unknown_service.value.violations[0].field == "explicit_rate.service_code"
    with pytest.raises(InvalidArgument) as unknown_account:
        await stack.use_case.create(create(ExplicitRate("nobody", "x"), key="e3"))
    assert unknown_account.value.violations[0].field == "explicit_rate.carrier_account_id"
    with pytest.raises(InvalidArgument) as wrong_lane:  # Rhein Paket does not collect in Switzerland
        await stack.use_case.create(create(ExplicitRate("rhein-paket", "paket_retoure"), key="e4"))
    assert wrong_lane.value.violations[0].field == "explicit_rate.carrier_account_id"
    with pytest.raises(InvalidArgument) as wrong_format:
        await stack.use_case.create(
            create(
                ExplicitRate("rhein-paket", "paket_retoure"),
                key="e5",
                ship=GERMAN,
                label_format=LabelFormat.PNG,
            )
        )
    assert wrong_format.value.violations[0].field == "label_format"
    assert len(stack.purchases()) == 1


async def test_a_return_to_an_address_needs_no_hub_and_is_tracked_direct(stack: Stack) -> None:
    view = await stack.use_case.create(
        create(ExplicitRate("sandbox", "sandbox_standard"), key="a1", ship=LOCAL)
    )
    assert view.hub is None
    assert view.record.plan.destination_hub_id == ""
    assert kinds(view) == [DocumentKind.LABEL, DocumentKind.RETURN_INSTRUCTIONS]
    registered = await ShipmentRegistry(stack.database).find("m1", label_id=view.record.id)
    assert registered is not None
    assert registered.route is ReturnRoute.DIRECT


async def test_a_carrier_hosted_label_is_fetched_now_or_on_the_next_full_read(stack: Stack) -> None:
    rate = ExplicitRate("hosting", "sandbox_standard")
    fetched_at_once = await stack.use_case.create(create(rate, key="h1", ship=LOCAL))
    label = fetched_at_once.document(DocumentKind.LABEL)
    assert label is not None
    assert label.content == b"%PDF-1.4 hosted " + stack.files.fetched[0].encode()
    assert fetched_at_once.record.label_url == stack.files.fetched[0]
    stack.files.down = True
    late = await stack.use_case.create(create(rate, key="h2", ship=LOCAL))
    assert kinds(late) == [DocumentKind.RETURN_INSTRUCTIONS]  # bought and recorded all the same
    assert late.record.status is LabelStatus.PURCHASED
    stack.files.down = False
    full = await stack.use_case.get("m1", late.record.id, full=True)
    assert kinds(full) == [DocumentKind.RETURN_INSTRUCTIONS, DocumentKind.LABEL]
    assert (await stack.use_case.get("m1", late.record.id, full=False)).document(
        DocumentKind.LABEL
    ) is not None
    # h1 at purchase; h2 at purchase, for the create answer (still down), and once more on the full read.
    assert len(stack.files.fetched) == 4


# Refusals before anything is stored ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "refusal"),
    [
        (lambda token: token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"), TamperedQuoteToken),
        (lambda token: token, QuoteShipmentMismatch),
    ],
)
async def test_tampered_tokens_and_other_shipments_are_refused(
    stack: Stack, make: Any, refusal: type[Exception]
) -> None:
    token = await stack.token(shipment())
    other = shipment(quantity=3) if refusal is QuoteShipmentMismatch else shipment()
    with pytest.raises(refusal) as refused:
        await stack.use_case.create(create(QuotedRate(make(token)), ship=other))
    assert isinstance(refused.value, InvalidArgument)
    assert refused.value.violations[0].field == "quote_token"
    assert await stack.repository.find_by_key("m1", "rma-1") is None
    assert stack.purchases() == []


async def test_expired_and_foreign_tokens_are_refused(stack: Stack) -> None:
    expired = await stack.token(shipment(), ttl=dt.timedelta(seconds=1))
    stack.clock.advance(2)
    with pytest.raises(ExpiredQuoteToken):
        await stack.use_case.create(create(QuotedRate(expired)))
    foreign = await stack.token(shipment(), merchant="m2")
    with pytest.raises(QuoteTokenWrongMerchant) as wrong:
        await stack.use_case.create(create(QuotedRate(foreign)))
    assert isinstance(wrong.value, PermissionDenied)
    assert stack.purchases() == []


async def test_requests_are_checked_field_by_field(stack: Stack) -> None:
    with pytest.raises(InvalidArgument) as no_key:
        await stack.use_case.create(create(ExplicitRate("sandbox", "sandbox_standard"), key=""))
    assert [v.field for v in no_key.value.violations] == ["idempotency_key"]
    with pytest.raises(InvalidArgument) as no_rate:
        await stack.use_case.create(create(None))
    assert [v.field for v in no_rate.value.violations] == ["rate"]
    broken = dataclasses.replace(shipment(), parcels=(Parcel(0, 300, 200, 100),))
    with pytest.raises(InvalidArgument) as bad_parcel:
        await stack.use_case.create(create(ExplicitRate("sandbox", "sandbox_standard"), ship=broken))
    assert [v.field for v in bad_parcel.value.violations] == ["shipment.parcels[0].weight_grams"]


async def test_customs_problems_name_the_request_fields(stack: Stack) -> None:
    with pytest.raises(InvalidArgument) as refused:
        await stack.use_case.create(
            create(ExplicitRate("sandbox", "sandbox_standard"), ship=shipment(hs_code=""))
        )
    assert refused.value.reason == "CUSTOMS_DECLARATION_INVALID"
    assert "shipment.items[0].hs_code" in [v.field for v in refused.value.violations]
    assert await stack.repository.find_by_key("m1", "rma-1") is None


# Exactly once ----------------------------------------------------------------------------------------------


async def test_the_same_key_and_request_return_the_same_label(stack: Stack) -> None:
    token = await stack.token(shipment())
    first = await stack.use_case.create(create(QuotedRate(token)))
    again = await stack.use_case.create(create(QuotedRate(token)))
    assert again.record.id == first.record.id
    assert again.record.tracking_number == first.record.tracking_number
    assert [d.id for d in again.documents] == [d.id for d in first.documents]
    assert len(stack.purchases()) == 1


async def test_the_same_key_with_another_request_is_refused(stack: Stack) -> None:
    token = await stack.token(shipment())
    first = await stack.use_case.create(create(QuotedRate(token)))
    with pytest.raises(AlreadyExists) as reused:
        await stack.use_case.create(create(QuotedRate(token), locale="de-CH"))
    assert reused.value.reason == "IDEMPOTENCY_KEY_REUSED"
    assert first.record.id in reused.value.message
    # The same key is free for another merchant.
    other = await stack.use_case.create(create(ExplicitRate("sandbox", "sandbox_standard"), merchant="m2"))
    assert other.record.id != first.record.id


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_concurrent_duplicates_buy_one_label(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url: str = request.getfixturevalue(f"{backend}_url")
    async with open_stack(url, tmp_path, latency_ms=80) as built:
        token = await built.token(shipment())
        calls = [built.use_case.create(create(QuotedRate(token)), time_remaining=10) for _ in range(25)]
        views = await asyncio.gather(*calls)
        assert len({view.record.id for view in views}) == 1
        assert len({view.record.tracking_number for view in views}) == 1
        assert len(built.purchases()) == 1


async def test_a_caller_whose_deadline_ends_first_finds_the_label_when_retrying(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with open_stack(sqlite_url, tmp_path, latency_ms=400) as built:
        request = create(QuotedRate(await built.token(shipment())))
        with pytest.raises(Refused) as waiting:
            await built.use_case.create(request, time_remaining=0.15)
        assert waiting.value.reason == "LABEL_PURCHASE_IN_PROGRESS"
        assert waiting.value.retry_after_seconds == 1.0
        view = await built.use_case.create(request, time_remaining=5)
        assert view.record.status is LabelStatus.PURCHASED
        assert len(built.purchases()) == 1


async def test_a_definite_failure_is_recorded_and_a_retry_buys(stack: Stack) -> None:
    flaky = stack.adapters["flaky"]
    flaky.before_sale.append(RateLimited("429", retry_after_seconds=3))
    request = create(ExplicitRate("flaky", "sandbox_standard"), ship=LOCAL)
    with pytest.raises(Refused) as failed:
        await stack.use_case.create(request)
    assert failed.value.retry_after_seconds == 1.0
    stored = await stack.repository.find_by_key("m1", "rma-1")
    assert stored is not None
    assert stored.state is LabelState.FAILED
    assert stored.failure is not None
    assert stored.failure.code == "RATE_LIMITED"
    view = await stack.use_case.create(request)
    assert view.record.id == stored.id
    assert view.record.attempt == 2
    assert len(stack.purchases(stack.ledger.with_name("flaky.jsonl"))) == 1


async def test_an_unknown_outcome_is_looked_up_at_the_carrier(stack: Stack) -> None:
    flaky = stack.adapters["flaky-lookup"]
    flaky.after_sale.append(TimedOut("no answer"))  # sold, answer lost
    sold = await stack.use_case.create(
        create(ExplicitRate("flaky-lookup", "sandbox_standard"), key="lost", ship=LOCAL)
    )
    assert sold.record.status is LabelStatus.PURCHASED
    flaky.before_sale.append(Unavailable("HTTP 502"))  # nothing sold this time
    with pytest.raises(Refused):
        await stack.use_case.create(
            create(ExplicitRate("flaky-lookup", "sandbox_standard"), key="502", ship=LOCAL)
        )
    failed = await stack.repository.find_by_key("m1", "502")
    assert failed is not None
    assert failed.state is LabelState.FAILED
    retried = await stack.use_case.create(
        create(ExplicitRate("flaky-lookup", "sandbox_standard"), key="502", ship=LOCAL)
    )
    assert retried.record.status is LabelStatus.PURCHASED
    ledger = stack.purchases(stack.ledger.with_name("flaky-lookup.jsonl"))
    assert sorted(e["idempotency_key"] for e in ledger) == sorted(
        [f"{sold.record.id}.1", f"{retried.record.id}.2"]
    )


async def test_an_unknown_outcome_without_look_up_needs_review_and_is_never_bought_again(
    stack: Stack,
) -> None:
    flaky = stack.adapters["flaky"]
    flaky.after_sale.append(MalformedResponse("unreadable"))
    request = create(ExplicitRate("flaky", "sandbox_standard"), ship=LOCAL)
    for _ in range(2):
        with pytest.raises(FailedPrecondition) as review:
            await stack.use_case.create(request)
        assert review.value.reason == "LABEL_NEEDS_REVIEW"
    stored = await stack.repository.find_by_key("m1", "rma-1")
    assert stored is not None
    assert stored.status is LabelStatus.NEEDS_REVIEW
    assert len(stack.purchases(stack.ledger.with_name("flaky.jsonl"))) == 1


# Reconciliation ----------------------------------------------------------------------------------------


async def store_intent(stack: Stack, key: str, account: str, ship: ShipmentInput) -> str:
    """An intent as CreateReturnLabel stores it, whose process then died."""
    request = create(ExplicitRate(account, "sandbox_standard"), key=key, ship=ship)
    prepared = await stack.labels.use_case._planner.plan(request, now=stack.clock(), deadline=1e12)
    document = request_document(request)
    intent = NewIntent(new_id(), "m1", key, request_digest(document), document, prepared.plan)
    return (await stack.repository.store_intent(intent, stack.clock())).id


async def test_reconciliation_settles_crashed_purchases_without_buying_twice(stack: Stack) -> None:
    routed = build_return_shipment(shipment(), HUBS, today=stack.clock().date())
    sold_id = await store_intent(stack, "sold", "sandbox", shipment())
    await stack.adapters["sandbox"].purchase(
        PurchaseRequest(routed.shipment, "sandbox_standard", f"{sold_id}.1")
    )
    unsold_id = await store_intent(stack, "unsold", "sandbox", shipment())
    unknown_id = await store_intent(stack, "unknown", "flaky", LOCAL)
    stack.clock.advance(6)  # past the grace period
    young_id = await store_intent(stack, "young", "sandbox", shipment())
    report = await stack.labels.reconciler.run_once()
    assert (report.examined, report.purchased, report.failed, report.needs_review) == (3, 1, 1, 1)
    states = {}
    for label_id in (sold_id, unsold_id, unknown_id, young_id):
        record = await stack.repository.get("m1", label_id)
        assert record is not None
        states[label_id] = record.state
    assert states == {
        sold_id: LabelState.PURCHASED,
        unsold_id: LabelState.FAILED,
        unknown_id: LabelState.NEEDS_REVIEW,
        young_id: LabelState.PENDING,
    }
    recovered = await stack.use_case.get("m1", sold_id, full=True)
    assert kinds(recovered)[:3] == [DocumentKind.LABEL, DocumentKind.CN23, DocumentKind.COMMERCIAL_INVOICE]
    assert stack.parcels.registered == [(sold_id, "sandbox", recovered.record.tracking_number)]
    assert len(stack.purchases()) == 1
    # The client retries the unsold key with its original request: bought now, once.
    retried = await stack.use_case.create(create(ExplicitRate("sandbox", "sandbox_standard"), key="unsold"))
    assert retried.record.id == unsold_id
    assert len(stack.purchases()) == 2


# Reads and voids -------------------------------------------------------------------------------------------


async def test_labels_are_read_per_merchant_with_or_without_content(stack: Stack) -> None:
    view = await stack.use_case.create(create(ExplicitRate("sandbox", "sandbox_standard")))
    basic = await stack.use_case.get("m1", view.record.id, full=False)
    full = await stack.use_case.get("m1", view.record.id, full=True)
    assert [d.content for d in basic.documents] == [None] * 4
    assert [d.size_bytes for d in basic.documents] == [len(d.content or b"") for d in full.documents]
    for call in (
        stack.use_case.get("m2", view.record.id, full=True),
        stack.use_case.void("m2", view.record.id, "nope"),
        stack.use_case.get("m1", "no-such-label", full=False),
    ):
        with pytest.raises(NotFound):
            await call


async def test_a_label_is_voided_before_its_first_scan_and_refused_after(stack: Stack) -> None:
    first = await stack.use_case.create(create(ExplicitRate("sandbox", "sandbox_standard"), key="v1"))
    voided = await stack.use_case.void("m1", first.record.id, "customer kept the goods")
    assert voided.record.status is LabelStatus.VOIDED
    assert voided.record.void_reason == "customer kept the goods"
    assert voided.record.voided_at is not None
    again = await stack.use_case.void("m1", first.record.id, "twice")
    assert (again.record.status, again.record.void_reason) == (LabelStatus.VOIDED, "customer kept the goods")
    scanned = await stack.use_case.create(create(ExplicitRate("sandbox", "sandbox_standard"), key="v2"))
    async with stack.database.sessions() as session, session.begin():
        await session.execute(
            text("UPDATE tracked_shipments SET milestone = 'dropped_off' WHERE label_id = :l"),
            {"l": scanned.record.id},
        )
    assert (
        await stack.use_case.get("m1", scanned.record.id, full=False)
    ).record.status is LabelStatus.SHIPPED
    with pytest.raises(FailedPrecondition) as refused:
        await stack.use_case.void("m1", scanned.record.id, "too late")
    assert refused.value.reason == "LABEL_ALREADY_SCANNED"


async def test_lists_filter_and_page_newest_first(stack: Stack) -> None:
    made = []
    for index in range(5):
        rate = (
            ExplicitRate("rhein-paket", "paket_retoure")
            if index % 2
            else ExplicitRate("sandbox", "sandbox_standard")
        )
        made.append(await stack.use_case.create(create(rate, key=f"l{index}", ship=GERMAN)))
    await stack.use_case.void("m1", made[0].record.id, "")
    await stack.use_case.create(
        create(ExplicitRate("sandbox", "sandbox_standard"), key="other", merchant="m2")
    )
    newest_first = [view.record.id for view in reversed(made)]
    seen: list[str] = []
    token = ""
    while True:
        page = await stack.use_case.list_labels(
            "m1", LabelQuery(), PageRequest(page_size=2, page_token=token)
        )
        assert len(page.labels) <= 2
        seen.extend(view.record.id for view in page.labels)
        token = page.next_page_token
        if not token:
            break
    assert seen == newest_first
    voided = await stack.use_case.list_labels(
        "m1", LabelQuery(statuses=frozenset({LabelStatus.VOIDED})), PageRequest()
    )
    assert [view.record.id for view in voided.labels] == [made[0].record.id]
    rate_card = await stack.use_case.list_labels(
        "m1", LabelQuery(carrier_account_ids=frozenset({"rhein-paket"})), PageRequest()
    )
    assert [view.record.id for view in rate_card.labels] == [made[3].record.id, made[1].record.id]
    by_number = await stack.use_case.list_labels(
        "m1", LabelQuery(tracking_number=str(made[2].record.tracking_number)), PageRequest()
    )
    assert [view.record.id for view in by_number.labels] == [made[2].record.id]
    since = await stack.use_case.list_labels(
        "m1", LabelQuery(created_after=made[3].record.created_at), PageRequest()
    )
    assert [view.record.id for view in since.labels] == [made[4].record.id, made[3].record.id]
    with pytest.raises(InvalidArgument):
        await stack.use_case.list_labels(
            "m1",
            LabelQuery(statuses=frozenset({LabelStatus.FAILED})),
            PageRequest(page_size=1, page_token=token or "x"),
        )
