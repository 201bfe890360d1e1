"""Rate-card purchases with a keyed serial allocator: one number per key, found again after a crash."""

from __future__ import annotations

import pytest

from carriers.errors import UnsupportedOperation
from carriers.models import LabelFormat, Parcel, PurchaseRequest
from carriers.ratecard import RateCardCarrier
from carriers.ratecard.card import packaged_card
from carriers.ratecard.s10 import InMemorySerialAllocator, KeyedSerialAllocator, is_valid_s10
from tests.unit.carriers.sample_shipments import return_shipment


class KeyedAllocator:
    """What DatabaseSerialAllocator does, in memory: the ordinal of a key is remembered."""

    def __init__(self) -> None:
        self.next = 0
        self.by_key: dict[tuple[str, str], int] = {}

    async def next_ordinal(self, series_key: str) -> int:
        self.next += 1
        return self.next - 1

    async def ordinal_for(self, series_key: str, purchase_key: str) -> int:
        if (series_key, purchase_key) not in self.by_key:
            self.by_key[(series_key, purchase_key)] = await self.next_ordinal(series_key)
        return self.by_key[(series_key, purchase_key)]

    async def find_ordinal(self, series_key: str, purchase_key: str) -> int | None:
        return self.by_key.get((series_key, purchase_key))


def request(key: str) -> PurchaseRequest:
    shipment = return_shipment("DE", "10115", Parcel(2000, 300, 200, 100))
    return PurchaseRequest(shipment, "retour_standard", key, label_format=LabelFormat.PDF)


async def test_a_key_gets_one_number_and_is_found_again() -> None:
    allocator = KeyedAllocator()
    assert isinstance(allocator, KeyedSerialAllocator)
    carrier = RateCardCarrier("tulip", packaged_card("tulip_parcel_nl"), allocator)
    first = await carrier.purchase(request("label-1.1"))
    repeated = await carrier.purchase(request("label-1.1"))
    other = await carrier.purchase(request("label-2.1"))
    assert repeated.tracking_number == first.tracking_number
    assert other.tracking_number != first.tracking_number
    assert is_valid_s10(other.tracking_number)
    found = await carrier.find_purchase(request("label-1.1"))
    assert found is not None
    assert (found.tracking_number, found.price, found.service_code) == (
        first.tracking_number,
        first.price,
        first.service_code,
    )
    assert await carrier.find_purchase(request("label-3.1")) is None


async def test_an_unkeyed_allocator_cannot_look_purchases_up() -> None:
    carrier = RateCardCarrier("tulip", packaged_card("tulip_parcel_nl"), InMemorySerialAllocator())
    await carrier.purchase(request("label-1.1"))
    with pytest.raises(UnsupportedOperation):
        await carrier.find_purchase(request("label-1.1"))
