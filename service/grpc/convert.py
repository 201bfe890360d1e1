"""Conversions between backhaul.v1 messages and domain objects, shared by every servicer.

Reading a request collects problems in a `Violations` list with the request-field path of each, so one
INVALID_ARGUMENT names every bad field at once. Structural problems are caught here (money that does not
parse, unknown currencies, dates that do not exist); semantic rules (positive weights, known countries,
postal codes where a country uses them) belong to the use cases, which report with the same paths.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Collection, Sequence
from decimal import Decimal
from typing import TypeVar

from google.protobuf import duration_pb2, timestamp_pb2
from google.type import date_pb2, money_pb2, postal_address_pb2

from backhaul.v1 import common_pb2, customs_pb2, labels_pb2, rates_pb2, tracking_pb2
from carriers.models import Handover, LabelFormat, Parcel
from carriers.tracking import ExceptionReason
from customs.address import Address, Contact, Party
from customs.declaration import CustomsDeclaration, DeclarationLine, DutyPayer, Incoterm, NonDeliveryOption
from customs.deminimis import DeMinimisDecision, ImportChannel
from customs.goods import ItemCondition, OriginalOrder, ReturnedItem, ReturnReason
from customs.hs import HsClassification, HsEdition, hs_editions
from customs.money import Money, UnknownCurrency, validate_currency
from customs.reclaim import (
    ChargeComponent,
    ChargesPaid,
    ClaimStatus,
    ComponentAmount,
    ComponentRefund,
    ConditionCheck,
    DesignatedImport,
    EntryLine,
    ImportEntry,
    ImporterType,
    InvalidReclaimCase,
    LineAssessment,
    LineRegimeOutcome,
    NonRefundable,
    ProofOfExport,
    ProofOfExportKind,
    ReclaimAssessment,
    ReclaimCase,
    ReclaimForm,
    ReclaimWarning,
    Regime,
    RegimeAssessment,
    ReturnDetails,
)
from service.documents import DocumentKind
from service.errors import FieldViolation, InvalidArgument
from service.labels.model import (
    CreateLabelRequest,
    DeclarationSummary,
    ExplicitRate,
    LabelQuery,
    LabelStatus,
    LabelView,
    QuotedRate,
    StoredDocument,
)
from service.quoting.hubs import Hub
from service.quoting.policy import PolicyDecision, ReturnCostPayer
from service.quoting.quotes import CarrierQuoteFailure, LanePerformance, Quote, QuoteReturnResult, QuoteTag
from service.quoting.request import (
    AddressInput,
    ContactInput,
    DestinationInput,
    ItemInput,
    MoneyInput,
    OriginalOrderInput,
    PartyInput,
    QuotePreferences,
    QuoteSort,
    ShipmentInput,
)
from service.reclaim.label_summary import LabelReclaimSummary
from service.reclaim.model import AuditEntry, ClaimOrder, ClaimQuery, RecordedEvidence, StoredClaim

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


def _money_amount(message: money_pb2.Money, path: str, violations: Violations) -> Decimal | None:
    """The exact amount of units + nanos; None (and a violation) when the two parts disagree."""
    if (message.units > 0 and message.nanos < 0) or (message.units < 0 and message.nanos > 0):
        violations.add(join(path, "nanos"), "units and nanos must have the same sign")
        return None
    if not -999_999_999 <= message.nanos <= 999_999_999:
        violations.add(join(path, "nanos"), "must be between -999,999,999 and +999,999,999")
        return None
    return Decimal(message.units) + Decimal(message.nanos) / _NANOS


def money_from_proto(message: money_pb2.Money, path: str, violations: Violations) -> Money | None:
    """A google.type.Money as Money; None (and a violation) when it is not valid money."""
    amount = _money_amount(message, path, violations)
    if amount is None:
        return None
    try:
        return Money(amount, message.currency_code)
    except UnknownCurrency as exc:
        violations.add(join(path, "currency_code"), str(exc))
        return None


def money_to_proto(money: Money) -> money_pb2.Money:
    """Rounded to the currency's minor units."""
    message = money_pb2.Money()
    set_money(message, money)
    return message


def set_money(target: money_pb2.Money, money: Money) -> None:
    """Fill a Money field in place (cheaper than building a message and copying it in)."""
    currency = money.currency
    target.currency_code = currency
    target.units, target.nanos = _units_and_nanos(money.amount, currency)


@functools.lru_cache(maxsize=4096)
def _units_and_nanos(amount: Decimal, currency: str) -> tuple[int, int]:
    """google.type.Money's parts of an amount rounded to its currency: prices repeat across answers (the
    same services on the same lanes), and the Decimal arithmetic is the costly part of writing one."""
    rounded = Money(amount, currency).rounded_amount()
    units = int(rounded)
    return units, int((rounded - units) * _NANOS)


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


def set_date(target: date_pb2.Date, value: dt.date) -> None:
    target.year, target.month, target.day = value.year, value.month, value.day


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


# Rates: QuoteReturn requests -----------------------------------------------------------------------------
#
# Requests become the use case's input types field for field; the use case validates them and reports with
# the same paths. Only what cannot be represented (money whose parts disagree, impossible dates, enum
# numbers outside the contract) is refused here.


def _known_enum(
    value: int, known: Collection[int], path: str, violations: Violations, names: Callable[[], list[str]]
) -> bool:
    if value in known:
        return True
    violations.add(path, f"unknown value {value}; expected one of {', '.join(names())}")
    return False


_ITEM_CONDITIONS = frozenset(common_pb2.ItemCondition.values())
_RETURN_REASONS = frozenset(common_pb2.ReturnReason.values())
# Enum numbers of the contract to domain values, worked out once (every item of every request is read).
_ITEM_CONDITIONS_BY_NUMBER = {
    number: item_condition_from_proto(number) for number in common_pb2.ItemCondition.values()
}
_RETURN_REASONS_BY_NUMBER = {
    number: return_reason_from_proto(number) for number in common_pb2.ReturnReason.values()
}
_HANDOVERS = frozenset(common_pb2.Handover.values())
_TAX_SCHEME_VALUES = frozenset(common_pb2.TaxIdScheme.values())
_QUOTE_SORTS: dict[int, QuoteSort] = {
    rates_pb2.QUOTE_SORT_UNSPECIFIED: QuoteSort.CHEAPEST,
    rates_pb2.QUOTE_SORT_CHEAPEST: QuoteSort.CHEAPEST,
    rates_pb2.QUOTE_SORT_FASTEST: QuoteSort.FASTEST,
    rates_pb2.QUOTE_SORT_BEST_VALUE: QuoteSort.BEST_VALUE,
}


def money_input_from_proto(message: money_pb2.Money, path: str, violations: Violations) -> MoneyInput | None:
    """The amount exactly, the currency code as given (the use case checks it)."""
    amount = _money_amount(message, path, violations)
    return None if amount is None else MoneyInput(message.currency_code, amount)


def address_input_from_proto(message: postal_address_pb2.PostalAddress) -> AddressInput:
    return AddressInput(
        region_code=message.region_code,
        address_lines=tuple(message.address_lines),
        locality=message.locality,
        postal_code=message.postal_code,
        administrative_area=message.administrative_area,
        organization=message.organization,
        recipients=tuple(message.recipients),
        language_code=message.language_code,
    )


