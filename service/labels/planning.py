"""Turning a CreateReturnLabel request into a purchase plan, before anything is stored or bought.

Everything that can be refused without buying is refused here, with the request path of each problem:
the shipment (as QuoteReturn validates it, under `shipment.`), the rate (a quote token is verified against
the merchant, its expiry and the digest of this very shipment; an explicit rate is priced by asking the
carrier), the label format, and on cross-border lanes the customs declaration (built on the purchase date).
A stored intent is rebuilt the same way, from the request kept with it and the plan's date (`rebuild`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from babel.languages import get_official_languages

from carriers.accounts import CarrierAccount
from carriers.errors import CarrierError
from carriers.models import Handover, LabelFormat, ReturnShipment
from carriers.port import Operation
from carriers.resilience import ResilientCarrier
from customs.address import Address
from customs.declaration import CustomsDeclaration, declaration_required
from customs.goods import OriginalOrder
from customs.money import Money
from service.customs_declarations import (
    CustomsDeclarations,
    DeclarationOptions,
    DeclarationProblem,
    ReturnForCustoms,
)
from service.errors import FailedPrecondition, FieldViolation, InvalidArgument
from service.labels.model import (
    CreateLabelRequest,
    DeclarationSummary,
    ExplicitRate,
    LabelRecord,
    PurchasePlan,
    QuotedRate,
)
from service.labels.request_document import request_from_document
from service.quoting.hubs import Hub, HubDirectory
from service.quoting.token import QuoteTokenSigner, shipment_digest
from service.quoting.validation import RoutedShipment, build_return_shipment, validate_shipment

SHIPMENT_PREFIX = "shipment."
MAX_IDEMPOTENCY_KEY_LENGTH = 128
_LOCALE = re.compile(r"[A-Za-z]{2,8}([_-][A-Za-z0-9]{1,8})*")
_MAX_LOCALE_LENGTH = 35
DEFAULT_LOCALE = "en"


@dataclass(frozen=True, slots=True)
class PreparedPurchase:
    plan: PurchasePlan
    shipment: ReturnShipment  # routed, with handover, label format and customs declaration set
    hub: Hub | None


def customer_locale(requested: str, customer: Address) -> str:
    """The locale asked for; else the address's language; else the country's first official language."""
    if requested.strip():
        return requested.strip()
    if customer.language_code.strip():
        return customer.language_code.strip()
    languages = get_official_languages(customer.country, de_facto=True)
    return f"{languages[0]}-{customer.country}" if languages else DEFAULT_LOCALE


def declaration_summary(declaration: CustomsDeclaration) -> DeclarationSummary:
    return DeclarationSummary(
        form=declaration.form.value,
        category=declaration.category.value,
        total_value=declaration.totals.value,
        total_net_weight_grams=declaration.totals.net_weight_grams,
        line_count=len(declaration.lines),
    )


def request_violations(request: CreateLabelRequest) -> list[FieldViolation]:
    """Problems with the request's own fields (the shipment is validated on its own)."""
    found: list[FieldViolation] = []
    key = request.idempotency_key
    if not key.strip():
        found.append(
            FieldViolation("idempotency_key", "required: one key per purchase intent, e.g. the RMA id")
        )
    elif len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        found.append(
            FieldViolation(
                "idempotency_key", f"at most {MAX_IDEMPOTENCY_KEY_LENGTH} characters, got {len(key)}"
            )
        )
    if request.rate is None:
        found.append(FieldViolation("rate", "set quote_token (from QuoteReturn) or explicit_rate"))
    elif isinstance(request.rate, QuotedRate) and not request.rate.quote_token.strip():
        found.append(FieldViolation("quote_token", "must not be empty"))
    elif isinstance(request.rate, ExplicitRate):
        if not request.rate.carrier_account_id.strip():
            found.append(FieldViolation("explicit_rate.carrier_account_id", "required"))
        if not request.rate.service_code.strip():
            found.append(FieldViolation("explicit_rate.service_code", "required"))
    locale = request.customer_locale.strip()
    if locale and (len(locale) > _MAX_LOCALE_LENGTH or not _LOCALE.fullmatch(locale)):
        found.append(FieldViolation("customer_locale", "expected a BCP 47 language tag such as de-DE or ja"))
    return found


