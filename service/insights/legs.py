"""Return legs: the lane facts of each bought label, recorded as its parcel enters tracking.

A bought label's parcel is registered with tracking by the labels use case (and again by its reconciler
until that succeeds). `LegRecordingRegistry` stands in front of tracking's registration: it first records
the label's leg (carrier service, customer country, destination, promised transit days, gross weight,
price, and one row per returned item with its SKU and reason), then registers the parcel. A failure to
record fails the registration, which the labels reconciler retries; recording is idempotent.

The promise is the transit days the carrier last quoted for that service on that lane (quote outcomes,
service/insights/quote_stats.py); without such a quote it stays unknown and the parcel is left out of the
on-time rate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, cast

from sqlalchemy import Table

from customs.money import Money, minor_units
from service.insights.comparison_queries import JOURNEY_FLAGS
from service.insights.journeys import refresh_labels
from service.insights.tables import SKU_LENGTH, ReturnLegItemRow, ReturnLegRow
from service.labels.model import LabelRecord
from service.labels.request_document import decode
from service.quoting.request import ShipmentInput
from service.storage.engine import Database
from service.storage.statements import insert_or_ignore
from service.tracking.milestones import ReturnRoute

_LEGS = cast(Table, ReturnLegRow.__table__)
_ITEMS = cast(Table, ReturnLegItemRow.__table__)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TransitPromises(Protocol):
    async def promised_days(
        self, account_id: str, service_code: str, origin_country: str, destination: str
    ) -> int | None: ...


class LabelSource(Protocol):
    """The labels store (service.labels.repository.LabelRepository)."""

    async def get(self, merchant_id: str, label_id: str) -> LabelRecord | None: ...


class ParcelRegistry(Protocol):
    """Tracking's registration (service.tracking.ingestion.TrackingIngestion.register_shipment)."""

    async def register_shipment(
        self,
        merchant_id: str,
        label_id: str | None,
        carrier_account_id: str,
        tracking_number: str,
        *,
        route: ReturnRoute = ReturnRoute.VIA_HUB,
    ) -> Any: ...


@dataclass(frozen=True, slots=True)
class ReturnedLine:
    sku: str
    return_reason: str
    quantity: int


@dataclass(frozen=True, slots=True)
class ReturnLeg:
    label_id: str
    merchant_id: str
    carrier_account_id: str
    service_code: str
    service_name: str
    customer_country: str
    destination: str
    promised_transit_days: int | None
    gross_weight_grams: int
    price: Money
    created_at: dt.datetime
    lines: tuple[ReturnedLine, ...]


def minor_amount(money: Money) -> int:
    """The amount in the currency's minor units (EUR 12.34 -> 1234, JPY 1200 -> 1200)."""
    return int(money.rounded().amount.scaleb(minor_units(money.currency)))


def from_minor(amount: int | Decimal, currency: str) -> Money:
    return Money(Decimal(amount).scaleb(-minor_units(currency)), currency)


def lane_of(hub_id: str, shipment: ShipmentInput) -> tuple[str, str]:
    """(customer country, destination) of a label: the hub, or the explicit address's country."""
    customer = shipment.customer.address if shipment.customer else None
    country = customer.region_code.strip().upper() if customer else ""
    destination = hub_id
    if not destination and shipment.destination and shipment.destination.address:
        destination = shipment.destination.address.region_code.strip().upper()
    return country, destination


