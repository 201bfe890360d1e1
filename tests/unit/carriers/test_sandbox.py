import asyncio
import datetime as dt
import json

import pytest

from carriers.accounts import CarrierAccount
from carriers.errors import (
    AuthenticationFailed,
    MalformedResponse,
    RateLimited,
    Unavailable,
    WebhookVerificationFailed,
)
from carriers.models import Handover, Parcel, PurchaseRequest, VoidStatus
from carriers.sandbox import SandboxCarrier, SandboxMode, SandboxSettings, sign_webhook
from carriers.tracking import ExceptionReason, TrackingStatus
from customs.datafile import DataFileError
from customs.money import Money

from .sample_shipments import return_shipment


class SteppingClock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def sandbox(
    clock: SteppingClock | None = None, secret: str | None = None, **settings: object
) -> SandboxCarrier:
    return SandboxCarrier(
        "sandbox",
        "Sandbox",
        SandboxSettings(**settings),  # type: ignore[arg-type]
        webhook_secret=secret,
        clock=clock or SteppingClock(),
    )


async def test_prices_follow_the_shipment_deterministically() -> None:
    # 2300 g -> 3 started kg: 6.00 + 3 x 1.20 = 9.60; cross-border DE -> NL + 4.00 = 13.60; express x 1.8.
    shipment = return_shipment("DE", "10115", Parcel(2300, 300, 200, 100), handover=Handover.DROP_OFF)
    rates = {r.service_code: r for r in await sandbox().quote(shipment)}
    assert rates["sandbox_standard"].price == Money.of("13.60", "EUR")
    assert rates["sandbox_express"].price == Money.of("24.48", "EUR")
    assert rates["sandbox_standard"].transit_days == 5
    dropped = return_shipment("NL", "3511 AB", handover=Handover.DROP_OFF)
    domestic = {r.service_code: r for r in await sandbox().quote(dropped)}
    assert domestic["sandbox_standard"].price == Money.of("7.20", "EUR")
    assert domestic["sandbox_standard"].transit_days == 3
    collected = await sandbox().quote(return_shipment("NL", "3511 AB", handover=Handover.PICKUP))
    assert collected[0].price == Money.of("9.70", "EUR")  # + 2.50 pickup fee
    assert {r.handover for r in collected} == {Handover.PICKUP}


async def test_one_call_answers_every_service_for_every_handover() -> None:
    rates = await sandbox().quote(return_shipment("NL", "3511 AB"))
    assert [(r.handover, r.service_code, r.price) for r in rates] == [
        (Handover.DROP_OFF, "sandbox_standard", Money.of("7.20", "EUR")),
        (Handover.DROP_OFF, "sandbox_express", Money.of("12.96", "EUR")),  # 7.20 x 1.8
        (Handover.PICKUP, "sandbox_standard", Money.of("9.70", "EUR")),
        (Handover.PICKUP, "sandbox_express", Money.of("15.46", "EUR")),  # + 2.50 pickup fee
    ]
    assert len({r.carrier_rate_id for r in rates}) == 4


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        (SandboxMode.UNAVAILABLE, Unavailable),
        (SandboxMode.RATE_LIMITED, RateLimited),
        (SandboxMode.AUTH_FAILURE, AuthenticationFailed),
        (SandboxMode.MALFORMED, MalformedResponse),
    ],
)
async def test_error_modes(mode: SandboxMode, error: type[Exception]) -> None:
    with pytest.raises(error):
        await sandbox(mode=mode).quote(return_shipment("NL", "3511 AB"))


async def test_rate_limited_mode_carries_retry_after() -> None:
    with pytest.raises(RateLimited) as caught:
        await sandbox(mode=SandboxMode.RATE_LIMITED, retry_after_seconds=0.25).quote(
            return_shipment("NL", "1011")
        )
    assert caught.value.retry_after_seconds == 0.25


