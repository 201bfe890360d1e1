"""Writing return histories through the real code paths: the labels store, tracking's registration (behind
the return-leg recorder) and tracking ingestion.

Each return becomes what a bought label leaves behind, in the order it happens:
1. the label: its intent and its purchase, through the labels repository (LabelRepository.store_intent and
   record_purchase, at the return's own creation time). The purchase use case itself is not run: it would
   call the carrier and render documents for every label, which is what the simulator pretends happened;
2. the parcel's registration through `LegRecordingRegistry` (the return leg, then tracking's
   register_shipment), exactly as the labels use case does after a purchase;
3. a void, for labels the customer never used (LabelRepository.record_void);
4. the carrier's scans through TrackingIngestion: pushed as partner scans for carriers that push
   (rate-card partners), as a polled snapshot for the others. The log's group commit, deduplication and
   milestones apply as for live events.
Label ids derive from (merchant, idempotency key), so writing the same returns again changes nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
from service.insights.legs import LegRecordingRegistry
from service.labels.model import CreateLabelRequest, ExplicitRate, LabelState, PurchasePlan
from service.labels.repository import LabelRepository, NewIntent
from service.labels.request_document import request_digest, request_document
from service.quoting.request import ShipmentInput
from service.tracking.ingestion import TrackingIngestion
from service.tracking.milestones import ReturnRoute
from service.tracking.model import TrackedShipment
from service.tracking.partner_scans import PartnerScan

VOID_REASON = "the customer did not send the parcel (simulated)"


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


def label_id_of(merchant_id: str, idempotency_key: str) -> str:
    return hashlib.sha256(f"{merchant_id}\x1f{idempotency_key}".encode()).hexdigest()[:32]


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
        request = CreateLabelRequest(
            merchant_id=item.merchant_id,
            idempotency_key=item.idempotency_key,
            shipment=item.shipment,
            rate=ExplicitRate(item.account_id, item.service_code),
        )
        document = request_document(request)
        intent = NewIntent(
            id=label_id_of(item.merchant_id, item.idempotency_key),
            merchant_id=item.merchant_id,
            idempotency_key=item.idempotency_key,
            request_digest=request_digest(document),
            request=document,
            plan=self._plan(item),
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
        if item.scans:
            await self._ingest(item, parcel)
        return True

    def _plan(self, item: SimulatedReturn) -> PurchasePlan:
        return PurchasePlan(
            carrier_account_id=item.account_id,
            carrier_name=item.carrier_name,
            provider=item.provider,
            service_code=item.service_code,
            service_name=item.service_name,
            handover=Handover.DROP_OFF,
            label_format=LabelFormat.PDF,
            customer_locale="en",
            destination_hub_id=item.hub_id,
            cross_border=item.cross_border,
            purchase_date=item.created_at.date(),
            quoted_price=item.price,
            declaration=None,
        )

    async def _ingest(self, item: SimulatedReturn, parcel: TrackedShipment) -> None:
        adapter = self._adapters[item.account_id]
        if TrackingUpdates.PARTNER_PUSH in adapter.capabilities.tracking_updates:
            scans = [
                PartnerScan(
                    tracking_number=item.tracking_number,
                    occurred_at=scan.occurred_at,
                    code=scan.code,
                    description=scan.description,
                    location=scan.location,
                    status=scan.status,
                    reason=scan.reason,
                )
                for scan in item.scans
            ]
            await self._ingestion.ingest_partner_scans(item.merchant_id, item.account_id, scans)
            return
        events = tuple(
            TrackingEvent(
                carrier=item.account_id,
                tracking_number=item.tracking_number,
                occurred_at=scan.occurred_at,
                status=scan.status,
                code=scan.code,
                description=scan.description,
                location=scan.location,
                reason=scan.reason,
            )
            for scan in item.scans
        )
        await self._ingestion.ingest_snapshot(
            parcel,
            TrackingSnapshot(item.account_id, item.tracking_number, item.scans[-1].status, events=events),
        )
