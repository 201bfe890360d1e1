import asyncio
import dataclasses
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import pytest

from carriers.accounts import CarrierAccount
from carriers.models import Handover, Parcel, Rate, ReturnShipment
from carriers.sandbox import SandboxCarrier, SandboxMode, SandboxSettings
from customs.goods import ReturnReason
from customs.money import Money
from service.errors import InvalidArgument
from service.quoting.policy import ReturnCostPayer
from service.quoting.quotes import LanePerformance, LaneReliability, QuoteTag
from service.quoting.request import DestinationInput, MoneyInput, QuoteSort
from service.quoting.token import QuoteTokenSigner, shipment_digest
from service.quoting.use_case import LaneKey, QuotingSettings, add_business_days

from .sample_requests import (
    FX,
    NOW,
    SECRET,
    address,
    hubs_accepting_every_carrier,
    item,
    quoting,
    ratecard_account,
    request,
    sandbox_account,
    shipment,
)


async def test_a_german_customer_returns_to_the_eu_hub_with_several_quotes() -> None:
    result = await quoting().execute(request())
    assert result.hub is not None
    assert result.hub.id == "EU_HUB"
    assert result.shipment.destination.address.country == "NL"
    assert {q.account_id for q in result.quotes} == {"tulip-parcel", "rhein-paket", "sandbox"}
    assert len(result.quotes) >= 2
    assert result.errors == ()
    assert not result.cross_border  # DE -> NL stays inside the EU customs union
    assert all(q.hub is result.hub for q in result.quotes)


async def test_display_prices_use_the_fx_table_and_show_its_date() -> None:
    result = await quoting().execute(request(display_currency="GBP"))
    assert result.display_currency == "GBP"
    assert result.fx_as_of == FX.as_of
    sandbox = next(q for q in result.quotes if q.account_id == "sandbox")
    assert sandbox.price.currency == "USD"
    assert sandbox.display_price == FX.convert(sandbox.price, "GBP")
    # Without a preference: the customer market's currency (EUR for Germany).
    default = await quoting().execute(request())
    assert default.display_currency == "EUR"


async def test_hanging_and_failing_carriers_become_error_entries_within_the_deadline() -> None:
    service = quoting(
        ratecard_account("tulip-parcel", "tulip_parcel_nl"),
        ratecard_account("rhein-paket", "rhein_paket_de"),
        sandbox_account("sandbox-hang", mode=SandboxMode.HANG),
        sandbox_account("sandbox-500", mode=SandboxMode.UNAVAILABLE),
        sandbox_account("sandbox-ok", latency_ms=10),
        hubs=hubs_accepting_every_carrier(),
    )
    loop = asyncio.get_running_loop()
    start = loop.time()
    result = await service.execute(request(), time_remaining=0.3)
    elapsed = loop.time() - start
    assert elapsed <= 0.3
    assert {q.account_id for q in result.quotes} == {"tulip-parcel", "rhein-paket", "sandbox-ok"}
    errors = {e.account_id: e for e in result.errors}
    assert set(errors) == {"sandbox-hang", "sandbox-500"}
    assert errors["sandbox-hang"].code == "TIMEOUT"
    assert errors["sandbox-500"].code == "UNAVAILABLE"
    assert errors["sandbox-500"].retryable
    assert "500" in errors["sandbox-500"].message


async def test_without_a_caller_deadline_the_configured_budget_applies() -> None:
    service = quoting(
        sandbox_account("sandbox-hang", mode=SandboxMode.HANG),
        sandbox_account("sandbox-ok"),
        hubs=hubs_accepting_every_carrier(),
        settings=QuotingSettings(default_budget_seconds=0.15),
    )
    loop = asyncio.get_running_loop()
    start = loop.time()
    result = await service.execute(request())
    assert loop.time() - start <= 0.2
    assert [e.code for e in result.errors] == ["TIMEOUT"]
    assert result.quotes