def party_input_from_proto(message: common_pb2.Party, path: str, violations: Violations) -> PartyInput:
    contact = None
    if message.HasField("contact"):
        tax_ids: dict[str, str] = {}
        for index, tax_id in enumerate(message.contact.tax_ids):
            if (
                tax_id.scheme == common_pb2.TAX_ID_SCHEME_UNSPECIFIED
                or tax_id.scheme not in _TAX_SCHEME_VALUES
            ):
                violations.add(
                    join(path, f"contact.tax_ids[{index}].scheme"), "must be set to a known scheme"
                )
                continue
            tax_ids[tax_scheme_name(tax_id.scheme)] = tax_id.value.strip()
        contact = ContactInput(
            name=message.contact.name,
            email=message.contact.email,
            phone=message.contact.phone,
            tax_ids=tax_ids,
        )
    address = address_input_from_proto(message.address) if message.HasField("address") else None
    return PartyInput(contact=contact, address=address)


def item_input_from_proto(message: common_pb2.ReturnedItem, path: str, violations: Violations) -> ItemInput:
    condition = _ITEM_CONDITIONS_BY_NUMBER.get(message.condition)
    if condition is None:
        _known_enum(message.condition, (), join(path, "condition"), violations, common_pb2.ItemCondition.keys)
    reason = _RETURN_REASONS_BY_NUMBER.get(message.return_reason)
    if reason is None:
        _known_enum(
            message.return_reason, (), join(path, "return_reason"), violations, common_pb2.ReturnReason.keys
        )
    return ItemInput(
        sku=message.sku,
        description=message.description,
        quantity=message.quantity,
        unit_value=money_input_from_proto(message.unit_value, join(path, "unit_value"), violations)
        if message.HasField("unit_value")
        else None,
        unit_weight_grams=message.unit_weight_grams,
        origin_country=message.origin_country,
        hs_code=message.hs_code,
        condition=condition or ItemCondition.UNSPECIFIED,
        return_reason=reason or ReturnReason.UNSPECIFIED,
        return_reason_detail=message.return_reason_detail,
    )


def original_order_input_from_proto(
    message: common_pb2.OriginalOrder, path: str, violations: Violations
) -> OriginalOrderInput:
    def money(name: str) -> MoneyInput | None:
        if not message.HasField(name):  # type: ignore[arg-type]
            return None
        return money_input_from_proto(getattr(message, name), join(path, name), violations)

    return OriginalOrderInput(
        order_id=message.order_id,
        order_date=date_from_proto(message.order_date, join(path, "order_date"), violations),
        delivery_date=date_from_proto(message.delivery_date, join(path, "delivery_date"), violations),
        outbound_tracking_number=message.outbound_tracking_number,
        invoice_number=message.invoice_number,
        export_reference=message.export_reference,
        import_entry_number=message.import_entry_number,
        duties_paid=money("duties_paid"),
        taxes_paid=money("taxes_paid"),
    )


def destination_input_from_proto(message: common_pb2.ReturnDestination) -> DestinationInput | None:
    """None when unset: the use case routes to a hub."""
    target = message.WhichOneof("target")
    if target == "hub_id":
        return DestinationInput(hub_id=message.hub_id.strip())
    if target == "address":
        return DestinationInput(address=address_input_from_proto(message.address))
    return None


def shipment_input_from_proto(
    message: rates_pb2.QuoteReturnRequest | common_pb2.ReturnShipment, path: str, violations: Violations
) -> ShipmentInput:
    """Fields 1-5, shared by QuoteReturnRequest and ReturnShipment; `path` prefixes the violations."""
    return ShipmentInput(
        customer=party_input_from_proto(message.customer, join(path, "customer"), violations)
        if message.HasField("customer")
        else None,
        parcels=tuple(parcel_from_proto(parcel) for parcel in message.parcels),
        items=tuple(
            item_input_from_proto(item, join(path, f"items[{index}]"), violations)
            for index, item in enumerate(message.items)
        ),
        destination=destination_input_from_proto(message.destination)
        if message.HasField("destination")
        else None,
        original_order=original_order_input_from_proto(
            message.original_order, join(path, "original_order"), violations
        )
        if message.HasField("original_order")
        else None,
    )


def quote_preferences_from_proto(
    message: rates_pb2.QuotePreferences, violations: Violations
) -> QuotePreferences:
    sort = _QUOTE_SORTS.get(message.sort)
    if sort is None:
        _known_enum(message.sort, _QUOTE_SORTS, "preferences.sort", violations, rates_pb2.QuoteSort.keys)
    handover = None
    if _known_enum(
        message.handover, _HANDOVERS, "preferences.handover", violations, common_pb2.Handover.keys
    ):
        handover = handover_from_proto(message.handover)
    return QuotePreferences(
        display_currency=message.display_currency,
        sort=sort or QuoteSort.CHEAPEST,
        carrier_account_ids=tuple(account.strip() for account in message.carrier_account_ids),
        max_transit_days=message.max_transit_days,
        handover=handover,
    )


# Rates: QuoteReturn responses ----------------------------------------------------------------------------

_CARRIER_ERROR_CODES: dict[str, rates_pb2.CarrierErrorCode.ValueType] = {
    "AUTHENTICATION_FAILED": rates_pb2.CARRIER_ERROR_CODE_AUTHENTICATION,
    "INVALID_REQUEST": rates_pb2.CARRIER_ERROR_CODE_INVALID_REQUEST,
    "NOT_FOUND": rates_pb2.CARRIER_ERROR_CODE_NOT_FOUND,
    "RATE_LIMITED": rates_pb2.CARRIER_ERROR_CODE_RATE_LIMITED,
    "UNAVAILABLE": rates_pb2.CARRIER_ERROR_CODE_UNAVAILABLE,
    "TIMEOUT": rates_pb2.CARRIER_ERROR_CODE_TIMEOUT,
    "UNSUPPORTED_LANE": rates_pb2.CARRIER_ERROR_CODE_UNSUPPORTED_LANE,
    "UNSUPPORTED_OPERATION": rates_pb2.CARRIER_ERROR_CODE_UNSUPPORTED_LANE,
    "MALFORMED_RESPONSE": rates_pb2.CARRIER_ERROR_CODE_MALFORMED_RESPONSE,
    "CIRCUIT_OPEN": rates_pb2.CARRIER_ERROR_CODE_CIRCUIT_OPEN,
}
_QUOTE_TAGS: dict[QuoteTag, rates_pb2.QuoteTag.ValueType] = {
    QuoteTag.CHEAPEST: rates_pb2.QUOTE_TAG_CHEAPEST,
    QuoteTag.FASTEST: rates_pb2.QUOTE_TAG_FASTEST,
}
_PAYERS: dict[ReturnCostPayer, rates_pb2.ReturnCostPayer.ValueType] = {
    ReturnCostPayer.MERCHANT: rates_pb2.RETURN_COST_PAYER_MERCHANT,
    ReturnCostPayer.CUSTOMER: rates_pb2.RETURN_COST_PAYER_CUSTOMER,
}


