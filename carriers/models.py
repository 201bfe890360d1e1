"""Canonical models every carrier adapter speaks: the return shipment, rates, labels, voids, tracking.

Units are fixed so adapters convert exactly once: grams and millimetres as ints, money as customs.money.Money.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from carriers.tracking import (
    ExceptionReason,
    TrackingEvent,
    TrackingLocation,
    TrackingSnapshot,
    TrackingStatus,
)
from customs.address import Party
from customs.declaration import CustomsDeclaration
from customs.goods import OriginalOrder, ReturnedItem
from customs.money import Money

__all__ = [
    "ExceptionReason",
    "Handover",
    "LabelFormat",
    "LabelReference",
    "Parcel",
    "PriceComponent",
    "PurchaseRequest",
    "PurchasedLabel",
    "Rate",
    "ReturnShipment",
    "TrackingEvent",
    "TrackingLocation",
    "TrackingSnapshot",
    "TrackingStatus",
    "VoidResult",
    "VoidStatus",
]


class Handover(StrEnum):
    """How the parcel reaches the carrier."""

    DROP_OFF = "drop_off"  # the customer takes it to a post office, locker or parcel shop
    PICKUP = "pickup"  # the carrier collects it at the customer's address


class LabelFormat(StrEnum):
    PDF = "pdf"
    PNG = "png"
    ZPL = "zpl"


@dataclass(frozen=True, slots=True)
class Parcel:
    weight_grams: int
    length_mm: int
    width_mm: int
    height_mm: int

    @property
    def volume_cm3(self) -> int:
        """Volume in whole cubic millimetres / 1000, exact (no float)."""
        return self.length_mm * self.width_mm * self.height_mm // 1000


@dataclass(frozen=True, slots=True)
class ReturnShipment:
    """A return from the customer (origin) to a returns hub (destination)."""

    customer: Party
    destination: Party
    parcels: tuple[Parcel, ...]
    items: tuple[ReturnedItem, ...] = ()
    destination_hub_id: str = ""  # the hub's id when the destination is a configured hub
    original_order: OriginalOrder | None = None
    # The customs declaration for lanes that cross a customs border (set by the labels use case).
    customs_declaration: CustomsDeclaration | None = None
    # Unset when quoting: one call answers every service and handover the carrier offers, each Rate naming
    # its handover. Set (the labels use case, for the handover a label is bought for): that handover only.
    handover: Handover | None = None
    label_format: LabelFormat = LabelFormat.PDF
    reference: str = ""  # the merchant's RMA or return id, printed on labels where the carrier allows

    @property
    def origin_country(self) -> str:
        return self.customer.address.country

    @property
    def destination_country(self) -> str:
        return self.destination.address.country

    @property
    def is_cross_border(self) -> bool:
        """International (countries differ). Whether customs applies: customs.declaration_required()."""
        return self.origin_country != self.destination_country

    @property
    def total_weight_grams(self) -> int:
        return sum(p.weight_grams for p in self.parcels)


@dataclass(frozen=True, slots=True)
class PriceComponent:
    """One itemised part of a carrier price, in the carrier's currency."""

    code: str  # stable: "base", "excess_weight", "fuel_surcharge", "remote_area_surcharge", "pickup_fee"
    description: str
    amount: Money


@dataclass(frozen=True, slots=True)
class Rate:
    """One service a carrier account offers for a shipment, at a price in the carrier's currency."""

    account_id: str
    carrier: str  # display name of the carrier, e.g. "PostNL" or "USPS via EasyPost"
    service_code: str
    service_name: str
    price: Money
    transit_days: int | None = None
    estimated_delivery: dt.date | None = None
    handover: Handover = Handover.DROP_OFF
    carrier_rate_id: str = ""  # the carrier's own rate id, when it has one (needed to buy through it)
    components: tuple[PriceComponent, ...] = ()  # itemised price, when the carrier itemises
    raw: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class PurchaseRequest:
    """Buy a label for `shipment` with `service_code`.

    `carrier_rate_id` may be empty (a quote token carries no carrier rate id): the adapter then re-rates and
    buys the service named. `expected_price`, when given, is what the customer was quoted; adapters refuse
    with InvalidRequest(field="price") when the carrier now charges more.
    """

    shipment: ReturnShipment
    service_code: str
    idempotency_key: str
    carrier_rate_id: str = ""
    expected_price: Money | None = None
    label_format: LabelFormat = LabelFormat.PDF


@dataclass(frozen=True, slots=True)
class LabelReference:
    """What identifies a bought label at the carrier (for void and tracking)."""

    tracking_number: str
    carrier_shipment_id: str = ""
    carrier_label_id: str = ""


@dataclass(frozen=True, slots=True)
class PurchasedLabel:
    """A label the carrier has issued.

    `label_document` holds the label bytes when the carrier returns them, `label_url` when it hosts them;
    both are empty for carriers without a label API (rate-card partners), whose labels the labels use case
    renders itself from this record.
    """

    account_id: str
    carrier: str
    service_code: str
    tracking_number: str
    price: Money
    label_format: LabelFormat
    carrier_shipment_id: str = ""
    carrier_label_id: str = ""
    label_document: bytes = b""
    label_url: str = ""
    tracking_url: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def reference(self) -> LabelReference:
        return LabelReference(self.tracking_number, self.carrier_shipment_id, self.carrier_label_id)


class VoidStatus(StrEnum):
    VOIDED = "voided"  # cancelled and (where charged) refunded
    PENDING = "pending"  # the carrier accepted the refund request and decides later
    REFUSED = "refused"  # too late (already scanned) or not refundable


@dataclass(frozen=True, slots=True)
class VoidResult:
    status: VoidStatus
    message: str = ""
    refund: Money | None = None
