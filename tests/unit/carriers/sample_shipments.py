"""Return shipments for carrier tests, built from a few facts (country, postal code, parcels)."""

from __future__ import annotations

from carriers.models import Handover, Parcel, ReturnShipment
from customs.address import Address, Contact, Party

HUB_ADDRESSES = {
    "EU_HUB": Address("NL", ("Columbusweg 12",), "Venlo", "5928 LC"),
    "UK_HUB": Address("GB", ("Brackmills Industrial Estate",), "Northampton", "NN4 7PB"),
    "AU_HUB": Address("AU", ("Botany Road 1",), "Mascot", "2020", "NSW"),
    "CA_HUB": Address("CA", ("Courtneypark Drive East 100",), "Mississauga", "L5T 2Y3", "ON"),
}


def customer(country: str, postal_code: str, locality: str = "Town") -> Party:
    return Party(Contact("Customer"), Address(country, ("Street 1",), locality, postal_code))


def return_shipment(
    country: str,
    postal_code: str,
    *parcels: Parcel,
    hub_id: str = "EU_HUB",
    handover: Handover | None = None,
) -> ReturnShipment:
    return ReturnShipment(
        customer=customer(country, postal_code),
        destination=Party(Contact("Returns hub"), HUB_ADDRESSES[hub_id]),
        destination_hub_id=hub_id,
        parcels=parcels or (Parcel(1000, 300, 200, 100),),
        handover=handover,
    )