def carrier_error_code_to_proto(code: str) -> rates_pb2.CarrierErrorCode.ValueType:
    """A carriers.errors code; an untyped adapter failure (CARRIER_ERROR) counts as unavailable."""
    return _CARRIER_ERROR_CODES.get(code, rates_pb2.CARRIER_ERROR_CODE_UNAVAILABLE)


def timestamp_to_proto(value: dt.datetime) -> timestamp_pb2.Timestamp:
    seconds, nanos = _epoch(value)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


@functools.lru_cache(maxsize=64)
def _epoch(value: dt.datetime) -> tuple[int, int]:
    """(seconds, nanos) since the epoch; the quotes of one answer share their expiry, so it is cached."""
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(value)
    return message.seconds, message.nanos


def duration_to_proto(seconds: float) -> duration_pb2.Duration:
    message = duration_pb2.Duration()
    message.FromNanoseconds(round(seconds * 1e9))
    return message


def hub_to_proto(hub: Hub) -> common_pb2.ReturnsHub:
    return common_pb2.ReturnsHub(id=hub.id, name=hub.name, address=address_to_proto(hub.party.address))


def lane_performance_to_proto(lane: LanePerformance) -> rates_pb2.LanePerformance:
    message = rates_pb2.LanePerformance(sample_size=lane.sample_size, period_days=lane.period_days)
    if lane.reliability is not None:
        # The contract carries these figures as doubles: they are statistics, not money.
        message.reliability.CopyFrom(
            rates_pb2.LaneReliability(
                on_time_rate=float(lane.reliability.on_time_rate),
                p50_transit_days=float(lane.reliability.p50_transit_days),
                p90_transit_days=float(lane.reliability.p90_transit_days),
            )
        )
    else:
        message.unknown_reason = lane.unknown_reason
    return message


def carrier_to_proto(account_id: str, name: str, provider: str) -> common_pb2.Carrier:
    return common_pb2.Carrier(account_id=account_id, name=name, provider=provider)


@functools.lru_cache(maxsize=64)
def _label_formats_to_proto(
    formats: frozenset[LabelFormat],
) -> tuple[common_pb2.DocumentFormat.ValueType, ...]:
    return tuple(sorted(label_format_to_proto(f) for f in formats))


@functools.lru_cache(maxsize=8)
def _tags_to_proto(tags: frozenset[QuoteTag]) -> tuple[rates_pb2.QuoteTag.ValueType, ...]:
    return tuple(sorted(_QUOTE_TAGS[tag] for tag in tags))


def quote_to_proto(quote: Quote, hub: common_pb2.ReturnsHub | None = None) -> rates_pb2.Quote:
    """`hub`: the destination hub already converted."""
    message = rates_pb2.Quote()
    _QuoteWriter(hub).write(message, quote)
    return message


class _QuoteWriter:
    """Fills Quote messages in place. What quotes share (expiry, carrier, destination hub, label formats,
    lane figures) is built once per combination and copied in: an answer holds a dozen quotes or more."""

    __slots__ = ("_hub", "_shared")

    def __init__(self, hub: common_pb2.ReturnsHub | None = None) -> None:
        self._hub = hub  # the answer's destination hub, converted once
        self._shared: dict[tuple[object, ...], rates_pb2.Quote] = {}

    def write(self, message: rates_pb2.Quote, quote: Quote) -> None:
        key = (
            quote.account_id,
            quote.carrier,
            quote.provider,
            quote.expires_at,
            id(quote.hub),  # the hub object lives as long as the quotes that name it
            quote.label_formats,
            quote.lane_performance,
        )
        shared = self._shared.get(key)
        if shared is None:
            shared = self._shared[key] = self._shared_part(quote)
        message.CopyFrom(shared)
        message.quote_token = quote.token
        message.service_code = quote.service_code
        message.service_name = quote.service_name
        set_money(message.price, quote.price)
        for component in quote.components:
            part = message.price_components.add(code=component.code, description=component.description)
            set_money(part.amount, component.amount)
        if quote.display_price is not None:
            set_money(message.display_price, quote.display_price)
        if quote.transit_days:
            message.transit_days = quote.transit_days
        if quote.estimated_delivery is not None:
            set_date(message.estimated_delivery_date, quote.estimated_delivery)
        message.handover = handover_to_proto(quote.handover)
        if quote.tags:
            message.tags.extend(_tags_to_proto(quote.tags))

    def _shared_part(self, quote: Quote) -> rates_pb2.Quote:
        message = rates_pb2.Quote(label_formats=_label_formats_to_proto(quote.label_formats))
        message.expire_time.seconds, message.expire_time.nanos = _epoch(quote.expires_at)
        carrier = message.carrier
        carrier.account_id, carrier.name, carrier.provider = quote.account_id, quote.carrier, quote.provider
        if quote.hub is not None:
            message.destination_hub.CopyFrom(self._hub or hub_to_proto(quote.hub))
        if quote.lane_performance is not None:
            message.lane_performance.CopyFrom(lane_performance_to_proto(quote.lane_performance))
        return message


def carrier_quote_failure_to_proto(failure: CarrierQuoteFailure) -> rates_pb2.CarrierQuoteError:
    message = rates_pb2.CarrierQuoteError()
    _set_carrier_quote_failure(message, failure)
    return message


def _set_carrier_quote_failure(message: rates_pb2.CarrierQuoteError, failure: CarrierQuoteFailure) -> None:
    carrier = message.carrier
    carrier.account_id, carrier.name, carrier.provider = failure.account_id, failure.carrier, failure.provider
    message.code = carrier_error_code_to_proto(failure.code)
    message.message = failure.message
    message.retryable = failure.retryable
    message.field = failure.field
    if failure.retry_after_seconds is not None:
        message.retry_after.CopyFrom(duration_to_proto(failure.retry_after_seconds))


def policy_decision_to_proto(decision: PolicyDecision) -> rates_pb2.ReturnPolicyDecision:
    message = rates_pb2.ReturnPolicyDecision()
    _set_policy_decision(message, decision)
    return message


def _set_policy_decision(message: rates_pb2.ReturnPolicyDecision, decision: PolicyDecision) -> None:
    message.eligible = decision.eligible
    message.reason = decision.reason
    message.payer = _PAYERS[decision.payer]
    set_money(message.customer_fee, decision.customer_fee)
    message.policy_id = decision.policy_id
    if decision.window_end is not None:
        set_date(message.window_end_date, decision.window_end)


def quote_return_result_to_proto(result: QuoteReturnResult) -> rates_pb2.QuoteReturnResponse:
    # Filled in place: messages built apart and passed to the constructor would be copied once more.
    response = rates_pb2.QuoteReturnResponse(cross_border=result.cross_border)
    writer = _QuoteWriter(hub_to_proto(result.hub) if result.hub is not None else None)
    add_quote = response.quotes.add
    for quote in result.quotes:
        writer.write(add_quote(), quote)
    for failure in result.errors:
        _set_carrier_quote_failure(response.errors.add(), failure)
    set_date(response.fx_as_of, result.fx_as_of)
    _set_policy_decision(response.return_policy, result.return_policy)
    return response


