"""Conversions between backhaul.v1 messages and domain objects, shared by every servicer.

Reading a request collects problems in a `Violations` list with the request-field path of each, so one
INVALID_ARGUMENT names every bad field at once. Structural problems are caught here (money that does not
parse, unknown currencies, dates that do not exist); semantic rules (positive weights, known countries,
postal codes where a country uses them) belong to the use cases, which report with the same paths.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TypeVar

from google.type import date_pb2, money_pb2, postal_address_pb2

from backhaul.v1 import common_pb2, customs_pb2
from carriers.models import Handover, LabelFormat, Parcel
from customs.address import Address, Contact, Party
from customs.declaration import CustomsDeclaration, DeclarationLine, DutyPayer, Incoterm, NonDeliveryOption
from customs.goods import ItemCondition, OriginalOrder, ReturnedItem, ReturnReason
from customs.hs import HsClassification, HsEdition, hs_editions
from customs.money import Money, UnknownCurrency
from service.errors import FieldViolation, InvalidArgument

_NANOS = Decimal(1_000_000_000)

T = TypeVar("T")


class Violations:
    """Problems found while reading one request."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.items.append(FieldViolation(field, description))

    def extend(self, violations: list[FieldViolation]) -> None:
        self.items.extend(violations)

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(self.items)


