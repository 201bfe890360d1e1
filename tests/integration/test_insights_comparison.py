"""CompareCarriers on a small hand-made history, on SQLite and PostgreSQL: every figure against the value
worked out by hand below, the lane figures quotes get, the schema against the migration, and merchant
scoping.

The history (merchant m1, October 2026, lane DE -> EU_HUB; promises: Rhein Paket 2 days, Sandbox 5 days):

    label  carrier  created       EUR/USD  grams  drop-off      events                         arrival
    R1     rhein    10-01 10:00   5.49     1500   10-02 10:00                                  10-04 08:00
    R2     rhein    10-03 12:00   6.99     3000   10-05 12:00   customs delay 10-06            10-09 12:00
    R3     rhein    10-05 09:00   5.49     1000   voided
    R4     rhein    10-07 00:00   5.49     2000   10-07 12:00   returned to sender 10-09
    R5     rhein    10-10 00:00   9.49     6000   10-12 00:00   address problem 10-13          10-14 06:00
    R6     rhein    10-20 00:00   5.49      500   (not dropped off yet)
    S1     sandbox  10-02 00:00   13.20$   2000   10-03 00:00                                  10-06 00:00
    S2     sandbox  10-04 00:00   14.40$   3000   10-04 12:00   customs inspection 10-05       10-11 12:00

Rhein Paket: 6 returns, 1 voided; cost 32.95 EUR over 5 parcels (6.59 each) and 13 kg (2.53/kg); parcels
taken in 4 (R1 R2 R4 R5); label-to-drop-off days 1, 2, 0.5, 2 -> p50 1.5, p90 2.0, mean 1.375; transit days
46/24, 4, 2.25 -> p50 2.25, p90 2.25 + 0.8 x 1.75 = 3.65, mean 2.7222; on time R1 (2 days) and R5 (2), not
R2 (4): 2/3; exceptions 2/4 (customs delay 1, address problem 1), customs holds 1/4, returned to sender 1/4.
Sandbox: 2 returns; 27.60 USD = 25.09 EUR at 1.10 (12.55 per parcel, 5.02/kg); drop-off 1 and 0.5 -> p50
0.75, p90 0.95; transit 3 and 7 -> p50 5, p90 6.6; on time 1/2; exceptions 1/2, all customs.
Quotes: Rhein 7 ok (10 20 30 40 60 80 120 ms), 2 UNAVAILABLE (30 40 ms), 1 TIMEOUT: errors 2/10, timeouts
1/10; latency over the 9 answers: mean 430/9, p50 25 + 25 x 2.5/4 = 40.625, p90 100 + 150 x 0.1 = 115.
Sandbox 4 ok (200 300 400 600 ms): p50 250 + 250 x 1/2 = 375, p90 500 + 500 x 0.6 = 800.
Return reasons (units of labels not voided): wrong size 6, defective 2, not as described 1; SKU A 5 units
(wrong size 4, not as described 1), SKU B 2 (defective 2).
Score (default weights): Rhein best on cost, on-time, transit (0.30 + 0.30 + 0.15), tied on exceptions
(0.10), worst on returns to sender, quote errors and timeouts: 85. Sandbox: 0.10 + 0.05 x 3 = 25.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from carriers.models import Parcel, Rate
from carriers.tracking import ExceptionReason, TrackingLocation, TrackingStatus
from customs.goods import ReturnReason
from customs.money import FxTable, Money
from service.insights.history import HistoryWriter, SimulatedReturn, SimulatedScan
from service.insights.lane_figures import LaneFigures
from service.insights.model import ComparisonQuery, GroupBy, Lane
from service.labels.repository import LabelRepository
from service.quoting.request import (
    AddressInput,
    ContactInput,
    ItemInput,
    MoneyInput,
    PartyInput,
    ShipmentInput,
)
from service.quoting.use_case import CarrierAnswer, LaneKey
from service.storage import create_database, upgrade_database
from service.storage.tables import Base
from tests.integration.insights_stack import InsightsStack, insights_stack

FX = FxTable(base="EUR", as_of=dt.date(2026, 10, 31), rates={"USD": Decimal("1.10")}, source="test")
SINCE = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
UNTIL = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
DE_EU = Lane("DE", "EU_HUB")
COLOGNE = TrackingLocation(city="Köln", country="DE")
VENLO = TrackingLocation(city="Venlo", country="NL")
INSIGHTS_TABLES = {
    "return_legs",
    "return_leg_items",
    "return_leg_journey_position",
    "carrier_quote_stats",
    "quoted_transit_days",
}


def at(month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


def shipment(grams: int, *lines: tuple[str, int, ReturnReason]) -> ShipmentInput:
    return ShipmentInput(
        customer=PartyInput(
            ContactInput(name="Erika Muster"),
            AddressInput(
                region_code="DE", address_lines=("Hohe Str. 1",), locality="Köln", postal_code="50667"
            ),
        ),
        parcels=(Parcel(grams, 300, 200, 100),),
        items=tuple(
            ItemInput(
                sku, "cotton shirt", quantity, MoneyInput("EUR", Decimal("20")), 200, return_reason=reason
            )
            for sku, quantity, reason in lines
        ),
    )


def scan(
    when: dt.datetime, status: TrackingStatus, code: str, reason: ExceptionReason | None = None
) -> SimulatedScan:
    where = VENLO if status is TrackingStatus.DELIVERED else COLOGNE
    return SimulatedScan(when, status, code, code.lower(), where, reason)


def dropped(when: dt.datetime) -> SimulatedScan:
    return scan(when, TrackingStatus.IN_TRANSIT, "EMA")


def arrived(when: dt.datetime) -> SimulatedScan:
    return scan(when, TrackingStatus.DELIVERED, "EMI")


def rhein(
    key: str, created: dt.datetime, price: str, item: ShipmentInput, *scans: SimulatedScan, **extra: Any
) -> SimulatedReturn:
    return SimulatedReturn(
        merchant_id=extra.pop("merchant", "m1"),
        idempotency_key=key,
        shipment=item,
        hub_id="EU_HUB",
        cross_border=True,
        account_id="rhein-paket",
        carrier_name="Rhein Paket",
        provider="ratecard",
        service_code="paket_retoure",
        service_name="Paket Retoure",
        price=Money(Decimal(price), "EUR"),
        tracking_number=f"CR{key}DE",
        created_at=created,
        scans=scans,
        **extra,
    )


def sandbox(
    key: str,
    created: dt.datetime,
    price: str,
    item: ShipmentInput,
    *scans: SimulatedScan,
    merchant: str = "m1",
) -> SimulatedReturn:
    return SimulatedReturn(
        merchant_id=merchant,
        idempotency_key=key,
        shipment=item,
        hub_id="EU_HUB",
        cross_border=True,
        account_id="sandbox",
        carrier_name="Sandbox Express",
        provider="sandbox",
        service_code="sandbox_standard",
        service_name="Sandbox Standard",
        price=Money(Decimal(price), "USD"),
        tracking_number=f"SB{key}",
        created_at=created,
        scans=scans,
    )


A, B, C, D = "SKU-A", "SKU-B", "SKU-C", "SKU-D"
WRONG_SIZE, DEFECTIVE = ReturnReason.WRONG_SIZE, ReturnReason.DEFECTIVE

HISTORY = (
    rhein(
        "R1",
        at(10, 1, 10),
        "5.49",
        shipment(1500, (A, 1, WRONG_SIZE)),
        dropped(at(10, 2, 10)),
        arrived(at(10, 4, 8)),
    ),
    rhein(
        "R2",
        at(10, 3, 12),
        "6.99",
        shipment(3000, (A, 2, WRONG_SIZE), (B, 1, DEFECTIVE)),
        dropped(at(10, 5, 12)),
        scan(at(10, 6, 9), TrackingStatus.EXCEPTION, "EME", ExceptionReason.CUSTOMS_DELAY),
        arrived(at(10, 9, 12)),
    ),
    rhein("R3", at(10, 5, 9), "5.49", shipment(1000, (B, 1, ReturnReason.CHANGED_MIND)), voided_at=at(10, 6)),
    rhein(
        "R4",
        at(10, 7),
        "5.49",
        shipment(2000, (C, 1, WRONG_SIZE)),
        dropped(at(10, 7, 12)),
        scan(at(10, 9), TrackingStatus.RETURNED_TO_SENDER, "RTS"),
    ),
    rhein(
        "R5",
        at(10, 10),
        "9.49",
        shipment(6000, (A, 1, ReturnReason.NOT_AS_DESCRIBED)),
        dropped(at(10, 12)),
        scan(at(10, 13), TrackingStatus.EXCEPTION, "EMH", ExceptionReason.ADDRESS_PROBLEM),
        arrived(at(10, 14, 6)),
    ),
    rhein("R6", at(10, 20), "5.49", shipment(500, (D, 1, WRONG_SIZE))),
    sandbox(
        "S1", at(10, 2), "13.20", shipment(2000, (A, 1, WRONG_SIZE)), dropped(at(10, 3)), arrived(at(10, 6))
    ),
    sandbox(
        "S2",
        at(10, 4),
        "14.40",
        shipment(3000, (B, 1, DEFECTIVE)),
        dropped(at(10, 4, 12)),
        scan(at(10, 5), TrackingStatus.EXCEPTION, "CI", ExceptionReason.CUSTOMS_INSPECTION),
        arrived(at(10, 11, 12)),
    ),
    # Another merchant's return on the same lane, and one of m1's outside the period: neither counts.
    sandbox("X1", at(10, 8), "99.00", shipment(9000, (A, 9, DEFECTIVE)), dropped(at(10, 9)), merchant="m2"),
    rhein(
        "R0", at(9, 20), "99.00", shipment(9000, (A, 9, DEFECTIVE)), dropped(at(9, 21)), arrived(at(9, 28))
    ),
)


def answer(account: str, latency_ms: int, error: str | None = None, days: int = 0) -> CarrierAnswer:
    service = "paket_retoure" if account == "rhein-paket" else "sandbox_standard"
    rates = (
        [Rate(account, account, service, service, Money(Decimal("5"), "EUR"), transit_days=days)]
        if error is None
        else []
    )
    return CarrierAnswer("m1", account, "DE", "EU_HUB", latency_ms / 1000, error, rates)


QUOTES = (
    *(answer("rhein-paket", ms, days=2) for ms in (10, 20, 30, 40, 60, 80, 120)),
    answer("rhein-paket", 30, "UNAVAILABLE"),
    answer("rhein-paket", 40, "UNAVAILABLE"),
    answer("rhein-paket", 2000, "TIMEOUT"),
    *(answer("sandbox", ms, days=5) for ms in (200, 300, 400, 600)),
)


World = InsightsStack


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    async with insights_stack(database_url, FX, {"m1": "M1", "m2": "M2"}) as stack:
        insights = stack.insights
        for item in QUOTES:
            insights.quote_outcomes.record(item, at(10, 1, 9))
        await insights.quote_outcomes.flush()
        writer = HistoryWriter(
            labels=LabelRepository(stack.database),
            registry=insights.registry,
            ingestion=stack.tracking.ingestion,
            adapters=stack.carriers.adapters,
        )
        assert await writer.write(HISTORY) == len(HISTORY)
        await insights.journeys.catch_up()
        yield stack


def query(**overrides: Any) -> ComparisonQuery:
    values: dict[str, Any] = {
        "merchant_id": "m1",
        "since": SINCE,
        "until": UNTIL,
        "currency": "EUR",
        "lane": DE_EU,
    }
    return ComparisonQuery(**(values | overrides))


def money(amount: str, currency: str = "EUR") -> Money:
    return Money(Decimal(amount), currency)


async def test_every_figure_equals_the_hand_computed_value(world: World) -> None:
    result = await world.insights.comparisons.compare(query())
    assert [row.account_id for row in result.rows] == ["rhein-paket", "sandbox"]
    rhein_row, sandbox_row = result.rows
    assert (rhein_row.service_code, rhein_row.service_name, rhein_row.lane) == (
        "paket_retoure",
        "Paket Retoure",
        DE_EU,
    )
    assert rhein_row.returns_count == 6
    assert (rhein_row.voided.count, rhein_row.voided.total) == (1, 6)
    assert rhein_row.total_cost == money("32.95")
    assert rhein_row.cost_per_parcel == money("6.59")
    assert rhein_row.cost_per_kg == money("2.53")
    drop = rhein_row.label_to_drop_off_days
    assert (drop.count, drop.p50, drop.p90, drop.mean) == (
        4,
        pytest.approx(1.5),
        pytest.approx(2.0),
        pytest.approx(1.375),
    )
    transit = rhein_row.transit_days
    assert transit.count == 3
    assert transit.p50 == pytest.approx(2.25)
    assert transit.p90 == pytest.approx(3.65)
    assert transit.mean == pytest.approx((46 / 24 + 4 + 2.25) / 3)
    assert rhein_row.transit_days_histogram == (0, 1, 1, 0, 1) + (0,) * 11
    assert (rhein_row.on_time.count, rhein_row.on_time.total) == (2, 3)
    assert {(e.reason, e.share.count, e.share.total) for e in rhein_row.exception_rates} == {
        (ExceptionReason.CUSTOMS_DELAY, 1, 4),
        (ExceptionReason.ADDRESS_PROBLEM, 1, 4),
    }
    assert (rhein_row.exceptions.count, rhein_row.exceptions.total) == (2, 4)
    assert (rhein_row.customs_holds.count, rhein_row.customs_holds.total) == (1, 4)
    assert (rhein_row.returned_to_sender.count, rhein_row.returned_to_sender.total) == (1, 4)
    assert (rhein_row.quote_errors.count, rhein_row.quote_errors.total) == (2, 10)
    assert (rhein_row.quote_timeouts.count, rhein_row.quote_timeouts.total) == (1, 10)
    latency = rhein_row.quote_latency_ms
    assert (latency.count, latency.p50, latency.p90) == (9, pytest.approx(40.625), pytest.approx(115.0))
    assert latency.mean == pytest.approx(430 / 9)

    assert sandbox_row.returns_count == 2
    assert sandbox_row.total_cost == money("25.09")
    assert sandbox_row.cost_per_parcel == money("12.55")
    assert sandbox_row.cost_per_kg == money("5.02")
    drop = sandbox_row.label_to_drop_off_days
    assert (drop.p50, drop.p90, drop.mean) == (pytest.approx(0.75), pytest.approx(0.95), pytest.approx(0.75))
    transit = sandbox_row.transit_days
    assert (transit.count, transit.p50, transit.p90) == (2, pytest.approx(5.0), pytest.approx(6.6))
    assert (sandbox_row.on_time.count, sandbox_row.on_time.total) == (1, 2)
    assert [(e.reason, e.share.count) for e in sandbox_row.exception_rates] == [
        (ExceptionReason.CUSTOMS_INSPECTION, 1)
    ]
    assert (sandbox_row.customs_holds.count, sandbox_row.customs_holds.total) == (1, 2)
    assert (sandbox_row.returned_to_sender.count, sandbox_row.voided.count) == (0, 0)
    assert (sandbox_row.quote_errors.count, sandbox_row.quote_errors.total) == (0, 4)
    latency = sandbox_row.quote_latency_ms
    assert (latency.count, latency.p50, latency.p90, latency.mean) == (
        4,
        pytest.approx(375.0),
        pytest.approx(800.0),
        pytest.approx(375.0),
    )

    assert rhein_row.score is not None
    assert sandbox_row.score is not None
    assert rhein_row.score.value == pytest.approx(85.0)
    assert sandbox_row.score.value == pytest.approx(25.0)
    points = {c.metric: c.points for c in rhein_row.score.contributions}
    assert points["on_time"] == pytest.approx(30.0)
    assert points["returned_to_sender"] == pytest.approx(0.0)
    assert sum(w.weight for w in result.weights) == pytest.approx(1.0)
    assert result.currency == "EUR"
    assert result.fx_as_of == FX.as_of

    # Return reasons, per lane and for its two most returned SKUs.
    result = await world.insights.comparisons.compare(query(top_skus=2))
    [lane] = result.return_reasons
    assert lane.lane == DE_EU
    assert [(r.reason, r.share.count, r.share.total) for r in lane.reasons] == [
        (ReturnReason.WRONG_SIZE, 6, 9),
        (ReturnReason.DEFECTIVE, 2, 9),
        (ReturnReason.NOT_AS_DESCRIBED, 1, 9),
    ]
    assert [(s.sku, [(r.reason, r.share.count, r.share.total) for r in s.reasons]) for s in lane.skus] == [
        (A, [(ReturnReason.WRONG_SIZE, 4, 5), (ReturnReason.NOT_AS_DESCRIBED, 1, 5)]),
        (B, [(DEFECTIVE, 2, 2)]),
    ]


async def test_other_groupings_lanes_and_carriers_and_writing_the_history_again(world: World) -> None:
    by_carrier = await world.insights.comparisons.compare(query(group_by=GroupBy.CARRIER, lane=Lane()))
    assert [(row.account_id, row.service_code, row.lane, row.returns_count) for row in by_carrier.rows] == [
        ("rhein-paket", "", None, 6),
        ("sandbox", "", None, 2),
    ]
    elsewhere = await world.insights.comparisons.compare(query(lane=Lane("NL", "EU_HUB")))
    assert elsewhere.rows == []
    assert elsewhere.return_reasons == []
    only_sandbox = await world.insights.comparisons.compare(query(carrier_account_ids=frozenset({"sandbox"})))
    assert [row.account_id for row in only_sandbox.rows] == ["sandbox"]

    writer = HistoryWriter(
        labels=LabelRepository(world.database),
        registry=world.insights.registry,
        ingestion=world.tracking.ingestion,
        adapters=world.carriers.adapters,
    )
    assert await writer.write(HISTORY) == 0
    await world.insights.journeys.catch_up()
    result = await world.insights.comparisons.compare(query())
    assert [row.returns_count for row in result.rows] == [6, 2]


async def test_quotes_get_the_lane_figures(world: World) -> None:
    figures = LaneFigures(world.database, min_delivered=3, period_days=90, clock=lambda: UNTIL)
    await figures.refresh()
    rhein_lane = LaneKey("rhein-paket", "paket_retoure", "DE", "EU_HUB", "m1")
    sandbox_lane = LaneKey("sandbox", "sandbox_standard", "DE", "EU_HUB", "m1")
    unknown_lane = LaneKey("tulip-parcel", "parcel_return", "DE", "EU_HUB", "m1")
    found = await figures.lane_performance([rhein_lane, sandbox_lane, unknown_lane])
    reliability = found[rhein_lane].reliability
    assert reliability is not None
    assert found[rhein_lane].sample_size == 4  # R0 in September is inside the 90 days
    assert reliability.on_time_rate == Decimal("0.5")  # R0 took 7 days against 2 promised
    assert found[sandbox_lane].reliability is None
    assert found[sandbox_lane].unknown_reason == "2 delivered returns in 90 days, 3 needed"
    assert found[unknown_lane].unknown_reason == "0 delivered returns in 90 days, 3 needed"


async def test_the_migration_matches_the_insights_tables(database_url: str) -> None:
    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    await upgrade_database(database_url)
    database = create_database(database_url)
    try:
        async with database.engine.connect() as connection:
            found = await connection.run_sync(differences)
    finally:
        await database.dispose()
    assert [
        d
        for d in found
        if _table_of(d) in INSIGHTS_TABLES or _index_name(d) == "ix_tracking_events_label_journey"
    ] == []


def _table_of(difference: Any) -> str:
    if isinstance(difference, list):
        return str(difference[0][2])
    operation, subject = difference[0], difference[1]
    if operation in {"add_column", "remove_column"}:
        return str(difference[2])
    if operation in {"add_table", "remove_table"}:
        return str(subject.name)
    return str(subject.table.name)


def _index_name(difference: Any) -> str:
    if isinstance(difference, tuple) and difference[0] in {"add_index", "remove_index"}:
        return str(difference[1].name)
    return ""
