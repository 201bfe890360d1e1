"""A ReturnShipment as the parameters of EasyPost's `POST /shipments` (with `is_return` and customs).

EasyPost builds a return from the *original* shipment's addresses and swaps them itself: `to_address` is the
customer (who received the goods), `from_address` the returns hub (where they go back to). Weights are in
ounces, lengths in inches; customs values are USD line totals. Customs fields come from the return's built
customs declaration when the labels use case passes one, else (quotes) from its items. Numbers are sent as
decimal strings so no float ever carries an amount (EasyPost accepts numeric strings).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Any

from carriers.customs_lines import converted, customs_lines, declaration_of, quote_export_legend
from carriers.easypost.options import EasyPostOptions
from carriers.errors import InvalidRequest, UnsupportedLane
from carriers.models import Handover, LabelFormat, Parcel, ReturnShipment
from customs.address import Party
from customs.declaration import ContentsCategory, CustomsDeclaration, DutyPayer, declaration_required

GRAMS_PER_OUNCE = Decimal("28.349523125")  # avoirdupois ounce, exact by definition
MM_PER_INCH = Decimal("25.4")
LABEL_FORMATS = {LabelFormat.PDF: "PDF", LabelFormat.PNG: "PNG", LabelFormat.ZPL: "ZPL"}
CONTENTS_TYPES = {
    ContentsCategory.RETURNED_GOODS: "returned_goods",
    ContentsCategory.GIFT: "gift",
    ContentsCategory.DOCUMENTS: "documents",
    ContentsCategory.COMMERCIAL_SAMPLE: "sample",
    ContentsCategory.SALE_OF_GOODS: "merchandise",
    ContentsCategory.OTHER: "other",
}
DUTY_PAYMENT_TYPES = {
    DutyPayer.SENDER: "SENDER",
    DutyPayer.ADDRESSEE: "RECEIVER",
    DutyPayer.THIRD_PARTY: "THIRD_PARTY",
}


def ounces(grams: int, places: str) -> Decimal:
    """Grams in ounces, rounded half up to `places` (e.g. "0.001")."""
    return (Decimal(grams) / GRAMS_PER_OUNCE).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def address_params(party: Party) -> dict[str, Any]:
    address = party.address
    params: dict[str, Any] = {
        "name": party.contact.name,
        "street1": address.lines[0] if address.lines else "",
        "city": address.locality,
        "country": address.country,
    }
    optional = {
        "company": address.organization,
        "street2": ", ".join(address.lines[1:]),
        "zip": address.postal_code,
        # ISO 3166-2 "US-CA" -> "CA": carriers want the subdivision part only.
        "state": address.administrative_area.split("-", 1)[-1],
        "phone": party.contact.phone,
        "email": party.contact.email,
    }
    params.update({key: value for key, value in optional.items() if value})
    return params


def parcel_params(parcel: Parcel) -> dict[str, str]:
    """Inches and ounces to one decimal, rounded up so a carrier never sees a parcel smaller than it is."""
    tenth = Decimal("0.1")
    inches = {
        key: str((Decimal(mm) / MM_PER_INCH).quantize(tenth, rounding=ROUND_UP))
        for key, mm in (
            ("length", parcel.length_mm),
            ("width", parcel.width_mm),
            ("height", parcel.height_mm),
        )
    }
    weight = (Decimal(parcel.weight_grams) / GRAMS_PER_OUNCE).quantize(tenth, rounding=ROUND_UP)
    return {**inches, "weight": str(weight)}


def customs_info_params(shipment: ReturnShipment, options: EasyPostOptions, carrier: str) -> dict[str, Any]:
    """EasyPost customs_info for a return crossing a customs border: per-line ounces and USD."""
    declaration = declaration_of(shipment)
    lines = customs_lines(shipment)
    if not lines:
        raise InvalidRequest(
            "a return crossing a customs border needs its items", field="items", carrier=carrier
        )
    fx = options.customs_fx
    values = [converted(line.value, "USD", index, fx, carrier).rounded() for index, line in enumerate(lines)]
    items: list[dict[str, Any]] = []
    for line, value in zip(lines, values, strict=True):
        customs_item: dict[str, Any] = {
            "description": line.description[:255],
            "quantity": line.quantity,
            "weight": str(ounces(line.net_weight_grams, "0.001")),
            "value": str(value.amount),
            "currency": "USD",
            "origin_country": line.origin_country,
            "code": line.sku,
        }
        if line.hs_code:
            customs_item["hs_tariff_number"] = line.hs_code
        items.append(customs_item)
    if declaration is not None:
        legend = declaration.references.eel_pfc or None
        info: dict[str, Any] = {
            "contents_type": CONTENTS_TYPES[declaration.category],
            "customs_signer": declaration.certification.signer_name,
            "non_delivery_option": declaration.non_delivery_option.value,
        }
    else:
        legend = quote_export_legend(shipment, fx, carrier)
        info = {
            "contents_type": "returned_goods",
            "customs_signer": shipment.customer.contact.name,
            "non_delivery_option": options.non_delivery_option,
        }
    info.update(customs_certify=True, restriction_type="none", customs_items=items)
    if legend is not None:
        info["eel_pfc"] = legend
    return info


def declared_terms(declaration: CustomsDeclaration) -> dict[str, Any]:
    """Shipment options for the declaration's incoterm and duty payer, each taken as declared."""
    return {
        "incoterm": declaration.incoterm.value,
        "duty_payment": {"type": DUTY_PAYMENT_TYPES[declaration.duty_payer]},
    }


def shipment_params(
    shipment: ReturnShipment, options: EasyPostOptions, carrier: str, label_format: LabelFormat | None = None
) -> dict[str, Any]:
    """Keyword arguments for `client.shipment.create(...)`."""
    if shipment.handover is Handover.PICKUP:
        raise UnsupportedLane(
            "EasyPost return labels are dropped off; pickups are not offered", carrier=carrier
        )
    if len(shipment.parcels) != 1:
        raise UnsupportedLane(
            f"an EasyPost shipment carries one parcel, this return has {len(shipment.parcels)}",
            carrier=carrier,
        )
    params: dict[str, Any] = {
        "is_return": True,
        "to_address": address_params(shipment.customer),
        "from_address": address_params(shipment.destination),
        "parcel": parcel_params(shipment.parcels[0]),
        "options": {"label_format": LABEL_FORMATS[label_format or shipment.label_format]},
    }
    if shipment.reference:
        params["reference"] = shipment.reference
    if options.carrier_accounts:
        params["carrier_accounts"] = list(options.carrier_accounts)
    if declaration_required(shipment.origin_country, shipment.destination_country):
        params["customs_info"] = customs_info_params(shipment, options, carrier)
        declaration = declaration_of(shipment)
        if declaration is not None:
            params["options"].update(declared_terms(declaration))
    return params