class ReturnLegRecorder:
    def __init__(
        self,
        database: Database,
        promises: TransitPromises,
        *,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self._database = database
        self._promises = promises
        self._clock = clock

    async def leg_of(self, record: LabelRecord) -> ReturnLeg | None:
        """The leg of a bought label; None for a label the carrier never sold."""
        if not record.bought or record.price is None:
            return None
        plan = record.plan
        return await self.leg_for(
            label_id=record.id,
            merchant_id=record.merchant_id,
            account_id=plan.carrier_account_id,
            service_code=plan.service_code,
            service_name=plan.service_name or plan.service_code,
            hub_id=plan.destination_hub_id,
            shipment=decode(ShipmentInput, record.request["shipment"]),
            price=record.price,
            created_at=record.created_at,
        )

    async def leg_for(
        self,
        *,
        label_id: str,
        merchant_id: str,
        account_id: str,
        service_code: str,
        service_name: str,
        hub_id: str,
        shipment: ShipmentInput,
        price: Money,
        created_at: dt.datetime,
    ) -> ReturnLeg:
        """The leg of a label bought for `shipment`, with the promise last quoted on its lane."""
        country, destination = lane_of(hub_id, shipment)
        return ReturnLeg(
            label_id=label_id,
            merchant_id=merchant_id,
            carrier_account_id=account_id,
            service_code=service_code,
            service_name=service_name,
            customer_country=country,
            destination=destination,
            promised_transit_days=await self._promises.promised_days(
                account_id, service_code, country, destination
            ),
            gross_weight_grams=sum(parcel.weight_grams for parcel in shipment.parcels),
            price=price,
            created_at=created_at,
            lines=tuple(
                ReturnedLine(item.sku.strip()[:SKU_LENGTH], item.return_reason.value, item.quantity)
                for item in shipment.items
            ),
        )

    async def record(self, record: LabelRecord) -> bool:
        """Record the leg of a bought label once; False when there is none (not bought)."""
        leg = await self.leg_of(record)
        if leg is None:
            return False
        await self.store([leg])
        return True

    async def store(self, legs: Sequence[ReturnLeg]) -> None:
        """Insert legs and their lines in one transaction, with the journeys their labels' events already
        tell; legs already recorded are left as they are."""
        if not legs:
            return
        now = self._clock()
        async with self._database.sessions() as session, session.begin():
            await session.execute(
                insert_or_ignore(session, _LEGS).on_conflict_do_nothing(index_elements=["label_id"]),
                [_leg_row(leg, now) for leg in legs],
            )
            lines = [_line_row(leg, index, line) for leg in legs for index, line in enumerate(leg.lines)]
            if lines:
                await session.execute(
                    insert_or_ignore(session, _ITEMS).on_conflict_do_nothing(
                        index_elements=["label_id", "line"]
                    ),
                    lines,
                )
            await refresh_labels(session, [leg.label_id for leg in legs])


class LegRecordingRegistry:
    """Tracking's parcel registration, recording the label's return leg first (see the module docstring)."""

    def __init__(self, registry: ParcelRegistry, labels: LabelSource, legs: ReturnLegRecorder) -> None:
        self._registry = registry
        self._labels = labels
        self._legs = legs

    async def register_shipment(
        self,
        merchant_id: str,
        label_id: str | None,
        carrier_account_id: str,
        tracking_number: str,
        *,
        route: ReturnRoute = ReturnRoute.VIA_HUB,
    ) -> Any:
        if label_id is not None:
            record = await self._labels.get(merchant_id, label_id)
            if record is not None:
                await self._legs.record(record)
        return await self._registry.register_shipment(
            merchant_id, label_id, carrier_account_id, tracking_number, route=route
        )


def _leg_row(leg: ReturnLeg, now: dt.datetime) -> dict[str, Any]:
    return {
        "label_id": leg.label_id,
        "merchant_id": leg.merchant_id,
        "carrier_account_id": leg.carrier_account_id,
        "service_code": leg.service_code,
        "service_name": leg.service_name,
        "customer_country": leg.customer_country,
        "destination": leg.destination,
        "promised_transit_days": leg.promised_transit_days,
        "gross_weight_grams": leg.gross_weight_grams,
        "price_minor": minor_amount(leg.price),
        "currency": leg.price.currency,
        "created_at": leg.created_at,
        "recorded_at": now,
        **dict.fromkeys(JOURNEY_FLAGS, 0),
        "voided": 0,
    }


def _line_row(leg: ReturnLeg, index: int, line: ReturnedLine) -> dict[str, Any]:
    return {
        "label_id": leg.label_id,
        "line": index,
        "merchant_id": leg.merchant_id,
        "carrier_account_id": leg.carrier_account_id,
        "customer_country": leg.customer_country,
        "destination": leg.destination,
        "created_at": leg.created_at,
        "sku": line.sku,
        "return_reason": line.return_reason,
        "quantity": line.quantity,
        "voided": 0,
    }
