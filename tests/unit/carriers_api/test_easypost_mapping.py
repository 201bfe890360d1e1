"""Pure pieces of the EasyPost adapter: units, addresses, error fields, Retry-After."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carriers.easypost.sdk_errors import canonical_field, retry_after_seconds
from carriers.easypost.shipment_params import GRAMS_PER_OUNCE, address_params, ounces, parcel_params
from carriers.models import Parcel
from customs.address import Address, Contact, Party
from customs.money import Money


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


@pytest.mark.parametrize(
    ("grams", "expected"),
    [(1000, "35.274"), (400, "14.110"), (650, "22.928"), (1, "0.035"), (28, "0.988"), (2700, "95.240")],
)
def test_grams_in_ounces_to_three_decimals(grams: int, expected: str) -> None:
    assert ounces(grams, "0.001") == Decimal(expected)


@given(st.integers(min_value=1, max_value=70_000))
def test_ounces_are_within_half_a_thousandth_of_the_exact_value(grams: int) -> None:
    exact = Decimal(grams) / GRAMS_PER_OUNCE
    assert abs(ounces(grams, "0.001") - exact) <= Decimal("0.0005")


def test_parcel_dimensions_and_weight_round_up_to_a_tenth() -> None:
    assert parcel_params(Parcel(1200, 300, 200, 100)) == {
        "length": "11.9",
        "width": "7.9",
        "height": "4.0",
        "weight": "42.4",
    }
    assert parcel_params(Parcel(1, 1, 1, 254)) == {
        "length": "0.1",
        "width": "0.1",
        "height": "10.0",
        "weight": "0.1",
    }


def test_address_leaves_out_empty_fields_and_keeps_the_subdivision_part() -> None:
    party = Party(
        Contact("Sam"), Address("US", ("1 Main St", "Suite 2", "Floor 3"), "Austin", "78701", "US-TX")
    )
    assert address_params(party) == {
        "name": "Sam",
        "street1": "1 Main St",
        "street2": "Suite 2, Floor 3",
        "city": "Austin",
        "country": "US",
        "zip": "78701",
        "state": "TX",
    }


@pytest.mark.parametrize(
    ("provider", "canonical"),
    [
        ("to_address.zip", "customer.address.postal_code"),
        ("to_address.name", "customer.contact.name"),
        ("from_address.state", "destination.address.administrative_area"),
        ("shipment.parcel.height", "parcels[0].height_mm"),
        ("customs_items[2].code", "items[2].sku"),
        ("customs_info.customs_items.0.origin_country", "items[0].origin_country"),
        ("customs_info.eel_pfc", "customs_info.eel_pfc"),
    ],
)
def test_provider_fields_in_canonical_terms(provider: str, canonical: str) -> None:
    assert canonical_field(provider) == canonical


NOW = dt.datetime(2026, 11, 2, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": " 0 "}, 0.0),
        ({"Retry-After": "Mon, 02 Nov 2026 12:00:30 GMT"}, 30.0),
        ({"Retry-After": "Mon, 02 Nov 2026 11:00:00 GMT"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers, NOW) == expected
