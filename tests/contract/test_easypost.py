"""The EasyPost adapter driving the real `easypost` SDK against the loopback fake EasyPost."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import time
from decimal import Decimal
from typing import Any

import pytest

from carriers.accounts import CallPolicy, MissingCredential
from carriers.easypost import EasyPostCarrier
from carriers.errors import (
    AuthenticationFailed,
    CarrierError,
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
from carriers.tracking import ExceptionReason, TrackingStatus
from customs.address import Party
from customs.declaration import DutyPayer, Incoterm
from customs.goods import ReturnedItem
from customs.money import Money
from tests.contract.conftest import EASYPOST_WEBHOOK_SECRET, ENVIRON, easypost_account
from tests.contract.returns import (
    CUSTOMER_CA,
    HUB_DE,
    JEANS,
    TSHIRT,
    declared,
    domestic_us,
    fr_to_us,
    intra_eu,
    us_to,
    usd,
    with_handover,
)
from tests.fakes.easypost_server import EasyPostFake, RateSpec, TrackingScan, sign_webhook
from tests.fakes.loopback import Fault

pytestmark = pytest.mark.timeout(30)


def sent_shipment(fake: EasyPostFake) -> dict[str, Any]:
    sent: dict[str, Any] = fake.last_request("POST", r"^/v2/shipments$").json["shipment"]
    return sent


# -- the request: a return with its customs information -------------------------------------------------


async def test_quote_sends_a_return_with_the_original_addresses(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    await easypost.quote(fr_to_us())
    sent = sent_shipment(easypost_fake)
    assert sent["is_return"] is True
    # EasyPost swaps them itself: to_address is who received the goods, from_address where they go back to.
    assert sent["to_address"] == {
        "name": "Jeanne Martin",
        "street1": "12 Rue de la République",
        "city": "Lyon",
        "country": "FR",
        "zip": "69002",
        "phone": "+33 4 72 00 00 00",
        "email": "jeanne@example.fr",
    }
    assert sent["from_address"]["company"] == "ACME Returns"
    assert sent["from_address"]["street2"] == "Dock 4"
    assert sent["from_address"]["state"] == "KY"  # ISO 3166-2 US-KY, subdivision part only
    assert sent["reference"] == "RMA-7781"


async def test_parcel_in_inches_and_ounces_rounded_up(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    await easypost.quote(fr_to_us())
    # 1200 g = 42.33 oz -> 42.4; 300 x 200 x 100 mm = 11.81 x 7.87 x 3.94 in -> 11.9 x 7.9 x 4.0
    assert sent_shipment(easypost_fake)["parcel"] == {
        "length": "11.9",
        "width": "7.9",
        "height": "4.0",
        "weight": "42.4",
    }


async def test_customs_info_of_a_cross_border_return(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    await easypost.quote(fr_to_us())
    customs = sent_shipment(easypost_fake)["customs_info"]
    assert customs["contents_type"] == "returned_goods"
    assert customs["customs_certify"] is True
    assert customs["customs_signer"] == "Jeanne Martin"
    assert customs["non_delivery_option"] == "return"
    assert "eel_pfc" not in customs  # the return leaves France, not the US
    assert customs["customs_items"] == [
        {
            "description": "Cotton T-shirt, blue",
            "quantity": 2,
            "weight": "14.110",  # 2 x 200 g in ounces, 3 decimals
            "value": "65.00",  # EUR 59.80 at USD 1 = EUR 0.92
            "currency": "USD",
            "origin_country": "PT",
            "code": "TS-BLUE-M",
            "hs_tariff_number": "610910",
        },
        {
            "description": "Denim jeans",
            "quantity": 1,
            "weight": "22.928",
            "value": "85.87",
            "currency": "USD",
            "origin_country": "TR",
            "code": "JN-32-34",
            "hs_tariff_number": "620342",
        },
    ]


async def test_usd_goods_keep_their_exact_value(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    boots = ReturnedItem("BT-44", "Leather boots", 3, usd("149.995"), 900, "IT", "640399")
    await easypost.quote(us_to(HUB_DE, boots))
    customs = sent_shipment(easypost_fake)["customs_info"]
    assert customs["customs_items"][0]["value"] == "449.99"  # 449.985 rounded half up to cents
    assert customs["customs_items"][0]["weight"] == "95.240"  # 2700 g


async def test_a_return_leaving_the_us_states_the_eei_exemption(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    await easypost.quote(
        us_to(HUB_DE, ReturnedItem("CAM-1", "Camera", 1, usd("2500.00"), 800, "JP", "852580"))
    )
    assert sent_shipment(easypost_fake)["customs_info"]["eel_pfc"] == "NOEEI 30.37(a)"


async def test_a_return_from_the_us_to_canada_uses_the_canada_exemption(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    hub_ca = Party(CUSTOMER_CA.contact, CUSTOMER_CA.address)
    await easypost.quote(
        us_to(hub_ca, ReturnedItem("CAM-1", "Camera", 1, usd("4000.00"), 800, "JP", "852580"))
    )
    assert sent_shipment(easypost_fake)["customs_info"]["eel_pfc"] == "NOEEI 30.36"


async def test_values_per_hs_code_add_up_against_the_eei_threshold(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    lens = ReturnedItem("LENS-1", "Lens", 1, usd("1300.00"), 500, "JP", "900211")
    other_lens = ReturnedItem("LENS-2", "Lens", 1, usd("1300.00"), 500, "JP", "900211")
    with pytest.raises(InvalidRequest) as refused:
        await easypost.quote(us_to(HUB_DE, lens, other_lens))
    assert refused.value.field == "items"
    assert "AES ITN" in refused.value.message
    assert easypost_fake.requests == []  # refused before calling EasyPost


async def test_foreign_currency_without_an_fx_table_is_refused_naming_the_field(
    easypost_fake: EasyPostFake,
) -> None:
    account = easypost_account(easypost_fake)
    options = {k: v for k, v in account.options.items() if k != "customs_fx"}
    adapter = EasyPostCarrier.from_account(
        type(account)(
            account.id, account.adapter, account.carrier, account.secret_env, options, account.policy
        ),
        ENVIRON,
    )
    try:
        with pytest.raises(InvalidRequest) as refused:
            await adapter.quote(fr_to_us())
        assert refused.value.field == "items[0].unit_value.currency_code"
        assert easypost_fake.requests == []
    finally:
        await adapter.close()


async def test_a_domestic_return_has_no_customs(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    await easypost.quote(domestic_us())
    assert "customs_info" not in sent_shipment(easypost_fake)


async def test_pickups_and_multi_parcel_returns_are_not_offered(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    with pytest.raises(UnsupportedLane):
        await easypost.quote(with_handover(fr_to_us(), Handover.PICKUP))
    assert easypost_fake.requests == []


# -- rates and labels ------------------------------------------------------------------------------------


async def test_rates_are_decimal_money_in_the_carrier_currency(easypost: EasyPostCarrier) -> None:
    rates = await easypost.quote(fr_to_us())
    assert [(r.service_code, r.price, r.transit_days) for r in rates] == [
        ("USPS:FirstClassPackageInternationalService", usd("18.40"), 10),
        ("USPS:PriorityMailInternational", usd("42.35"), 7),
        ("UPS:Expedited", usd("61.20"), 4),
        ("DHLExpress:ExpressWorldwideNonDoc", usd("78.90"), 3),
    ]
    assert isinstance(rates[0].price.amount, Decimal)
    assert rates[1].carrier == "USPS via EasyPost"
    assert rates[1].service_name == "USPS Priority Mail International"
    assert rates[1].account_id == "easypost-us"
    assert rates[1].carrier_rate_id.startswith("rate_")
    assert {r.handover for r in rates} == {Handover.DROP_OFF}  # one call, every service: all drop-offs


async def test_no_rate_at_all_is_an_unsupported_lane(
    easypost_fake: EasyPostFake, easypost: EasyPostCarrier
) -> None:
    easypost_fake.rates = ()
    with pytest.raises(UnsupportedLane):
        await easypost.quote(fr_to_us())


@pytest.mark.parametrize(
    ("label_format", "sent_format", "extension"),
    [(LabelFormat.PDF, "PDF", ".pdf"), (LabelFormat.PNG, "PNG", ".png"), (LabelFormat.ZPL, "ZPL", ".zpl")],
)
async def test_purchase_re_rates_and_buys_in_the_asked_format(
    easypost: EasyPostCarrier,
    easypost_fake: EasyPostFake,
    label_format: LabelFormat,
    sent_format: str,
    extension: str,
) -> None:
    shipment = fr_to_us()
    label = await easypost.purchase(
        PurchaseRequest(
            shipment, "UPS:Expedited", "idem-1", expected_price=usd("61.20"), label_format=label_format
        )
    )
    assert sent_shipment(easypost_fake)["options"] == {"label_format": sent_format}
    buy = easypost_fake.last_request("POST", r"/buy$")
    bought_shipment = easypost_fake.shipments[buy.path.split("/")[3]]
    ups_rate = next(r for r in bought_shipment["rates"] if r["carrier"] == "UPS")
    assert buy.json == {"rate": {"id": ups_rate["id"]}}
    assert label.label_url.endswith(extension)
    assert label.label_format is label_format
    assert label.tracking_number == bought_shipment["tracking_code"]
    assert label.carrier_shipment_id == bought_shipment["id"]
    assert label.carrier_label_id.startswith("pl_")
    assert label.price == usd("61.20")
    assert label.tracking_url.startswith("https://track.easypost.com/")
    assert easypost_fake.requests_to("GET", r"/label$") == []  # no conversion needed


async def test_buying_a_quoted_rate_converts_the_label_when_needed(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    rates = await easypost.quote(fr_to_us(LabelFormat.PNG))
    chosen = rates[0]
    label = await easypost.purchase(
        PurchaseRequest(
            fr_to_us(),
            chosen.service_code,
            "idem-2",
            carrier_rate_id=chosen.carrier_rate_id,
            label_format=LabelFormat.PDF,
        )
    )
    conversion = easypost_fake.last_request("GET", r"/label$")
    assert conversion.query == {"file_format": ["PDF"]}
    assert label.label_url.endswith(".pdf")
    assert len(easypost_fake.requests_to("POST", r"^/v2/shipments$")) == 1  # the quote's shipment was bought


async def test_a_higher_price_than_quoted_is_refused_before_buying(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await easypost.purchase(
            PurchaseRequest(fr_to_us(), "UPS:Expedited", "idem-3", expected_price=usd("59.99"))
        )
    assert refused.value.field == "price"
    assert easypost_fake.requests_to("POST", r"/buy$") == []


async def test_a_service_no_longer_offered_is_refused(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await easypost.purchase(PurchaseRequest(fr_to_us(), "FedEx:InternationalPriority", "idem-4"))
    assert refused.value.field == "service_code"
    assert easypost_fake.requests_to("POST", r"/buy$") == []


@pytest.mark.parametrize(
    ("refund_status", "expected"),
    [("submitted", VoidStatus.PENDING), ("refunded", VoidStatus.VOIDED), ("rejected", VoidStatus.REFUSED)],
)
async def test_void_asks_for_a_refund(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake, refund_status: str, expected: VoidStatus
) -> None:
    label = await easypost.purchase(PurchaseRequest(fr_to_us(), "UPS:Expedited", "idem-5"))
    easypost_fake.refund_status = refund_status
    result = await easypost.void(label.reference)
    assert result.status is expected
    assert (
        easypost_fake.last_request("POST", r"/refund$").path
        == f"/v2/shipments/{label.carrier_shipment_id}/refund"
    )


async def test_void_of_an_unknown_shipment_is_not_found(easypost: EasyPostCarrier) -> None:
    with pytest.raises(NotFound):
        await easypost.void(LabelReference("EZ999", carrier_shipment_id="shp_doesnotexist"))


# -- tracking --------------------------------------------------------------------------------------------


async def test_track_registers_a_tracker_once_and_maps_the_scans(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    t0 = TrackingScan("pre_transit", "label_created", "Label created", dt_("2026-11-02T09:00:00+00:00"))
    easypost_fake.set_history(
        "EZ4000000004",
        [
            t0,
            TrackingScan(
                "in_transit",
                "arrived_at_facility",
                "Arrived",
                dt_("2026-11-03T05:00:00+00:00"),
                "Paris",
                "",
                "FR",
            ),
            TrackingScan(
                "failure",
                "lost",
                "Parcel lost",
                dt_("2026-11-05T10:30:00+00:00"),
                "Memphis",
                "TN",
                "US",
                "38118",
            ),
        ],
    )
    snapshot = await easypost.track("EZ4000000004")
    assert [r.method for r in easypost_fake.requests] == ["GET", "POST"]  # no tracker yet: created
    assert easypost_fake.requests[0].query["tracking_code"] == ["EZ4000000004"]
    assert snapshot.status is TrackingStatus.EXCEPTION
    assert [(e.status, e.substatus, e.reason) for e in snapshot.events] == [
        (TrackingStatus.PRE_TRANSIT, "label_created", None),
        (TrackingStatus.IN_TRANSIT, "arrived_at_facility", None),
        (TrackingStatus.EXCEPTION, "lost", ExceptionReason.LOST),
    ]
    last = snapshot.events[-1]
    assert (last.location.city, last.location.region, last.location.postal_code, last.location.country) == (
        "Memphis",
        "TN",
        "38118",
        "US",
    )
    assert last.raw["message"] == "Parcel lost"
    assert last.carrier == "easypost-us"
    easypost_fake.clear_requests()
    await easypost.track("EZ4000000004")
    assert [r.method for r in easypost_fake.requests] == ["GET"]  # found: not created twice


def dt_(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# -- webhooks --------------------------------------------------------------------------------------------


def delivery(fake: EasyPostFake, code: str = "EZ5000000005") -> bytes:
    return json.dumps(fake.tracker_event(code)).encode()


@pytest.mark.parametrize("header", ["X-Hmac-Signature", "x-hmac-signature", "X-HMAC-SIGNATURE"])
async def test_a_correctly_signed_webhook_is_accepted_whatever_the_header_case(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake, header: str
) -> None:
    body = delivery(easypost_fake)
    signature = sign_webhook(body, EASYPOST_WEBHOOK_SECRET)["X-Hmac-Signature"]
    events = await easypost.parse_webhook({header: signature, "content-type": "application/json"}, body)
    assert [e.substatus for e in events] == ["label_created", "arrived_at_facility", "departed_facility"]
    assert {e.tracking_number for e in events} == {"EZ5000000005"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-hmac-signature": ""},
        {"x-hmac-signature": "hmac-sha256-hex=" + "0" * 64},
        {"x-hmac-signature": "sha256=" + "0" * 64},
    ],
    ids=["missing", "empty", "wrong", "wrong-scheme"],
)
async def test_a_missing_or_wrong_signature_is_rejected(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake, headers: dict[str, str]
) -> None:
    with pytest.raises(WebhookVerificationFailed):
        await easypost.parse_webhook(headers, delivery(easypost_fake))


async def test_a_tampered_body_is_rejected(easypost: EasyPostCarrier, easypost_fake: EasyPostFake) -> None:
    body = delivery(easypost_fake)
    headers = sign_webhook(body, EASYPOST_WEBHOOK_SECRET)
    with pytest.raises(WebhookVerificationFailed):
        await easypost.parse_webhook(headers, body.replace(b"in_transit", b"delivered"))


async def test_the_secret_is_nfkd_normalised_before_signing(easypost_fake: EasyPostFake) -> None:
    # "ﬁ" (U+FB01) normalises to "fi": EasyPost signs with the normalised secret.
    body = delivery(easypost_fake)
    digest = hmac.new(b"whsec_fi", body, hashlib.sha256).hexdigest()
    adapter = EasyPostCarrier.from_account(
        easypost_account(easypost_fake), {**ENVIRON, "EASYPOST_WEBHOOK_SECRET": "whsec_ﬁ"}
    )
    try:
        events = await adapter.parse_webhook({"x-hmac-signature": f"hmac-sha256-hex={digest}"}, body)
        assert len(events) == 3
    finally:
        await adapter.close()


async def test_other_events_are_acknowledged_without_tracking(easypost: EasyPostCarrier) -> None:
    body = json.dumps({"object": "Event", "description": "refund.successful", "result": {}}).encode()
    assert await easypost.parse_webhook(sign_webhook(body, EASYPOST_WEBHOOK_SECRET), body) == []


async def test_a_signed_but_unreadable_webhook_is_malformed(easypost: EasyPostCarrier) -> None:
    body = b'{"description": "tracker.updated", "result": {"tracking_code": "EZ1"}}'
    with pytest.raises(MalformedResponse):
        await easypost.parse_webhook(sign_webhook(body, EASYPOST_WEBHOOK_SECRET), body)


async def test_without_a_webhook_secret_webhooks_are_not_offered(easypost_fake: EasyPostFake) -> None:
    account = easypost_account(easypost_fake)
    account = type(account)(
        account.id, account.adapter, account.carrier, {"api_key": "EASYPOST_API_KEY"}, account.options
    )
    adapter = EasyPostCarrier.from_account(account, ENVIRON)
    try:
        assert not adapter.capabilities.supports(Operation.PARSE_WEBHOOK)
        with pytest.raises(UnsupportedOperation):
            await adapter.parse_webhook({}, b"{}")
    finally:
        await adapter.close()


# -- faults ----------------------------------------------------------------------------------------------


async def test_rate_limit_carries_retry_after_and_the_sdk_does_not_retry_on_its_own(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    easypost_fake.inject(Fault.rate_limited("3"), path="/trackers")
    with pytest.raises(RateLimited) as limited:
        await easypost.track("EZ1000000001")  # a GET: the SDK's own adapter would have slept and retried
    assert limited.value.retry_after_seconds == 3.0
    assert limited.value.retryable
    assert len(easypost_fake.requests) == 1


async def test_retry_after_as_an_http_date(easypost: EasyPostCarrier, easypost_fake: EasyPostFake) -> None:
    easypost_fake.inject(Fault.rate_limited("Wed, 21 Oct 2015 07:28:00 GMT"), path="/shipments")
    with pytest.raises(RateLimited) as limited:
        await easypost.quote(fr_to_us())
    assert limited.value.retry_after_seconds == 0.0  # a date in the past: retry now


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
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake, fault: Fault
) -> None:
    easypost_fake.inject(fault, path="/shipments")
    with pytest.raises(Unavailable) as failed:
        await easypost.quote(fr_to_us())
    assert failed.value.retryable
    assert len(easypost_fake.requests) == 1


async def test_a_hang_times_out_at_the_configured_timeout_without_retrying(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    easypost_fake.inject(Fault.hang(3), path="/trackers")
    started = time.monotonic()
    with pytest.raises(TimedOut):
        await easypost.track("EZ1000000001")
    assert time.monotonic() - started < 1.5
    assert len(easypost_fake.requests) == 1


async def test_a_hang_does_not_block_the_event_loop(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    easypost_fake.inject(Fault.hang(3), path="/shipments")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    with pytest.raises(TimedOut):
        await easypost.quote(fr_to_us())
    ticker.cancel()
    assert ticks >= 20  # ~0.5 s of hanging, the loop kept running


@pytest.mark.parametrize(
    "fault",
    [Fault.malformed_json(), Fault.missing_fields("rates.0.rate"), Fault.missing_fields("rates")],
    ids=["bad-json", "rate-without-amount", "no-rates-key"],
)
async def test_unreadable_answers_are_malformed(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake, fault: Fault
) -> None:
    easypost_fake.inject(fault, path="/shipments")
    with pytest.raises(MalformedResponse) as failed:
        await easypost.quote(fr_to_us())
    assert not failed.value.retryable


async def test_a_wrong_api_key_is_an_authentication_failure(easypost_fake: EasyPostFake) -> None:
    adapter = EasyPostCarrier.from_account(
        easypost_account(easypost_fake), {**ENVIRON, "EASYPOST_API_KEY": "EZTK_revoked"}
    )
    try:
        with pytest.raises(AuthenticationFailed):
            await adapter.quote(fr_to_us())
    finally:
        await adapter.close()


@pytest.mark.parametrize(
    ("provider_field", "canonical"),
    [
        ("to_address.zip", "customer.address.postal_code"),
        ("shipment.from_address.street1", "destination.address.address_lines"),
        ("parcel.weight", "parcels[0].weight_grams"),
        ("customs_info.customs_items.1.hs_tariff_number", "items[1].hs_code"),
        ("customs_info.customs_items[0].value", "items[0].unit_value"),
        ("options.label_format", "options.label_format"),
    ],
)
async def test_an_invalid_request_names_the_field(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake, provider_field: str, canonical: str
) -> None:
    easypost_fake.inject(
        Fault.error(422, EasyPostFake.invalid(provider_field, "is invalid")), path="/shipments"
    )
    with pytest.raises(InvalidRequest) as refused:
        await easypost.quote(fr_to_us())
    assert refused.value.field == canonical
    assert provider_field in refused.value.message


async def test_no_sdk_exception_escapes_untyped(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    for fault in (
        Fault.malformed_json(),
        Fault.reset(),
        Fault.server_error(),
        Fault.missing_fields("tracking_code"),
    ):
        easypost_fake.inject(fault, path="/buy")
        with pytest.raises(CarrierError):
            await easypost.purchase(PurchaseRequest(fr_to_us(), "UPS:Expedited", "idem-6"))


# -- resilience and configuration ------------------------------------------------------------------------


async def test_the_resilience_layer_retries_a_transient_failure_to_success(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    resilient = ResilientCarrier(
        easypost, CallPolicy(timeout_seconds=1.0, max_attempts=3, backoff_initial_seconds=0.01)
    )
    easypost_fake.inject(Fault.server_error(503), path="/shipments")
    easypost_fake.inject(Fault.rate_limited("0"), path="/shipments")
    rates = await resilient.quote(fr_to_us())
    assert len(rates) == 4
    assert len(easypost_fake.requests_to("POST", r"^/v2/shipments$")) == 3


def test_the_entry_point_resolves_to_the_adapter() -> None:
    assert load_factory("easypost") is EasyPostCarrier


def test_a_missing_credential_and_bad_options_are_reported(easypost_fake: EasyPostFake) -> None:
    account = easypost_account(easypost_fake)
    with pytest.raises(MissingCredential):
        EasyPostCarrier.from_account(account, {})
    bad = type(account)(
        account.id, account.adapter, account.carrier, account.secret_env, {"api_base": "ftp://x/v2"}
    )
    with pytest.raises(ValueError, match=r"options\.api_base"):
        EasyPostCarrier.from_account(bad, ENVIRON)
    typo = type(account)(account.id, account.adapter, account.carrier, account.secret_env, {"workerz": 3})
    with pytest.raises(ValueError, match=r"options\.workerz"):
        EasyPostCarrier.from_account(typo, ENVIRON)


async def test_capabilities(easypost: EasyPostCarrier) -> None:
    capabilities = easypost.capabilities
    assert capabilities.label_formats == {LabelFormat.PDF, LabelFormat.PNG, LabelFormat.ZPL}
    assert all(capabilities.supports(op) for op in Operation)


async def test_concurrent_quotes_share_the_account_pool(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    results = await asyncio.gather(*(easypost.quote(fr_to_us()) for _ in range(12)))
    assert all(len(rates) == 4 for rates in results)
    assert len(easypost_fake.requests) == 12


async def test_each_customs_item_is_its_own_line(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    await easypost.quote(fr_to_us(LabelFormat.PDF, TSHIRT, TSHIRT, JEANS))
    assert [i["code"] for i in sent_shipment(easypost_fake)["customs_info"]["customs_items"]] == [
        "TS-BLUE-M",
        "TS-BLUE-M",
        "JN-32-34",
    ]


async def test_custom_rate_table_of_the_fake(easypost_fake: EasyPostFake) -> None:
    easypost_fake.rates = (RateSpec("CanadaPost", "ExpeditedParcel", "23.10", "CAD", 5),)
    adapter = EasyPostCarrier.from_account(easypost_account(easypost_fake), ENVIRON)
    try:
        (rate,) = await adapter.quote(fr_to_us())
        assert rate.price == Money.of("23.10", "CAD")
    finally:
        await adapter.close()


# -- with the customs declaration the labels use case builds --------------------------------------------


async def test_a_built_declaration_fills_the_customs_info(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    camera = ReturnedItem("CAM-1", "Camera", 1, usd("4000.00"), 800, "JP", "8525.89")
    shipment = declared(us_to(HUB_DE, camera), Incoterm.DDP, DutyPayer.SENDER, aes_itn="X20261120123456")
    await easypost.purchase(
        PurchaseRequest(shipment, "UPS:Expedited", "idem-7", label_format=LabelFormat.ZPL)
    )
    sent = sent_shipment(easypost_fake)
    customs = sent["customs_info"]
    assert customs["eel_pfc"] == "AES X20261120123456"  # over USD 2,500: the return's own filing
    assert customs["customs_signer"] == "Sam Rivera (signed)"
    assert customs["non_delivery_option"] == "abandon"
    assert customs["customs_items"][0]["hs_tariff_number"] == "852589"  # validated code, digits only
    assert customs["customs_items"][0]["value"] == "4000.00"
    # Incoterm and duty payer exactly as declared, neither derived from the other.
    assert sent["options"] == {"label_format": "ZPL", "incoterm": "DDP", "duty_payment": {"type": "SENDER"}}


async def test_a_declared_dap_return_paid_by_the_hub(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    await easypost.purchase(PurchaseRequest(declared(fr_to_us()), "UPS:Expedited", "idem-8"))
    sent = sent_shipment(easypost_fake)
    assert sent["options"]["incoterm"] == "DAP"
    assert sent["options"]["duty_payment"] == {"type": "RECEIVER"}
    assert "eel_pfc" not in sent["customs_info"]
    assert [i["value"] for i in sent["customs_info"]["customs_items"]] == ["65.00", "85.87"]


async def test_a_return_within_a_customs_territory_has_no_customs(
    easypost: EasyPostCarrier, easypost_fake: EasyPostFake
) -> None:
    await easypost.quote(intra_eu())
    assert "customs_info" not in sent_shipment(easypost_fake)