async def test_fail_first_then_succeed() -> None:
    carrier = sandbox(mode=SandboxMode.UNAVAILABLE, fail_first=2)
    for _ in range(2):
        with pytest.raises(Unavailable):
            await carrier.quote(return_shipment("NL", "3511 AB"))
    assert await carrier.quote(return_shipment("NL", "3511 AB"))


async def test_hang_mode_never_answers() -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await sandbox(mode=SandboxMode.HANG).quote(return_shipment("NL", "3511 AB"))


async def test_failure_rate_is_reproducible_for_a_seed() -> None:
    async def pattern(seed: int) -> list[bool]:
        carrier = sandbox(failure_rate=0.5, seed=seed)
        outcomes = []
        for _ in range(40):
            try:
                await carrier.quote(return_shipment("NL", "3511 AB"))
                outcomes.append(True)
            except Unavailable:
                outcomes.append(False)
        return outcomes

    first = await pattern(7)
    assert first == await pattern(7)
    assert 5 < first.count(False) < 35


async def test_latency_is_simulated() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    await sandbox(latency_ms=30).quote(return_shipment("NL", "3511 AB"))
    assert loop.time() - start >= 0.025


async def test_tracking_unfolds_over_time_and_void_is_refused_after_a_scan() -> None:
    clock = SteppingClock()
    carrier = sandbox(clock, tracking_step_seconds=60)
    label = await carrier.purchase(PurchaseRequest(return_shipment("NL", "3511 AB"), "sandbox_standard", "k"))
    assert (await carrier.track(label.tracking_number)).status is TrackingStatus.PRE_TRANSIT
    clock.now += dt.timedelta(seconds=60)
    assert (await carrier.void(label.reference)).status is VoidStatus.REFUSED
    clock.now += dt.timedelta(minutes=10)
    snapshot = await carrier.track(label.tracking_number)
    assert snapshot.status is TrackingStatus.DELIVERED
    assert [e.occurred_at for e in snapshot.events] == sorted(e.occurred_at for e in snapshot.events)


async def test_void_before_the_first_scan_refunds() -> None:
    carrier = sandbox()
    label = await carrier.purchase(PurchaseRequest(return_shipment("NL", "3511 AB"), "sandbox_express", "k"))
    result = await carrier.void(label.reference)
    assert result.status is VoidStatus.VOIDED
    assert result.refund == label.price
    assert (await carrier.track(label.tracking_number)).status is TrackingStatus.CANCELLED


async def test_signed_webhooks_are_verified_before_parsing() -> None:
    carrier = sandbox(secret="whsec")
    body = json.dumps(
        {
            "tracking_number": "SB000000000001",
            "events": [
                {
                    "occurred_at": "2026-03-02T10:00:00+01:00",
                    "status": "exception",
                    "reason": "customs_inspection",
                    "code": "CI",
                    "description": "opened by customs",
                    "location": {"city": "Venlo", "country": "NL"},
                }
            ],
        }
    ).encode()
    events = await carrier.parse_webhook({"X-Sandbox-Signature": sign_webhook("whsec", body)}, body)
    assert events[0].status is TrackingStatus.EXCEPTION
    assert events[0].reason is ExceptionReason.CUSTOMS_INSPECTION
    assert events[0].location.city == "Venlo"
    assert events[0].occurred_at.utcoffset() == dt.timedelta(hours=1)
    with pytest.raises(WebhookVerificationFailed):
        await carrier.parse_webhook({"x-sandbox-signature": sign_webhook("other", body)}, body)
    with pytest.raises(WebhookVerificationFailed):
        await carrier.parse_webhook({}, body)


def test_options_are_validated_with_their_field() -> None:
    account = CarrierAccount("sb", "sandbox", "Sandbox", options={"failure_rate": 2}, source="carriers.toml")
    with pytest.raises(DataFileError, match=r"options\.failure_rate: must be between 0 and 1"):
        SandboxCarrier.from_account(account, {})
    account = CarrierAccount("sb", "sandbox", "Sandbox", options={"mode": "explode"})
    with pytest.raises(DataFileError, match=r"options\.mode"):
        SandboxCarrier.from_account(account, {})