# Labels ------------------------------------------------------------------------------------------------

_DOCUMENT_FORMATS = frozenset(common_pb2.DocumentFormat.values())
_LABEL_STATUSES = frozenset(labels_pb2.ReturnLabelStatus.values()) - {
    labels_pb2.RETURN_LABEL_STATUS_UNSPECIFIED
}


def create_label_request_from_proto(
    message: labels_pb2.CreateReturnLabelRequest, merchant_id: str
) -> CreateLabelRequest:
    violations = Violations()
    shipment = shipment_input_from_proto(message.shipment, "shipment", violations)
    rate: QuotedRate | ExplicitRate | None = None
    chosen = message.WhichOneof("rate")
    if chosen == "quote_token":
        rate = QuotedRate(message.quote_token)
    elif chosen == "explicit_rate":
        rate = ExplicitRate(message.explicit_rate.carrier_account_id, message.explicit_rate.service_code)
    label_format = None
    if message.label_format != common_pb2.DOCUMENT_FORMAT_UNSPECIFIED and _known_enum(
        message.label_format, _DOCUMENT_FORMATS, "label_format", violations, common_pb2.DocumentFormat.keys
    ):
        label_format = label_format_from_proto(message.label_format)
    violations.raise_if_any()
    return CreateLabelRequest(
        merchant_id=merchant_id,
        idempotency_key=message.idempotency_key,
        shipment=shipment,
        rate=rate,
        label_format=label_format,
        customer_locale=message.customer_locale,
    )


def label_status_to_proto(status: LabelStatus) -> labels_pb2.ReturnLabelStatus.ValueType:
    return labels_pb2.ReturnLabelStatus.Value(f"RETURN_LABEL_STATUS_{status.name}")


def label_query_from_proto(message: labels_pb2.ListReturnLabelsRequest) -> LabelQuery:
    violations = Violations()
    statuses: set[LabelStatus] = set()
    for index, value in enumerate(message.statuses):
        if _known_enum(
            value, _LABEL_STATUSES, f"statuses[{index}]", violations, labels_pb2.ReturnLabelStatus.keys
        ):
            statuses.add(
                LabelStatus[labels_pb2.ReturnLabelStatus.Name(value).removeprefix("RETURN_LABEL_STATUS_")]
            )
    query = LabelQuery(
        statuses=frozenset(statuses),
        carrier_account_ids=frozenset(a.strip() for a in message.carrier_account_ids if a.strip()),
        created_after=message.created_after.ToDatetime(dt.UTC) if message.HasField("created_after") else None,
        created_before=message.created_before.ToDatetime(dt.UTC)
        if message.HasField("created_before")
        else None,
        tracking_number="".join(message.tracking_number.split()).upper(),
    )
    violations.raise_if_any()
    return query


def _money_input_to_proto(money: MoneyInput) -> money_pb2.Money:
    units = int(money.amount)
    nanos = int((money.amount - units) * _NANOS)
    return money_pb2.Money(currency_code=money.currency_code, units=units, nanos=nanos)


def _address_input_to_proto(address: AddressInput) -> postal_address_pb2.PostalAddress:
    return postal_address_pb2.PostalAddress(
        region_code=address.region_code,
        address_lines=list(address.address_lines),
        locality=address.locality,
        postal_code=address.postal_code,
        administrative_area=address.administrative_area,
        organization=address.organization,
        recipients=list(address.recipients),
        language_code=address.language_code,
    )


def _party_input_to_proto(party: PartyInput) -> common_pb2.Party:
    message = common_pb2.Party()
    if party.contact is not None:
        contact = party.contact
        message.contact.CopyFrom(
            common_pb2.Contact(
                name=contact.name,
                email=contact.email,
                phone=contact.phone,
                tax_ids=[
                    common_pb2.TaxId(
                        scheme=common_pb2.TaxIdScheme.Value(f"TAX_ID_SCHEME_{scheme}"), value=value
                    )
                    for scheme, value in contact.tax_ids.items()
                    if f"TAX_ID_SCHEME_{scheme}" in _TAX_SCHEMES
                ],
            )
        )
    if party.address is not None:
        message.address.CopyFrom(_address_input_to_proto(party.address))
    return message


def _item_input_to_proto(item: ItemInput) -> common_pb2.ReturnedItem:
    message = common_pb2.ReturnedItem(
        sku=item.sku,
        description=item.description,
        hs_code=item.hs_code,
        origin_country=item.origin_country,
        quantity=item.quantity,
        unit_weight_grams=item.unit_weight_grams,
        condition=item_condition_to_proto(item.condition),
        return_reason=return_reason_to_proto(item.return_reason),
        return_reason_detail=item.return_reason_detail,
    )
    if item.unit_value is not None:
        message.unit_value.CopyFrom(_money_input_to_proto(item.unit_value))
    return message


def _original_order_input_to_proto(order: OriginalOrderInput) -> common_pb2.OriginalOrder:
    message = common_pb2.OriginalOrder(
        order_id=order.order_id,
        outbound_tracking_number=order.outbound_tracking_number,
        invoice_number=order.invoice_number,
        export_reference=order.export_reference,
        import_entry_number=order.import_entry_number,
    )
    if order.order_date is not None:
        message.order_date.CopyFrom(date_to_proto(order.order_date))
    if order.delivery_date is not None:
        message.delivery_date.CopyFrom(date_to_proto(order.delivery_date))
    if order.duties_paid is not None:
        message.duties_paid.CopyFrom(_money_input_to_proto(order.duties_paid))
    if order.taxes_paid is not None:
        message.taxes_paid.CopyFrom(_money_input_to_proto(order.taxes_paid))
    return message


def shipment_input_to_proto(shipment: ShipmentInput) -> common_pb2.ReturnShipment:
    """The shipment as the caller gave it (the inverse of shipment_input_from_proto)."""
    message = common_pb2.ReturnShipment(
        parcels=[
            common_pb2.Parcel(
                weight_grams=p.weight_grams, length_mm=p.length_mm, width_mm=p.width_mm, height_mm=p.height_mm
            )
            for p in shipment.parcels
        ],
        items=[_item_input_to_proto(item) for item in shipment.items],
    )
    if shipment.customer is not None:
        message.customer.CopyFrom(_party_input_to_proto(shipment.customer))
    destination = shipment.destination
    if destination is not None and destination.hub_id:
        message.destination.hub_id = destination.hub_id
    elif destination is not None and destination.address is not None:
        message.destination.address.CopyFrom(_address_input_to_proto(destination.address))
    if shipment.original_order is not None:
        message.original_order.CopyFrom(_original_order_input_to_proto(shipment.original_order))
    return message


def stored_document_to_proto(document: StoredDocument) -> common_pb2.Document:
    message = common_pb2.Document(
        id=document.id,
        kind=common_pb2.DocumentKind.Value(f"DOCUMENT_KIND_{document.kind.name}"),
        format=common_pb2.DocumentFormat.Value(f"DOCUMENT_FORMAT_{document.format.name}"),
        content_type=document.content_type,
        filename=document.filename,
        language_code=document.language_code,
        size_bytes=document.size_bytes,
    )
    if document.content is not None:
        message.content = document.content
    return message


