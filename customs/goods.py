"""What is being returned: the items, their condition and reason, and the original order they came from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from customs.money import Money


class ItemCondition(StrEnum):
    UNSPECIFIED = "unspecified"
    NEW_UNOPENED = "new_unopened"
    NEW_OPENED = "new_opened"  # unpacked or tried, not used
    USED = "used"
    DAMAGED = "damaged"
    DEFECTIVE = "defective"


class ReturnReason(StrEnum):
    UNSPECIFIED = "unspecified"
    CHANGED_MIND = "changed_mind"
    WRONG_SIZE = "wrong_size"
    NOT_AS_DESCRIBED = "not_as_described"  # not in conformity with the contract
    DEFECTIVE = "defective"
    DAMAGED_IN_TRANSIT = "damaged_in_transit"
    WRONG_ITEM = "wrong_item"  # shipped without the buyer's consent
    LATE_DELIVERY = "late_delivery"
    UNDELIVERABLE = "undeliverable"  # refused or never collected


@dataclass(frozen=True, slots=True)
class ReturnedItem:
    sku: str
    description: str
    quantity: int
    unit_value: Money
    unit_weight_grams: int
    origin_country: str
    hs_code: str = ""
    condition: ItemCondition = ItemCondition.UNSPECIFIED
    return_reason: ReturnReason = ReturnReason.UNSPECIFIED

    @property
    def line_value(self) -> Money:
        return self.unit_value * self.quantity

    @property
    def line_weight_grams(self) -> int:
        return self.unit_weight_grams * self.quantity


@dataclass(frozen=True, slots=True)
class OriginalOrder:
    """The outbound sale the return refers to; customs cross-references it."""

    order_id: str = ""
    order_date: dt.date | None = None
    delivery_date: dt.date | None = None
    outbound_tracking_number: str = ""  # S10 barcode or HAWB of the outbound parcel
    invoice_number: str = ""
    export_reference: str = ""  # export declaration / AES ITN of the outbound shipment
    import_entry_number: str = ""  # import declaration in the customer's country
    duties_paid: Money | None = None
    taxes_paid: Money | None = None