def join(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


# Money -------------------------------------------------------------------------------------------------


def money_from_proto(message: money_pb2.Money, path: str, violations: Violations) -> Money | None:
    """A google.type.Money as Money; None (and a violation) when it is not valid money."""
    if (message.units > 0 and message.nanos < 0) or (message.units < 0 and message.nanos > 0):
        violations.add(join(path, "nanos"), "units and nanos must have the same sign")
        return None
    if not -999_999_999 <= message.nanos <= 999_999_999:
        violations.add(join(path, "nanos"), "must be between -999,999,999 and +999,999,999")
        return None
    try:
        return Money(Decimal(message.units) + Decimal(message.nanos) / _NANOS, message.currency_code)
    except UnknownCurrency as exc:
        violations.add(join(path, "currency_code"), str(exc))
        return None


def money_to_proto(money: Money) -> money_pb2.Money:
    """Rounded to the currency's minor units."""
    amount = money.rounded().amount
    units = int(amount)
    nanos = int((amount - units) * _NANOS)
    return money_pb2.Money(currency_code=money.currency, units=units, nanos=nanos)


def optional_money(message: money_pb2.Money, has: bool, path: str, violations: Violations) -> Money | None:
    return money_from_proto(message, path, violations) if has else None


# Dates -------------------------------------------------------------------------------------------------


def date_from_proto(message: date_pb2.Date, path: str, violations: Violations) -> dt.date | None:
    """A full google.type.Date as a date; an all-zero Date is 'not set' (None)."""
    if message.year == 0 and message.month == 0 and message.day == 0:
        return None
    try:
        return dt.date(message.year, message.month, message.day)
    except ValueError:
        violations.add(
            path, f"{message.year:04d}-{message.month:02d}-{message.day:02d} is not a calendar date"
        )
        return None


def date_to_proto(value: dt.date) -> date_pb2.Date:
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


# Addresses and parties ---------------------------------------------------------------------------------


def address_from_proto(message: postal_address_pb2.PostalAddress) -> Address:
    """Structural copy; `Address.validated()` checks it (the use case reports with its path)."""
    return Address(
        country=message.region_code,
        lines=tuple(message.address_lines),
        locality=message.locality,
        postal_code=message.postal_code,
        administrative_area=message.administrative_area,
        organization=message.organization,
        recipients=tuple(message.recipients),
        language_code=message.language_code,
    )


def address_to_proto(address: Address) -> postal_address_pb2.PostalAddress:
    return postal_address_pb2.PostalAddress(
        region_code=address.country,
        address_lines=list(address.lines),
        locality=address.locality,
        postal_code=address.postal_code,
        administrative_area=address.administrative_area,
        organization=address.organization,
        recipients=list(address.recipients),
        language_code=address.language_code,
    )


_TAX_SCHEMES = frozenset(common_pb2.TaxIdScheme.keys())


def tax_scheme_name(scheme: common_pb2.TaxIdScheme.ValueType) -> str:
    """`TAX_ID_SCHEME_EORI` -> `EORI`: the key under which Contact.tax_ids holds it."""
    return common_pb2.TaxIdScheme.Name(scheme).removeprefix("TAX_ID_SCHEME_")


def party_from_proto(message: common_pb2.Party, path: str, violations: Violations) -> Party:
    tax_ids: dict[str, str] = {}
    for index, tax_id in enumerate(message.contact.tax_ids):
        if tax_id.scheme == common_pb2.TAX_ID_SCHEME_UNSPECIFIED:
            violations.add(join(path, f"contact.tax_ids[{index}].scheme"), "must be set")
            continue
        tax_ids[tax_scheme_name(tax_id.scheme)] = tax_id.value.strip()
    contact = Contact(
        name=message.contact.name.strip(),
        email=message.contact.email.strip(),
        phone=message.contact.phone.strip(),
        tax_ids=tax_ids,
    )
    return Party(contact=contact, address=address_from_proto(message.address))


def party_to_proto(party: Party) -> common_pb2.Party:
    return common_pb2.Party(
        contact=common_pb2.Contact(
            name=party.contact.name,
            email=party.contact.email,
            phone=party.contact.phone,
            tax_ids=[
                common_pb2.TaxId(
                    scheme=common_pb2.TaxIdScheme.Value(f"TAX_ID_SCHEME_{scheme.upper()}"), value=value
                )
                for scheme, value in party.contact.tax_ids.items()
                if f"TAX_ID_SCHEME_{scheme.upper()}" in _TAX_SCHEMES  # data files may write `eori`
            ],
        ),
        address=address_to_proto(party.address),
    )


# Enums -------------------------------------------------------------------------------------------------


def _enum_by_suffix(prefix: str, value_name: str, domain: Callable[[str], T], default: T) -> T:
    suffix = value_name.removeprefix(prefix)
    return default if suffix == "UNSPECIFIED" else domain(suffix.lower())


def item_condition_from_proto(value: common_pb2.ItemCondition.ValueType) -> ItemCondition:
    return _enum_by_suffix(
        "ITEM_CONDITION_", common_pb2.ItemCondition.Name(value), ItemCondition, ItemCondition.UNSPECIFIED
    )


def return_reason_from_proto(value: common_pb2.ReturnReason.ValueType) -> ReturnReason:
    return _enum_by_suffix(
        "RETURN_REASON_", common_pb2.ReturnReason.Name(value), ReturnReason, ReturnReason.UNSPECIFIED
    )


def item_condition_to_proto(value: ItemCondition) -> common_pb2.ItemCondition.ValueType:
    return common_pb2.ItemCondition.Value(f"ITEM_CONDITION_{value.name}")


def return_reason_to_proto(value: ReturnReason) -> common_pb2.ReturnReason.ValueType:
    return common_pb2.ReturnReason.Value(f"RETURN_REASON_{value.name}")


def handover_from_proto(value: common_pb2.Handover.ValueType) -> Handover | None:
    """None when the caller expressed no preference."""
    return {common_pb2.HANDOVER_DROP_OFF: Handover.DROP_OFF, common_pb2.HANDOVER_PICKUP: Handover.PICKUP}.get(
        value
    )


def handover_to_proto(value: Handover) -> common_pb2.Handover.ValueType:
    return common_pb2.HANDOVER_PICKUP if value is Handover.PICKUP else common_pb2.HANDOVER_DROP_OFF


def label_format_from_proto(value: common_pb2.DocumentFormat.ValueType) -> LabelFormat:
    return {
        common_pb2.DOCUMENT_FORMAT_PNG: LabelFormat.PNG,
        common_pb2.DOCUMENT_FORMAT_ZPL: LabelFormat.ZPL,
    }.get(value, LabelFormat.PDF)


def label_format_to_proto(value: LabelFormat) -> common_pb2.DocumentFormat.ValueType:
    return common_pb2.DocumentFormat.Value(f"DOCUMENT_FORMAT_{value.name}")


# Shipment pieces ---------------------------------------------------------------------------------------


def parcel_from_proto(message: common_pb2.Parcel) -> Parcel:
    return Parcel(
        weight_grams=message.weight_grams,
        length_mm=message.length_mm,
        width_mm=message.width_mm,
        height_mm=message.height_mm,
    )


def item_from_proto(
    message: common_pb2.ReturnedItem, path: str, violations: Violations
) -> ReturnedItem | None:
    if not message.HasField("unit_value"):
        violations.add(join(path, "unit_value"), "is required (customs value of one unit)")
        return None
    unit_value = money_from_proto(message.unit_value, join(path, "unit_value"), violations)
    if unit_value is None:
        return None
    return ReturnedItem(
        sku=message.sku.strip(),
        description=message.description.strip(),
        quantity=message.quantity,
        unit_value=unit_value,
        unit_weight_grams=message.unit_weight_grams,
        origin_country=message.origin_country.strip().upper(),
        hs_code=message.hs_code.strip(),
        condition=item_condition_from_proto(message.condition),
        return_reason=return_reason_from_proto(message.return_reason),
    )


def original_order_from_proto(
    message: common_pb2.OriginalOrder, path: str, violations: Violations
) -> OriginalOrder:
    return OriginalOrder(
        order_id=message.order_id.strip(),
        order_date=date_from_proto(message.order_date, join(path, "order_date"), violations),
        delivery_date=date_from_proto(message.delivery_date, join(path, "delivery_date"), violations),
        outbound_tracking_number=message.outbound_tracking_number.strip(),
        invoice_number=message.invoice_number.strip(),
        export_reference=message.export_reference.strip(),
        import_entry_number=message.import_entry_number.strip(),
        duties_paid=optional_money(
            message.duties_paid, message.HasField("duties_paid"), join(path, "duties_paid"), violations
        ),
        taxes_paid=optional_money(
            message.taxes_paid, message.HasField("taxes_paid"), join(path, "taxes_paid"), violations
        ),
    )


# Customs: HS codes ---------------------------------------------------------------------------------------

_HS_LEVELS: dict[int, customs_pb2.HsCodeLevel.ValueType] = {
    2: customs_pb2.HS_CODE_LEVEL_CHAPTER,
    4: customs_pb2.HS_CODE_LEVEL_HEADING,
    6: customs_pb2.HS_CODE_LEVEL_SUBHEADING,
    8: customs_pb2.HS_CODE_LEVEL_NATIONAL,
    10: customs_pb2.HS_CODE_LEVEL_NATIONAL,
}


def hs_edition_to_proto(edition: HsEdition) -> customs_pb2.HsEdition:
    message = customs_pb2.HsEdition(name=edition.name, effective_from=date_to_proto(edition.effective_from))
    if edition.effective_to is not None:
        # The domain keeps the successor's first day (exclusive); the contract names the last day in force.
        message.effective_to.CopyFrom(date_to_proto(edition.effective_to - dt.timedelta(days=1)))
    return message


def _hs_node(code: str, description: str) -> customs_pb2.HsNomenclatureNode:
    return customs_pb2.HsNomenclatureNode(code=code, description=description)


def hs_classification_to_proto(found: HsClassification) -> customs_pb2.HsCode:
    """The code with its hierarchy; the level follows the number of digits (8 and 10 are national)."""
    edition = next(e for e in hs_editions() if e.name == found.edition)
    message = customs_pb2.HsCode(
        code=found.code,
        level=_HS_LEVELS[len(found.code)],
        description=found.entry.description,
        section=_hs_node(found.section.numeral, found.section.name),
        chapter=_hs_node(found.chapter.code, found.chapter.description),
        edition=hs_edition_to_proto(edition),
    )
    if found.heading is not None:
        message.heading.CopyFrom(_hs_node(found.heading.code, found.heading.description))
    if found.subheading is not None:
        message.subheading.CopyFrom(_hs_node(found.subheading.code, found.subheading.description))
    return message


# Customs: declarations -----------------------------------------------------------------------------------

_DUTY_PAYERS: tuple[tuple[DutyPayer, customs_pb2.DutyPayer.ValueType], ...] = (
    (DutyPayer.SENDER, customs_pb2.DUTY_PAYER_SENDER),
    (DutyPayer.ADDRESSEE, customs_pb2.DUTY_PAYER_RECIPIENT),
    (DutyPayer.THIRD_PARTY, customs_pb2.DUTY_PAYER_THIRD_PARTY),
)


def incoterm_from_proto(
    value: customs_pb2.Incoterm.ValueType, path: str, violations: Violations
) -> Incoterm | None:
    """None when unset; DDU (no Incoterms 2020 rule) is refused with a violation."""
    name = customs_pb2.Incoterm.Name(value).removeprefix("INCOTERM_")
    if name == "UNSPECIFIED":
        return None
    if name not in Incoterm.__members__:
        violations.add(
            path,
            f"{name} is not an Incoterms 2020 rule and cannot go on a declaration; DAP replaced DDU in 2010",
        )
        return None
    return Incoterm[name]


def incoterm_to_proto(value: Incoterm) -> customs_pb2.Incoterm.ValueType:
    return customs_pb2.Incoterm.Value(f"INCOTERM_{value.name}")


def duty_payer_from_proto(value: customs_pb2.DutyPayer.ValueType) -> DutyPayer | None:
    """None when unset."""
    return next((domain for domain, proto in _DUTY_PAYERS if proto == value), None)


def duty_payer_to_proto(value: DutyPayer) -> customs_pb2.DutyPayer.ValueType:
    return next(proto for domain, proto in _DUTY_PAYERS if domain is value)


def non_delivery_option_from_proto(
    value: customs_pb2.NonDeliveryOption.ValueType,
) -> NonDeliveryOption | None:
    """None when unset."""
    name = customs_pb2.NonDeliveryOption.Name(value).removeprefix("NON_DELIVERY_OPTION_")
    return None if name == "UNSPECIFIED" else NonDeliveryOption[name]


def non_delivery_option_to_proto(value: NonDeliveryOption) -> customs_pb2.NonDeliveryOption.ValueType:
    return customs_pb2.NonDeliveryOption.Value(f"NON_DELIVERY_OPTION_{value.name}")


def declared_items_from_proto(
    messages: Sequence[common_pb2.ReturnedItem], path: str, violations: Violations
) -> tuple[ReturnedItem, ...]:
    """Every item of a return in request order, for a customs declaration that reports all problems at once.

    An item whose unit value is missing or unusable (its violation recorded) is kept, valued at zero in the
    currency of the first usable item, so its other fields are still checked and every item keeps the
    index its paths name.
    """
    converted = [item_from_proto(m, f"{path}[{i}]", violations) for i, m in enumerate(messages)]
    currency = next((item.unit_value.currency for item in converted if item is not None), "XXX")
    items: list[ReturnedItem] = []
    for index, (message, item) in enumerate(zip(messages, converted, strict=True)):
        if item is None:
            zero_valued = common_pb2.ReturnedItem()
            zero_valued.CopyFrom(message)
            zero_valued.unit_value.CopyFrom(money_pb2.Money(currency_code=currency))
            item = item_from_proto(zero_valued, f"{path}[{index}]", Violations())
            assert item is not None  # a zero amount in a valid currency always converts
        items.append(item)
    return tuple(items)


def _declaration_line_to_proto(line: DeclarationLine) -> customs_pb2.CustomsDeclarationLine:
    return customs_pb2.CustomsDeclarationLine(
        description=line.description,
        quantity=line.quantity,
        net_weight_grams=line.net_weight_grams,
        value=money_to_proto(line.value),
        unit_value=money_to_proto(line.unit_value),
        hs_code=line.hs_code.digits,
        origin_country=line.origin_country,
        sku=line.sku,
    )


def customs_declaration_to_proto(
    declaration: CustomsDeclaration, *, importer_reference: str, certification_statement: str
) -> customs_pb2.CustomsDeclaration:
    references = declaration.references
    return customs_pb2.CustomsDeclaration(
        form=customs_pb2.CustomsForm.Value(f"CUSTOMS_FORM_{declaration.form.name}"),
        category=customs_pb2.CustomsCategory.Value(f"CUSTOMS_CATEGORY_{declaration.category.name}"),
        sender=party_to_proto(declaration.sender),
        addressee=party_to_proto(declaration.addressee),
        lines=[_declaration_line_to_proto(line) for line in declaration.lines],
        total_value=money_to_proto(declaration.totals.value),
        total_net_weight_grams=declaration.totals.net_weight_grams,
        total_gross_weight_grams=declaration.totals.gross_weight_grams,
        references=customs_pb2.CustomsReferences(
            order_id=references.order_id,
            outbound_tracking_number=references.outbound_tracking_number,
            invoice_number=references.invoice_number,
            export_reference=references.export_reference,
            import_entry_number=references.import_entry_number,
        ),
        incoterm=incoterm_to_proto(declaration.incoterm),
        duty_payer=duty_payer_to_proto(declaration.duty_payer),
        non_delivery_option=non_delivery_option_to_proto(declaration.non_delivery_option),
        certification=customs_pb2.CustomsCertification(
            certified=True,
            signer=declaration.certification.signer_name,
            date=date_to_proto(declaration.certification.signed_on),
            statement=certification_statement,
        ),
        importer_reference=importer_reference,
        declaration_date=date_to_proto(declaration.declaration_date),
        hs_edition=declaration.hs_edition,
    )