def declaration_summary_to_proto(summary: DeclarationSummary) -> customs_pb2.CustomsDeclarationSummary:
    return customs_pb2.CustomsDeclarationSummary(
        form=customs_pb2.CustomsForm.Value(f"CUSTOMS_FORM_{summary.form.upper()}"),
        category=customs_pb2.CustomsCategory.Value(f"CUSTOMS_CATEGORY_{summary.category.upper()}"),
        total_value=money_to_proto(summary.total_value),
        total_net_weight_grams=summary.total_net_weight_grams,
        line_count=summary.line_count,
    )


def return_label_to_proto(view: LabelView) -> labels_pb2.ReturnLabel:
    record, plan = view.record, view.record.plan
    message = labels_pb2.ReturnLabel(
        id=record.id,
        status=label_status_to_proto(record.status),
        carrier=carrier_to_proto(plan.carrier_account_id, plan.carrier_name, plan.provider),
        service_code=plan.service_code,
        service_name=plan.service_name,
        tracking_number=record.tracking_number or "",
        customs_documents=[stored_document_to_proto(d) for d in view.customs_documents],
        tracking_token=view.tracking_token,
        shipment=shipment_input_to_proto(view.shipment),
        idempotency_key=record.idempotency_key,
        create_time=timestamp_to_proto(record.created_at),
        update_time=timestamp_to_proto(record.updated_at),
        customer_locale=plan.customer_locale,
    )
    if record.price is not None:
        message.price.CopyFrom(money_to_proto(record.price))
    label = view.document(DocumentKind.LABEL)
    if label is not None:
        message.label_document.CopyFrom(stored_document_to_proto(label))
    instructions = view.document(DocumentKind.RETURN_INSTRUCTIONS)
    if instructions is not None:
        message.instructions_document.CopyFrom(stored_document_to_proto(instructions))
    if view.hub is not None:
        message.destination_hub.CopyFrom(hub_to_proto(view.hub))
    if plan.declaration is not None:
        message.declaration_summary.CopyFrom(declaration_summary_to_proto(plan.declaration))
    if record.voided_at is not None:
        message.void_time.CopyFrom(timestamp_to_proto(record.voided_at))
    if view.reclaim_estimate is not None:
        _set_reclaim_summary(message.reclaim_estimate, view.reclaim_estimate)
    return message


def _set_reclaim_summary(message: customs_pb2.DutyReclaimSummary, summary: LabelReclaimSummary) -> None:
    message.claim_id = summary.claim_id
    message.status = claim_status_to_proto(summary.status)
    message.regime_id = summary.regime_id
    set_money(message.refundable_total, summary.refundable_total)
    if summary.filing_deadline is not None:
        set_date(message.filing_deadline, summary.filing_deadline)
    message.estimate = summary.estimated
    message.claim_ids.extend(summary.claim_ids)
    message.regime_ids.extend(summary.regime_ids)


# Customs: duty reclaim -----------------------------------------------------------------------------------
#
# CalculateDutyReclaim requests become a ReclaimCase; the case validates itself and names the failing field
# in domain terms (`import_entry.lines[1].returned_quantity`), which are mapped back to the request's
# (`lines[1].returned_quantity`). Results come back with lines in request order (the calculator orders them
# by line id).

_CHARGE_COMPONENTS: dict[int, ChargeComponent] = {
    customs_pb2.ChargeComponent.Value(f"CHARGE_COMPONENT_{c.name}"): c for c in ChargeComponent
}
_IMPORTER_TYPES: dict[int, ImporterType] = {
    customs_pb2.IMPORTER_TYPE_UNSPECIFIED: ImporterType.CONSUMER,
    **{customs_pb2.ImporterType.Value(f"IMPORTER_TYPE_{t.name}"): t for t in ImporterType},
}
_IMPORT_CHANNELS: dict[int, ImportChannel | None] = {
    customs_pb2.IMPORT_CHANNEL_UNSPECIFIED: None,
    **{customs_pb2.ImportChannel.Value(f"IMPORT_CHANNEL_{c.name}"): c for c in ImportChannel},
}
_PROOF_KINDS: dict[int, ProofOfExportKind] = {
    customs_pb2.ProofOfExportKind.Value(f"PROOF_OF_EXPORT_KIND_{k.name}"): k for k in ProofOfExportKind
}
_CLAIM_STATUSES: dict[int, ClaimStatus] = {
    customs_pb2.ReclaimClaimStatus.Value(f"RECLAIM_CLAIM_STATUS_{s.name}"): s for s in ClaimStatus
}
_CLAIM_ORDERS: dict[int, ClaimOrder] = {
    customs_pb2.RECLAIM_CLAIM_ORDER_UNSPECIFIED: ClaimOrder.FILING_DEADLINE,
    customs_pb2.RECLAIM_CLAIM_ORDER_FILING_DEADLINE_ASC: ClaimOrder.FILING_DEADLINE,
    customs_pb2.RECLAIM_CLAIM_ORDER_CREATE_TIME_DESC: ClaimOrder.NEWEST,
}
# Domain field prefixes of a ReclaimCase and the request fields they come from.
_RECLAIM_PATHS = (
    ("import_entry.country", "import_country"),
    ("import_entry.currency", "import_currency"),
    ("import_entry.shipped_from", "shipped_from_country"),
    ("import_entry.debt_notified_on", "debt_notification_date"),
    ("import_entry.entry_charges", "entry_charges"),
    ("import_entry.lines", "lines"),
    ("return_details.export_date", "export_date"),
    ("return_details.designated_imports", "designated_imports"),
)


def _enum_names(enum: Callable[[], list[str]], prefix: str) -> Callable[[], list[str]]:
    return lambda: [name.removeprefix(prefix) for name in enum() if not name.endswith("_UNSPECIFIED")]


def charge_component_to_proto(component: ChargeComponent) -> customs_pb2.ChargeComponent.ValueType:
    return customs_pb2.ChargeComponent.Value(f"CHARGE_COMPONENT_{component.name}")


def _charges_from_proto(
    items: Sequence[customs_pb2.ChargeAmount],
    path: str,
    violations: Violations,
    paths: dict[str, str],
    domain: str,
) -> ChargesPaid:
    """The amounts by component; `paths` learns where each component's amount is in the request."""
    amounts: dict[str, Money] = {}
    for index, item in enumerate(items):
        at = f"{path}[{index}]"
        component = _CHARGE_COMPONENTS.get(item.component)
        if component is None:
            names = ", ".join(c.name for c in ChargeComponent)
            violations.add(join(at, "component"), f"required, one of {names}")
            continue
        if component.value in amounts:
            violations.add(join(at, "component"), f"{component.name} is given twice")
            continue
        if not item.HasField("amount"):
            violations.add(join(at, "amount"), "required")
            continue
        money = money_from_proto(item.amount, join(at, "amount"), violations)
        if money is not None:
            amounts[component.value] = money
            paths[f"{domain}.{component.value}"] = join(at, "amount")
    return ChargesPaid.of(**amounts)


