"""A ReturnShipment as the parameters of EasyPost's `POST /shipments` (with `is_return` and customs).

EasyPost builds a return from the *original* shipment's addresses and swaps them itself: `to_address` is the
customer (who received the goods), `from_address` the returns hub (where they go back to). Weights are in
ounces, lengths in inches; customs values are USD line totals. Numbers are sent as decimal strings so no
float ever carries an amount (EasyPost accepts numeric strings).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Any

from carriers.easypost.export_filing import ExportFilingRequired, export_exemptions
from carriers.easypost.options import EasyPostOptions
from carriers.errors import InvalidRequest, UnsupportedLane
from carriers.models import Handover, LabelFormat, Parcel, ReturnShipment
from customs.address import Party
from customs.money import CurrencyMismatch, MissingFxRate, Money

GRAMS_PER_OUNCE = Decimal("28.349523125")  # avoirdupois ounce, exact by definition
MM_PER_INCH = Decimal("25.4")
LABEL_FORMATS = {LabelFormat.PDF: "PDF", LabelFormat.PNG: "PNG", LabelFormat.ZPL: "ZPL"}


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


def usd_line_value(shipment: ReturnShipment, index: int, options: EasyPostOptions, carrier: str) -> Money:
    """The item's line total in USD, converted with the account's customs FX table when priced otherwise."""
    item = shipment.items[index]
    line = item.line_value
    if line.currency == "USD":
        return line.rounded()
    if options.customs_fx is None:
        raise InvalidRequest(
            f"EasyPost customs values are in USD and this item is priced in {line.currency}; "
            "configure options.customs_fx on the account",
            field=f"items[{index}].unit_value.currency_code",
            carrier=carrier,
        )
    try:
        return options.customs_fx.convert(line, "USD")
    except (MissingFxRate, CurrencyMismatch) as exc:
        raise InvalidRequest(
            str(exc), field=f"items[{index}].unit_value.currency_code", carrier=carrier
        ) from exc


def customs_info_params(shipment: ReturnShipment, options: EasyPostOptions, carrier: str) -> dict[str, Any]:
    """EasyPost customs_info for a cross-border return: returned_goods, per-line ounces and USD."""
    if not shipment.items:
        raise InvalidRequest(
            "a cross-border return needs its items for customs", field="items", carrier=carrier
        )
    items: list[dict[str, Any]] = []
    lines: list[tuple[str, Money]] = []
    for index, item in enumerate(shipment.items):
        value = usd_line_value(shipment, index, options, carrier)
        customs_item: dict[str, Any] = {
            "description": item.description[:255],
            "quantity": item.quantity,
            "weight": str(ounces(item.line_weight_grams, "0.001")),
            "value": str(value.amount),
            "currency": "USD",
            "origin_country": item.origin_country,
            "code": item.sku,
        }
        if item.hs_code:
            customs_item["hs_tariff_number"] = item.hs_code
        items.append(customs_item)
        lines.append((item.hs_code or item.sku, value))
    try:
        legend = export_exemptions().legend(shipment.origin_country, shipment.destination_country, lines)
    except ExportFilingRequired as exc:
        raise InvalidRequest(str(exc), field="items", carrier=carrier) from exc
    info: dict[str, Any] = {
        "contents_type": "returned_goods",
        "customs_certify": True,
        "customs_signer": shipment.customer.contact.name,
        "non_delivery_option": options.non_delivery_option,
        "restriction_type": "none",
        "customs_items": items,
    }
    if legend is not None:
        info["eel_pfc"] = legend
    return info


def shipment_params(
    shipment: ReturnShipment, options: EasyPostOptions, carrier: str, label_format: LabelFormat | None = None
) -> dict[str, Any]:
    """Keyword arguments for `client.shipment.create(...)`."""
    if shipment.handover is not Handover.DROP_OFF:
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
    if shipment.is_cross_border:
        params["customs_info"] = customs_info_params(shipment, options, carrier)
    return params
