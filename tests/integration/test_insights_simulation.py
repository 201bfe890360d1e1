"""The history writers and the background parts of insights, on SQLite and PostgreSQL: the bulk writer leaves
the labels and figures the one-by-one writer does; a leg recorded after its label's events still gets its
journey; voids reach the legs; quote counters from two replicas add up, and a failed flush keeps its counts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import select

from customs.money import FxTable, Money
from service.config import default_data_file
from service.insights.history import BulkHistoryWriter, HistoryWriter, SimulatedReturn
from service.insights.model import CarrierComparison, ComparisonQuery, GroupBy
from service.insights.profiles import load_profiles
from service.insights.quote_stats import QuoteOutcomeRecorder
from service.insights.simulator import HistoryGenerator, SimulationRequest
from service.insights.tables import CarrierQuoteStatsRow, ReturnLegItemRow, ReturnLegRow
from service.labels.model import LabelState
from service.labels.repository import LabelRepository
from service.quoting.hubs import load_hubs
from service.quoting.use_case import CarrierAnswer
from service.storage import create_database
from tests.integration.insights_stack import InsightsStack, insights_stack

UNTIL = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
FX = FxTable(
    base="EUR",
    as_of=dt.date(2026, 11, 2),
    rates={"USD": Decimal("1.10"), "GBP": Decimal("0.85"), "CAD": Decimal("1.50"), "AUD": Decimal("1.65")},
)


Store = InsightsStack


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[Store]:
    async with insights_stack(database_url, FX, {"one": "one", "bulk": "bulk"}) as stack:
        yield stack


async def history(store: Store, merchant: str, returns: int = 30) -> list[SimulatedReturn]:
    generator = HistoryGenerator(
        load_profiles(),
        adapters=store.carriers.adapters,
        accounts=store.carriers.accounts,
        hubs=load_hubs(default_data_file("hubs.toml")),
        request=SimulationRequest(merchant, returns, 40, 21, UNTIL),
    )
    batch = await generator.batch(0, returns)
    for answer, at in batch.answers:
        store.insights.quote_outcomes.record(answer, at)
    await store.insights.quote_outcomes.flush()
    return batch.returns


def figures(row: CarrierComparison) -> tuple[object, ...]:
    """A row's figures from labels and tracking (quote counters and scores aside)."""
    return (
        row.account_id,
        row.service_code,
        row.lane,
        row.returns_count,
        row.total_cost,
        row.cost_per_parcel,
        row.label_to_drop_off_days,
        row.transit_days,
        row.transit_days_histogram,
        row.on_time,
        row.exception_rates,
        row.exceptions,
        row.returned_to_sender,
        row.voided,
    )


async def test_the_bulk_writer_leaves_what_the_one_by_one_writer_leaves(stores: Store) -> None:
    returns = await history(stores, "one")
    one_by_one = HistoryWriter(
        labels=LabelRepository(stores.database),
        registry=stores.insights.registry,
        ingestion=stores.tracking.ingestion,
        adapters=stores.carriers.adapters,
    )
    bulk = BulkHistoryWriter(
        database=stores.database,
        legs=stores.insights.legs,
        ingestion=stores.tracking.ingestion,
        adapters=stores.carriers.adapters,
        clock=lambda: UNTIL,
    )
    assert await one_by_one.write(returns) == len(returns)
    twins = [
        dataclasses.replace(item, merchant_id="bulk", tracking_number=f"B{item.tracking_number}")
        for item in returns
    ]
    assert await bulk.write(twins) == len(twins)
    assert await bulk.write(twins) == 0  # already there
    await stores.insights.journeys.catch_up()

    labels = LabelRepository(stores.database)
    for item, twin in zip(returns, twins, strict=True):
        written = await labels.get("one", item.label_id)
        bulked = await labels.get("bulk", twin.label_id)
        assert written is not None
        assert bulked is not None
        assert written.state is (LabelState.VOIDED if item.voided_at else LabelState.PURCHASED)
        same_names = {"id": written.id, "merchant_id": "one", "tracking_number": written.tracking_number}
        assert dataclasses.replace(bulked, **same_names) == written
    since = UNTIL - dt.timedelta(days=40)
    first = await stores.insights.comparisons.compare(
        ComparisonQuery("one", since=since, until=UNTIL, currency="EUR")
    )
    second = await stores.insights.comparisons.compare(
        ComparisonQuery("bulk", since=since, until=UNTIL, currency="EUR")
    )
    assert first.rows
    assert sorted(map(figures, first.rows), key=str) == sorted(map(figures, second.rows), key=str)
    assert first.return_reasons == second.return_reasons


