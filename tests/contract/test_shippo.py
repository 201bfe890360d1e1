"""The Shippo adapter driving the real `shippo` SDK (3.9.0) against the loopback fake Shippo."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from carriers.accounts import CallPolicy, MissingCredential
from carriers.errors import (
    AuthenticationFailed,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    RateLimited,
    TimedOut,
    Unavailable,
    UnsupportedLane,
    UnsupportedOperation,
    WebhookVerificationFailed,
)
from carriers.models import Handover, LabelFormat, LabelReference, PurchaseRequest, VoidStatus
from carriers.port import Operation
from carriers.registry import load_factory
from carriers.resilience import ResilientCarrier
from carriers.shippo import ShippoCarrier
from carriers.shippo import adapter as shippo_adapter
from carriers.shippo.webhook_auth import TOKEN_HEADER
from carriers.tracking import ExceptionReason, TrackingStatus
from customs.address import Party
from customs.declaration import DutyPayer, Incoterm
from customs.goods import ReturnedItem
from tests.contract.conftest import ENVIRON, SHIPPO_HMAC_SECRET, SHIPPO_WEBHOOK_TOKEN, shippo_account
from tests.contract.returns import (
    CUSTOMER_CA,
    HUB_DE,
    declared,
    domestic_us,
    fr_to_us,
    intra_eu,
    us_to,
    usd,
    with_handover,
)
from tests.fakes.loopback import Fault
from tests.fakes.shippo_server import ServiceSpec, ShippoFake, TrackingScan, sign_webhook

pytestmark = pytest.mark.timeout(30)


def sent_shipment(fake: ShippoFake) -> dict[str, Any]:
    sent: dict[str, Any] = fake.last_request("POST", r"^/shipments$").json
    return sent


def declaration(fake: ShippoFake) -> dict[str, Any]:
    sent: dict[str, Any] = sent_shipment(fake)["customs_declaration"]
    return sent


# -- the request: a return with its customs declaration -------------------------------------------------


async def test_quote_sends_a_return_with_the_original_addresses(
    shippo: ShippoCarrier, shippo_fake: ShippoFake
) -> None:
    await shippo.quote(fr_to_us())
    sent = sent_shipment(shippo_fake)
    assert sent["extra"] == {"is_return": True}
    assert sent["async"] is False
    # Shippo swaps them itself: address_to is who received the goods, address_from where they go back to.
    assert sent["address_to"] == {
        "country": "FR",
        "name": "Jeanne Martin",
        "street1": "12 Rue de la République",
        "city": "Lyon",
        "zip": "69002",
        "phone": "+33 4 72 00 00 00",
        "email": "jeanne@example.fr",
    }
    assert sent["address_from"]["company"] == "ACME Returns"
    assert sent["address_from"]["state"] == "KY"
    assert sent["address_from"]["street2"] == "Dock 4"
    assert sent["parcels"] == [
        {
            "mass_unit": "g",
            "weight": "1200",
            "distance_unit": "mm",
            "length": "300",
            "width": "200",
            "height": "100",
        }
    ]
    assert sent["metadata"] == "RMA-7781"


async def test_customs_declaration_of_a_cross_border_return(
    shippo: ShippoCarrier, shippo_fake: ShippoFake
) -> None:
    await shippo.quote(fr_to_us())
    sent = declaration(shippo_fake)
    assert sent["contents_type"] == "RETURN_MERCHANDISE"
    assert sent["certify"] is True
    assert sent["certify_signer"] == "Jeanne Martin"
    assert sent["non_delivery_option"] == "RETURN"
    assert sent["incoterm"] == "DDU"  # the default
    assert "duties_payor" not in sent  # not configured: not sent, and not inferred from the incoterm
    assert "eel_pfc" not in sent  # the return leaves France
    assert sent["invoice"] == "INV-2026-1001"
    assert sent["exporter_reference"] == "26FR000000012345"  # the entry the goods came in under
    assert sent["importer_reference"] == "X20261020-ITN"  # the merchant's original export
    assert sent["exporter_identification"] == {
        "eori_number": "FR12345678900013",
        "tax_id": {"number": "FR40303265045", "type": "VAT"},
    }
    assert sent["items"] == [
        {
            "description": "Cotton T-shirt, blue",
            "quantity": 2,
            "net_weight": "400",
            "mass_unit": "g",
            "value_amount": "59.80",
            "value_currency": "EUR",
            "origin_country": "PT",
            "tariff_number": "610910",
            "sku_code": "TS-BLUE-M",
        },
        {
            "description": "Denim jeans",
            "quantity": 1,
            "net_weight": "650",
            "mass_unit": "g",
            "value_amount": "79.00",
            "value_currency": "EUR",
            "origin_country": "TR",
            "tariff_number": "620342",
            "sku_code": "JN-32-34",
        },
    ]


@pytest.mark.parametrize(
    ("incoterm", "duties_payor", "sent_payor"),
    [
        ("DDP", None, None),
        ("DDU", {"type": "SENDER"}, {"type": "SENDER"}),
        ("DDP", {"type": "RECIPIENT", "account": "510087020"}, {"type": "RECIPIENT", "account": "510087020"}),
        (
            "DAP",
            {"type": "THIRD_PARTY", "account": "A-77", "country": "NL", "zip": "5928", "name": "Broker BV"},
            {
                "type": "THIRD_PARTY",
                "account": "A-77",
                "address": {"name": "Broker BV", "zip": "5928", "country": "NL"},
            },
        ),
    ],
)
async def test_incoterm_and_duties_payor_are_set_independently(
    make_shippo: Callable[..., ShippoCarrier],
    shippo_fake: ShippoFake,
    incoterm: str,
    duties_payor: dict[str, str] | None,
    sent_payor: dict[str, Any] | None,
) -> None:
    options = {"incoterm": incoterm} | ({"duties_payor": duties_payor} if duties_payor else {})
    await make_shippo(**options).quote(fr_to_us())
    sent = declaration(shippo_fake)
    assert sent["incoterm"] == incoterm
    assert sent.get("duties_payor") == sent_payor


async def test_a_return_leaving_the_us_states_the_eei_exemption(
    shippo: ShippoCarrier, shippo_fake: ShippoFake
) -> None:
    await shippo.quote(us_to(HUB_DE, ReturnedItem("CAM-1", "Camera", 1, usd("1999.00"), 800, "JP", "852580")))
    assert declaration(shippo_fake)["eel_pfc"] == "NOEEI_30_37_a"


async def test_a_return_from_the_us_to_canada_uses_the_canada_exemption(
    shippo: ShippoCarrier, shippo_fake: ShippoFake
) -> None:
    hub_ca = Party(CUSTOMER_CA.contact, CUSTOMER_CA.address)
    await shippo.quote(us_to(hub_ca, ReturnedItem("CAM-1", "Camera", 1, usd("9000.00"), 800, "JP", "852580")))
    assert declaration(shippo_fake)["eel_pfc"] == "NOEEI_30_36"


async def test_a_us_export_above_the_threshold_is_refused(
    shippo: ShippoCarrier, shippo_fake: ShippoFake
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await shippo.quote(
            us_to(HUB_DE, ReturnedItem("CAM-1", "Camera", 1, usd("2500.01"), 800, "JP", "852580"))
        )
    assert refused.value.field == "items"
    assert shippo_fake.requests == []


async def test_foreign_currency_leaving_the_us_needs_fx_for_the_threshold(
    make_shippo: Callable[..., ShippoCarrier], shippo_fake: ShippoFake
) -> None:
    eur_item = ReturnedItem("CAM-1", "Camera", 1, fr_to_us().items[0].unit_value, 800, "JP", "852580")
    with pytest.raises(InvalidRequest) as refused:
        await make_shippo().quote(us_to(HUB_DE, eur_item))
    assert refused.value.field == "items[0].unit_value.currency_code"
    fx = {"base": "USD", "as_of": dt.date(2026, 11, 2), "rates": {"EUR": "0.92"}}
    await make_shippo(customs_fx=fx).quote(us_to(HUB_DE, eur_item))
    sent = declaration(shippo_fake)
    assert sent["eel_pfc"] == "NOEEI_30_37_a"
    assert sent["items"][0]["value_currency"] == "EUR"  # Shippo takes the goods' own currency


async def test_a_domestic_return_has_no_customs_declaration(
    shippo: ShippoCarrier, shippo_fake: ShippoFake
) -> None:
    await shippo.quote(domestic_us())
    assert "customs_declaration" not in sent_shipment(shippo_fake)


async def test_pickups_are_not_offered(shippo: ShippoCarrier, shippo_fake: ShippoFake) -> None:
    with pytest.raises(UnsupportedLane):
        await shippo.quote(with_handover(fr_to_us(), Handover.PICKUP))
    assert shippo_fake.requests == []


# -- rates and labels ------------------------------------------------------------------------------------


async def test_rates_are_decimal_money(shippo: ShippoCarrier) -> None:
    rates = await shippo.quote(fr_to_us())
    assert [(r.service_code, r.price, r.transit_days) for r in rates] == [
        ("usps_priority_mail_international", usd("44.10"), 8),
        ("ups_saver", usd("67.45"), 3),
        ("fedex_international_economy", usd("52.80"), 5),
        ("usps_first_class_package_international_service", usd("19.95"), 12),
    ]
    assert isinstance(rates[0].price.amount, Decimal)
    assert rates[1].carrier == "UPS via Shippo"
    assert rates[1].service_name == "UPS UPS Saver®"
    assert rates[3].raw["attributes"] == ["CHEAPEST"]
    assert {r.handover for r in rates} == {Handover.DROP_OFF}  # one call, every service: all drop-offs


@pytest.mark.parametrize(
    ("label_format", "file_type", "extension"),
    [
        (LabelFormat.PDF, "PDF_4x6", ".pdf"),
        (LabelFormat.PNG, "PNG", ".png"),
        (LabelFormat.ZPL, "ZPLII", ".zpl"),
    ],
)
async def test_purchase_buys_the_service_in_the_asked_format(
    shippo: ShippoCarrier, shippo_fake: ShippoFake, label_format: LabelFormat, file_type: str, extension: str
) -> None:
    label = await shippo.purchase(
        PurchaseRequest(
            fr_to_us(), "ups_saver", "idem-1", expected_price=usd("67.45"), label_format=label_format
        )
    )
    bought = shippo_fake.last_request("POST", r"^/transactions$").json
    rate = shippo_fake.rates[bought["rate"]]
    assert rate["servicelevel"]["token"] == "ups_saver"
    assert bought["label_file_type"] == file_type
    assert bought["metadata"] == "idem-1"
    assert bought["async"] is False
    assert label.label_url.endswith(extension)
    assert label.price == usd("67.45")
    assert label.carrier_label_id in shippo_fake.transactions
    assert label.carrier_shipment_id == rate["shipment"]
    assert label.tracking_number == shippo_fake.transactions[label.carrier_label_id]["tracking_number"]
    assert label.raw["commercial_invoice_url"].endswith(".pdf")


async def test_buying_a_quoted_rate_uses_it_directly(shippo: ShippoCarrier, shippo_fake: ShippoFake) -> None:
    rates = await shippo.quote(fr_to_us())
    await shippo.purchase(
        PurchaseRequest(fr_to_us(), rates[2].service_code, "idem-2", carrier_rate_id=rates[2].carrier_rate_id)
    )
    assert shippo_fake.last_request("POST", r"^/transactions$").json["rate"] == rates[2].carrier_rate_id
    assert len(shippo_fake.requests_to("POST", r"^/shipments$")) == 1


async def test_a_higher_price_than_quoted_is_refused_before_buying(
    shippo: ShippoCarrier, shippo_fake: ShippoFake
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await shippo.purchase(PurchaseRequest(fr_to_us(), "ups_saver", "idem-3", expected_price=usd("60.00")))
    assert refused.value.field == "price"
    assert shippo_fake.requests_to("POST", r"^/transactions$") == []


async def test_a_refused_label_is_an_invalid_request(shippo: ShippoCarrier, shippo_fake: ShippoFake) -> None:
    shippo_fake.transaction_status = "ERROR"
    with pytest.raises(InvalidRequest, match="refused the label"):
        await shippo.purchase(PurchaseRequest(fr_to_us(), "ups_saver", "idem-4"))


async def test_a_label_still_queued_is_polled_then_reported(
    shippo: ShippoCarrier, shippo_fake: ShippoFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shippo_adapter, "_LABEL_POLL_SECONDS", 0.01)
    shippo_fake.transaction_status = "QUEUED"
    with pytest.raises(MalformedResponse, match="before buying again") as failed:
        await shippo.purchase(PurchaseRequest(fr_to_us(), "ups_saver", "idem-5"))
    assert not failed.value.retryable
    assert len(shippo_fake.requests_to("GET", r"^/transactions/")) == shippo_adapter._LABEL_POLLS


@pytest.mark.parametrize(
    ("refund_status", "expected"),
    [("QUEUED", VoidStatus.PENDING), ("SUCCESS", VoidStatus.VOIDED), ("ERROR", VoidStatus.REFUSED)],
)
async def test_void_asks_for_a_refund(
    shippo: ShippoCarrier, shippo_fake: ShippoFake, refund_status: str, expected: VoidStatus
) -> None:
    label = await shippo.purchase(PurchaseRequest(fr_to_us(), "ups_saver", "idem-6"))
    shippo_fake.refund_status = refund_status
    result = await shippo.void(label.reference)
    assert result.status is expected
    assert shippo_fake.last_request("POST", r"^/refunds$").json == {
        "transaction": label.carrier_label_id,
        "async": False,
    }


async def test_void_needs_the_transaction(shippo: ShippoCarrier, shippo_fake: ShippoFake) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await shippo.void(LabelReference("9200"))
    assert refused.value.field == "carrier_label_id"
    shippo_fake.inject(Fault.error(404, {"detail": "Not found."}), path="/refunds")
    with pytest.raises(NotFound):
        await shippo.void(LabelReference("9200", carrier_label_id="gone"))


# -- tracking --------------------------------------------------------------------------------------------


async def test_track_maps_the_history(shippo: ShippoCarrier, shippo_fake: ShippoFake) -> None:
    at = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    number = "9400111899560000000001"
    shippo_fake.set_history(
        "usps",
        number,
        [
            TrackingScan(
                "PRE_TRANSIT", "information_received", "Info", "Label created", at, "Lyon", "", "69002", "FR"
            ),
            TrackingScan(
                "TRANSIT",
                "package_held",
                "Held",
                "Held by customs",
                at + dt.timedelta(days=2),
                "Chicago",
                "IL",
                "60666",
                "US",
                True,
            ),
            TrackingScan(
                "DELIVERED",
                "delivered",
                "Delivered",
                "Delivered to dock",
                at + dt.timedelta(days=5),
                "Louisville",
                "KY",
                "40213",
                "US",
            ),
        ],
    )
    snapshot = await shippo.track(number)
    assert shippo_fake.last_request("GET", r"^/tracks/").path == f"/tracks/usps/{number}"
    assert snapshot.status is TrackingStatus.DELIVERED
    assert [(e.status, e.substatus, e.reason) for e in snapshot.events] == [
        (TrackingStatus.PRE_TRANSIT, "information_received", None),
        (TrackingStatus.EXCEPTION, "package_held", ExceptionReason.OTHER),
        (TrackingStatus.DELIVERED, "delivered", None),
    ]
    held = snapshot.events[1]
    assert (held.location.city, held.location.region, held.location.country) == ("Chicago", "IL", "US")
    assert held.description == "Held by customs"
    assert snapshot.estimated_delivery == dt.date(2026, 11, 11)


async def test_track_remembers_the_carrier_of_labels_it_bought(
    shippo_fake: ShippoFake, make_shippo: Callable[..., ShippoCarrier]
) -> None:
    shippo_fake.services = (
        ServiceSpec("DHL Express", "dhl_express_worldwide", "Worldwide", "88.00", "USD", 2),
    )
    adapter = make_shippo()
    label = await adapter.purchase(PurchaseRequest(fr_to_us(), "dhl_express_worldwide", "idem-7"))
    await adapter.track(label.tracking_number)
    assert (
        shippo_fake.last_request("GET", r"^/tracks/").path == f"/tracks/dhl_express/{label.tracking_number}"
    )


async def test_track_of_an_unrecognisable_number_is_refused(
    shippo: ShippoCarrier, shippo_fake: ShippoFake
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await shippo.track("NOT-A-NUMBER")
    assert refused.value.field == "tracking_number"
    assert shippo_fake.requests == []


# -- webhooks --------------------------------------------------------------------------------------------


def delivery(fake: ShippoFake) -> bytes:
    return json.dumps(fake.track_updated("usps", "9400111899560000000002")).encode()


async def test_a_webhook_with_token_and_signature_is_accepted(
    shippo: ShippoCarrier, shippo_fake: ShippoFake
) -> None:
    body = delivery(shippo_fake)
    headers = {TOKEN_HEADER: SHIPPO_WEBHOOK_TOKEN, **sign_webhook(body, SHIPPO_HMAC_SECRET)}
    events = await shippo.parse_webhook(headers, body)
    assert [e.substatus for e in events] == ["information_received", "package_accepted", "package_departed"]
    assert {e.carrier for e in events} == {"shippo-main"}


@pytest.mark.parametrize("case", [str.lower, str.upper, str.title])
async def test_header_names_are_matched_case_insensitively(
    shippo: ShippoCarrier, shippo_fake: ShippoFake, case: Callable[[str], str]
) -> None:
    body = delivery(shippo_fake)
    headers = {TOKEN_HEADER: SHIPPO_WEBHOOK_TOKEN, **sign_webhook(body, SHIPPO_HMAC_SECRET)}
    assert len(await shippo.parse_webhook({case(k): v for k, v in headers.items()}, body)) == 3


@pytest.mark.parametrize(
    ("token", "signature_secret", "timestamp_offset", "problem"),
    [
        (None, SHIPPO_HMAC_SECRET, 0, "token missing"),
        ("wrong-token", SHIPPO_HMAC_SECRET, 0, "token does not match"),
        (SHIPPO_WEBHOOK_TOKEN, None, 0, "header missing"),
        (SHIPPO_WEBHOOK_TOKEN, "another-secret", 0, "does not match the body"),
        (SHIPPO_WEBHOOK_TOKEN, SHIPPO_HMAC_SECRET, -3600, "replay"),
    ],
)
async def test_a_missing_or_wrong_token_or_signature_is_rejected(
    shippo: ShippoCarrier,
    shippo_fake: ShippoFake,
    token: str | None,
    signature_secret: str | None,
    timestamp_offset: int,
    problem: str,
) -> None:
    body = delivery(shippo_fake)
    headers: dict[str, str] = {}
    if token is not None:
        headers[TOKEN_HEADER] = token
    if signature_secret is not None:
        headers.update(sign_webhook(body, signature_secret, int(time.time()) + timestamp_offset))
    with pytest.raises(WebhookVerificationFailed, match=problem):
        await shippo.parse_webhook(headers, body)


async def test_a_tampered_body_is_rejected(shippo: ShippoCarrier, shippo_fake: ShippoFake) -> None:
    body = delivery(shippo_fake)
    headers = {TOKEN_HEADER: SHIPPO_WEBHOOK_TOKEN, **sign_webhook(body, SHIPPO_HMAC_SECRET)}
    with pytest.raises(WebhookVerificationFailed):
        await shippo.parse_webhook(headers, body.replace(b"TRANSIT", b"DELIVERED"))


async def test_a_token_only_account_needs_no_signature(
    make_shippo: Callable[..., ShippoCarrier], shippo_fake: ShippoFake
) -> None:
    adapter = make_shippo({"api_key": "SHIPPO_API_KEY", "webhook_token": "SHIPPO_WEBHOOK_TOKEN"})
    body = delivery(shippo_fake)
    assert len(await adapter.parse_webhook({TOKEN_HEADER: SHIPPO_WEBHOOK_TOKEN}, body)) == 3
    with pytest.raises(WebhookVerificationFailed):
        await adapter.parse_webhook({TOKEN_HEADER: "nope"}, body)


async def test_an_hmac_only_account_needs_no_token(
    make_shippo: Callable[..., ShippoCarrier], shippo_fake: ShippoFake
) -> None:
    adapter = make_shippo({"api_key": "SHIPPO_API_KEY", "webhook_hmac_secret": "SHIPPO_HMAC_SECRET"})
    body = delivery(shippo_fake)
    assert len(await adapter.parse_webhook(sign_webhook(body, SHIPPO_HMAC_SECRET), body)) == 3


async def test_without_token_or_secret_webhooks_are_not_offered(
    make_shippo: Callable[..., ShippoCarrier],
) -> None:
    adapter = make_shippo({"api_key": "SHIPPO_API_KEY"})
    assert not adapter.capabilities.supports(Operation.PARSE_WEBHOOK)
    with pytest.raises(UnsupportedOperation):
        await adapter.parse_webhook({TOKEN_HEADER: SHIPPO_WEBHOOK_TOKEN}, b"{}")


async def test_other_events_are_acknowledged_without_tracking(shippo: ShippoCarrier) -> None:
    body = json.dumps({"event": "transaction_created", "test": True, "data": {}}).encode()
    headers = {TOKEN_HEADER: SHIPPO_WEBHOOK_TOKEN, **sign_webhook(body, SHIPPO_HMAC_SECRET)}
    assert await shippo.parse_webhook(headers, body) == []


# -- faults ----------------------------------------------------------------------------------------------


async def test_rate_limit_carries_retry_after(shippo: ShippoCarrier, shippo_fake: ShippoFake) -> None:
    shippo_fake.inject(Fault.rate_limited("4"), path="^/shipments$")
    with pytest.raises(RateLimited) as limited:
        await shippo.quote(fr_to_us())
    assert limited.value.retry_after_seconds == 4.0
    assert len(shippo_fake.requests) == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault.server_error(500),
        Fault.server_error(503),
        Fault.server_error(502, b"<html>Bad Gateway</html>"),
        Fault.reset(),
    ],
    ids=["500", "503", "502-html", "reset"],
)
async def test_server_failures_are_unavailable(
    shippo: ShippoCarrier, shippo_fake: ShippoFake, fault: Fault
) -> None:
    shippo_fake.inject(fault, path="^/shipments$")
    with pytest.raises(Unavailable):
        await shippo.quote(fr_to_us())
    assert len(shippo_fake.requests) == 1


async def test_a_hang_times_out_although_the_sdk_sets_no_timeout(
    shippo: ShippoCarrier, shippo_fake: ShippoFake
) -> None:
    shippo_fake.inject(Fault.hang(3), path="^/tracks/")
    started = time.monotonic()
    with pytest.raises(TimedOut):
        await shippo.track("9400111899560000000003")
    assert time.monotonic() - started < 1.5
    assert len(shippo_fake.requests) == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault.malformed_json(),
        Fault.missing_fields("rates.0.amount"),  # shippo 3.9.0: KeyError while decoding
        Fault.missing_fields("object_id"),
        Fault.missing_fields("rates.1.servicelevel"),
    ],
    ids=["bad-json", "rate-without-amount", "shipment-without-id", "rate-without-servicelevel"],
)
async def test_unreadable_answers_are_malformed(
    shippo: ShippoCarrier, shippo_fake: ShippoFake, fault: Fault
) -> None:
    shippo_fake.inject(fault, path="^/shipments$")
    with pytest.raises(MalformedResponse) as failed:
        await shippo.quote(fr_to_us())
    assert not failed.value.retryable


async def test_a_wrong_api_key_is_an_authentication_failure(shippo_fake: ShippoFake) -> None:
    adapter = ShippoCarrier.from_account(
        shippo_account(shippo_fake), {**ENVIRON, "SHIPPO_API_KEY": "shippo_test_revoked"}
    )
    try:
        with pytest.raises(AuthenticationFailed):
            await adapter.quote(fr_to_us())
        assert shippo_fake.requests[0].headers["authorization"] == "ShippoToken shippo_test_revoked"
    finally:
        await adapter.close()


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        ("address_to.zip", "customer.address.postal_code"),
        ("address_from.street1", "destination.address.address_lines"),
        ("parcels.0.weight", "parcels[0].weight_grams"),
        ("customs_declaration.items.1.net_weight", "items[1].unit_weight_grams"),
        ("customs_declaration.incoterm", "incoterm"),
    ],
)
async def test_an_invalid_request_names_the_field(
    shippo: ShippoCarrier, shippo_fake: ShippoFake, path: str, canonical: str
) -> None:
    shippo_fake.inject(
        Fault.error(400, ShippoFake.invalid(path, "This field is invalid.")), path="^/shipments$"
    )
    with pytest.raises(InvalidRequest) as refused:
        await shippo.quote(fr_to_us())
    assert refused.value.field == canonical
    assert "This field is invalid." in refused.value.message


async def test_the_fake_refuses_what_shippo_refuses(shippo: ShippoCarrier, shippo_fake: ShippoFake) -> None:
    """A declaration the adapter could get wrong is validated by the fake as Shippo does."""
    huge = ReturnedItem("X", "Thing", 1, usd("1"), 10, "DE", "6109100010999")  # 13 characters
    with pytest.raises(InvalidRequest) as refused:
        await shippo.quote(fr_to_us(LabelFormat.PDF, huge))
    assert refused.value.field == "items[0].hs_code"


# -- resilience and configuration ------------------------------------------------------------------------


async def test_the_resilience_layer_retries_a_transient_failure_to_success(
    shippo: ShippoCarrier, shippo_fake: ShippoFake
) -> None:
    resilient = ResilientCarrier(
        shippo, CallPolicy(timeout_seconds=1.0, max_attempts=3, backoff_initial_seconds=0.01)
    )
    shippo_fake.inject(Fault.reset(), path="^/shipments$")
    shippo_fake.inject(Fault.hang(2), path="^/shipments$")
    rates = await resilient.quote(fr_to_us())
    assert len(rates) == 4
    assert len(shippo_fake.requests_to("POST", r"^/shipments$")) == 3


def test_the_entry_point_resolves_to_the_adapter() -> None:
    assert load_factory("shippo") is ShippoCarrier


def test_a_missing_credential_and_bad_options_are_reported(shippo_fake: ShippoFake) -> None:
    account = shippo_account(shippo_fake)
    with pytest.raises(MissingCredential):
        ShippoCarrier.from_account(account, {})
    cases: list[tuple[dict[str, Any], str]] = [
        ({"incoterm": "CIF"}, "options.incoterm"),
        ({"duties_payor": {"type": "CUSTOMER"}}, "options.duties_payor.type"),
        ({"non_delivery_option": "return"}, "options.non_delivery_option"),
        ({"customs_fx": {"as_of": "yesterday", "rates": {"EUR": "0.9"}}}, "options.customs_fx.as_of"),
    ]
    for options, named in cases:
        bad = type(account)(account.id, account.adapter, account.carrier, account.secret_env, options)
        with pytest.raises(ValueError, match=re.escape(named)):
            ShippoCarrier.from_account(bad, ENVIRON)


async def test_concurrent_quotes_share_the_account_pool(
    shippo: ShippoCarrier, shippo_fake: ShippoFake
) -> None:
    results = await asyncio.gather(*(shippo.quote(fr_to_us()) for _ in range(6)))
    assert all(len(rates) == 4 for rates in results)
    assert len(shippo_fake.requests) == 6


# -- with the customs declaration the labels use case builds --------------------------------------------


@pytest.mark.parametrize(
    ("incoterm", "duty_payer", "sent_incoterm", "sent_payor"),
    [
        (Incoterm.DAP, DutyPayer.ADDRESSEE, "DDU", {"type": "RECIPIENT", "account": "510087020"}),
        (Incoterm.DDP, DutyPayer.ADDRESSEE, "DDP", {"type": "RECIPIENT", "account": "510087020"}),
        (Incoterm.DAP, DutyPayer.SENDER, "DDU", {"type": "SENDER"}),
        (Incoterm.FCA, DutyPayer.THIRD_PARTY, "FCA", {"type": "THIRD_PARTY"}),
    ],
)
async def test_a_built_declaration_states_incoterm_and_duty_payer_as_declared(
    make_shippo: Callable[..., ShippoCarrier],
    shippo_fake: ShippoFake,
    incoterm: Incoterm,
    duty_payer: DutyPayer,
    sent_incoterm: str,
    sent_payor: dict[str, str],
) -> None:
    # The account's own incoterm and payor type are overridden by the declaration, each on its own.
    adapter = make_shippo(incoterm="DDP", duties_payor={"type": "RECIPIENT", "account": "510087020"})
    await adapter.purchase(PurchaseRequest(declared(fr_to_us(), incoterm, duty_payer), "ups_saver", "idem-9"))
    sent = declaration(shippo_fake)
    assert (sent["incoterm"], sent["duties_payor"]) == (sent_incoterm, sent_payor)
    assert sent["certify_signer"] == "Jeanne Martin (signed)"
    assert sent["non_delivery_option"] == "ABANDON"
    assert sent["invoice"] == "INV-2026-1001"
    assert [i["tariff_number"] for i in sent["items"]] == ["610910", "620342"]


async def test_a_declared_us_export_filing_is_sent_as_aes_itn(
    shippo: ShippoCarrier, shippo_fake: ShippoFake
) -> None:
    camera = ReturnedItem("CAM-1", "Camera", 1, usd("4000.00"), 800, "JP", "8525.89")
    shipment = declared(us_to(HUB_DE, camera), aes_itn="X20261120123456")
    await shippo.purchase(PurchaseRequest(shipment, "ups_saver", "idem-10"))
    sent = declaration(shippo_fake)
    assert (sent["eel_pfc"], sent["aes_itn"]) == ("AES_ITN", "X20261120123456")


async def test_a_declared_exemption_legend_becomes_its_code(
    shippo: ShippoCarrier, shippo_fake: ShippoFake
) -> None:
    camera = ReturnedItem("CAM-1", "Camera", 1, usd("900.00"), 800, "JP", "8525.89")
    await shippo.purchase(PurchaseRequest(declared(us_to(HUB_DE, camera)), "ups_saver", "idem-11"))
    assert declaration(shippo_fake)["eel_pfc"] == "NOEEI_30_37_a"


async def test_an_incoterm_shippo_lacks_is_refused_naming_the_field(
    shippo: ShippoCarrier, shippo_fake: ShippoFake
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await shippo.purchase(PurchaseRequest(declared(fr_to_us(), Incoterm.EXW), "ups_saver", "idem-12"))
    assert refused.value.field == "customs_declaration.incoterm"
    assert shippo_fake.requests == []


async def test_a_return_within_a_customs_territory_has_no_declaration(
    shippo: ShippoCarrier, shippo_fake: ShippoFake
) -> None:
    await shippo.quote(intra_eu())
    assert "customs_declaration" not in sent_shipment(shippo_fake)
