"""The history generator: deterministic by seed, returns in time order inside the period, carriers that
serve the lane, the carriers' own prices and promises, and scans only before the end of the period."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from carriers.accounts import load_accounts
from carriers.registry import ConfiguredCarriers, build_carriers
from carriers.tracking import TrackingStatus
from service.config import default_data_file
from service.insights.profiles import load_profiles
from service.insights.simulator import GeneratedBatch, HistoryGenerator, SimulationRequest
from service.quoting.hubs import load_hubs

UNTIL = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)


@pytest.fixture
async def carriers() -> AsyncIterator[ConfiguredCarriers]:
    configured = build_carriers(load_accounts(default_data_file("carriers.toml")), {})
    yield configured
    await configured.close()


async def generate(carriers: ConfiguredCarriers, seed: int, returns: int = 80) -> GeneratedBatch:
    generator = HistoryGenerator(
        load_profiles(),
        adapters=carriers.adapters,
        accounts=carriers.accounts,
        hubs=load_hubs(default_data_file("hubs.toml")),
        request=SimulationRequest("m1", returns, 30, seed, UNTIL),
    )
    return await generator.batch(0, returns)


async def test_the_same_seed_gives_the_same_history(carriers: ConfiguredCarriers) -> None:
    first, again = await generate(carriers, 7), await generate(carriers, 7)
    assert first.returns == again.returns
    assert [(a, at) for a, at in first.answers] == [(a, at) for a, at in again.answers]
    other = await generate(carriers, 8)
    assert [r.created_at for r in other.returns] != [r.created_at for r in first.returns]


async def test_returns_fall_in_the_period_in_order_on_lanes_their_carriers_serve(
    carriers: ConfiguredCarriers,
) -> None:
    batch = await generate(carriers, 3)
    assert len(batch.returns) == 80
    times = [item.created_at for item in batch.returns]
    assert times == sorted(times)
    assert UNTIL - dt.timedelta(days=30) <= times[0]
    assert times[-1] < UNTIL
    hubs = load_hubs(default_data_file("hubs.toml"))
    for item in batch.returns:
        hub = hubs.get(item.hub_id)
        assert hub is not None
        assert hub.accepts(item.account_id)
        customer = item.shipment.customer
        assert customer is not None
        assert customer.address is not None
        assert carriers.adapters[item.account_id].capabilities.serves(
            customer.address.region_code, hub.party.address.country, hub.id
        )
        assert item.price.amount > 0
        assert all(scan.occurred_at < UNTIL for scan in item.scans)
        assert [s.occurred_at for s in item.scans] == sorted(s.occurred_at for s in item.scans)
        if item.voided_at is not None:
            assert item.scans == ()
    statuses = {scan.status for item in batch.returns for scan in item.scans}
    assert {TrackingStatus.IN_TRANSIT, TrackingStatus.DELIVERED} <= statuses


async def test_every_quote_answer_is_counted_and_rates_carry_the_promise(
    carriers: ConfiguredCarriers,
) -> None:
    batch = await generate(carriers, 5)
    bought = {(r.account_id, r.service_code) for r in batch.returns}
    quoted = {(rate.account_id, rate.service_code) for a, _ in batch.answers for rate in a.rates}
    assert bought <= quoted
    assert all(rate.transit_days for a, _ in batch.answers for rate in a.rates)
    assert all(a.error_code in {None, "TIMEOUT", "UNAVAILABLE"} for a, _ in batch.answers)
    assert len(batch.answers) >= len(batch.returns)
