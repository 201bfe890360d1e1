"""Turning a ShipmentInput into a routed ReturnShipment, reporting every bad field at once.

Paths are those of the request message (`customer.address.region_code`, `parcels[0].weight_grams`,
`items[1].unit_value.currency_code`), prefixed when the shipment is nested (CreateReturnLabel: `shipment.`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection
from dataclasses import dataclass

from carriers.models import Parcel, ReturnShipment
from customs.address import Address, Contact, Party
from customs.countries import uses_postal_codes, validate_country, validate_subdivision
from customs.declaration import declaration_required
from customs.goods import OriginalOrder, ReturnedItem
from customs.hs import HsEditionUnavailable, InvalidHsCode, normalize_hs_digits, validate_hs_code
from customs.money import FxTable, MissingFxRate, Money, UnknownCurrency, validate_currency
from service.errors import FieldViolation, InvalidArgument
from service.quoting.hubs import Hub, HubDirectory
from service.quoting.request import (
    AddressInput,
    ItemInput,
    MoneyInput,
    OriginalOrderInput,
    PartyInput,
    QuotePreferences,
    ShipmentInput,
)


@dataclass(frozen=True, slots=True)
class RoutedShipment:
    shipment: ReturnShipment
    hub: Hub | None  # None when the caller gave an address instead of a hub


@functools.lru_cache(maxsize=4096)
def crosses_customs_border(origin: str, destination: str, on: dt.date) -> bool:
    """declaration_required(origin, destination, on): a lookup in packaged data, made for every quote."""
    return declaration_required(origin, destination, on)


class _Violations:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.found: list[FieldViolation] = []

    def add(self, path: str, description: str) -> None:
        self.found.append(FieldViolation(self.prefix + path, description))


def validate_shipment(
    data: ShipmentInput, hubs: HubDirectory, *, today: dt.date, prefix: str = ""
) -> tuple[RoutedShipment | None, list[FieldViolation]]:
    """The routed shipment, or None and the violations (never both missing)."""
    violations = _Violations(prefix)
    customer = _party(data.customer, "customer", violations)
    destination, hub = _destination(data, customer, hubs, violations)
    parcels = tuple(_parcel(p, f"parcels[{i}]", violations) for i, p in enumerate(data.parcels))
    if not data.parcels:
        violations.add("parcels", "at least one parcel is required")
    items = [_item(item, f"items[{i}]", today, violations) for i, item in enumerate(data.items)]
    order = _original_order(data.original_order, today, violations)
    if (
        customer
        and destination
        and not data.items
        and crosses_customs_border(customer.address.country, destination.address.country, today)
    ):
        lane = f"{customer.address.country} → {destination.address.country}"
        violations.add("items", f"required: the return crosses a customs border ({lane})")
    if violations.found or customer is None or destination is None:
        return None, violations.found
    shipment = ReturnShipment(
        customer=customer,
        destination=destination,
        destination_hub_id=hub.id if hub else "",
        parcels=parcels,
        items=tuple(item for item in items if item is not None),
        original_order=order,
    )
    return RoutedShipment(shipment, hub), []


def build_return_shipment(
    data: ShipmentInput, hubs: HubDirectory, *, today: dt.date, prefix: str = ""
) -> RoutedShipment:
    """The routed shipment, or InvalidArgument listing every bad field."""
    routed, violations = validate_shipment(data, hubs, today=today, prefix=prefix)
    if routed is None:
        raise InvalidArgument(violations)
    return routed


def preference_violations(
    preferences: QuotePreferences, *, account_ids: Collection[str], fx: FxTable
) -> list[FieldViolation]:
    violations = _Violations("preferences.")
    if preferences.display_currency:
        _display_currency(preferences.display_currency, fx, "display_currency", violations)
    for index, account_id in enumerate(preferences.carrier_account_ids):
        if account_id not in account_ids:
            violations.add(
                f"carrier_account_ids[{index}]", f"no carrier account {account_id!r} is configured"
            )
    if preferences.max_transit_days < 0:
        violations.add("max_transit_days", "must not be negative (0 means no limit)")
    return violations.found


def _display_currency(code: str, fx: FxTable, path: str, violations: _Violations) -> None:
    try:
        fx.rate(fx.base, code)
    except UnknownCurrency as exc:
        violations.add(path, str(exc))
    except MissingFxRate:
        violations.add(path, f"no FX rate for {code} in the table of {fx.as_of.isoformat()}")


def _address(data: AddressInput | None, path: str, violations: _Violations) -> Address | None:
    if data is None:
        violations.add(path, "required")
        return None
    before = len(violations.found)
    country = ""
    try:
        country = validate_country(data.region_code)
    except ValueError as exc:
        violations.add(f"{path}.region_code", str(exc))
    if not any(line.strip() for line in data.address_lines):
        violations.add(f"{path}.address_lines", "at least one address line is required")
    if not data.locality.strip():
        violations.add(f"{path}.locality", "a city or locality is required")
    if country and not data.postal_code.strip() and uses_postal_codes(country):
        violations.add(f"{path}.postal_code", f"a postal code is required for addresses in {country}")
    if country and data.administrative_area.strip():
        try:
            validate_subdivision(country, data.administrative_area)
        except ValueError as exc:
            violations.add(f"{path}.administrative_area", str(exc))
    if len(violations.found) > before:
        return None
    return Address(
        country=country,
        lines=data.address_lines,
        locality=data.locality,
        postal_code=data.postal_code,
        administrative_area=data.administrative_area,
        organization=data.organization,
        recipients=data.recipients,
        language_code=data.language_code,
    ).validated()


def _party(data: PartyInput | None, path: str, violations: _Violations) -> Party | None:
    if data is None:
        violations.add(path, "required")
        return None
    address = _address(data.address, f"{path}.address", violations)
    contact = data.contact
    if address is None:
        return None
    if contact is None:
        return Party(Contact(""), address)
    return Party(
        Contact(contact.name.strip(), contact.email.strip(), contact.phone.strip(), dict(contact.tax_ids)),
        address,
    )


def _destination(
    data: ShipmentInput, customer: Party | None, hubs: HubDirectory, violations: _Violations
) -> tuple[Party | None, Hub | None]:
    target = data.destination
    if target is not None and target.hub_id and target.address is not None:
        violations.add("destination", "give a hub_id or an address, not both")
        return None, None
    if target is not None and target.hub_id:
        hub = hubs.get(target.hub_id)
        if hub is None:
            known = ", ".join(h.id for h in hubs.hubs)
            violations.add("destination.hub_id", f"no hub {target.hub_id!r} (configured: {known})")
            return None, None
        return hub.party, hub
    if target is not None and target.address is not None:
        address = _address(target.address, "destination.address", violations)
        if address is None:
            return None, None
        name = target.address.organization or "Returns"
        return Party(Contact(name), address), None
    if customer is None:
        return None, None
    hub = hubs.route(customer.address.country)
    return hub.party, hub


def _parcel(parcel: Parcel, path: str, violations: _Violations) -> Parcel:
    for name in ("weight_grams", "length_mm", "width_mm", "height_mm"):
        if getattr(parcel, name) <= 0:
            violations.add(f"{path}.{name}", f"must be greater than zero, got {getattr(parcel, name)}")
    return parcel


def _money(data: MoneyInput | None, path: str, violations: _Violations, *, required: bool) -> Money | None:
    if data is None:
        if required:
            violations.add(path, "required")
        return None
    try:
        currency = validate_currency(data.currency_code)
    except UnknownCurrency as exc:
        violations.add(f"{path}.currency_code", str(exc))
        return None
    if data.amount < 0:
        violations.add(path, f"must not be negative, got {data.amount}")
        return None
    return Money(data.amount, currency)


def _item(item: ItemInput, path: str, today: dt.date, violations: _Violations) -> ReturnedItem | None:
    before = len(violations.found)
    if not item.description.strip():
        violations.add(f"{path}.description", "a plain description of the goods is required")
    if item.quantity <= 0:
        violations.add(f"{path}.quantity", f"must be greater than zero, got {item.quantity}")
    if item.unit_weight_grams <= 0:
        violations.add(
            f"{path}.unit_weight_grams", f"must be greater than zero, got {item.unit_weight_grams}"
        )
    unit_value = _money(item.unit_value, f"{path}.unit_value", violations, required=True)
    origin = ""
    if item.origin_country:
        try:
            origin = validate_country(item.origin_country)
        except ValueError as exc:
            violations.add(f"{path}.origin_country", str(exc))
    hs_code = _hs_code(item.hs_code, f"{path}.hs_code", today, violations) if item.hs_code.strip() else ""
    if len(violations.found) > before or unit_value is None:
        return None
    return ReturnedItem(
        sku=item.sku.strip(),
        description=item.description.strip(),
        quantity=item.quantity,
        unit_value=unit_value,
        unit_weight_grams=item.unit_weight_grams,
        origin_country=origin,
        hs_code=hs_code,
        condition=item.condition,
        return_reason=item.return_reason,
    )


@functools.lru_cache(maxsize=4096)
def _declarable_hs_digits(raw: str, today: dt.date) -> str:
    """validate_hs_code(raw, today).digits: the nomenclature is data shipped with the service, so the
    answers for codes that pass are kept (refusals raise, and are not)."""
    return validate_hs_code(raw, today).digits


def _hs_code(raw: str, path: str, today: dt.date, violations: _Violations) -> str:
    try:
        return _declarable_hs_digits(raw, today)
    except InvalidHsCode as exc:
        violations.add(path, exc.reason)
    except HsEditionUnavailable:
        # No nomenclature shipped for today's edition: the format rules still hold.
        try:
            return normalize_hs_digits(raw)
        except InvalidHsCode as exc:
            violations.add(path, exc.reason)
    return ""


def _original_order(
    data: OriginalOrderInput | None, today: dt.date, violations: _Violations
) -> OriginalOrder | None:
    if data is None:
        return None
    if data.order_date and data.order_date > today:
        violations.add("original_order.order_date", f"is in the future ({data.order_date.isoformat()})")
    if data.delivery_date and data.delivery_date > today:
        violations.add("original_order.delivery_date", f"is in the future ({data.delivery_date.isoformat()})")
    if data.order_date and data.delivery_date and data.delivery_date < data.order_date:
        violations.add("original_order.delivery_date", "is before the order date")
    duties = _money(data.duties_paid, "original_order.duties_paid", violations, required=False)
    taxes = _money(data.taxes_paid, "original_order.taxes_paid", violations, required=False)
    return OriginalOrder(
        order_id=data.order_id.strip(),
        order_date=data.order_date,
        delivery_date=data.delivery_date,
        outbound_tracking_number=data.outbound_tracking_number.strip(),
        invoice_number=data.invoice_number.strip(),
        export_reference=data.export_reference.strip(),
        import_entry_number=data.import_entry_number.strip(),
        duties_paid=duties,
        taxes_paid=taxes,
    )
