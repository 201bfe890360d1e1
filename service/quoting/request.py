"""What a caller asks for, before validation: the proto messages mapped one to one, nothing checked yet.

The gRPC servicer fills these from QuoteReturnRequest without judging them; validation (validation.py)
then reports every bad field at once by its path in the request message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from carriers.models import Handover, Parcel
from customs.goods import ItemCondition, ReturnReason


@dataclass(frozen=True, slots=True)
class MoneyInput:
    currency_code: str
    amount: Decimal  # google.type.Money units + nanos, combined exactly


@dataclass(frozen=True, slots=True)
class AddressInput:
    """google.type.PostalAddress, field names kept so violation paths match the request."""

    region_code: str
    address_lines: tuple[str, ...] = ()
    locality: str = ""
    postal_code: str = ""
    administrative_area: str = ""
    organization: str = ""
    recipients: tuple[str, ...] = ()
    language_code: str = ""


@dataclass(frozen=True, slots=True)
class ContactInput:
    name: str = ""
    email: str = ""
    phone: str = ""
    tax_ids: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PartyInput:
    contact: ContactInput | None
    address: AddressInput | None


@dataclass(frozen=True, slots=True)
class ItemInput:
    sku: str
    description: str
    quantity: int
    unit_value: MoneyInput | None
    unit_weight_grams: int
    origin_country: str = ""
    hs_code: str = ""
    condition: ItemCondition = ItemCondition.UNSPECIFIED
    return_reason: ReturnReason = ReturnReason.UNSPECIFIED
    return_reason_detail: str = ""


@dataclass(frozen=True, slots=True)
class OriginalOrderInput:
    order_id: str = ""
    order_date: dt.date | None = None
    delivery_date: dt.date | None = None
    outbound_tracking_number: str = ""
    invoice_number: str = ""
    export_reference: str = ""
    import_entry_number: str = ""
    duties_paid: MoneyInput | None = None
    taxes_paid: MoneyInput | None = None


@dataclass(frozen=True, slots=True)
class DestinationInput:
    """At most one of the two: a configured hub, or any address."""

    hub_id: str = ""
    address: AddressInput | None = None


@dataclass(frozen=True, slots=True)
class ShipmentInput:
    """Fields 1-5 of QuoteReturnRequest, which are also the ReturnShipment of CreateReturnLabel."""

    customer: PartyInput | None
    parcels: tuple[Parcel, ...]
    items: tuple[ItemInput, ...] = ()
    destination: DestinationInput | None = None
    original_order: OriginalOrderInput | None = None


class QuoteSort(StrEnum):
    CHEAPEST = "cheapest"
    FASTEST = "fastest"
    BEST_VALUE = "best_value"


@dataclass(frozen=True, slots=True)
class QuotePreferences:
    display_currency: str = ""  # empty: the merchant's currency, else the customer market's currency
    sort: QuoteSort = QuoteSort.CHEAPEST
    carrier_account_ids: tuple[str, ...] = ()  # empty: every account serving the lane
    max_transit_days: int = 0  # 0: no limit
    handover: Handover | None = None  # None: both


@dataclass(frozen=True, slots=True)
class QuoteReturnRequest:
    merchant_id: str
    shipment: ShipmentInput
    preferences: QuotePreferences = field(default_factory=QuotePreferences)
    merchant_currency: str = ""  # the merchant's configured display currency, when it has one
