"""Cross-border returns used by the contract tests, with hand-computable customs figures.

Two T-shirts (200 g each, EUR 29.90 each) and one pair of jeans (650 g, EUR 79.00): line weights 400 g and
650 g (14.110 oz and 22.928 oz), line values EUR 59.80 and EUR 79.00 (USD 65.00 and USD 85.87 at
USD 1 = EUR 0.92).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from carriers.models import Handover, LabelFormat, Parcel, ReturnShipment
from customs.address import Address, Contact, Party
from customs.declaration import (
    Certification,
    DeclarationRequest,
    DutyPayer,
    Incoterm,
    NonDeliveryOption,
    build_customs_declaration,
)
from customs.goods import ItemCondition, OriginalOrder, ReturnedItem, ReturnReason
from customs.money import FxTable, Money

HUB_US = Party(
    Contact("Returns Desk", "returns@acme.example", "+1 502 555 0100"),
    Address(
        "US", ("1500 Returns Way", "Dock 4"), "Louisville", "40213", "US-KY", organization="ACME Returns"
    ),
)
HUB_DE = Party(
    Contact("Retourenlager", tax_ids={"EORI": "DE123456789012345"}),
    Address("DE", ("Hubweg 1",), "Köln", "50667", organization="ACME Retouren GmbH"),
)
CUSTOMER_FR = Party(
    Contact(
        "Jeanne Martin",
        "jeanne@example.fr",
        "+33 4 72 00 00 00",
        {"EORI": "FR12345678900013", "VAT": "FR40303265045"},
    ),
    Address("FR", ("12 Rue de la République",), "Lyon", "69002"),
)
CUSTOMER_US = Party(
    Contact("Sam Rivera", "sam@example.com", "+1 512 555 0199"),
    Address("US", ("500 Congress Ave", "Apt 12"), "Austin", "78701", "US-TX"),
)
CUSTOMER_CA = Party(
    Contact("Alex Tremblay"), Address("CA", ("100 Rue Sainte-Catherine",), "Montréal", "H2X 1Z4", "CA-QC")
)

TSHIRT = ReturnedItem(
    "TS-BLUE-M",
    "Cotton T-shirt, blue",
    2,
    Money.of("29.90", "EUR"),
    200,
    "PT",
    "610910",
    ItemCondition.NEW_UNOPENED,
    ReturnReason.WRONG_SIZE,
)
JEANS = ReturnedItem("JN-32-34", "Denim jeans", 1, Money.of("79.00", "EUR"), 650, "TR", "620342")
ORDER = OriginalOrder(
    order_id="SO-1001",
    order_date=dt.date(2026, 10, 20),
    delivery_date=dt.date(2026, 10, 24),
    outbound_tracking_number="RR123456785DE",
    invoice_number="INV-2026-1001",
    export_reference="X20261020-ITN",
    import_entry_number="26FR000000012345",
)
DECLARED_ON = dt.date(2026, 11, 20)
DECLARATION_FX = FxTable(
    base="USD", as_of=dt.date(2026, 11, 19), rates={"EUR": Decimal("0.92"), "XDR": Decimal("0.74")}
)
PARCEL = Parcel(weight_grams=1200, length_mm=300, width_mm=200, height_mm=100)


def fr_to_us(label_format: LabelFormat = LabelFormat.PDF, *items: ReturnedItem) -> ReturnShipment:
    """A French customer returns jeans and T-shirts to the US hub."""
    return ReturnShipment(
        customer=CUSTOMER_FR,
        destination=HUB_US,
        parcels=(PARCEL,),
        items=items or (TSHIRT, JEANS),
        destination_hub_id="US_HUB",
        original_order=ORDER,
        label_format=label_format,
        reference="RMA-7781",
    )


def us_to(destination: Party, *items: ReturnedItem) -> ReturnShipment:
    """A US customer returns goods to a hub abroad (the return leaves the US)."""
    return ReturnShipment(
        customer=CUSTOMER_US,
        destination=destination,
        parcels=(PARCEL,),
        items=items,
        original_order=ORDER,
        reference="RMA-7782",
    )


def declared(
    shipment: ReturnShipment,
    incoterm: Incoterm = Incoterm.DAP,
    duty_payer: DutyPayer = DutyPayer.ADDRESSEE,
    aes_itn: str = "",
) -> ReturnShipment:
    """The shipment with the customs declaration the labels use case builds for it."""
    request = DeclarationRequest(
        sender=shipment.customer,
        addressee=shipment.destination,
        items=shipment.items,
        original_order=shipment.original_order or ORDER,
        declaration_date=DECLARED_ON,
        gross_weight_grams=shipment.total_weight_grams,
        incoterm=incoterm,
        duty_payer=duty_payer,
        non_delivery_option=NonDeliveryOption.ABANDON,
        certification=Certification(f"{shipment.customer.contact.name} (signed)", DECLARED_ON),
        aes_itn=aes_itn,
    )
    return dataclasses.replace(
        shipment, customs_declaration=build_customs_declaration(request, DECLARATION_FX)
    )


def intra_eu() -> ReturnShipment:
    """France to Germany: no customs border, and no items given."""
    return ReturnShipment(customer=CUSTOMER_FR, destination=HUB_DE, parcels=(PARCEL,))


def domestic_us() -> ReturnShipment:
    return ReturnShipment(customer=CUSTOMER_US, destination=HUB_US, parcels=(PARCEL,), items=(TSHIRT,))


def with_handover(shipment: ReturnShipment, handover: Handover) -> ReturnShipment:
    return ReturnShipment(
        customer=shipment.customer,
        destination=shipment.destination,
        parcels=shipment.parcels,
        items=shipment.items,
        handover=handover,
    )


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")