class PurchasePlanner:
    def __init__(
        self,
        *,
        carriers: Mapping[str, ResilientCarrier],
        accounts: Mapping[str, CarrierAccount],
        hubs: HubDirectory,
        declarations: CustomsDeclarations,
        quote_tokens: QuoteTokenSigner,
    ) -> None:
        self._carriers = carriers
        self._accounts = accounts
        self._hubs = hubs
        self._declarations = declarations
        self._quote_tokens = quote_tokens

    async def plan(
        self, request: CreateLabelRequest, *, now: dt.datetime, deadline: float
    ) -> PreparedPurchase:
        """The plan, or the request's problems (InvalidArgument, quote token errors, FailedPrecondition).

        `deadline` (event-loop time) bounds the carrier quote an explicit rate needs.
        """
        today = now.date()
        routed, violations = validate_shipment(
            request.shipment, self._hubs, today=today, prefix=SHIPMENT_PREFIX
        )
        violations = request_violations(request) + violations
        if routed is not None and not routed.shipment.customer.contact.name:
            violations.append(
                FieldViolation(
                    "shipment.customer.contact.name",
                    "required: the label and customs documents name the sender",
                )
            )
        if violations or routed is None or request.rate is None:
            raise InvalidArgument(violations)
        if isinstance(request.rate, QuotedRate):
            claims = self._quote_tokens.verify(
                request.rate.quote_token.strip(),
                merchant_id=request.merchant_id,
                now=now,
                shipment_digest=shipment_digest(routed.shipment),
            )
            carrier = self._carrier(claims.account_id, "quote_token")
            handover, service_code, service_name = claims.handover, claims.service_code, ""
            quoted_price: Money | None = claims.price
            rate_field = "quote_token"
        else:
            rate_field = "explicit_rate.carrier_account_id"
            carrier = self._carrier(request.rate.carrier_account_id.strip(), rate_field)
            self._check_lane(carrier, routed, rate_field)
            handover = (
                Handover.DROP_OFF if Handover.DROP_OFF in carrier.capabilities.handovers else Handover.PICKUP
            )
            service_code = request.rate.service_code.strip()
            service_name, quoted_price = await self._price(carrier, routed, handover, service_code, deadline)
        label_format = self._label_format(carrier, request.label_format)
        cross_border = declaration_required(
            routed.shipment.origin_country, routed.shipment.destination_country
        )
        declaration = None
        if cross_border:
            declaration = self._declaration(routed, carrier.account_id, today, rate_field)
        account = self._accounts[carrier.account_id]
        plan = PurchasePlan(
            carrier_account_id=carrier.account_id,
            carrier_name=carrier.carrier,
            provider=account.adapter,
            service_code=service_code,
            service_name=service_name,
            handover=handover,
            label_format=label_format,
            customer_locale=customer_locale(request.customer_locale, routed.shipment.customer.address),
            destination_hub_id=routed.hub.id if routed.hub else "",
            cross_border=cross_border,
            purchase_date=today,
            quoted_price=quoted_price,
            declaration=declaration_summary(declaration) if declaration else None,
        )
        return PreparedPurchase(
            plan, self._final_shipment(routed, plan, declaration, request.idempotency_key), routed.hub
        )

    def rebuild(self, record: LabelRecord) -> PreparedPurchase:
        """The shipment a stored intent was bought with, from its request and plan (no token check: the
        token was verified when the intent was stored, and may have expired since)."""
        request = request_from_document(record.merchant_id, record.idempotency_key, record.request)
        plan = record.plan
        routed = build_return_shipment(
            request.shipment, self._hubs, today=plan.purchase_date, prefix=SHIPMENT_PREFIX
        )
        declaration = None
        if plan.cross_border:
            declaration = self._declaration(
                routed, plan.carrier_account_id, plan.purchase_date, "quote_token"
            )
        return PreparedPurchase(
            plan, self._final_shipment(routed, plan, declaration, record.idempotency_key), routed.hub
        )

    def carrier(self, account_id: str) -> ResilientCarrier | None:
        return self._carriers.get(account_id)

    def _carrier(self, account_id: str, field: str) -> ResilientCarrier:
        account = self._accounts.get(account_id)
        if account is None:
            raise InvalidArgument.single(field, f"no carrier account {account_id!r} is configured")
        carrier = self._carriers.get(account_id)
        if carrier is None:
            raise FailedPrecondition(
                f"carrier account {account_id!r} is disabled on this server",
                reason="CARRIER_ACCOUNT_DISABLED",
            )
        if not carrier.capabilities.supports(Operation.PURCHASE):
            raise FailedPrecondition(
                f"carrier account {account_id!r} does not sell labels", reason="CARRIER_CANNOT_PURCHASE"
            )
        return carrier

    @staticmethod
    def _check_lane(carrier: ResilientCarrier, routed: RoutedShipment, field: str) -> None:
        shipment = routed.shipment
        if not carrier.capabilities.serves(
            shipment.origin_country, shipment.destination_country, shipment.destination_hub_id
        ):
            target = shipment.destination_hub_id or shipment.destination_country
            raise InvalidArgument.single(
                field, f"{carrier.account_id} does not carry from {shipment.origin_country} to {target}"
            )
        if routed.hub is not None and not routed.hub.accepts(carrier.account_id):
            raise InvalidArgument.single(
                field, f"returns hub {routed.hub.id} takes in no parcels of {carrier.account_id}"
            )

    @staticmethod
    async def _price(
        carrier: ResilientCarrier,
        routed: RoutedShipment,
        handover: Handover,
        service_code: str,
        deadline: float,
    ) -> tuple[str, Money]:
        shipment = dataclasses.replace(routed.shipment, handover=handover)
        try:
            rates = await carrier.quote(shipment, deadline=deadline)
        except CarrierError as error:
            if error.code == "UNSUPPORTED_LANE":
                raise InvalidArgument.single("explicit_rate.carrier_account_id", error.message) from error
            raise
        rate = next((r for r in rates if r.service_code == service_code), None)
        if rate is None:
            offered = ", ".join(sorted({r.service_code for r in rates})) or "none"
            raise InvalidArgument.single(
                "explicit_rate.service_code",
                f"{carrier.account_id} offers no {service_code!r} here (offered: {offered})",
            )
        return rate.service_name, rate.price

    @staticmethod
    def _label_format(carrier: ResilientCarrier, requested: LabelFormat | None) -> LabelFormat:
        offered = carrier.capabilities.label_formats
        if requested is None:
            return LabelFormat.PDF if LabelFormat.PDF in offered or not offered else sorted(offered)[0]
        if requested not in offered:
            names = ", ".join(sorted(f.value.upper() for f in offered))
            raise InvalidArgument.single("label_format", f"{carrier.account_id} labels come as {names}")
        return requested

    def _declaration(
        self, routed: RoutedShipment, account_id: str, on: dt.date, rate_field: str
    ) -> CustomsDeclaration:
        shipment = routed.shipment
        preview = self._declarations.preview(
            ReturnForCustoms(
                customer=shipment.customer,
                parcels=shipment.parcels,
                items=shipment.items,
                original_order=shipment.original_order or OriginalOrder(),
                destination_hub_id=routed.hub.id if routed.hub else "",
                destination_address=None if routed.hub else shipment.destination.address,
            ),
            DeclarationOptions(declaration_date=on, carrier_account_id=account_id),
        )
        if preview.problems or preview.declaration is None:
            raise InvalidArgument(
                [_violation(problem, rate_field) for problem in preview.problems]
                or [FieldViolation("shipment", "the customs declaration could not be built")],
                reason="CUSTOMS_DECLARATION_INVALID",
            )
        return preview.declaration

    @staticmethod
    def _final_shipment(
        routed: RoutedShipment, plan: PurchasePlan, declaration: CustomsDeclaration | None, reference: str
    ) -> ReturnShipment:
        return dataclasses.replace(
            routed.shipment,
            handover=plan.handover,
            label_format=plan.label_format,
            customs_declaration=declaration,
            reference=reference,
        )


def _violation(problem: DeclarationProblem, rate_field: str) -> FieldViolation:
    # The preview names the carrier account as PreviewCustomsDeclaration's field; here it is the rate's.
    field = rate_field if problem.field == "carrier_account_id" else problem.field
    return FieldViolation(field, f"{problem.message} ({problem.code})")
