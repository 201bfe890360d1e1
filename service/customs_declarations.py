"""Previewing the customs declaration of a return, without buying anything.

The lane decides first: a return that stays inside one customs territory needs no declaration and gets
none. Otherwise the declaration is built by customs.declaration with the configured FX table (thresholds
only), or every problem comes back at once. The builder names fields of its own DeclarationRequest
(`sender`, `addressee`, `items[1].hs_code`, `gross_weight_grams`); a preview names them as the caller wrote
them in the return (`shipment.customer`, `shipment.destination`, `shipment.items[1].hs_code`,
`shipment.parcels`), so a client can point at the field to fix. Each problem also gets a stable code:
`<FIELD>_MISSING` for an empty field, `<FIELD>_INVALID` otherwise, `<SCHEME>_REQUIRED` for a tax id a lane
needs, `HS_CODE_UNKNOWN` for a well-formed code absent from the edition.

Choices the contract leaves open:
- The customer signs the certification on the declaration date; the parcels' weights make the gross weight.
- Parcels travel as parcels (mail class PARCEL), so the form is CN 23; CN 22 needs a letter-post service,
  which no configured carrier account declares.
- A destination given as an address carries no tax ids; a lane that needs the importer's EORI there asks
  for a configured hub instead.
- When a country cannot be read or the named hub does not exist, whether the lane crosses a border is
  unknown: the preview says a declaration is required and reports the field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from carriers.models import Parcel
from customs.address import Address, Contact, Party
from customs.countries import UnknownCountry
from customs.declaration import (
    Certification,
    CustomsDeclaration,
    DeclarationInvalid,
    DeclarationRequest,
    DutyPayer,
    Incoterm,
    NonDeliveryOption,
    build_customs_declaration,
    declaration_required,
    declaration_rules,
)
from customs.declaration.requirements import PartyRole
from customs.goods import OriginalOrder, ReturnedItem
from customs.hs import InvalidHsCode, normalize_hs_digits
from customs.money import FxTable, MissingFxRate, Money
from service.errors import FailedPrecondition, FieldViolation
from service.quoting.hubs import HubDirectory

SHIPMENT = "shipment"
_MISSING_PREFIXES = ("required", "is required", "must be set", "at least one")
_SEGMENT = re.compile(r"([A-Za-z_]+)(?:\[(\d+)\])?")
# DeclarationRequest names address fields as google.type.PostalAddress does; Address calls them otherwise.
_ADDRESS_ATTRIBUTES = {"region_code": "country", "address_lines": "lines"}


@dataclass(frozen=True, slots=True)
class DeclarationOptions:
    declaration_date: dt.date
    incoterm: Incoterm | None = Incoterm.DAP  # None: the caller asked for one that cannot be declared
    duty_payer: DutyPayer = DutyPayer.ADDRESSEE
    non_delivery_option: NonDeliveryOption = NonDeliveryOption.RETURN
    carrier_account_id: str = ""


@dataclass(frozen=True, slots=True)
class ReturnForCustoms:
    """A return as the caller gave it, converted but not judged; the destination not yet resolved."""

    customer: Party
    parcels: tuple[Parcel, ...]
    items: tuple[ReturnedItem, ...]
    original_order: OriginalOrder = field(default_factory=OriginalOrder)
    destination_hub_id: str = ""  # a configured hub named by the caller
    destination_address: Address | None = None  # or any address; neither: routed by customer country


@dataclass(frozen=True, slots=True)
class DeclarationProblem:
    field: str  # path in the request, e.g. "shipment.items[1].hs_code"
    code: str  # stable, e.g. "HS_CODE_UNKNOWN", "ORIGIN_COUNTRY_MISSING", "EORI_REQUIRED"
    message: str


@dataclass(frozen=True, slots=True)
class DeclarationPreview:
    customs_required: bool
    declaration: CustomsDeclaration | None  # None when not required or when there are problems
    problems: tuple[DeclarationProblem, ...]
    importer_reference: str = ""  # the addressee's tax id a lane rule asked for, when one did


@dataclass(frozen=True, slots=True)
class _Destination:
    party: Party
    hub_id: str  # "" for an address


class _Problems:
    """Problems in the order found, one per field (the first reason wins)."""

    def __init__(self) -> None:
        self._found: dict[str, DeclarationProblem] = {}

    def add(self, field_path: str, code: str, message: str) -> None:
        self._found.setdefault(field_path, DeclarationProblem(field_path, code, message))

    def __bool__(self) -> bool:
        return bool(self._found)

    def all(self) -> tuple[DeclarationProblem, ...]:
        return tuple(self._found.values())


def _leaf(path: str) -> str:
    last = path.rsplit(".", 1)[-1]
    return last.split("[", 1)[0]


def _kind_code(path: str, message: str, blank: bool) -> str:
    missing = blank or message.startswith(_MISSING_PREFIXES)
    return f"{_leaf(path).upper()}_{'MISSING' if missing else 'INVALID'}"


def _value_at(root: object, path: str) -> object:
    """The value a DeclarationRequest path names, or None when it cannot be followed."""
    value: object = root
    for part in path.split("."):
        match = _SEGMENT.fullmatch(part)
        if match is None or value is None:
            return None
        name, index = match.groups()
        if isinstance(value, Mapping):
            value = next((v for k, v in value.items() if str(k).upper() == name.upper()), None)
        else:
            value = getattr(value, _ADDRESS_ATTRIBUTES.get(name, name), None)
        if index is not None:
            if not isinstance(value, Sequence) or int(index) >= len(value):
                return None
            value = value[int(index)]
    return value


def _is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, Money):
        return value.amount == 0
    if isinstance(value, int | Decimal):
        return value == 0
    if isinstance(value, Sequence):
        return not any(not _is_blank(v) for v in value)
    return False


def _builder_code(path: str, message: str, request: DeclarationRequest) -> str:
    value = _value_at(request, path)
    if ".tax_ids." in path:
        scheme = _leaf(path).upper()
        return f"{scheme}_REQUIRED" if message.startswith("required") else f"{scheme}_INVALID"
    if _leaf(path) == "hs_code" and isinstance(value, str) and value.strip():
        try:
            normalize_hs_digits(value)
        except InvalidHsCode:
            return "HS_CODE_INVALID"
        return "HS_CODE_UNKNOWN"  # well-formed, so the edition in force lacks it
    return _kind_code(path, message, _is_blank(value))


class CustomsDeclarations:
    """The declarations use case: previews now; the labels use case builds the same declaration."""

    def __init__(
        self,
        *,
        fx: FxTable,
        hubs: HubDirectory,
        carrier_account_ids: Collection[str],
        certification_statement: str,
    ) -> None:
        self._fx = fx
        self._hubs = hubs
        self._accounts = frozenset(carrier_account_ids)
        self.certification_statement = certification_statement

    def preview(
        self,
        shipment: ReturnForCustoms,
        options: DeclarationOptions,
        input_problems: Sequence[FieldViolation] = (),
    ) -> DeclarationPreview:
        """The declaration the return would carry, or every problem with its request path.

        `input_problems` are what converting the request already found (unreadable money or dates); they
        count only when a declaration is needed, and come first.
        """
        problems = _Problems()
        for violation in input_problems:
            problems.add(
                violation.field,
                _kind_code(violation.field, violation.description, False),
                violation.description,
            )
        destination = self._destination(shipment, problems)
        if destination is None:
            return DeclarationPreview(customs_required=True, declaration=None, problems=problems.all())
        try:
            crossing = declaration_required(
                shipment.customer.address.country, destination.party.address.country
            )
        except UnknownCountry:
            crossing = True  # unknown: the builder names the country
        if not crossing:
            return DeclarationPreview(customs_required=False, declaration=None, problems=())
        self._check_carrier_account(options.carrier_account_id, destination, problems)
        return self._declare(shipment, destination, options, problems)

    def _destination(self, shipment: ReturnForCustoms, problems: _Problems) -> _Destination | None:
        if shipment.destination_hub_id:
            hub = self._hubs.get(shipment.destination_hub_id)
            if hub is None:
                known = ", ".join(h.id for h in self._hubs.hubs)
                problems.add(
                    f"{SHIPMENT}.destination.hub_id",
                    "HUB_ID_INVALID",
                    f"no returns hub {shipment.destination_hub_id!r} is configured (configured: {known})",
                )
                return None
            return _Destination(hub.party, hub.id)
        address = shipment.destination_address
        if address is not None:
            name = next((r.strip() for r in address.recipients if r.strip()), address.organization.strip())
            return _Destination(Party(Contact(name), address), "")
        hub = self._hubs.route(shipment.customer.address.country.strip().upper())
        return _Destination(hub.party, hub.id)

    def _check_carrier_account(self, account_id: str, destination: _Destination, problems: _Problems) -> None:
        if not account_id:
            return
        if account_id not in self._accounts:
            problems.add(
                "carrier_account_id",
                "CARRIER_ACCOUNT_ID_INVALID",
                f"no carrier account {account_id!r} is configured",
            )
            return
        hub = self._hubs.get(destination.hub_id) if destination.hub_id else None
        if hub is not None and not hub.accepts(account_id):
            problems.add(
                "carrier_account_id",
                "CARRIER_ACCOUNT_NOT_ACCEPTED",
                f"returns hub {hub.id} takes in no parcels of carrier account {account_id!r}",
            )

    def _declare(
        self,
        shipment: ReturnForCustoms,
        destination: _Destination,
        options: DeclarationOptions,
        problems: _Problems,
    ) -> DeclarationPreview:
        parcels_wrong = self._check_parcels(shipment.parcels, problems)
        request = DeclarationRequest(
            sender=shipment.customer,
            addressee=destination.party,
            items=shipment.items,
            original_order=shipment.original_order,
            declaration_date=options.declaration_date,
            gross_weight_grams=sum(p.weight_grams for p in shipment.parcels if p.weight_grams > 0),
            incoterm=options.incoterm,
            duty_payer=options.duty_payer,
            non_delivery_option=options.non_delivery_option,
            certification=Certification(shipment.customer.contact.name, options.declaration_date),
        )
        try:
            declaration = build_customs_declaration(request, self._fx)
        except DeclarationInvalid as invalid:
            for problem in invalid.problems:
                if parcels_wrong and problem.path == "gross_weight_grams":
                    continue  # the parcel at fault is named already
                field_path, message = _request_field(problem.path, problem.message, destination)
                problems.add(field_path, _builder_code(problem.path, problem.message, request), message)
            declaration = None
        except MissingFxRate as exc:
            raise FailedPrecondition(
                f"the FX table of {self._fx.as_of} has no rate from {exc.source} to {exc.target}, "
                "which the declaration's value thresholds need",
                reason="FX_RATE_MISSING",
            ) from exc
        if problems or declaration is None:
            return DeclarationPreview(customs_required=True, declaration=None, problems=problems.all())
        return DeclarationPreview(
            customs_required=True,
            declaration=declaration,
            problems=(),
            importer_reference=importer_reference(declaration),
        )

    @staticmethod
    def _check_parcels(parcels: Sequence[Parcel], problems: _Problems) -> bool:
        if not parcels:
            problems.add(
                f"{SHIPMENT}.parcels",
                "PARCELS_MISSING",
                "at least one parcel is required: the parcels' weight is the declaration's gross weight",
            )
            return True
        wrong = False
        for index, parcel in enumerate(parcels):
            if parcel.weight_grams <= 0:
                path = f"{SHIPMENT}.parcels[{index}].weight_grams"
                problems.add(
                    path,
                    _kind_code(path, "", parcel.weight_grams == 0),
                    f"must be more than 0 g, got {parcel.weight_grams}",
                )
                wrong = True
        return wrong


def _request_field(path: str, message: str, destination: _Destination) -> tuple[str, str]:
    """A DeclarationRequest path as the request field to fix, with the message adjusted where needed."""
    root, _, rest = path.partition(".")
    if root == "sender":
        if rest.startswith("contact.tax_ids"):
            return f"{SHIPMENT}.customer.contact.tax_ids", f"{_leaf(path).upper()}: {message}"
        return f"{SHIPMENT}.customer.{rest}", message
    if root == "addressee":
        if destination.hub_id:
            # The hub's data comes from configuration, not from the caller.
            return f"{SHIPMENT}.destination", f"returns hub {destination.hub_id}: {rest}: {message}"
        if rest == "contact.name":
            return f"{SHIPMENT}.destination.address.recipients", f"the addressee's name: {message}"
        if rest.startswith("address."):
            return f"{SHIPMENT}.destination.{rest}", message
        return (
            f"{SHIPMENT}.destination",
            f"{message}; an address destination carries no tax ids: name a configured returns hub instead",
        )
    if root.startswith("items"):
        field_path = f"{SHIPMENT}.{path}"
        if field_path.endswith(".unit_value.currency"):
            field_path += "_code"
        return field_path, message
    if root == "original_order":
        return f"{SHIPMENT}.{path}", message
    if root in {"gross_weight_grams", "mail_class"}:
        return f"{SHIPMENT}.parcels", message
    if path in {"certification", "certification.signer_name"}:
        return f"{SHIPMENT}.customer.contact.name", f"the customer signs the declaration: {message}"
    if path == "certification.signed_on":
        return "declaration_date", message
    if root == "aes_itn":
        # This return's own US export filing has no request field; the items' values call for it.
        return f"{SHIPMENT}.items", message
    return path, message


def importer_reference(declaration: CustomsDeclaration) -> str:
    """The addressee's tax id that an applied lane rule asked for ("" when no rule asked for one)."""
    applied = set(declaration.rules_applied)
    tax_ids = declaration.addressee.contact.tax_ids
    for rule in declaration_rules().tax_ids:
        if rule.rule.id in applied and rule.party is PartyRole.ADDRESSEE:
            value = next((v for k, v in tax_ids.items() if k.strip().upper() == rule.scheme), "")
            if value.strip():
                return value.strip()
    return ""