async def test_cancelling_a_quote_cancels_its_carrier_calls() -> None:
    hanging = sandbox_account("sandbox-hang", mode=SandboxMode.HANG)
    service = quoting(hanging, hubs=hubs_accepting_every_carrier())
    before = asyncio.all_tasks()
    call = asyncio.create_task(service.execute(request(), time_remaining=10))
    await asyncio.sleep(0.05)
    assert len(asyncio.all_tasks() - before) == 2  # the quote and its one carrier call
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - before == set()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (shipment(address(country="XX")), "customer.address.region_code"),
        (shipment(parcels=(Parcel(-5, 300, 200, 100),)), "parcels[0].weight_grams"),
        (shipment(parcels=(Parcel(500, 300, 0, 100),)), "parcels[0].width_mm"),
        (
            shipment(items=(item(), item(unit_value=MoneyInput("EUX", Decimal(5))))),
            "items[1].unit_value.currency_code",
        ),
        (shipment(items=(item(hs_code="7701.00"),)), "items[0].hs_code"),
        (shipment(items=(item(hs_code="61A9.10"),)), "items[0].hs_code"),
        (shipment(address(postal_code="")), "customer.address.postal_code"),
        (shipment(address(administrative_area="ZZ")), "customer.address.administrative_area"),
        (
            dataclasses.replace(
                shipment(address(country="GB", postal_code="SW1A 1AA"), items=()),
                destination=DestinationInput(hub_id="EU_HUB"),
            ),
            "items",  # GB -> NL crosses a customs border: the goods must be declared
        ),
    ],
)
async def test_invalid_input_names_the_field(data: object, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await quoting().execute(request(data))  # type: ignore[arg-type]
    assert field in [v.field for v in caught.value.violations]


async def test_every_violation_is_reported_at_once() -> None:
    data = shipment(
        address(country="XX"),
        parcels=(Parcel(0, 300, 200, 100), Parcel(100, -1, 200, 100)),
        items=(item(quantity=0, unit_value=MoneyInput("ZZZ", Decimal(1))),),
    )
    with pytest.raises(InvalidArgument) as caught:
        await quoting().execute(request(data, display_currency="QQQ", carrier_account_ids=("nobody",)))
    assert {v.field for v in caught.value.violations} == {
        "customer.address.region_code",
        "parcels[0].weight_grams",
        "parcels[1].length_mm",
        "items[0].quantity",
        "items[0].unit_value.currency_code",
        "preferences.display_currency",
        "preferences.carrier_account_ids[0]",
    }


async def test_unknown_hub_and_double_destination_are_refused() -> None:
    unknown = dataclasses.replace(shipment(), destination=DestinationInput(hub_id="MOON_HUB"))
    with pytest.raises(InvalidArgument) as caught:
        await quoting().execute(request(unknown))
    assert [v.field for v in caught.value.violations] == ["destination.hub_id"]
    both = dataclasses.replace(
        shipment(), destination=DestinationInput(hub_id="EU_HUB", address=address("NL", "1011 AB"))
    )
    with pytest.raises(InvalidArgument) as caught:
        await quoting().execute(request(both))
    assert [v.field for v in caught.value.violations] == ["destination"]


async def test_a_named_hub_and_an_explicit_address_override_routing() -> None:
    to_uk = dataclasses.replace(shipment(), destination=DestinationInput(hub_id="UK_HUB"))
    result = await quoting().execute(request(to_uk))
    assert result.hub is not None
    assert result.hub.id == "UK_HUB"
    assert result.cross_border
    assert {q.account_id for q in result.quotes} == {"sandbox"}  # the rate cards do not reach the UK hub
    store = address("DE", "80331", locality="München")
    to_store = dataclasses.replace(shipment(), destination=DestinationInput(address=store))
    result = await quoting().execute(request(to_store))
    assert result.hub is None
    assert result.shipment.destination.address.locality == "München"
    assert {q.account_id for q in result.quotes} == {"sandbox"}


async def test_one_service_answers_each_lane_by_its_own_eligibility() -> None:
    service = quoting()
    to_uk = dataclasses.replace(shipment(), destination=DestinationInput(hub_id="UK_HUB"))
    for _ in range(2):  # worked out, then remembered
        eu = await service.execute(request())
        assert {q.account_id for q in eu.quotes} == {"tulip-parcel", "rhein-paket", "sandbox"}
        uk = await service.execute(request(to_uk, carrier_account_ids=("sandbox", "tulip-parcel")))
        assert {q.account_id for q in uk.quotes} == {"sandbox"}
        assert [(e.account_id, e.code) for e in uk.errors] == [("tulip-parcel", "UNSUPPORTED_LANE")]
        pickups = await service.execute(request(handover=Handover.PICKUP))
        assert {q.account_id for q in pickups.quotes} == {"rhein-paket", "sandbox"}


async def test_sorting_and_tags() -> None:
    cheapest = await quoting().execute(request(sort=QuoteSort.CHEAPEST))
    amounts = [q.display_price.amount for q in cheapest.quotes if q.display_price]
    assert amounts == sorted(amounts)
    assert QuoteTag.CHEAPEST in cheapest.quotes[0].tags
    fastest = await quoting().execute(request(sort=QuoteSort.FASTEST))
    days = [q.transit_days for q in fastest.quotes]
    assert days == sorted(days)  # type: ignore[type-var]
    assert QuoteTag.FASTEST in fastest.quotes[0].tags
    assert sum(QuoteTag.CHEAPEST in q.tags for q in fastest.quotes) >= 1
    best = await quoting().execute(request(sort=QuoteSort.BEST_VALUE))
    scores = [q.value_score for q in best.quotes]
    assert scores == sorted(scores)  # type: ignore[type-var]


async def test_max_transit_days_carrier_filter_and_handover() -> None:
    quick = await quoting().execute(request(max_transit_days=2))
    assert quick.quotes
    assert all(q.transit_days is not None and q.transit_days <= 2 for q in quick.quotes)
    only_rhein = await quoting().execute(request(carrier_account_ids=("rhein-paket",)))
    assert {q.account_id for q in only_rhein.quotes} == {"rhein-paket"}
    pickups = await quoting().execute(request(handover=Handover.PICKUP))
    assert pickups.quotes
    assert {q.handover for q in pickups.quotes} == {Handover.PICKUP}
    assert {q.account_id for q in pickups.quotes} == {"rhein-paket", "sandbox"}
    # Tulip collects nowhere in Germany: its drop-off rates are left out, and its entry says why.
    assert [(e.account_id, e.code) for e in pickups.errors] == [("tulip-parcel", "UNSUPPORTED_LANE")]
    assert "pickup" in pickups.errors[0].message


class RecordingSandbox(SandboxCarrier):
    """A sandbox carrier noting the handover of every shipment it is asked to quote."""

    def __init__(self) -> None:
        super().__init__("sandbox", "Sandbox", SandboxSettings())
        self.asked: list[Handover | None] = []

    async def quote(self, shipment: ReturnShipment) -> Sequence[Rate]:
        self.asked.append(shipment.handover)
        return await super().quote(shipment)


async def test_one_call_per_account_answers_every_handover_and_the_preference_filters_it() -> None:
    carrier = RecordingSandbox()
    service = quoting((CarrierAccount("sandbox", "sandbox", "Sandbox"), carrier))
    both = await service.execute(request())
    assert carrier.asked == [None]
    assert sorted((q.handover, q.service_code) for q in both.quotes) == [
        (Handover.DROP_OFF, "sandbox_express"),
        (Handover.DROP_OFF, "sandbox_standard"),
        (Handover.PICKUP, "sandbox_express"),
        (Handover.PICKUP, "sandbox_standard"),
    ]
    pickups = await service.execute(request(handover=Handover.PICKUP))
    assert carrier.asked == [None, None]  # the same call; the preference applies to its answer
    assert sorted((q.handover, q.service_code) for q in pickups.quotes) == [
        (Handover.PICKUP, "sandbox_express"),
        (Handover.PICKUP, "sandbox_standard"),
    ]
    assert pickups.errors == ()


async def test_a_named_carrier_that_cannot_serve_the_lane_gets_an_error_entry() -> None:
    service = quoting(
        ratecard_account("tulip-parcel", "tulip_parcel_nl"),
        ratecard_account("thames-parcels", "thames_parcels_gb"),
    )
    result = await service.execute(request(carrier_account_ids=("tulip-parcel", "thames-parcels")))
    assert [(e.account_id, e.code) for e in result.errors] == [("thames-parcels", "UNSUPPORTED_LANE")]
    assert {q.account_id for q in result.quotes} == {"tulip-parcel"}


async def test_quote_tokens_verify_against_the_quoted_shipment() -> None:
    result = await quoting().execute(request(merchant_id="m-7"))
    quote = result.quotes[0]
    claims = QuoteTokenSigner(SECRET).verify(
        quote.token, merchant_id="m-7", now=NOW, shipment_digest=shipment_digest(result.shipment)
    )
    assert (claims.account_id, claims.service_code, claims.price, claims.handover) == (
        quote.account_id,
        quote.service_code,
        quote.price,
        quote.handover,
    )
    assert claims.expires_at == NOW + dt.timedelta(minutes=30)


async def test_estimated_delivery_counts_business_days() -> None:
    assert add_business_days(dt.date(2026, 11, 13), 1) == dt.date(2026, 11, 16)  # Friday + 1 -> Monday
    result = await quoting().execute(request())
    rhein = next(
        q for q in result.quotes if q.account_id == "rhein-paket" and q.service_code == "paket_retoure"
    )
    assert rhein.estimated_delivery == dt.date(2026, 11, 12)  # Tuesday + 2 working days


async def test_return_policy_decision_is_in_the_answer() -> None:
    result = await quoting().execute(request())
    decision = result.return_policy
    assert decision.policy_id == "eu-default"
    assert decision.eligible
    assert decision.window_end == dt.date(2026, 11, 29)
    assert decision.payer is ReturnCostPayer.CUSTOMER
    assert decision.customer_fee == Money.of("3.95", "EUR")
    defective = shipment(items=(item(return_reason=ReturnReason.DEFECTIVE),))
    decision = (await quoting().execute(request(defective))).return_policy
    assert decision.payer is ReturnCostPayer.MERCHANT
    assert decision.customer_fee.is_zero()


class FixedLanes:
    def __init__(self, figures: dict[str, LanePerformance]) -> None:
        self.figures = figures
        self.asked: list[LaneKey] = []

    async def lane_performance(self, lanes: Sequence[LaneKey]) -> dict[LaneKey, LanePerformance]:
        self.asked.extend(lanes)
        return {key: self.figures[key.account_id] for key in lanes if key.account_id in self.figures}


async def test_lane_performance_feeds_best_value() -> None:
    unreliable = LanePerformance(400, 90, LaneReliability(Decimal("0.40"), Decimal(4), Decimal(9)))
    lanes = FixedLanes({"tulip-parcel": unreliable})
    plain = await quoting().execute(request(sort=QuoteSort.BEST_VALUE))
    informed = await quoting(lane_performance=lanes).execute(request(sort=QuoteSort.BEST_VALUE))
    assert all(key.destination == "EU_HUB" and key.origin_country == "DE" for key in lanes.asked)
    before = next(q for q in plain.quotes if q.account_id == "tulip-parcel")
    after = next(q for q in informed.quotes if q.account_id == "tulip-parcel")
    assert after.lane_performance is unreliable
    assert after.value_score is not None
    assert before.value_score is not None
    assert after.value_score > before.value_score
    assert informed.quotes.index(after) >= plain.quotes.index(before)


async def test_quoting_writes_nothing_and_is_repeatable() -> None:
    service = quoting()
    first = await service.execute(request())
    second = await service.execute(request())
    assert [(q.account_id, q.service_code, q.price, q.token) for q in first.quotes] == [
        (q.account_id, q.service_code, q.price, q.token) for q in second.quotes
    ]
