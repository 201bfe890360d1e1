"""Reclaim claims on SQLite and PostgreSQL: recorded with a label, moved by tracking evidence of export to
ready-to-file with their deadline, listed by deadline over gRPC, expired by date, audited, and scoped to
their merchant."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import ColumnElement, func, select

import service.reclaim.tables  # noqa: F401  (declares the reclaim tables on the shared metadata)
from backhaul.v1 import common_pb2, customs_pb2
from carriers.models import Parcel, ReturnShipment
from carriers.tracking import TrackingEvent, TrackingLocation, TrackingStatus
from customs.address import Address, Contact, Party
from customs.goods import ItemCondition, OriginalOrder, ReturnedItem, ReturnReason
from customs.money import Money
from customs.reclaim import ClaimStatus, WarningCode
from service.auth import Principal, bind_principal, reset_principal
from service.bus.memory import InProcessBus
from service.config import default_data_file
from service.customs_declarations import CustomsDeclarations
from service.documents.customs_documents import CERTIFICATION
from service.errors import NotFound
from service.grpc.convert import date_to_proto, money_to_proto
from service.grpc.customs_servicer import CustomsServicer
from service.quoting.fx import load_fx_table
from service.quoting.hubs import load_hubs
from service.reclaim import LabelReturn, Reclaim, load_reclaim_rules, open_reclaim
from service.reclaim.model import EXPIRY_ACTOR, TRACKING_ACTOR, StoredClaim, label_actor
from service.reclaim.tables import ReclaimClaimEventRow
from service.reclaim.tracking_evidence import TrackingEvidence
from service.storage.engine import Database, create_database
from service.storage.schema import upgrade_database
from service.storage.tenancy import Tenancy
from service.tracking.event_log import EventLog
from service.tracking.milestones import MilestoneRules, ReturnRoute
from service.tracking.model import EventSource, LoggedEvent, PendingEvent, TrackedShipment
from service.tracking.shipments import ShipmentRegistry

S = TrackingStatus
RULES = load_reclaim_rules()
FX = load_fx_table(default_data_file("fx_rates.toml"))
DECLARATIONS = CustomsDeclarations(
    fx=FX,
    hubs=load_hubs(default_data_file("hubs.toml")),
    carrier_account_ids=[],
    certification_statement=CERTIFICATION,
)
NOW = dt.datetime(2026, 4, 1, 8, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    await upgrade_database(database_url)
    handle = create_database(database_url)
    tenancy = Tenancy(handle)
    await tenancy.ensure_merchant("acme", "Acme")
    await tenancy.ensure_merchant("globex", "Globex")
    try:
        yield handle
    finally:
        await handle.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
async def reclaim(database: Database, clock: Clock) -> AsyncIterator[Reclaim]:
    handle = await open_reclaim(database, InProcessBus(), RULES, FX, clock=clock, start_follower=False)
    yield handle
    await handle.close()


@pytest.fixture
def as_acme() -> Iterator[None]:
    token = bind_principal(Principal("acme"))
    yield
    reset_principal(token)


def party(country: str, locality: str) -> Party:
    return Party(Contact("Someone"), Address(country, ("1 Main Street",), locality, "10001"))


HUB_GB = party("GB", "London")
HUB_CA = party("CA", "Toronto")


def item(sku: str, hs_code: str, value: str, currency: str, **kwargs: object) -> ReturnedItem:
    return ReturnedItem(
        sku=sku,
        description=f"item {sku}",
        quantity=1,
        unit_value=Money.of(value, currency),
        unit_weight_grams=300,
        origin_country="CN",
        hs_code=hs_code,
        condition=ItemCondition.NEW_OPENED,
        return_reason=ReturnReason.DEFECTIVE,
        **kwargs,
    )


def label_de(label_id: str, merchant: str = "acme") -> LabelReturn:
    """A German customer returns a defective shirt to the UK hub: EU Art. 118 applies once it leaves."""
    order = OriginalOrder(
        order_id="O-DE",
        order_date=dt.date(2026, 2, 20),
        delivery_date=dt.date(2026, 3, 1),
        import_entry_number="26DE123456789012A1",
        duties_paid=Money.of("14.40", "EUR"),
        taxes_paid=Money.of("22.80", "EUR"),
    )
    shipment = ReturnShipment(
        customer=party("DE", "Köln"),
        destination=HUB_GB,
        parcels=(Parcel(500, 300, 200, 100),),
        items=(item("SHIRT-1", "6109100010", "120.00", "EUR"),),
        original_order=order,
    )
    return LabelReturn(merchant, label_id, shipment, dt.date(2026, 4, 1), f"TN-{label_id}")


def label_us(label_id: str) -> LabelReturn:
    """An American customer returns a defective jacket to the Canadian hub: US drawback, 5 years."""
    order = OriginalOrder(
        order_id="O-US",
        order_date=dt.date(2026, 2, 1),
        delivery_date=dt.date(2026, 2, 5),
        import_entry_number="ABC-1234567-8",
        duties_paid=Money.of("32.00", "USD"),
        taxes_paid=Money.of("0", "USD"),
    )
    shipment = ReturnShipment(
        customer=party("US", "Austin"),
        destination=HUB_CA,
        parcels=(Parcel(900, 400, 300, 100),),
        items=(item("JACKET-1", "6201400010", "200.00", "USD"),),
        original_order=order,
    )
    return LabelReturn("acme", label_id, shipment, dt.date(2026, 4, 1), f"TN-{label_id}")


async def register(database: Database, label_id: str, merchant: str = "acme") -> TrackedShipment:
    return await ShipmentRegistry(database).register(
        merchant_id=merchant,
        label_id=label_id,
        carrier_account_id="sandbox-eu",
        tracking_number=f"TN-{label_id}-{merchant}".upper(),
        route=ReturnRoute.VIA_HUB,
        registered_at=NOW,
        first_poll_at=None,
    )


async def log_scans(
    database: Database, parcel: TrackedShipment, *scans: tuple[TrackingStatus, str, dt.datetime]
) -> None:
    events = [
        PendingEvent(
            parcel,
            TrackingEvent(
                carrier=parcel.carrier_account_id,
                tracking_number=parcel.tracking_number,
                occurred_at=at,
                status=status,
                code=status.value.upper(),
                location=TrackingLocation(city="X", country=country),
            ),
            EventSource.POLL,
        )
        for status, country, at in scans
    ]
    await EventLog(database, MilestoneRules()).append(events)


def day(text: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(hour), tzinfo=dt.UTC)


def customs_servicer(reclaim: Reclaim) -> CustomsServicer:
    return CustomsServicer(DECLARATIONS, reclaim=reclaim)


async def audit_rows(database: Database, claim_id: str) -> list[ReclaimClaimEventRow]:
    async with database.sessions() as session:
        rows = await session.scalars(
            select(ReclaimClaimEventRow)
            .where(ReclaimClaimEventRow.claim_id == claim_id)
            .order_by(ReclaimClaimEventRow.sequence)
        )
        return list(rows)


async def claims_of(reclaim: Reclaim, label_id: str, merchant: str = "acme") -> list[StoredClaim]:
    return await reclaim.claims.claims_of_label(merchant, label_id)


async def test_estimate_then_export_evidence_makes_the_claim_ready_to_file_with_its_deadline(
    database: Database, reclaim: Reclaim
) -> None:
    (claim,) = await reclaim.labels.record_label_estimate(label_de("lbl_de"))
    assert claim.status is ClaimStatus.ESTIMATED
    assert claim.regime_id == "eu-ucc118-rejected"
    # Art. 118 repays the duty in full; the import VAT follows national rules (an unconfirmed point).
    assert {item.component.value: item.amount for item in claim.refundable} == {
        "duty": Money.of("14.40", "EUR"),
        "vat": Money.of("22.80", "EUR"),
    }
    assert claim.refundable_total == Money.of("37.20", "EUR")
    assert not claim.basis_confirmed
    assert any("vat" in point for point in claim.unconfirmed_points)
    assert claim.export_date == dt.date(2026, 4, 1)
    assert not claim.export_proven
    assert claim.destination_country == "GB"
    assert any(w.code is WarningCode.ASSUMPTION for w in claim.warnings)

    parcel = await register(database, "lbl_de")
    await log_scans(database, parcel, (S.IN_TRANSIT, "DE", day("2026-04-02")))
    assert await reclaim.evidence.catch_up() == 1
    (claim,) = await claims_of(reclaim, "lbl_de")
    assert claim.status is ClaimStatus.AWAITING_EXPORT

    await log_scans(database, parcel, (S.IN_TRANSIT, "GB", day("2026-04-03")))
    assert await reclaim.evidence.catch_up() == 1
    (claim,) = await claims_of(reclaim, "lbl_de")
    assert claim.status is ClaimStatus.READY_TO_FILE
    assert claim.export_proven
    assert claim.export_date == dt.date(2026, 4, 3)
    # UCC Art. 121(1)(b): one year from the notification of the debt (taken as the import date).
    assert claim.filing_deadline == dt.date(2027, 3, 1)
    assert [item.cursor for item in claim.evidence] == [1, 2]

    rows = await audit_rows(database, claim.id)
    assert [(r.sequence, r.status, r.actor, r.tracking_cursor) for r in rows] == [
        (1, "estimated", label_actor("lbl_de"), 0),
        (2, "awaiting_export", TRACKING_ACTOR, 1),
        (3, "ready_to_file", TRACKING_ACTOR, 2),
    ]
    assert rows[2].evidence is not None
    assert rows[2].evidence["milestone"] == "departed_country"
    assert "file by 2027-03-01" in rows[2].description

    # The position moved with the claims: nothing is applied twice.
    assert await reclaim.evidence.catch_up() == 0
    assert len(await audit_rows(database, claim.id)) == 3


async def test_claims_are_listed_nearest_deadline_first_in_pages_and_by_status(
    database: Database, reclaim: Reclaim, as_acme: None
) -> None:
    await reclaim.labels.record_label_estimate(label_us("lbl_us"))
    await reclaim.labels.record_label_estimate(label_de("lbl_de"))
    parcel = await register(database, "lbl_de")
    await log_scans(database, parcel, (S.IN_TRANSIT, "GB", day("2026-04-03")))
    await reclaim.evidence.catch_up()
    servicer = customs_servicer(reclaim)

    response = await servicer.ListReclaimClaims(customs_pb2.ListReclaimClaimsRequest(), None)
    listed = [(c.label_id, c.status, c.filing_deadline.year) for c in response.claims]
    assert listed == [
        ("lbl_de", customs_pb2.RECLAIM_CLAIM_STATUS_READY_TO_FILE, 2027),
        ("lbl_us", customs_pb2.RECLAIM_CLAIM_STATUS_ESTIMATED, 2031),
    ]
    ready = response.claims[0]
    assert ready.regime.id == "eu-ucc118-rejected"
    assert ready.forms
    assert ready.proof_of_export.kind == customs_pb2.PROOF_OF_EXPORT_KIND_CARRIER_TRACKING
    assert [e.status for e in ready.audit_trail] == [
        customs_pb2.RECLAIM_CLAIM_STATUS_ESTIMATED,
        customs_pb2.RECLAIM_CLAIM_STATUS_READY_TO_FILE,
    ]
    assert ready.audit_trail[1].evidence.milestone == customs_pb2.EXPORT_MILESTONE_DEPARTED_COUNTRY

    first = await servicer.ListReclaimClaims(customs_pb2.ListReclaimClaimsRequest(page_size=1), None)
    assert [c.label_id for c in first.claims] == ["lbl_de"]
    assert first.next_page_token
    second = await servicer.ListReclaimClaims(
        customs_pb2.ListReclaimClaimsRequest(page_size=1, page_token=first.next_page_token), None
    )
    assert [c.label_id for c in second.claims] == ["lbl_us"]
    assert not second.next_page_token

    only_ready = await servicer.ListReclaimClaims(
        customs_pb2.ListReclaimClaimsRequest(statuses=[customs_pb2.RECLAIM_CLAIM_STATUS_READY_TO_FILE]), None
    )
    assert [c.label_id for c in only_ready.claims] == ["lbl_de"]
    newest = await servicer.ListReclaimClaims(
        customs_pb2.ListReclaimClaimsRequest(order_by=customs_pb2.RECLAIM_CLAIM_ORDER_CREATE_TIME_DESC), None
    )
    assert {c.label_id for c in newest.claims} == {"lbl_de", "lbl_us"}
    due_soon = await servicer.ListReclaimClaims(
        customs_pb2.ListReclaimClaimsRequest(deadline_before=date_to_proto(dt.date(2028, 1, 1))), None
    )
    assert [c.label_id for c in due_soon.claims] == ["lbl_de"]


async def test_overdue_claims_expire_by_date_with_an_audit_entry(
    database: Database, reclaim: Reclaim, clock: Clock, as_acme: None
) -> None:
    await reclaim.labels.record_label_estimate(label_de("lbl_de"))
    parcel = await register(database, "lbl_de")
    await log_scans(database, parcel, (S.IN_TRANSIT, "GB", day("2026-04-03")))
    await reclaim.evidence.catch_up()

    assert await reclaim.expiry.expire_overdue(dt.date(2027, 3, 1)) == 0  # the last day is still in time
    clock.now = day("2027-03-02")
    assert await reclaim.expiry.expire_overdue(dt.date(2027, 3, 2)) == 1
    (claim,) = await claims_of(reclaim, "lbl_de")
    assert claim.status is ClaimStatus.EXPIRED
    rows = await audit_rows(database, claim.id)
    assert (rows[-1].status, rows[-1].actor) == ("expired", EXPIRY_ACTOR)
    assert "2027-03-01" in rows[-1].description
    assert await reclaim.expiry.expire_overdue(dt.date(2027, 3, 3)) == 0  # expired once


async def test_listing_expires_the_merchants_overdue_claims_first(
    database: Database, reclaim: Reclaim, clock: Clock, as_acme: None
) -> None:
    await reclaim.labels.record_label_estimate(label_de("lbl_de"))
    clock.now = day("2027-06-01")
    servicer = customs_servicer(reclaim)
    response = await servicer.ListReclaimClaims(customs_pb2.ListReclaimClaimsRequest(), None)
    (claim,) = response.claims
    assert claim.status == customs_pb2.RECLAIM_CLAIM_STATUS_EXPIRED
    assert claim.audit_trail[-1].actor == EXPIRY_ACTOR


async def test_claims_are_scoped_to_their_merchant(database: Database, reclaim: Reclaim) -> None:
    await reclaim.labels.record_label_estimate(label_de("lbl_1"))
    # Another merchant's parcel under the same label id moves nothing of acme's.
    other = await register(database, "lbl_1", merchant="globex")
    await log_scans(database, other, (S.IN_TRANSIT, "GB", day("2026-04-03")))
    assert await reclaim.evidence.catch_up() == 0
    (claim,) = await claims_of(reclaim, "lbl_1")
    assert claim.status is ClaimStatus.ESTIMATED
    assert await claims_of(reclaim, "lbl_1", merchant="globex") == []

    servicer = customs_servicer(reclaim)
    token = bind_principal(Principal("globex"))
    try:
        response = await servicer.ListReclaimClaims(customs_pb2.ListReclaimClaimsRequest(), None)
        assert list(response.claims) == []
        with pytest.raises(NotFound):
            await servicer.CalculateDutyReclaim(
                customs_pb2.CalculateDutyReclaimRequest(label_id="lbl_1"), None
            )
    finally:
        reset_principal(token)


async def test_a_label_records_once_and_replays_tracking_it_already_has(
    database: Database, reclaim: Reclaim
) -> None:
    parcel = await register(database, "lbl_de")
    await log_scans(
        database, parcel, (S.IN_TRANSIT, "DE", day("2026-04-02")), (S.IN_TRANSIT, "GB", day("2026-04-03"))
    )
    (claim,) = await reclaim.labels.record_label_estimate(label_de("lbl_de"))
    assert claim.status is ClaimStatus.READY_TO_FILE
    assert claim.export_date == dt.date(2026, 4, 3)
    again = await reclaim.labels.record_label_estimate(label_de("lbl_de"))
    assert [c.id for c in again] == [claim.id]
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ReclaimClaimEventRow)) == 3
    # The follower then finds nothing new to do for these events.
    assert await reclaim.evidence.catch_up() == 0


async def test_an_order_without_dates_records_a_not_eligible_claim_saying_why(reclaim: Reclaim) -> None:
    label = label_de("lbl_nodate")
    undated = OriginalOrder(order_id="O-X")
    shipment = ReturnShipment(
        customer=label.shipment.customer,
        destination=label.shipment.destination,
        parcels=label.shipment.parcels,
        items=label.shipment.items,
        original_order=undated,
    )
    (claim,) = await reclaim.labels.record_label_estimate(
        LabelReturn("acme", "lbl_nodate", shipment, dt.date(2026, 4, 1))
    )
    assert claim.status is ClaimStatus.NOT_ELIGIBLE
    assert claim.import_date is None
    assert claim.regime_id is None
    assert claim.refundable_total == Money.of("0", "EUR")
    trail = await reclaim.claims.audit_trail(claim.id)
    assert "import date" in trail[0].description
    assert any("import entry number" in w.message for w in claim.warnings)


async def test_the_calculation_takes_the_export_date_and_proof_from_the_label(
    database: Database, reclaim: Reclaim, as_acme: None
) -> None:
    await reclaim.labels.record_label_estimate(label_de("lbl_de"))
    parcel = await register(database, "lbl_de")
    await log_scans(database, parcel, (S.IN_TRANSIT, "GB", day("2026-04-03")))
    await reclaim.evidence.catch_up()
    servicer = customs_servicer(reclaim)
    request = customs_pb2.CalculateDutyReclaimRequest(
        import_country="DE",
        import_date=date_to_proto(dt.date(2026, 3, 1)),
        import_currency="EUR",
        import_entry_number="26DE123456789012A1",
        return_reason=common_pb2.RETURN_REASON_NOT_AS_DESCRIBED,
        condition=common_pb2.ITEM_CONDITION_NEW_OPENED,
        label_id="lbl_de",
        lines=[
            customs_pb2.ReclaimEntryLine(
                line_id="1",
                sku="SHIRT-1",
                hs_code="6109100010",
                imported_quantity=1,
                returned_quantity=1,
                customs_value=money_to_proto(Money.of("120.00", "EUR")),
                paid=[
                    customs_pb2.ChargeAmount(
                        component=customs_pb2.CHARGE_COMPONENT_DUTY,
                        amount=money_to_proto(Money.of("14.40", "EUR")),
                    )
                ],
            )
        ],
    )
    response = await servicer.CalculateDutyReclaim(request, None)
    assert "eu-ucc118-rejected" in response.best_regime_ids
    assert not any(w.code == "PROOF_OF_EXPORT_MISSING" for w in response.warnings)
    assert not any(w.code == "NOT_YET_EXPORTED" for w in response.warnings)


async def test_the_follower_task_applies_evidence_as_it_is_logged(database: Database, clock: Clock) -> None:
    bus = InProcessBus()
    handle = await open_reclaim(database, bus, RULES, FX, clock=clock, poll_seconds=0.05)
    try:
        await handle.labels.record_label_estimate(label_de("lbl_live"))
        parcel = await register(database, "lbl_live")
        await log_scans(database, parcel, (S.IN_TRANSIT, "GB", day("2026-04-03")))
        async with asyncio.timeout(10):
            await _until_ready(handle, "lbl_live")
    finally:
        await handle.close()


async def _until_ready(handle: Reclaim, label_id: str) -> None:
    for _ in range(200):
        if (await claims_of(handle, label_id))[0].status is ClaimStatus.READY_TO_FILE:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"the claims of {label_id} never became ready to file")


@pytest.mark.parametrize("status", [S.CANCELLED, S.RETURNED_TO_SENDER])
async def test_a_voided_or_returned_parcel_cancels_its_open_claims(
    database: Database, reclaim: Reclaim, status: TrackingStatus
) -> None:
    await reclaim.labels.record_label_estimate(label_de("lbl_void"))
    parcel = await register(database, "lbl_void")
    await log_scans(database, parcel, (status, "DE", day("2026-04-02")))
    assert await reclaim.evidence.catch_up() == 1
    (claim,) = await claims_of(reclaim, "lbl_void")
    assert claim.status is ClaimStatus.CANCELLED
    rows = await audit_rows(database, claim.id)
    assert (rows[-1].status, rows[-1].actor, rows[-1].tracking_cursor) == ("cancelled", TRACKING_ACTOR, 1)
    assert "did not leave" in rows[-1].description


class RecordingLog(EventLog):
    """The event log, remembering which events the evidence read in bulk."""

    read_in_bulk: list[LoggedEvent]

    async def read_all(
        self, after: int, through: int, limit: int, *, where: ColumnElement[bool] | None = None
    ) -> list[LoggedEvent]:
        events = await super().read_all(after, through, limit, where=where)
        self.read_in_bulk.extend(events)
        return events


async def test_catching_up_reads_only_the_events_of_labels_with_open_claims(
    database: Database, reclaim: Reclaim
) -> None:
    await reclaim.labels.record_label_estimate(label_de("lbl_claimed"))
    claimed = await register(database, "lbl_claimed")
    others = [await register(database, "lbl_other_1"), await register(database, "lbl_other_2")]
    await log_scans(database, others[0], (S.IN_TRANSIT, "DE", day("2026-04-02")))
    await log_scans(database, claimed, (S.IN_TRANSIT, "DE", day("2026-04-02")))
    await log_scans(database, others[1], (S.IN_TRANSIT, "DE", day("2026-04-02")))
    await log_scans(database, claimed, (S.IN_TRANSIT, "GB", day("2026-04-03")))
    await log_scans(
        database, others[0], (S.IN_TRANSIT, "GB", day("2026-04-03")), (S.DELIVERED, "GB", day("2026-04-04"))
    )
    event_log = RecordingLog(database, MilestoneRules())
    event_log.read_in_bulk = []
    evidence = TrackingEvidence(reclaim.claims, event_log, RULES.regimes, page_events=2)

    assert await evidence.catch_up() == 1
    assert [(e.label_id, e.cursor) for e in event_log.read_in_bulk] == [
        ("lbl_claimed", 2),
        ("lbl_claimed", 4),
    ]
    (claim,) = await claims_of(reclaim, "lbl_claimed")
    assert claim.status is ClaimStatus.READY_TO_FILE
    # The position passed the unclaimed labels' events too (the last page came back short).
    assert await reclaim.claims.tracking_position() == 6
    assert await evidence.catch_up() == 0
    assert len(event_log.read_in_bulk) == 2
