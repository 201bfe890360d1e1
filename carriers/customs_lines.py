"""What a return's customs fields are filled from: its built customs declaration, or for a quote its items.

The labels use case passes a `customs.declaration.CustomsDeclaration` (validated HS codes, the EEL/PFC legend,
incoterm, duty payer, signer); a quote has only the returned items, so the lines come from them and the US
export legend is worked out from the same rule data (customs/data/declaration_requirements.toml).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from carriers.errors import InvalidRequest
from carriers.models import ReturnShipment
from customs.declaration import CustomsDeclaration, declaration_rules
from customs.money import CurrencyMismatch, FxTable, MissingFxRate, Money
from customs.territories import customs_territory


@dataclass(frozen=True, slots=True)
class CustomsLine:
    description: str
    quantity: int
    net_weight_grams: int  # the whole line
    value: Money  # the whole line, rounded to the currency's minor units
    hs_code: str  # digits only, "" when unknown
    origin_country: str
    sku: str


def declaration_of(shipment: ReturnShipment) -> CustomsDeclaration | None:
    declaration = shipment.customs_declaration
    return declaration if isinstance(declaration, CustomsDeclaration) else None


def customs_lines(shipment: ReturnShipment) -> tuple[CustomsLine, ...]:
    declaration = declaration_of(shipment)
    if declaration is not None:
        return tuple(
            CustomsLine(
                line.description,
                line.quantity,
                line.net_weight_grams,
                line.value,
                line.hs_code.digits,
                line.origin_country,
                line.sku,
            )
            for line in declaration.lines
        )
    return tuple(
        CustomsLine(
            item.description,
            item.quantity,
            item.line_weight_grams,
            item.line_value.rounded(),
            "".join(ch for ch in item.hs_code if ch.isdigit()),
            item.origin_country,
            item.sku,
        )
        for item in shipment.items
    )


def converted(value: Money, currency: str, index: int, fx: FxTable | None, carrier: str) -> Money:
    """Line `index`'s value in `currency`, with the account's customs FX table when it is priced otherwise."""
    if value.currency == currency:
        return value
    field = f"items[{index}].unit_value.currency_code"
    if fx is None:
        raise InvalidRequest(
            f"a value in {currency} is needed and this item is priced in {value.currency}; "
            "configure options.customs_fx on the account",
            field=field,
            carrier=carrier,
        )
    try:
        return fx.convert(value, currency)
    except (MissingFxRate, CurrencyMismatch) as exc:
        raise InvalidRequest(str(exc), field=field, carrier=carrier) from exc


def quote_export_legend(
    shipment: ReturnShipment, fx: FxTable | None, carrier: str, on: dt.date | None = None
) -> str | None:
    """The EEL/PFC legend of a return without a built declaration, None when it leaves no filing territory.

    Line values are compared with the rule's threshold per commodity code (converted with `fx` when needed).
    Above it the return needs its own export filing, which only a built declaration (with its AES ITN) can
    carry.
    """
    today = on or dt.date.today()
    origin = customs_territory(shipment.origin_country, today)
    if origin == customs_territory(shipment.destination_country, today):
        return None
    rule = next(
        (
            r
            for r in declaration_rules().export_filings
            if r.territory == origin and r.rule.in_force_on(today)
        ),
        None,
    )
    if rule is None:
        return None
    exempt = rule.exempt_destinations.get(shipment.destination_country)
    if exempt is not None:
        return exempt
    per_code: dict[str, Money] = {}
    currency = rule.threshold.currency
    for index, line in enumerate(customs_lines(shipment)):
        key = line.hs_code or line.sku
        value = converted(line.value, currency, index, fx, carrier)
        per_code[key] = per_code.get(key, Money.zero(currency)) + value
    over = {code: value for code, value in per_code.items() if value > rule.threshold}
    if over:
        detail = ", ".join(f"{code or 'a line'} totals {value}" for code, value in sorted(over.items()))
        raise InvalidRequest(
            f"{rule.rule.summary}: {detail}; buy the label with a customs declaration carrying the AES ITN "
            f"(rule {rule.rule.id})",
            field="items",
            carrier=carrier,
        )
    return rule.exemption_legend