def _reclaim_request_path(field: str, paths: dict[str, str]) -> str:
    if field in paths:
        return paths[field]
    for domain, request in _RECLAIM_PATHS:
        if field == domain or field.startswith((domain + ".", domain + "[")):
            return request + field.removeprefix(domain)
    return field


def _required_date(message: date_pb2.Date, path: str, violations: Violations) -> dt.date | None:
    value = date_from_proto(message, path, violations)
    if value is None and message == date_pb2.Date():
        violations.add(path, "required")
    return value


def _reclaim_line_from_proto(
    message: customs_pb2.ReclaimEntryLine, index: int, violations: Violations, paths: dict[str, str]
) -> EntryLine | None:
    path = f"lines[{index}]"
    customs_value = optional_money(
        message.customs_value, message.HasField("customs_value"), join(path, "customs_value"), violations
    )
    if not message.HasField("customs_value"):
        violations.add(join(path, "customs_value"), "required")
    paid = _charges_from_proto(
        message.paid, join(path, "paid"), violations, paths, f"import_entry.{path}.paid"
    )
    export_value = optional_money(
        message.export_value, message.HasField("export_value"), join(path, "export_value"), violations
    )
    rebate = optional_money(
        message.price_rebate, message.HasField("price_rebate"), join(path, "price_rebate"), violations
    )
    if customs_value is None:
        return None
    return EntryLine(
        line_id=message.line_id.strip(),
        sku=message.sku.strip(),
        hs_code=message.hs_code,
        imported_quantity=message.imported_quantity,
        returned_quantity=message.returned_quantity,
        customs_value=customs_value,
        paid=paid,
        origin_country=message.origin_country.strip() or None,
        description=message.description,
        export_value=export_value,
        price_rebate=rebate,
    )


def _designated_from_proto(
    message: customs_pb2.DesignatedImport, index: int, violations: Violations, paths: dict[str, str]
) -> DesignatedImport | None:
    path = f"designated_imports[{index}]"
    imported = _required_date(message.import_date, join(path, "import_date"), violations)
    unit_paid = (
        _charges_from_proto(
            message.unit_paid, join(path, "unit_paid"), violations, paths, f"return_details.{path}.unit_paid"
        )
        if message.unit_paid
        else None
    )
    if imported is None:
        return None
    return DesignatedImport(
        sku=message.sku.strip(),
        hs_code=message.hs_code,
        entry_number=message.import_entry_number.strip(),
        import_date=imported,
        unit_paid=unit_paid,
    )


def _proof_from_proto(message: customs_pb2.ProofOfExport, violations: Violations) -> ProofOfExport | None:
    kind = _PROOF_KINDS.get(message.kind)
    if kind is None:
        names = ", ".join(k.name for k in ProofOfExportKind)
        violations.add("proof_of_export.kind", f"required, one of {names}")
    day = _required_date(message.date, "proof_of_export.date", violations)
    if kind is None or day is None:
        return None
    return ProofOfExport(kind, message.reference.strip(), day)


def reclaim_goods_used(request: customs_pb2.CalculateDutyReclaimRequest) -> bool | None:
    """As given; unset: from the condition (None), except that an unstated condition counts as possibly used
    (common.proto, ItemCondition), so no regime for unused goods applies."""
    if request.HasField("goods_used"):
        return request.goods_used
    return True if request.condition == common_pb2.ITEM_CONDITION_UNSPECIFIED else None


def reclaim_display_currency(
    request: customs_pb2.CalculateDutyReclaimRequest, violations: Violations
) -> str | None:
    """The display currency asked for; None: the import currency."""
    code = request.display_currency.strip()
    if not code:
        return None
    try:
        return validate_currency(code)
    except UnknownCurrency as exc:
        violations.add("display_currency", str(exc))
        return None


def reclaim_case_from_proto(
    request: customs_pb2.CalculateDutyReclaimRequest,
    violations: Violations,
    *,
    today: dt.date,
    export_date: dt.date | None = None,
    proof_of_export: ProofOfExport | None = None,
) -> ReclaimCase | None:
    """The case of a CalculateDutyReclaim request; None when `violations` says why there is none.

    `export_date` and `proof_of_export` stand in for what the request leaves unset (from its label). Without
    proof, an export date after `today`, or one taken from the label, is the expected one."""
    paths: dict[str, str] = {}
    import_date = _required_date(request.import_date, "import_date", violations)
    given_export = date_from_proto(request.export_date, "export_date", violations)
    export_day = given_export or export_date
    if export_day is None and request.export_date == date_pb2.Date():
        violations.add("export_date", "required, unless label_id names a label with a recorded reclaim")
    lines = [
        _reclaim_line_from_proto(line, index, violations, paths) for index, line in enumerate(request.lines)
    ]
    entry_charges = _charges_from_proto(
        request.entry_charges, "entry_charges", violations, paths, "import_entry.entry_charges"
    )
    designated = [
        _designated_from_proto(item, index, violations, paths)
        for index, item in enumerate(request.designated_imports)
    ]
    importer = _IMPORTER_TYPES.get(request.importer_type)
    if importer is None:
        violations.add("importer_type", f"unknown value {request.importer_type}")
    channel_known = _known_enum(
        request.import_channel,
        _IMPORT_CHANNELS,
        "import_channel",
        violations,
        _enum_names(customs_pb2.ImportChannel.keys, "IMPORT_CHANNEL_"),
    )
    _known_enum(
        request.return_reason, _RETURN_REASONS, "return_reason", violations, common_pb2.ReturnReason.keys
    )
    _known_enum(request.condition, _ITEM_CONDITIONS, "condition", violations, common_pb2.ItemCondition.keys)
    proof = (
        _proof_from_proto(request.proof_of_export, violations)
        if request.HasField("proof_of_export")
        else proof_of_export
    )
    debt_notified = date_from_proto(request.debt_notification_date, "debt_notification_date", violations)
    filing_date = date_from_proto(request.filing_date, "filing_date", violations)
    if violations.items or import_date is None or export_day is None or importer is None:
        return None
    try:
        return ReclaimCase(
            ImportEntry(
                country=request.import_country.strip(),
                import_date=import_date,
                currency=request.import_currency.strip(),
                entry_number=request.import_entry_number.strip(),
                importer_type=importer,
                lines=tuple(line for line in lines if line is not None),
                entry_charges=entry_charges,
                debt_notified_on=debt_notified,
                channel=_IMPORT_CHANNELS[request.import_channel] if channel_known else None,
                shipped_from=request.shipped_from_country.strip() or None,
                tax_collected_at_sale=request.tax_collected_at_sale
                if request.HasField("tax_collected_at_sale")
                else None,
                identification_filed_at_import=request.identification_filed_at_import,
            ),
            ReturnDetails(
                reason=return_reason_from_proto(request.return_reason),
                condition=item_condition_from_proto(request.condition),
                export_date=export_day,
                export_expected=proof is None and (given_export is None or export_day > today),
                used=reclaim_goods_used(request),
                proof_of_export=proof,
                designated_imports=tuple(item for item in designated if item is not None),
                filing_date=filing_date,
                no_commercial_value_at_entry=request.no_commercial_value_at_entry,
            ),
        )
    except InvalidReclaimCase as exc:
        violations.add(_reclaim_request_path(exc.field, paths), exc.message)
        return None