async def test_a_leg_recorded_after_its_events_gets_its_journey_and_voids_reach_the_legs(
    stores: Store,
) -> None:
    returns = await history(stores, "one")
    scanned = next(item for item in returns if len(item.scans) >= 2 and item.voided_at is None)
    unused = dataclasses.replace(
        next(item for item in returns if item is not scanned and item.voided_at is None), scans=()
    )
    writer = HistoryWriter(
        labels=LabelRepository(stores.database),
        registry=stores.insights.registry,
        ingestion=stores.tracking.ingestion,
        adapters=stores.carriers.adapters,
    )
    await writer.write([scanned, unused])
    await stores.insights.journeys.catch_up()
    # Forget the leg, as if its recording had failed, and record it again after its events are in the log.
    async with stores.database.sessions() as session, session.begin():
        await session.execute(
            ReturnLegItemRow.__table__.delete().where(ReturnLegItemRow.label_id == scanned.label_id)
        )
        await session.execute(
            ReturnLegRow.__table__.delete().where(ReturnLegRow.label_id == scanned.label_id)
        )
    record = await LabelRepository(stores.database).get("one", scanned.label_id)
    assert record is not None
    assert await stores.insights.legs.record(record)
    async with stores.database.engine.connect() as connection:
        dropped = await connection.scalar(
            select(ReturnLegRow.dropped_off_at).where(ReturnLegRow.label_id == scanned.label_id)
        )
    assert dropped == scanned.scans[0].occurred_at

    # A void the labels store records later reaches the leg on the next catch-up.
    assert await LabelRepository(stores.database).record_void(
        unused.label_id, LabelState.PURCHASED, LabelState.VOIDED, "customer kept it", UNTIL
    )
    await stores.insights.journeys.catch_up()
    async with stores.database.engine.connect() as connection:
        voided = await connection.scalar(
            select(ReturnLegRow.voided).where(ReturnLegRow.label_id == unused.label_id)
        )
    assert voided == 1


def _answer(latency_ms: int, error: str | None = None) -> CarrierAnswer:
    return CarrierAnswer("one", "sandbox", "DE", "EU_HUB", latency_ms / 1000, error, [])


async def test_two_replicas_counters_add_up_and_a_failed_flush_keeps_its_counts(stores: Store) -> None:
    at = UNTIL - dt.timedelta(hours=3)
    first = QuoteOutcomeRecorder(stores.database, clock=lambda: at)
    second = QuoteOutcomeRecorder(stores.database, clock=lambda: at)
    first.carrier_answered(_answer(30))
    second.carrier_answered(_answer(40))
    second.carrier_answered(_answer(900, "UNAVAILABLE"))
    await first.flush()
    await second.flush()

    elsewhere = create_database("sqlite+aiosqlite:///:memory:")
    broken = QuoteOutcomeRecorder(elsewhere, clock=lambda: at)
    broken.carrier_answered(_answer(50))
    await broken.flush()  # no tables there: logged, counts kept for the next flush
    assert broken.pending == 1
    await elsewhere.dispose()

    async with stores.database.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(
                    CarrierQuoteStatsRow.outcome,
                    CarrierQuoteStatsRow.answers,
                    CarrierQuoteStatsRow.latency_ms_sum,
                ).order_by(CarrierQuoteStatsRow.outcome)
            )
        ).all()
    assert {tuple(row) for row in rows} == {("UNAVAILABLE", 1, 900), ("ok", 2, 70)}
    result = await stores.insights.comparisons.compare(
        ComparisonQuery(
            "one",
            since=at - dt.timedelta(hours=1),
            until=UNTIL,
            currency="EUR",
            group_by=GroupBy.CARRIER_LANE,
        )
    )
    [row] = result.rows
    assert (row.account_id, row.returns_count) == ("sandbox", 0)  # quoted, never bought
    assert (row.quote_errors.count, row.quote_errors.total) == (1, 3)
    assert row.total_cost == Money.zero("EUR")
