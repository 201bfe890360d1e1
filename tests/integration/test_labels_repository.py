"""The labels store on SQLite and PostgreSQL: intents under a unique key, conditional outcomes, documents,
keyset pages with filters, stale intents, and durable S10 serials."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import text

from carriers.models import Handover, LabelFormat, PurchasedLabel
from customs.money import Money
from service.documents import DocumentFormat, DocumentKind
from service.labels.model import (
    DeclarationSummary,
    DocumentDraft,
    LabelFailure,
    LabelQuery,
    LabelState,
    LabelStatus,
    PurchasePlan,
    ScanProgress,
)
from service.labels.repository import LabelRepository, NewIntent, PageCursor, new_id
from service.labels.serials import DatabaseSerialAllocator
from service.storage import Database, Tenancy, create_database, upgrade_database
from service.tracking.milestones import ReturnRoute
from service.tracking.shipments import ShipmentRegistry

START = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    await upgrade_database(database_url)
    handle = create_database(database_url)
    tenancy = Tenancy(handle)
    for merchant in ("m1", "m2"):
        await tenancy.ensure_merchant(merchant, merchant.upper())
    yield handle
    await handle.dispose()


def plan(account: str = "sandbox", cross_border: bool = False) -> PurchasePlan:
    return PurchasePlan(
        carrier_account_id=account,
        carrier_name="Sandbox Express",
        provider="sandbox",
        service_code="sandbox_standard",
        service_name="Sandbox Standard",
        handover=Handover.DROP_OFF,
        label_format=LabelFormat.PDF,
        customer_locale="de-DE",
        destination_hub_id="EU_HUB",
        cross_border=cross_border,
        purchase_date=START.date(),
        quoted_price=Money(Decimal("12.40"), "USD"),
        declaration=DeclarationSummary("CN23", "returned_goods", Money(Decimal("90"), "EUR"), 600, 1)
        if cross_border
        else None,
    )


def intent(
    merchant: str = "m1", key: str = "rma-1", digest: str = "d1", account: str = "sandbox"
) -> NewIntent:
    return NewIntent(new_id(), merchant, key, digest, {"shipment": {"n": 1}}, plan(account))


def sold(tracking_number: str) -> PurchasedLabel:
    return PurchasedLabel(
        account_id="sandbox",
        carrier="Sandbox Express",
        service_code="sandbox_standard",
        tracking_number=tracking_number,
        price=Money(Decimal("12.40"), "USD"),
        label_format=LabelFormat.PDF,
        carrier_shipment_id=f"shp_{tracking_number}",
    )


DOCUMENTS = [
    DocumentDraft(DocumentKind.LABEL, DocumentFormat.PDF, "application/pdf", "label.pdf", "", b"%PDF-label"),
    DocumentDraft(DocumentKind.CN23, DocumentFormat.PDF, "application/pdf", "cn23.pdf", "", b"%PDF-cn23"),
    DocumentDraft(
        DocumentKind.RETURN_INSTRUCTIONS, DocumentFormat.PDF, "application/pdf", "i.pdf", "de", b"%PDF-i"
    ),
]


async def test_one_intent_per_merchant_and_key_even_when_inserted_at_once(database: Database) -> None:
    repository = LabelRepository(database)
    contenders = [intent(digest=f"d{i}") for i in range(8)]
    stored = await asyncio.gather(*(repository.store_intent(c, START) for c in contenders))
    assert len({label.id for label in stored}) == 1
    winner = stored[0]
    assert winner.id in {c.id for c in contenders}
    assert winner.state is LabelState.PENDING
    assert winner.attempt == 1
    assert winner.plan == plan()
    # Another merchant may use the same key.
    other = await repository.store_intent(intent(merchant="m2"), START)
    assert other.id != winner.id
    assert (await repository.get("m2", winner.id)) is None


async def test_outcomes_are_conditional_on_state_and_attempt(database: Database) -> None:
    repository = LabelRepository(database)
    label = await repository.store_intent(intent(), START)
    later = START + dt.timedelta(seconds=5)
    assert await repository.record_purchase(label.id, 1, sold("SB1"), DOCUMENTS, later, service_name="Std")
    # A late second outcome for the same attempt changes nothing.
    assert not await repository.record_purchase(
        label.id, 1, sold("SB2"), DOCUMENTS, later, service_name="Std"
    )
    assert not await repository.record_failure(label.id, 1, LabelState.FAILED, LabelFailure("X", "y"), later)
    stored = await repository.get("m1", label.id)
    assert stored is not None
    assert stored.state is LabelState.PURCHASED
    assert stored.tracking_number == "SB1"
    assert stored.price == Money(Decimal("12.40"), "USD")
    assert stored.updated_at == later
    documents = await repository.documents(label.id, with_content=True)
    assert [(d.kind, d.content, d.size_bytes) for d in documents] == [
        (DocumentKind.LABEL, b"%PDF-label", 10),
        (DocumentKind.CN23, b"%PDF-cn23", 9),
        (DocumentKind.RETURN_INSTRUCTIONS, b"%PDF-i", 6),
    ]
    assert [d.content for d in await repository.documents(label.id, with_content=False)] == [None] * 3
    assert documents[2].language_code == "de"


async def test_a_failed_attempt_can_be_retried_once(database: Database) -> None:
    repository = LabelRepository(database)
    label = await repository.store_intent(intent(), START)
    failure = LabelFailure("RATE_LIMITED", "429", "")
    assert await repository.record_failure(label.id, 1, LabelState.FAILED, failure, START)
    failed = await repository.get("m1", label.id)
    assert failed is not None
    assert failed.failure == failure
    retries = await asyncio.gather(*(repository.retry_failed(label.id, 1, plan(), START) for _ in range(4)))
    assert sorted(retries) == [False, False, False, True]
    retried = await repository.get("m1", label.id)
    assert retried is not None
    assert (retried.state, retried.attempt, retried.failure) == (LabelState.PENDING, 2, None)
    assert not await repository.record_purchase(label.id, 1, sold("SB1"), [], START, service_name="")


async def test_stale_intents_are_the_old_pending_ones(database: Database) -> None:
    repository = LabelRepository(database)
    old = await repository.store_intent(intent(key="old"), START)
    await repository.store_intent(intent(key="young"), START + dt.timedelta(minutes=10))
    done = await repository.store_intent(intent(key="done"), START)
    await repository.record_purchase(done.id, 1, sold("SB9"), [], START, service_name="")
    stale = await repository.stale_intents(START + dt.timedelta(minutes=5), 10)
    assert [label.id for label in stale] == [old.id]
    assert await repository.untracked(START, 10) == []  # just bought: its purchase registers it
    later = START + dt.timedelta(minutes=5)
    assert [label.id for label in await repository.untracked(later, 10)] == [done.id]
    await repository.mark_tracking_registered(done.id)
    assert await repository.untracked(later, 10) == []


async def test_pages_are_newest_first_filtered_and_stable(database: Database) -> None:
    repository = LabelRepository(database)
    labels = []
    for index in range(7):
        account = "rhein-paket" if index % 3 == 0 else "sandbox"
        created = START + dt.timedelta(minutes=index // 2)  # pairs share a creation time
        label = await repository.store_intent(intent(key=f"k{index}", account=account), created)
        await repository.record_purchase(label.id, 1, sold(f"SB{index}"), [], created, service_name="")
        labels.append(await repository.get("m1", label.id))
    await repository.store_intent(intent(merchant="m2", key="k0"), START)
    expected = sorted(labels, key=lambda label: (label.created_at, label.id), reverse=True)  # type: ignore[union-attr]
    seen: list[str] = []
    after: PageCursor | None = None
    while True:
        page = await repository.page("m1", LabelQuery(), after, 3)
        seen.extend(label.id for label in page)
        if len(page) < 3:
            break
        after = PageCursor(page[-1].created_at, page[-1].id)
    assert seen == [label.id for label in expected]  # type: ignore[union-attr]
    by_carrier = await repository.page(
        "m1", LabelQuery(carrier_account_ids=frozenset({"rhein-paket"})), None, 10
    )
    assert {label.tracking_number for label in by_carrier} == {"SB0", "SB3", "SB6"}
    window = LabelQuery(
        created_after=START + dt.timedelta(minutes=1), created_before=START + dt.timedelta(minutes=3)
    )
    assert {label.tracking_number for label in await repository.page("m1", window, None, 10)} == {
        "SB2",
        "SB3",
        "SB4",
        "SB5",
    }
    by_number = await repository.page("m1", LabelQuery(tracking_number="SB4"), None, 10)
    assert [label.tracking_number for label in by_number] == ["SB4"]


async def test_tracking_milestones_make_labels_shipped_and_delivered(database: Database) -> None:
    repository = LabelRepository(database)
    registry = ShipmentRegistry(database)
    states = {}
    for key, milestone in (("a", None), ("b", "dropped_off"), ("c", "arrived_at_hub")):
        label = await repository.store_intent(intent(key=key), START)
        await repository.record_purchase(label.id, 1, sold(f"SB-{key}"), [], START, service_name="")
        await registry.register(
            merchant_id="m1",
            label_id=label.id,
            carrier_account_id="sandbox",
            tracking_number=f"SB-{key}",
            route=ReturnRoute.VIA_HUB,
            registered_at=START,
            first_poll_at=None,
        )
        if milestone is not None:
            async with database.sessions() as session, session.begin():
                await session.execute(
                    text("UPDATE tracked_shipments SET milestone = :m WHERE label_id = :l"),
                    {"m": milestone, "l": label.id},
                )
        stored = await repository.get("m1", label.id)
        assert stored is not None
        states[key] = (stored.scan, stored.status)
    assert states == {
        "a": (ScanProgress.NOT_SCANNED, LabelStatus.PURCHASED),
        "b": (ScanProgress.SCANNED, LabelStatus.SHIPPED),
        "c": (ScanProgress.DELIVERED, LabelStatus.DELIVERED),
    }
    for status, numbers in (
        (LabelStatus.SHIPPED, {"SB-b"}),
        (LabelStatus.DELIVERED, {"SB-c"}),
        (LabelStatus.PURCHASED, {"SB-a"}),
    ):
        page = await repository.page("m1", LabelQuery(statuses=frozenset({status})), None, 10)
        assert {label.tracking_number for label in page} == numbers


async def test_voids_are_conditional(database: Database) -> None:
    repository = LabelRepository(database)
    label = await repository.store_intent(intent(), START)
    assert not await repository.record_void(label.id, LabelState.PURCHASED, LabelState.VOIDED, "r", START)
    await repository.record_purchase(label.id, 1, sold("SB1"), [], START, service_name="")
    assert await repository.record_void(label.id, LabelState.PURCHASED, LabelState.VOIDED, "kept it", START)
    assert not await repository.record_void(label.id, LabelState.PURCHASED, LabelState.VOIDED, "again", START)
    stored = await repository.get("m1", label.id)
    assert stored is not None
    assert (stored.state, stored.void_reason, stored.voided_at) == (LabelState.VOIDED, "kept it", START)


async def test_serials_never_repeat_and_a_key_keeps_its_number(database: Database) -> None:
    allocator = DatabaseSerialAllocator(database)
    keyed = await asyncio.gather(*(allocator.ordinal_for("CRDE", f"label-{i}") for i in range(10)))
    plain = [await allocator.next_ordinal("CRDE") for _ in range(3)]
    assert sorted(keyed + plain) == list(range(13))
    same_key = await asyncio.gather(*(allocator.ordinal_for("CRDE", "label-x") for _ in range(6)))
    assert len(set(same_key)) == 1
    assert await allocator.find_ordinal("CRDE", "label-x") == same_key[0]
    assert await allocator.find_ordinal("CRDE", "never") is None
    assert await allocator.ordinal_for("CTNL", "label-0") == 0  # series count apart
    # A second handle (another replica or a restart) continues the same counters.
    other = DatabaseSerialAllocator(create_database(str(database.url)))
    assert await other.ordinal_for("CRDE", "label-3") == keyed[3]
    assert await other.next_ordinal("CRDE") > max(same_key)