def _rule_basis(confirmed: bool) -> customs_pb2.RuleBasis.ValueType:
    return customs_pb2.RULE_BASIS_CONFIRMED if confirmed else customs_pb2.RULE_BASIS_UNCONFIRMED


def _set_date(target: date_pb2.Date, value: dt.date | None) -> None:
    if value is not None:
        target.CopyFrom(date_to_proto(value))


def _set_money(target: money_pb2.Money, value: Money | None) -> None:
    if value is not None:
        target.CopyFrom(money_to_proto(value))


def component_amount_to_proto(item: ComponentAmount) -> customs_pb2.ComponentAmount:
    message = customs_pb2.ComponentAmount(
        component=charge_component_to_proto(item.component), amount=money_to_proto(item.amount)
    )
    _set_money(message.display_amount, item.display)
    return message


def reclaim_warning_to_proto(warning: ReclaimWarning) -> customs_pb2.ReclaimWarning:
    return customs_pb2.ReclaimWarning(
        code=warning.code.value, message=warning.message, regime_id=warning.regime_id, line_id=warning.line_id
    )


def reclaim_form_to_proto(form: ReclaimForm) -> customs_pb2.ReclaimForm:
    return customs_pb2.ReclaimForm(code=form.code, name=form.name, authority=form.authority)


def reclaim_regime_to_proto(regime: Regime) -> customs_pb2.ReclaimRegime:
    message = customs_pb2.ReclaimRegime(
        id=regime.id,
        name=regime.name,
        jurisdiction=regime.market,
        legal_basis=regime.legal_basis,
        effective_from=date_to_proto(regime.effective_from),
        sources=[source.citation for source in regime.sources],
        claimant=regime.claimant,
    )
    _set_date(message.effective_to, regime.effective_to)
    return message


def _non_refundable_to_proto(item: NonRefundable) -> customs_pb2.NonRefundableCharge:
    return customs_pb2.NonRefundableCharge(
        line_id=item.line_id,
        component=charge_component_to_proto(item.component),
        amount=money_to_proto(item.amount),
        reason=item.reason,
    )


def _checks_to_proto(checks: Sequence[ConditionCheck]) -> list[customs_pb2.ReclaimConditionCheck]:
    return [customs_pb2.ReclaimConditionCheck(passed=check.passed, text=check.text) for check in checks]


def _four_places(value: Decimal) -> str:
    return f"{value:f}"


def _component_refund_to_proto(refund: ComponentRefund) -> customs_pb2.ReclaimComponentRefund:
    message = customs_pb2.ReclaimComponentRefund(
        component=charge_component_to_proto(refund.component),
        percent=f"{refund.percent.normalize():f}",
        line_paid=_four_places(refund.line_paid),
        line_eligible=_four_places(refund.line_eligible),
        unit_eligible=_four_places(refund.unit_eligible) if refund.unit_eligible is not None else "",
        paid=money_to_proto(refund.paid),
        refundable=money_to_proto(refund.refundable),
        estimate=refund.estimated,
        basis=_rule_basis(refund.confirmed),
    )
    _set_money(message.refundable_display, refund.refundable_display)
    return message


def _line_outcome_to_proto(outcome: LineRegimeOutcome) -> customs_pb2.ReclaimRegimeLineOutcome:
    message = customs_pb2.ReclaimRegimeLineOutcome(
        line_id=outcome.line_id,
        eligible=outcome.eligible,
        checks=_checks_to_proto(outcome.checks),
        refunds=[_component_refund_to_proto(refund) for refund in outcome.refunds],
        not_refundable=[_non_refundable_to_proto(item) for item in outcome.not_refundable],
        refundable_total=money_to_proto(outcome.refundable_total),
        late=outcome.late,
    )
    _set_date(message.export_deadline, outcome.export_deadline)
    _set_date(message.filing_deadline, outcome.filing_deadline)
    return message


def _in_request_order(line_ids: Sequence[str], key: Callable[[T], str], items: Sequence[T]) -> list[T]:
    """`items` ordered as the request's lines (stable within a line); items of no line come first."""
    position = {line_id: index for index, line_id in enumerate(line_ids)}
    return sorted(items, key=lambda item: position.get(key(item), -1))


def _regime_assessment_to_proto(
    assessment: RegimeAssessment, line_ids: Sequence[str]
) -> customs_pb2.ReclaimRegimeAssessment:
    regime = assessment.regime
    message = customs_pb2.ReclaimRegimeAssessment(
        regime=reclaim_regime_to_proto(regime),
        eligible=assessment.eligible,
        reasons=[check.text for check in assessment.checks],
        refundable=[component_amount_to_proto(item) for item in assessment.refundable],
        refundable_total=money_to_proto(assessment.refundable_total),
        forms=[reclaim_form_to_proto(form) for form in regime.forms],
        documents=list(regime.documents),
        basis=_rule_basis(assessment.basis_confirmed),
        in_effect=assessment.in_effect,
        unconfirmed_points=list(assessment.unconfirmed_points),
        warnings=[reclaim_warning_to_proto(w) for w in assessment.warnings],
        lines=[
            _line_outcome_to_proto(outcome)
            for outcome in _in_request_order(line_ids, lambda o: o.line_id, assessment.lines)
        ],
        proof_of_export=list(regime.proof_of_export),
        below_minimum=assessment.below_minimum,
        checks=_checks_to_proto(assessment.checks),
    )
    _set_money(message.refundable_total_display, assessment.refundable_total_display)
    _set_date(message.filing_deadline, assessment.filing_deadline)
    _set_date(message.export_deadline, assessment.export_deadline)
    _set_money(message.minimum_claim, assessment.minimum_claim)
    return message


def _line_result_to_proto(line: EntryLine, result: LineAssessment | None) -> customs_pb2.ReclaimLineResult:
    message = customs_pb2.ReclaimLineResult(
        line_id=line.line_id, sku=line.sku, hs_code=line.hs_code, returned_quantity=line.returned_quantity
    )
    if result is None:  # a line only there for the apportionment of entry charges
        message.refundable_total.CopyFrom(money_to_proto(Money.zero(line.customs_value.currency)))
        return message
    message.paid.extend(component_amount_to_proto(item) for item in result.paid)
    message.refundable.extend(component_amount_to_proto(item) for item in result.refundable)
    message.estimate = result.estimated
    message.estimate_source = "; ".join(result.estimate_sources)
    message.estimate_sources.extend(result.estimate_sources)
    message.estimated_components.extend(
        charge_component_to_proto(c) for c in ChargeComponent if c in result.estimated_components
    )
    message.refundable_total.CopyFrom(money_to_proto(result.refundable_total))
    _set_money(message.refundable_total_display, result.refundable_total_display)
    return message


def _de_minimis_to_proto(decision: DeMinimisDecision) -> customs_pb2.DeMinimisOutcome:
    message = customs_pb2.DeMinimisOutcome(
        rule_id=decision.rule_id or "",
        duty=decision.duty.value,
        import_tax_due=decision.import_tax_due,
        tax_collected_at_sale=decision.tax_collected_at_sale,
        basis=_rule_basis(decision.confirmed),
        source=decision.source,
        explanation=decision.explanation,
    )
    _set_money(message.flat_duty, decision.flat_duty)
    return message


