"""Request documents: stored with the intent, decoded back exactly, digested to recognise retries."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from carriers.models import LabelFormat, Parcel
from customs.goods import ItemCondition, ReturnReason
from service.labels.model import CreateLabelRequest, ExplicitRate, QuotedRate
from service.labels.request_document import request_digest, request_document, request_from_document
from service.quoting.request import (
    AddressInput,
    ContactInput,
    DestinationInput,
    ItemInput,
    MoneyInput,
    OriginalOrderInput,
    PartyInput,
    ShipmentInput,
)


def shipment(unit_value: Decimal = Decimal("45.10"), hub_id: str = "EU_HUB") -> ShipmentInput:
    return ShipmentInput(
        customer=PartyInput(
            ContactInput("Anna Schmidt", "anna@example.com", "+41441234567", {"EORI": "CH123"}),
            AddressInput("CH", ("Bahnhofstrasse 1", "2. Stock"), "Zürich", "8001", language_code="de"),
        ),
        parcels=(Parcel(1200, 300, 200, 100),),
        items=(
            ItemInput(
                sku="SKU-1",
                description="wool blouse",
                quantity=2,
                unit_value=MoneyInput("EUR", unit_value),
                unit_weight_grams=300,
                origin_country="PT",
                hs_code="6106.20",
                condition=ItemCondition.NEW_OPENED,
                return_reason=ReturnReason.WRONG_SIZE,
                return_reason_detail="too small",
            ),
        ),
        destination=DestinationInput(hub_id=hub_id),
        original_order=OriginalOrderInput(
            order_id="ORD-1",
            order_date=dt.date(2026, 11, 1),
            delivery_date=None,
            invoice_number="INV-1",
            duties_paid=MoneyInput("CHF", Decimal("3.20")),
        ),
    )


def request(**changes: object) -> CreateLabelRequest:
    base = CreateLabelRequest(
        merchant_id="m1",
        idempotency_key="rma-1",
        shipment=shipment(),
        rate=QuotedRate("q1.token.sig"),
        label_format=LabelFormat.ZPL,
        customer_locale="de-CH",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_a_request_comes_back_from_its_document_unchanged() -> None:
    for original in (request(), request(rate=ExplicitRate("sandbox", "sandbox_standard"), label_format=None)):
        document = request_document(original)
        assert request_from_document("m1", "rma-1", document) == original


def test_the_digest_is_stable_and_changes_with_any_field() -> None:
    digest = request_digest(request_document(request()))
    assert digest == request_digest(request_document(request()))
    assert len(digest) == 64
    variants = [
        request(shipment=shipment(unit_value=Decimal("45.11"))),
        request(shipment=shipment(hub_id="UK_HUB")),
        request(rate=QuotedRate("q1.other.sig")),
        request(label_format=LabelFormat.PDF),
        request(customer_locale="fr-CH"),
    ]
    assert len({request_digest(request_document(v)) for v in variants} | {digest}) == len(variants) + 1


def test_merchant_and_key_are_not_part_of_the_document() -> None:
    # The key is what the digest is stored under; the merchant scopes it.
    assert request_document(request()) == request_document(request(merchant_id="m2", idempotency_key="rma-2"))


@settings(max_examples=40, deadline=None)
@given(
    amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2),
    weight=st.integers(min_value=1, max_value=70_000),
    lines=st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=3),
)
def test_documents_round_trip_for_any_amount_weight_and_address_lines(
    amount: Decimal, weight: int, lines: list[str]
) -> None:
    base = shipment(unit_value=amount)
    varied = dataclasses.replace(
        base,
        parcels=(Parcel(weight, 300, 200, 100),),
        customer=PartyInput(
            base.customer.contact if base.customer else None,
            AddressInput("DE", tuple(lines), "Berlin", "10115"),
        ),
    )
    original = request(shipment=varied)
    assert request_from_document("m1", "rma-1", request_document(original)) == original
