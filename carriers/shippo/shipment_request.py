"""A ReturnShipment as Shippo SDK request objects: a return shipment with an inline customs declaration.

Shippo builds a return label from the *original* shipment's addresses and swaps them itself: `address_to`
is the customer, `address_from` the returns hub. Weights stay in grams and lengths in millimetres (Shippo
takes both units), so nothing is rounded. Values are line totals in the goods' own currency. The declaration
travels inline with the shipment: one request instead of two on the quote path.

Which references go where on a returned-goods declaration:
- `invoice`: the original sale's invoice number;
- `exporter_reference`: the import entry under which the goods entered the customer's country (the return
  re-exports them against it);
- `importer_reference`: the merchant's original export declaration (the re-import claims returned-goods
  relief against it);
- `exporter_identification`: the customer's EORI and tax id, when given (the customer exports the return).
"""

from __future__ import annotations

from typing import Any

from shippo.models import components

from carriers.errors import InvalidRequest, UnsupportedLane
from carriers.models import Handover, LabelFormat, Parcel, ReturnShipment
from carriers.shippo.export_filing import ExportFilingRequired, export_exemptions
from carriers.shippo.options import ShippoOptions
from customs.address import Party
from customs.money import CurrencyMismatch, MissingFxRate, Money

LABEL_FILE_TYPES = {
    LabelFormat.PDF: components.LabelFileTypeEnum.PDF_4X6,
    LabelFormat.PNG: components.LabelFileTypeEnum.PNG,
    LabelFormat.ZPL: components.LabelFileTypeEnum.ZPLII,
}
_TAX_ID_SCHEMES = ("VAT", "IOSS", "EIN", "ARN")


def address_request(party: Party) -> Any:
    address = party.address
    return components.AddressCreateRequest(
        country=address.country,
        name=party.contact.name,
        company=address.organization or None,
        street1=address.lines[0] if address.lines else None,
        street2=address.lines[1] if len(address.lines) > 1 else None,
        street3=", ".join(address.lines[2:]) or None,
        city=address.locality,
        # ISO 3166-2 "US-CA" -> "CA": carriers want the subdivision part only.
        state=address.administrative_area.split("-", 1)[-1] or None,
        zip=address.postal_code or None,
        phone=party.contact.phone or None,
        email=party.contact.email or None,
    )


def parcel_request(parcel: Parcel) -> Any:
    return components.ParcelCreateRequest(
        mass_unit=components.WeightUnitEnum.G,
        weight=str(parcel.weight_grams),
        distance_unit=components.DistanceUnitEnum.MM,
        length=str(parcel.length_mm),
        width=str(parcel.width_mm),
        height=str(parcel.height_mm),
    )


def _tax_ids(party: Party) -> dict[str, str]:
    return {scheme.upper(): number for scheme, number in party.contact.tax_ids.items() if number}


def _exporter_identification(customer: Party) -> Any:
    ids = _tax_ids(customer)
    scheme = next((s for s in _TAX_ID_SCHEMES if s in ids), None)
    if "EORI" not in ids and scheme is None:
        return None
    tax_id = None
    if scheme is not None:
        tax_id = components.CustomsTaxIdentification(
            number=ids[scheme], type=components.CustomsTaxIdentificationType(scheme)
        )
    return components.CustomsExporterIdentification(eori_number=ids.get("EORI"), tax_id=tax_id)


def _duties_payor(options: ShippoOptions) -> Any:
    payor = options.duties_payor
    if payor is None:
        return None
    address = None
    if payor.name or payor.zip or payor.country:
        address = components.CustomsDeclarationCreateRequestAddress(
            name=payor.name or None, zip=payor.zip or None, country=payor.country or None
        )
    return components.DutiesPayor(
        account=payor.account or None,
        type=components.CustomsDeclarationCreateRequestType(payor.type),
        address=address,
    )


def _usd(line: Money, index: int, options: ShippoOptions, carrier: str) -> Money:
    """The line in USD, only needed to test the US export threshold."""
    if line.currency == "USD":
        return line
    if options.customs_fx is None:
        raise InvalidRequest(
            f"a return leaving the US is checked against a USD threshold and this item is priced in "
            f"{line.currency}; configure options.customs_fx on the account",
            field=f"items[{index}].unit_value.currency_code",
            carrier=carrier,
        )
    try:
        return options.customs_fx.convert(line, "USD")
    except (MissingFxRate, CurrencyMismatch) as exc:
        raise InvalidRequest(
            str(exc), field=f"items[{index}].unit_value.currency_code", carrier=carrier
        ) from exc


def customs_declaration_request(shipment: ReturnShipment, options: ShippoOptions, carrier: str) -> Any:
    if not shipment.items:
        raise InvalidRequest(
            "a cross-border return needs its items for customs", field="items", carrier=carrier
        )
    leaves_us = shipment.origin_country == export_exemptions().exporting_country
    items = []
    lines: list[tuple[str, Money]] = []
    for index, item in enumerate(shipment.items):
        value = item.line_value.rounded()
        items.append(
            components.CustomsItemCreateRequest(
                description=item.description,
                quantity=item.quantity,
                net_weight=str(item.line_weight_grams),
                mass_unit=components.WeightUnitEnum.G,
                value_amount=str(value.amount),
                value_currency=value.currency,
                origin_country=item.origin_country,
                tariff_number=item.hs_code or None,
                sku_code=item.sku or None,
            )
        )
        if leaves_us:
            lines.append((item.hs_code or item.sku, _usd(value, index, options, carrier)))
    try:
        legend = export_exemptions().legend(shipment.origin_country, shipment.destination_country, lines)
    except ExportFilingRequired as exc:
        raise InvalidRequest(str(exc), field="items", carrier=carrier) from exc
    order = shipment.original_order
    return components.CustomsDeclarationCreateRequest(
        certify=True,
        certify_signer=shipment.customer.contact.name,
        contents_type=components.CustomsDeclarationContentsTypeEnum.RETURN_MERCHANDISE,
        non_delivery_option=components.CustomsDeclarationNonDeliveryOptionEnum(options.non_delivery_option),
        items=items,
        incoterm=components.CustomsDeclarationIncotermEnum(options.incoterm),
        duties_payor=_duties_payor(options),
        eel_pfc=components.CustomsDeclarationEelPfcEnum(legend) if legend else None,
        invoice=(order.invoice_number or None) if order else None,
        exporter_reference=(order.import_entry_number or None) if order else None,
        importer_reference=(order.export_reference or None) if order else None,
        exporter_identification=_exporter_identification(shipment.customer),
        metadata=shipment.reference[:100] or None,
    )


def shipment_request(shipment: ReturnShipment, options: ShippoOptions, carrier: str) -> Any:
    """The `ShipmentCreateRequest` for `api.shipments.create(...)` (synchronous rating)."""
    if shipment.handover is not Handover.DROP_OFF:
        raise UnsupportedLane(
            "Shippo return labels are scan-based drop-offs; pickups are not offered", carrier=carrier
        )
    return components.ShipmentCreateRequest(
        address_from=address_request(shipment.destination),
        address_to=address_request(shipment.customer),
        parcels=[parcel_request(parcel) for parcel in shipment.parcels],
        extra=components.ShipmentExtra(is_return=True),
        customs_declaration=customs_declaration_request(shipment, options, carrier)
        if shipment.is_cross_border
        else None,
        carrier_accounts=list(options.carrier_accounts) or None,
        metadata=shipment.reference[:100] or None,
        async_=False,
    )