def reclaim_assessment_to_proto(
    assessment: ReclaimAssessment, case: ReclaimCase
) -> customs_pb2.CalculateDutyReclaimResponse:
    lines = case.import_entry.lines
    line_ids = [line.line_id for line in lines]
    results = {line.line_id: line for line in assessment.lines}
    response = customs_pb2.CalculateDutyReclaimResponse(
        lines=[_line_result_to_proto(line, results.get(line.line_id)) for line in lines],
        total_refundable=[component_amount_to_proto(item) for item in assessment.refundable],
        total_refundable_amount=money_to_proto(assessment.refundable_total),
        regimes=[_regime_assessment_to_proto(regime, line_ids) for regime in assessment.regimes],
        best_regime_id=assessment.best[0] if assessment.best else "",
        best_regime_ids=list(assessment.best),
        not_refundable=[
            _non_refundable_to_proto(item)
            for item in _in_request_order(line_ids, lambda n: n.line_id, assessment.not_refundable)
        ],
        forms=[reclaim_form_to_proto(form) for form in assessment.forms],
        documents=list(assessment.documents),
        proof_of_export=list(assessment.proof_of_export),
        warnings=[reclaim_warning_to_proto(w) for w in assessment.warnings],
        basis=_rule_basis(assessment.basis_confirmed),
        unconfirmed_points=list(assessment.unconfirmed_points),
        estimate=assessment.estimated,
        market=assessment.market,
        fx_source=assessment.fx_source,
        import_currency=assessment.import_currency,
        display_currency=assessment.display_currency,
    )
    _set_money(response.total_refundable_display_amount, assessment.refundable_total_display)
    _set_date(response.filing_deadline, assessment.filing_deadline)
    _set_date(response.fx_as_of, assessment.fx_as_of)
    if assessment.de_minimis is not None:
        response.de_minimis.CopyFrom(_de_minimis_to_proto(assessment.de_minimis))
    return response


# Reclaim claims ------------------------------------------------------------------------------------------


def claim_status_to_proto(status: ClaimStatus) -> customs_pb2.ReclaimClaimStatus.ValueType:
    return customs_pb2.ReclaimClaimStatus.Value(f"RECLAIM_CLAIM_STATUS_{status.name}")


def claim_query_from_proto(
    request: customs_pb2.ListReclaimClaimsRequest, merchant_id: str, violations: Violations
) -> ClaimQuery:
    statuses: set[ClaimStatus] = set()
    for index, value in enumerate(request.statuses):
        status = _CLAIM_STATUSES.get(value)
        if status is None:
            names = ", ".join(s.name for s in ClaimStatus)
            violations.add(f"statuses[{index}]", f"unknown or unset status {value}; expected one of {names}")
        else:
            statuses.add(status)
    order = _CLAIM_ORDERS.get(request.order_by)
    if order is None:
        violations.add(
            "order_by", f"unknown value {request.order_by}; expected FILING_DEADLINE_ASC or CREATE_TIME_DESC"
        )
    return ClaimQuery(
        merchant_id=merchant_id,
        statuses=frozenset(statuses),
        deadline_on_or_before=date_from_proto(request.deadline_before, "deadline_before", violations),
        label_id=request.label_id.strip(),
        order=order or ClaimOrder.FILING_DEADLINE,
    )


def _export_evidence_to_proto(item: RecordedEvidence) -> customs_pb2.ExportEvidence:
    evidence = item.evidence
    return customs_pb2.ExportEvidence(
        milestone=customs_pb2.ExportMilestone.Value(f"EXPORT_MILESTONE_{evidence.milestone.name}"),
        time=timestamp_to_proto(evidence.occurred_at),
        country=evidence.country or "",
        reference=evidence.reference,
        tracking_cursor=item.cursor,
    )


def _audit_entry_to_proto(entry: AuditEntry) -> customs_pb2.ReclaimClaimEvent:
    message = customs_pb2.ReclaimClaimEvent(
        time=timestamp_to_proto(entry.at),
        status=claim_status_to_proto(entry.status),
        description=entry.description,
        tracking_cursor=entry.tracking_cursor,
        actor=entry.actor,
    )
    if entry.evidence is not None:
        message.evidence.CopyFrom(_export_evidence_to_proto(entry.evidence))
    return message


def reclaim_claim_to_proto(claim: StoredClaim, regime: Regime | None) -> customs_pb2.ReclaimClaim:
    """`regime`: the version the claim was decided under (None for a NOT_ELIGIBLE record)."""
    message = customs_pb2.ReclaimClaim(
        id=claim.id,
        label_id=claim.label_id,
        status=claim_status_to_proto(claim.status),
        import_country=claim.import_country,
        import_entry_number=claim.entry_number,
        refundable_total=money_to_proto(claim.refundable_total),
        refundable=[component_amount_to_proto(item) for item in claim.refundable],
        estimate=claim.amounts_estimated,
        basis=_rule_basis(claim.basis_confirmed),
        audit_trail=[_audit_entry_to_proto(entry) for entry in claim.audit_trail],
        create_time=timestamp_to_proto(claim.created_at),
        update_time=timestamp_to_proto(claim.updated_at),
        market=claim.market,
        export_proven=claim.export_proven,
        destination_country=claim.destination_country or "",
        warnings=[reclaim_warning_to_proto(w) for w in claim.warnings],
        unconfirmed_points=list(claim.unconfirmed_points),
        filing_reference=claim.filing_reference,
        evidence=[_export_evidence_to_proto(item) for item in claim.evidence],
        return_reason=return_reason_to_proto(claim.return_reason),
        condition=item_condition_to_proto(claim.item_condition),
        skus=list(claim.skus),
    )
    if regime is not None:
        message.regime.CopyFrom(reclaim_regime_to_proto(regime))
        message.forms.extend(reclaim_form_to_proto(form) for form in regime.forms)
    _set_date(message.filing_deadline, claim.filing_deadline)
    _set_date(message.export_deadline, claim.export_deadline)
    _set_date(message.export_date, claim.export_date)
    _set_date(message.import_date, claim.import_date)
    if claim.export_proven and claim.export_date is not None:
        message.proof_of_export.CopyFrom(
            customs_pb2.ProofOfExport(
                kind=customs_pb2.PROOF_OF_EXPORT_KIND_CARRIER_TRACKING,
                reference=claim.tracking_number,
                date=date_to_proto(claim.export_date),
            )
        )
    return message


# Tracking exception reasons ------------------------------------------------------------------------------

EXCEPTION_REASON_TO_PROTO: dict[ExceptionReason, tracking_pb2.ExceptionReason.ValueType] = {
    reason: tracking_pb2.ExceptionReason.Value(f"EXCEPTION_REASON_{reason.name}")
    for reason in ExceptionReason
}
EXCEPTION_REASON_FROM_PROTO = {value: reason for reason, value in EXCEPTION_REASON_TO_PROTO.items()}
