"""Writing return histories through the real code paths: the labels store, tracking's registration (behind
the return-leg recorder) and tracking ingestion.

`HistoryWriter` writes each return as a bought label leaves it behind, in the order it happens:
1. the label: its intent and its purchase, through the labels repository (LabelRepository.store_intent and
   record_purchase, at the return's own creation time). The purchase use case itself is not run: it would
   call the carrier and render documents for every label, which is what the simulator pretends happened;
2. the parcel's registration through `LegRecordingRegistry` (the return leg, then tracking's
   register_shipment), exactly as the labels use case does after a purchase;
3. a void, for labels the customer never used (LabelRepository.record_void);
4. the carrier's scans through TrackingIngestion: pushed as partner scans for carriers that push
   (rate-card partners), as a polled snapshot for the others. The log's group commit, deduplication and
   milestones apply as for live events.

`BulkHistoryWriter` is for large histories (the benchmark's 100,000 returns), at the price of two shortcuts:
labels are inserted in their final state in batches (the column values the labels repository leaves, which
tests/integration/test_insights_simulation.py compares with the first writer's), and parcels are inserted
into `tracked_shipments` in batches instead of one registration transaction each (and are not polled).
Return legs still go through `ReturnLegRecorder.store`, and every scan through TrackingIngestion: partners'
as pushed batches of up to 1,000 scans, the others' as polled snapshots that the log writer commits in
groups.

Label ids derive from (merchant, idempotency key), so writing the same returns again changes nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, select

from carriers.models import Handover, LabelFormat, PurchasedLabel
from carriers.port import CarrierAdapter, TrackingUpdates
from carriers.tracking import (
    ExceptionReason,
    TrackingEvent,
    TrackingLocation,
    TrackingSnapshot,
    TrackingStatus,
)
from customs.money import Money
from service.insights.legs import LegRecordingRegistry, ReturnLegRecorder
from service.labels.model import CreateLabelRequest, ExplicitRate, LabelState, PurchasePlan
from service.labels.repository import LabelRepository, NewIntent
from service.labels.request_document import request_digest, request_document
from service.labels.tables import ReturnLabelRow
from service.quoting.request import ShipmentInput
from service.storage.engine import Database
from service.tracking.ingestion import MAX_PARTNER_BATCH, TrackingIngestion
from service.tracking.milestones import ReturnRoute
from service.tracking.model import TrackedShipment, normalise_tracking_number
from service.tracking.partner_scans import PartnerScan
from service.tracking.tables import TrackedShipmentRow

VOID_REASON = "the customer did not send the parcel (simulated)"
_LABELS = cast(Table, ReturnLabelRow.__table__)
_SHIPMENTS = cast(Table, TrackedShipmentRow.__table__)
_ROWS_PER_STATEMENT = 1000


@dataclass(frozen=True, slots=True)
class SimulatedScan:
    occurred_at: dt.datetime
    status: TrackingStatus
    code: str
    description: str
    location: TrackingLocation
    reason: ExceptionReason | None = None


@dataclass(frozen=True, slots=True)
class SimulatedReturn:
    merchant_id: str
    idempotency_key: str
    shipment: ShipmentInput
    hub_id: str
    cross_border: bool
    account_id: str
    carrier_name: str
    provider: str
    service_code: str
    service_name: str
    price: Money
    tracking_number: str
    created_at: dt.datetime
    scans: tuple[SimulatedScan, ...] = ()
    voided_at: dt.datetime | None = None

    @property
    def label_id(self) -> str:
        return hashlib.sha256(f"{self.merchant_id}\x1f{self.idempotency_key}".encode()).hexdigest()[:32]

    @property
    def request_document(self) -> dict[str, Any]:
        """The CreateReturnLabel request the label is stored with (an explicit rate)."""
        return request_document(
            CreateLabelRequest(
                merchant_id=self.merchant_id,
                idempotency_key=self.idempotency_key,
                shipment=self.shipment,
                rate=ExplicitRate(self.account_id, self.service_code),
            )
        )

    @property
    def plan(self) -> PurchasePlan:
        return PurchasePlan(
            carrier_account_id=self.account_id,
            carrier_name=self.carrier_name,
            provider=self.provider,
            service_code=self.service_code,
            service_name=self.service_name,
            handover=Handover.DROP_OFF,
            label_format=LabelFormat.PDF,
            customer_locale="en",
            destination_hub_id=self.hub_id,
            cross_border=self.cross_border,
            purchase_date=self.created_at.date(),
            quoted_price=self.price,
            declaration=None,
        )

    def partner_scans(self) -> list[PartnerScan]:
        return [
            PartnerScan(
                tracking_number=self.tracking_number,
                occurred_at=scan.occurred_at,
                code=scan.code,
                description=scan.description,
                location=scan.location,
                status=scan.status,
                reason=scan.reason,
            )
            for scan in self.scans
        ]

    def snapshot(self) -> TrackingSnapshot:
        events = tuple(
            TrackingEvent(
                carrier=self.account_id,
                tracking_number=self.tracking_number,
                occurred_at=scan.occurred_at,
                status=scan.status,
                code=scan.code,
                description=scan.description,
                location=scan.location,
                reason=scan.reason,
            )
            for scan in self.scans
        )
        return TrackingSnapshot(self.account_id, self.tracking_number, self.scans[-1].status, events=events)


def _pushes(adapter: CarrierAdapter) -> bool:
    return TrackingUpdates.PARTNER_PUSH in adapter.capabilities.tracking_updates


class HistoryWriter:
    def __init__(
        self,
        *,
        labels: LabelRepository,
        registry: LegRecordingRegistry,
        ingestion: TrackingIngestion,
        adapters: Mapping[str, CarrierAdapter],
        concurrency: int = 16,
    ) -> None:
        self._labels = labels
        self._registry = registry
        self._ingestion = ingestion
        self._adapters = adapters
        self._slots = asyncio.Semaphore(concurrency)

    async def write(self, returns: Sequence[SimulatedReturn]) -> int:
        """Write the returns; the number of labels new to the store."""
        written = await asyncio.gather(*(self._guarded(item) for item in returns))
        return sum(written)

    async def _guarded(self, item: SimulatedReturn) -> bool:
        async with self._slots:
            return await self._write(item)

    async def _write(self, item: SimulatedReturn) -> bool:
        document = item.request_document
        intent = NewIntent(
            id=item.label_id,
            merchant_id=item.merchant_id,
            idempotency_key=item.idempotency_key,
            request_digest=request_digest(document),
            request=document,
            plan=item.plan,
        )
        stored = await self._labels.store_intent(intent, item.created_at)
        if stored.id != intent.id or stored.state is not LabelState.PENDING:
            return False  # written before
        sold = PurchasedLabel(
            account_id=item.account_id,
            carrier=item.carrier_name,
            service_code=item.service_code,
            tracking_number=item.tracking_number,
            price=item.price,
            label_format=LabelFormat.PDF,
        )
        await self._labels.record_purchase(
            stored.id, stored.attempt, sold, [], item.created_at, service_name=item.service_name
        )
        parcel: TrackedShipment = await self._registry.register_shipment(
            item.merchant_id, stored.id, item.account_id, item.tracking_number, route=ReturnRoute.VIA_HUB
        )
        await self._labels.mark_tracking_registered(stored.id)
        if item.voided_at is not None:
            await self._labels.record_void(
                stored.id, LabelState.PURCHASED, LabelState.VOIDED, VOID_REASON, item.voided_at
            )
        if not item.scans:
            return True
        if _pushes(self._adapters[item.account_id]):
            await self._ingestion.ingest_partner_scans(
                item.merchant_id, item.account_id, item.partner_scans()
            )
        else:
            await self._ingestion.ingest_snapshot(parcel, item.snapshot())
        return True


class BulkHistoryWriter:
    """Batched writing for large histories (see the module docstring for its two shortcuts)."""

    def __init__(
        self,
        *,
        database: Database,
        legs: ReturnLegRecorder,
        ingestion: TrackingIngestion,
        adapters: Mapping[str, CarrierAdapter],
        clock: Callable[[], dt.datetime],
        concurrency: int = 64,
    ) -> None:
        self._database = database
        self._legs = legs
        self._ingestion = ingestion
        self._adapters = adapters
        self._clock = clock
        self._slots = asyncio.Semaphore(concurrency)

    async def write(self, returns: Sequence[SimulatedReturn]) -> int:
        """Write the returns not in the store yet; their number."""
        by_id = {item.label_id: item for item in returns}
        async with self._database.engine.connect() as connection:
            stored = await connection.execute(select(_LABELS.c.id).where(_LABELS.c.id.in_(list(by_id))))
            known = set(stored.scalars())
        fresh = [item for label_id, item in by_id.items() if label_id not in known]
        if not fresh:
            return 0
        now = self._clock()
        parcels = {item.label_id: _parcel_row(item, now) for item in fresh}
        async with self._database.sessions() as session, session.begin():
            for start in range(0, len(fresh), _ROWS_PER_STATEMENT):
                chunk = fresh[start : start + _ROWS_PER_STATEMENT]
                await session.execute(_LABELS.insert(), [label_row(item) for item in chunk])
                await session.execute(_SHIPMENTS.insert(), [parcels[item.label_id] for item in chunk])
        legs = [
            await self._legs.leg_for(
                label_id=item.label_id,
                merchant_id=item.merchant_id,
                account_id=item.account_id,
                service_code=item.service_code,
                service_name=item.service_name,
                hub_id=item.hub_id,
                shipment=item.shipment,
                price=item.price,
                created_at=item.created_at,
            )
            for item in fresh
        ]
        await self._legs.store(legs)
        await self._ingest(fresh, parcels)
        return len(fresh)

    async def _ingest(
        self, returns: Sequence[SimulatedReturn], parcels: Mapping[str, dict[str, Any]]
    ) -> None:
        pushed: dict[tuple[str, str], list[PartnerScan]] = {}
        calls: list[Awaitable[object]] = []
        for item in returns:
            if not item.scans:
                continue
            if _pushes(self._adapters[item.account_id]):
                pushed.setdefault((item.merchant_id, item.account_id), []).extend(item.partner_scans())
            else:
                calls.append(
                    self._ingestion.ingest_snapshot(_tracked(parcels[item.label_id]), item.snapshot())
                )
        for (merchant_id, account_id), scans in pushed.items():
            for start in range(0, len(scans), MAX_PARTNER_BATCH):
                batch = scans[start : start + MAX_PARTNER_BATCH]
                calls.append(self._ingestion.ingest_partner_scans(merchant_id, account_id, batch))
        await asyncio.gather(*(self._bounded(call) for call in calls))

    async def _bounded(self, call: Awaitable[object]) -> None:
        async with self._slots:
            await call


def label_row(item: SimulatedReturn) -> dict[str, Any]:
    """A bought label as the labels repository leaves it after store_intent, record_purchase, the tracking
    registration and, for a voided one, record_void."""
    document = item.request_document
    plan = item.plan
    voided = item.voided_at is not None
    return {
        "id": item.label_id,
        "merchant_id": item.merchant_id,
        "idempotency_key": item.idempotency_key,
        "request_digest": request_digest(document),
        "request": document,
        "state": (LabelState.VOIDED if voided else LabelState.PURCHASED).value,
        "attempt": 1,
        "attempt_started_at": item.created_at,
        "carrier_account_id": plan.carrier_account_id,
        "carrier_name": plan.carrier_name,
        "provider": plan.provider,
        "service_code": plan.service_code,
        "service_name": plan.service_name,
        "handover": plan.handover.value,
        "label_format": plan.label_format.value,
        "customer_locale": plan.customer_locale,
        "destination_hub_id": plan.destination_hub_id,
        "cross_border": plan.cross_border,
        "purchase_date": plan.purchase_date,
        "quoted_amount": str(item.price.amount),
        "quoted_currency": item.price.currency,
        "declaration": None,
        "tracking_number": item.tracking_number,
        "price_amount": str(item.price.amount),
        "price_currency": item.price.currency,
        "carrier_shipment_id": "",
        "carrier_label_id": "",
        "label_url": "",
        "error_code": "",
        "error_message": "",
        "error_field": "",
        "tracking_registered": True,
        "void_reason": VOID_REASON if voided else "",
        "voided_at": item.voided_at,
        "created_at": item.created_at,
        "updated_at": item.voided_at or item.created_at,
    }


def _parcel_row(item: SimulatedReturn, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "merchant_id": item.merchant_id,
        "label_id": item.label_id,
        "carrier_account_id": item.account_id,
        "tracking_number": normalise_tracking_number(item.tracking_number),
        "route": ReturnRoute.VIA_HUB.value,
        "registered_at": now,
        "status": TrackingStatus.UNKNOWN.value,
        "substatus": "",
        "final": False,
        "next_poll_at": None,
        "poll_failures": 0,
    }


def _tracked(row: Mapping[str, Any]) -> TrackedShipment:
    return TrackedShipment(
        id=row["id"],
        merchant_id=row["merchant_id"],
        label_id=row["label_id"],
        carrier_account_id=row["carrier_account_id"],
        tracking_number=row["tracking_number"],
        route=ReturnRoute(row["route"]),
        registered_at=row["registered_at"],
    )
