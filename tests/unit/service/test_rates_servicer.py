"""RatesService.QuoteReturn through its servicer: proto in, use case, proto out (no network)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from google.type import money_pb2

from backhaul.v1 import common_pb2, rates_pb2
from carriers import errors as carrier_errors
from carriers.sandbox import SandboxMode
from service.auth import Principal, bind_principal, reset_principal
from service.demo import canadian_customer_return, german_customer_return
from service.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from service.grpc import convert
from service.grpc.convert import Violations
from service.grpc.rates_servicer import RatesServicer
from service.quoting.token import QuoteTokenSigner
from service.quoting.use_case import QuotingSettings

from ..quoting.sample_requests import (
    NOW,
    SECRET,
    hubs_accepting_every_carrier,
    quoting,
    ratecard_account,
    sandbox_account,
)

TODAY = NOW.date()
MERCHANT = "m-1"


class _Context:
    """The part of grpc.aio.ServicerContext the servicer reads."""

    def __init__(self, remaining: float | None = None) -> None:
        self.remaining = remaining

    def time_remaining(self) -> float | None:
        return self.remaining


@pytest.fixture(autouse=True)
def merchant() -> Iterator[None]:
    token = bind_principal(Principal(MERCHANT))
    yield
    reset_principal(token)


async def _quote(
    request: rates_pb2.QuoteReturnRequest,
    servicer: RatesServicer | None = None,
    remaining: float | None = None,
) -> rates_pb2.QuoteReturnResponse:
    servicer = servicer or RatesServicer(quoting())
    return await servicer.QuoteReturn(request, _Context(remaining))  # type: ignore[arg-type]


def _amount(message: money_pb2.Money) -> Decimal:
    money = convert.money_from_proto(message, "", Violations())
    assert money is not None
    return money.amount


async def test_a_german_customer_is_quoted_to_the_eu_hub() -> None:
    response = await _quote(german_customer_return(TODAY))
    assert len(response.quotes) >= 2
    assert {q.destination_hub.id for q in response.quotes} == {"EU_HUB"}
    assert response.quotes[0].destination_hub.address.region_code == "NL"
    assert {q.carrier.account_id for q in response.quotes} == {"tulip-parcel", "rhein-paket", "sandbox"}
    assert {q.carrier.provider for q in response.quotes} == {"ratecard", "sandbox"}
    assert not response.errors
    assert not response.cross_border
    assert (response.fx_as_of.year, response.fx_as_of.month, response.fx_as_of.day) == (2026, 11, 2)
    # Sorted cheapest first in the display currency (EUR for a German customer), tags on the extremes.
    displayed = [_amount(q.display_price) for q in response.quotes]
    assert displayed == sorted(displayed)
    assert {q.display_price.currency_code for q in response.quotes} == {"EUR"}
    assert rates_pb2.QUOTE_TAG_CHEAPEST in response.quotes[0].tags
    fastest = min(q.transit_days for q in response.quotes)
    assert all(
        (rates_pb2.QUOTE_TAG_FASTEST in q.tags) == (q.transit_days == fastest) for q in response.quotes
    )
    sandbox = next(q for q in response.quotes if q.carrier.account_id == "sandbox")
    assert sandbox.price.currency_code == "USD"
    assert set(sandbox.label_formats) == {
        common_pb2.DOCUMENT_FORMAT_PDF,
        common_pb2.DOCUMENT_FORMAT_PNG,
        common_pb2.DOCUMENT_FORMAT_ZPL,
    }
    card = next(q for q in response.quotes if q.carrier.provider == "ratecard")
    assert card.price_components
    assert sum(_amount(c.amount) for c in card.price_components) == _amount(card.price)
    policy = response.return_policy
    assert (policy.policy_id, policy.eligible, policy.payer) == (
        "eu-default",
        True,
        rates_pb2.RETURN_COST_PAYER_CUSTOMER,
    )
    assert (policy.customer_fee.currency_code, _amount(policy.customer_fee)) == ("EUR", Decimal("3.95"))
    assert policy.window_end_date.year == 2026


async def test_quote_tokens_round_trip_and_refuse_tampering_and_expiry() -> None:
    response = await _quote(german_customer_return(TODAY))
    signer = QuoteTokenSigner(SECRET)
    quote = response.quotes[0]
    expires = quote.expire_time.ToDatetime(dt.UTC)
    claims = signer.verify(quote.quote_token, merchant_id=MERCHANT, now=NOW)
    assert claims.account_id == quote.carrier.account_id
    assert claims.service_code == quote.service_code
    assert claims.price.amount == _amount(quote.price)
    assert claims.expires_at == expires
    version, payload, signature = quote.quote_token.split(".")
    tampered = f"{version}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{signature}"
    with pytest.raises(InvalidArgument):
        signer.verify(tampered, merchant_id=MERCHANT, now=NOW)
    with pytest.raises(FailedPrecondition):
        signer.verify(quote.quote_token, merchant_id=MERCHANT, now=expires + dt.timedelta(seconds=1))
    with pytest.raises(PermissionDenied):
        signer.verify(quote.quote_token, merchant_id="someone-else", now=NOW)


async def test_a_canadian_customer_is_quoted_to_the_canada_hub_in_cad_by_best_value() -> None:
    service = quoting(
        ratecard_account("maple-post", "maple_post_ca"), sandbox_account("sandbox", currency="USD")
    )
    response = await _quote(canadian_customer_return(TODAY), RatesServicer(service))
    assert {q.destination_hub.id for q in response.quotes} == {"CA_HUB"}
    assert {q.display_price.currency_code for q in response.quotes} == {"CAD"}
    assert response.return_policy.payer == rates_pb2.RETURN_COST_PAYER_MERCHANT  # defective goods


def _invalid(request: rates_pb2.QuoteReturnRequest) -> rates_pb2.QuoteReturnRequest:
    copy = rates_pb2.QuoteReturnRequest()
    copy.CopyFrom(request)
    return copy


def _unknown_country(request: rates_pb2.QuoteReturnRequest) -> None:
    request.customer.address.region_code = "XX"


def _negative_weight(request: rates_pb2.QuoteReturnRequest) -> None:
    request.parcels[0].weight_grams = -5


def _unknown_item_currency(request: rates_pb2.QuoteReturnRequest) -> None:
    request.items[0].unit_value.currency_code = "EUX"


def _unknown_display_currency(request: rates_pb2.QuoteReturnRequest) -> None:
    request.preferences.display_currency = "QQQ"


def _nanos_of_the_other_sign(request: rates_pb2.QuoteReturnRequest) -> None:
    request.items[0].unit_value.nanos = -100


def _impossible_date(request: rates_pb2.QuoteReturnRequest) -> None:
    request.original_order.delivery_date.day = 31
    request.original_order.delivery_date.month = 2


def _enum_outside_the_contract(request: rates_pb2.QuoteReturnRequest) -> None:
    request.preferences.sort = 42  # type: ignore[assignment]


def _item_enums_outside_the_contract(request: rates_pb2.QuoteReturnRequest) -> None:
    request.items[0].condition = 42  # type: ignore[assignment]
    request.items[0].return_reason = 43  # type: ignore[assignment]


def _unset_tax_scheme(request: rates_pb2.QuoteReturnRequest) -> None:
    request.customer.contact.tax_ids.add(value="DE123")


def _no_customer(request: rates_pb2.QuoteReturnRequest) -> None:
    request.ClearField("customer")


@pytest.mark.parametrize(
    ("spoil", "field"),
    [
        (_unknown_country, "customer.address.region_code"),
        (_negative_weight, "parcels[0].weight_grams"),
        (_unknown_item_currency, "items[0].unit_value.currency_code"),
        (_unknown_display_currency, "preferences.display_currency"),
        (_nanos_of_the_other_sign, "items[0].unit_value.nanos"),
        (_impossible_date, "original_order.delivery_date"),
        (_enum_outside_the_contract, "preferences.sort"),
        (_item_enums_outside_the_contract, "items[0].condition"),
        (_item_enums_outside_the_contract, "items[0].return_reason"),
        (_unset_tax_scheme, "customer.contact.tax_ids[0].scheme"),
        (_no_customer, "customer"),
    ],
)
async def test_bad_input_is_invalid_argument_naming_the_field(spoil: object, field: str) -> None:
    request = _invalid(german_customer_return(TODAY))
    spoil(request)  # type: ignore[operator]
    with pytest.raises(InvalidArgument) as caught:
        await _quote(request)
    assert field in [v.field for v in caught.value.violations]


async def test_hanging_and_failing_carriers_are_error_entries_within_the_call_deadline() -> None:
    service = quoting(
        ratecard_account("tulip-parcel", "tulip_parcel_nl"),
        ratecard_account("rhein-paket", "rhein_paket_de"),
        sandbox_account("sandbox-hang", mode=SandboxMode.HANG),
        sandbox_account("sandbox-500", mode=SandboxMode.UNAVAILABLE),
        hubs=hubs_accepting_every_carrier(),
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await _quote(german_customer_return(TODAY), RatesServicer(service), remaining=0.25)
    assert loop.time() - started <= 0.25
    assert {q.carrier.account_id for q in response.quotes} == {"tulip-parcel", "rhein-paket"}
    errors = {e.carrier.account_id: e for e in response.errors}
    assert errors["sandbox-hang"].code == rates_pb2.CARRIER_ERROR_CODE_TIMEOUT
    assert errors["sandbox-500"].code == rates_pb2.CARRIER_ERROR_CODE_UNAVAILABLE
    assert errors["sandbox-500"].retryable
    assert errors["sandbox-500"].carrier.provider == "sandbox"


async def test_a_share_of_a_long_deadline_is_kept_to_assemble_answers_in_a_burst() -> None:
    service = quoting(
        sandbox_account("sandbox-hang", mode=SandboxMode.HANG),
        sandbox_account("sandbox-ok"),
        hubs=hubs_accepting_every_carrier(),
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    responses = await asyncio.gather(
        *(_quote(german_customer_return(TODAY), RatesServicer(service), remaining=1.0) for _ in range(8))
    )
    # 10 % of a 1 s deadline is kept back: every caller has its answer well before the deadline.
    assert loop.time() - started < 0.95
    assert all([e.code for e in r.errors] == [rates_pb2.CARRIER_ERROR_CODE_TIMEOUT] for r in responses)


async def test_without_a_caller_deadline_the_configured_budget_bounds_the_call() -> None:
    service = quoting(
        sandbox_account("sandbox-hang", mode=SandboxMode.HANG),
        sandbox_account("sandbox-ok"),
        hubs=hubs_accepting_every_carrier(),
        settings=QuotingSettings(default_budget_seconds=0.15),
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await _quote(german_customer_return(TODAY), RatesServicer(service), remaining=None)
    assert loop.time() - started <= 0.2
    assert [e.code for e in response.errors] == [rates_pb2.CARRIER_ERROR_CODE_TIMEOUT]
    assert response.quotes


async def test_a_rate_limited_carrier_reports_its_retry_after() -> None:
    service = quoting(
        sandbox_account("sandbox-429", mode=SandboxMode.RATE_LIMITED, retry_after_seconds=30),
        sandbox_account("sandbox-ok"),
        hubs=hubs_accepting_every_carrier(),
    )
    response = await _quote(german_customer_return(TODAY), RatesServicer(service), remaining=1.0)
    (error,) = response.errors
    assert error.code == rates_pb2.CARRIER_ERROR_CODE_RATE_LIMITED
    assert error.retry_after.seconds == 30


def test_every_carrier_error_code_has_its_contract_value() -> None:
    expected: dict[type[carrier_errors.CarrierError], int] = {
        carrier_errors.AuthenticationFailed: rates_pb2.CARRIER_ERROR_CODE_AUTHENTICATION,
        carrier_errors.InvalidRequest: rates_pb2.CARRIER_ERROR_CODE_INVALID_REQUEST,
        carrier_errors.NotFound: rates_pb2.CARRIER_ERROR_CODE_NOT_FOUND,
        carrier_errors.RateLimited: rates_pb2.CARRIER_ERROR_CODE_RATE_LIMITED,
        carrier_errors.Unavailable: rates_pb2.CARRIER_ERROR_CODE_UNAVAILABLE,
        carrier_errors.TimedOut: rates_pb2.CARRIER_ERROR_CODE_TIMEOUT,
        carrier_errors.CircuitOpen: rates_pb2.CARRIER_ERROR_CODE_CIRCUIT_OPEN,
        carrier_errors.MalformedResponse: rates_pb2.CARRIER_ERROR_CODE_MALFORMED_RESPONSE,
        carrier_errors.UnsupportedLane: rates_pb2.CARRIER_ERROR_CODE_UNSUPPORTED_LANE,
        carrier_errors.UnsupportedOperation: rates_pb2.CARRIER_ERROR_CODE_UNSUPPORTED_LANE,
        carrier_errors.CarrierError: rates_pb2.CARRIER_ERROR_CODE_UNAVAILABLE,  # an untyped adapter failure
    }
    assert {cls: convert.carrier_error_code_to_proto(cls.code) for cls in expected} == expected


def test_request_fields_map_one_to_one_onto_the_use_case_input() -> None:
    request = german_customer_return(TODAY)
    request.destination.hub_id = " UK_HUB "
    request.preferences.CopyFrom(
        rates_pb2.QuotePreferences(
            display_currency="gbp",
            sort=rates_pb2.QUOTE_SORT_FASTEST,
            carrier_account_ids=["sandbox"],
            max_transit_days=3,
            handover=common_pb2.HANDOVER_PICKUP,
        )
    )
    violations = Violations()
    shipment = convert.shipment_input_from_proto(request, "", violations)
    preferences = convert.quote_preferences_from_proto(request.preferences, violations)
    assert violations.items == []
    assert shipment.destination is not None
    assert shipment.destination.hub_id == "UK_HUB"
    assert shipment.customer is not None
    assert shipment.customer.address is not None
    assert shipment.customer.address.postal_code == "10115"
    (item,) = shipment.items
    assert item.unit_value is not None
    assert (item.unit_value.currency_code, item.unit_value.amount) == ("EUR", Decimal("29.90"))
    assert item.return_reason.value == "wrong_size"
    assert shipment.original_order is not None
    assert shipment.original_order.delivery_date == TODAY - dt.timedelta(days=9)
    assert [dataclasses.astuple(p) for p in shipment.parcels] == [(800, 300, 200, 100)]
    assert preferences.sort.value == "fastest"
    assert preferences.handover is not None
    assert preferences.handover.value == "pickup"
    assert (preferences.display_currency, preferences.carrier_account_ids, preferences.max_transit_days) == (
        "gbp",
        ("sandbox",),
        3,
    )
