"""A ReturnShipment as Shippo SDK request objects: a return shipment with an inline customs declaration.

Shippo builds a return label from the *original* shipment's addresses and swaps them itself: `address_to`
is the customer, `address_from` the returns hub. Weights stay in grams and lengths in millimetres (Shippo
takes both units), so nothing is rounded. Values are line totals in the goods' own currency. The declaration
travels inline with the shipment: one request instead of two on the quote path. Its fields come from the
return's built customs declaration when the labels use case passes one, else (quotes) from its items.

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

from carriers.customs_lines import customs_lines, declaration_of, quote_export_legend
from carriers.errors import InvalidRequest, UnsupportedLane
from carriers.models import Handover, LabelFormat, Parcel, ReturnShipment
from carriers.shippo.options import ShippoOptions
from customs.address import Party
from customs.declaration import (
    ContentsCategory,
    CustomsDeclaration,
    DutyPayer,
    Incoterm,
    declaration_required,
)

LABEL_FILE_TYPES = {
    LabelFormat.PDF: components.LabelFileTypeEnum.PDF_4X6,
    LabelFormat.PNG: components.LabelFileTypeEnum.PNG,
    LabelFormat.ZPL: components.LabelFileTypeEnum.ZPLII,
}
_TAX_ID_SCHEMES = ("VAT", "IOSS", "EIN", "ARN")
_CONTENTS = components.CustomsDeclarationContentsTypeEnum
CONTENTS_TYPES = {
    ContentsCategory.RETURNED_GOODS: _CONTENTS.RETURN_MERCHANDISE,
    ContentsCategory.GIFT: _CONTENTS.GIFT,
    ContentsCategory.DOCUMENTS: _CONTENTS.DOCUMENTS,
    ContentsCategory.COMMERCIAL_SAMPLE: _CONTENTS.SAMPLE,
    ContentsCategory.SALE_OF_GOODS: _CONTENTS.MERCHANDISE,
    ContentsCategory.OTHER: _CONTENTS.OTHER,
}
# Shippo: "DAP is available for DHL Express and DPD UK. If expecting DAP for other carriers, please use DDU."
INCOTERMS = {Incoterm.DDP: "DDP", Incoterm.DAP: "DDU", Incoterm.FCA: "FCA"}
PAYOR_TYPES = {
    DutyPayer.SENDER: "SENDER",
    DutyPayer.ADDRESSEE: "RECIPIENT",
    DutyPayer.THIRD_PARTY: "THIRD_PARTY",
}
# 15 CFR 30 exemption legends as written on declarations -> Shippo's eel_pfc codes.
EEL_PFC_CODES = {
    "NOEEI 30.37(a)": "NOEEI_30_37_a",
    "NOEEI 30.37(h)": "NOEEI_30_37_h",
    "NOEEI 30.37(f)": "NOEEI_30_37_f",
    "NOEEI 30.36": "NOEEI_30_36",
}
AES_PREFIX = "AES "


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


def _eel_pfc(legend: str, carrier: str) -> tuple[Any, str | None]:
    """Shippo's eel_pfc code (and AES ITN) for a declaration's legend ("NOEEI 30.37(a)", "AES X2026...")."""
    if legend.startswith(AES_PREFIX):
        return components.CustomsDeclarationEelPfcEnum.AES_ITN, legend.removeprefix(AES_PREFIX).strip()
    code = EEL_PFC_CODES.get(legend)
    if code is None:
        raise InvalidRequest(
            f"Shippo has no eel_pfc code for the legend {legend!r}",
            field="customs_declaration.references.eel_pfc",
            carrier=carrier,
        )
    return components.CustomsDeclarationEelPfcEnum(code), None


def _declared_terms(declaration: CustomsDeclaration, options: ShippoOptions, carrier: str) -> dict[str, Any]:
    """Incoterm and duties payor as the declaration states them, each on its own."""
    incoterm = INCOTERMS.get(declaration.incoterm)
    if incoterm is None:
        raise InvalidRequest(
            f"Shippo takes DDP, DAP (as DDU) or FCA, not {declaration.incoterm.value}",
            field="customs_declaration.incoterm",
            carrier=carrier,
        )
    payor_type = PAYOR_TYPES[declaration.duty_payer]
    configured = options.duties_payor
    account = configured.account if configured is not None and configured.type == payor_type else ""
    return {
        "incoterm": components.CustomsDeclarationIncotermEnum(incoterm),
        "duties_payor": components.DutiesPayor(
            account=account or None, type=components.CustomsDeclarationCreateRequestType(payor_type)
        ),
    }


def customs_declaration_request(shipment: ReturnShipment, options: ShippoOptions, carrier: str) -> Any:
    """The inline customs declaration: from the built declaration when there is one, else from the items."""
    declaration = declaration_of(shipment)
    lines = customs_lines(shipment)
    if not lines:
        raise InvalidRequest(
            "a return crossing a customs border needs its items", field="items", carrier=carrier
        )
    items = [
        components.CustomsItemCreateRequest(
            description=line.description,
            quantity=line.quantity,
            net_weight=str(line.net_weight_grams),
            mass_unit=components.WeightUnitEnum.G,
            value_amount=str(line.value.amount),
            value_currency=line.value.currency,
            origin_country=line.origin_country,
            tariff_number=line.hs_code or None,
            sku_code=line.sku or None,
        )
        for line in lines
    ]
    if declaration is not None:
        references = declaration.references
        eel_pfc, aes_itn = _eel_pfc(references.eel_pfc, carrier) if references.eel_pfc else (None, None)
        fields: dict[str, Any] = {
            "certify_signer": declaration.certification.signer_name,
            "contents_type": CONTENTS_TYPES[declaration.category],
            "non_delivery_option": components.CustomsDeclarationNonDeliveryOptionEnum(
                declaration.non_delivery_option.value.upper()
            ),
            "eel_pfc": eel_pfc,
            "aes_itn": aes_itn,
            "invoice": references.invoice_number or None,
            "exporter_reference": references.import_entry_number or None,
            "importer_reference": references.export_reference or None,
            "exporter_identification": _exporter_identification(declaration.sender),
            **_declared_terms(declaration, options, carrier),
        }
    else:
        legend = quote_export_legend(shipment, options.customs_fx, carrier)
        order = shipment.original_order
        fields = {
            "certify_signer": shipment.customer.contact.name,
            "contents_type": components.CustomsDeclarationContentsTypeEnum.RETURN_MERCHANDISE,
            "non_delivery_option": components.CustomsDeclarationNonDeliveryOptionEnum(
                options.non_delivery_option
            ),
            "eel_pfc": _eel_pfc(legend, carrier)[0] if legend else None,
            "invoice": (order.invoice_number or None) if order else None,
            "exporter_reference": (order.import_entry_number or None) if order else None,
            "importer_reference": (order.export_reference or None) if order else None,
            "exporter_identification": _exporter_identification(shipment.customer),
            "incoterm": components.CustomsDeclarationIncotermEnum(options.incoterm),
            "duties_payor": _duties_payor(options),
        }
    return components.CustomsDeclarationCreateRequest(
        certify=True, items=items, metadata=shipment.reference[:100] or None, **fields
    )


def shipment_request(shipment: ReturnShipment, options: ShippoOptions, carrier: str) -> Any:
    """The `ShipmentCreateRequest` for `api.shipments.create(...)` (synchronous rating)."""
    if shipment.handover is Handover.PICKUP:
        raise UnsupportedLane(
            "Shippo return labels are scan-based drop-offs; pickups are not offered", carrier=carrier
        )
    return components.ShipmentCreateRequest(
        address_from=address_request(shipment.destination),
        address_to=address_request(shipment.customer),
        parcels=[parcel_request(parcel) for parcel in shipment.parcels],
        extra=components.ShipmentExtra(is_return=True),
        customs_declaration=customs_declaration_request(shipment, options, carrier)
        if declaration_required(shipment.origin_country, shipment.destination_country)
        else None,
        carrier_accounts=list(options.carrier_accounts) or None,
        metadata=shipment.reference[:100] or None,
        async_=False,
    )
