"""Insights through a real server process: a history written by `backhaul simulate`, quotes that carry the
lanes' reliability figures (or say why not), CompareCarriers over gRPC, quote outcomes counted from live
quotes, and `backhaul insights compare` with its CSV and chart agreeing with the API."""

from __future__ import annotations

import csv
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from backhaul.v1 import common_pb2, insights_pb2, insights_pb2_grpc, rates_pb2, rates_pb2_grpc
from service.demo import german_customer_return
from tests.e2e.server_process import ServerProcess, run_cli

MERCHANT = "e2e-insights"
MIN_DELIVERED = 5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path_factory.mktemp("insights"),
        extra_env={
            "BACKHAUL_INSIGHTS_MIN_DELIVERED_RETURNS": str(MIN_DELIVERED),
            "BACKHAUL_INSIGHTS_LANE_REFRESH_SECONDS": "1",
            "BACKHAUL_INSIGHTS_QUOTE_STATS_FLUSH_SECONDS": "0.5",
            "BACKHAUL_LOG_LEVEL": "WARNING",
        },
    )
    simulated = run_cli(
        ["simulate", "--returns", "120", "--days", "30", "--seed", "9", "--merchant", MERCHANT],
        process.env,
        timeout=240,
    )
    assert "120 returns (120 new)" in simulated.stdout
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def metadata(server: ServerProcess) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {server.create_key(MERCHANT)}"),)


def _compare(
    server: ServerProcess, metadata: tuple[tuple[str, str], ...], **fields: object
) -> insights_pb2.CompareCarriersResponse:
    request = insights_pb2.CompareCarriersRequest(**fields)  # type: ignore[arg-type]
    with grpc.insecure_channel(server.target) as channel:
        return insights_pb2_grpc.InsightsServiceStub(channel).CompareCarriers(
            request, metadata=metadata, timeout=30
        )


def _quote(
    server: ServerProcess, metadata: tuple[tuple[str, str], ...], country: str
) -> rates_pb2.QuoteReturnResponse:
    request = german_customer_return(dt.datetime.now(dt.UTC).date())
    if country == "BE":
        request.customer.address.region_code = "BE"
        request.customer.address.locality = "Bruxelles"
        request.customer.address.postal_code = "1000"
    request.preferences.sort = rates_pb2.QUOTE_SORT_BEST_VALUE
    with grpc.insecure_channel(server.target) as channel:
        return rates_pb2_grpc.RatesServiceStub(channel).QuoteReturn(request, metadata=metadata, timeout=10)


def test_quotes_on_a_lane_with_history_carry_its_figures(
    server: ServerProcess, metadata: tuple[tuple[str, str], ...]
) -> None:
    DE_EU = common_pb2.Lane(customer_country="DE", hub_id="EU_HUB")
    comparison = _compare(server, metadata, lane=DE_EU, currency="EUR")
    rows = {(row.carrier.account_id, row.service_code): row for row in comparison.rows}
    answer = _quote(server, metadata, "DE")
    assert answer.quotes
    informed = 0
    for quote in answer.quotes:
        performance = quote.lane_performance
        assert performance.period_days == 90
        row = rows.get((quote.carrier.account_id, quote.service_code))
        arrived = row.transit_days.count if row else 0
        assert performance.sample_size == arrived
        if arrived >= MIN_DELIVERED:
            assert performance.WhichOneof("result") == "reliability"
            assert performance.reliability.on_time_rate == pytest.approx(row.on_time.rate, abs=1e-4)
            assert performance.reliability.p90_transit_days == pytest.approx(row.transit_days.p90, abs=1e-4)
            informed += 1
        else:
            assert performance.unknown_reason == (
                f"{arrived} delivered returns in 90 days, {MIN_DELIVERED} needed"
            )
    assert informed >= 2


def test_quotes_on_a_lane_without_history_say_so(
    server: ServerProcess, metadata: tuple[tuple[str, str], ...]
) -> None:
    answer = _quote(server, metadata, "BE")
    assert answer.quotes
    for quote in answer.quotes:
        assert quote.lane_performance.WhichOneof("result") == "unknown_reason"
        assert (
            quote.lane_performance.unknown_reason == f"0 delivered returns in 90 days, {MIN_DELIVERED} needed"
        )
    # The answers of these live quotes are counted and flushed in the background.
    lane = common_pb2.Lane(customer_country="BE", hub_id="EU_HUB")
    deadline = time.monotonic() + 15
    while True:
        comparison = _compare(
            server, metadata, lane=lane, group_by=insights_pb2.COMPARE_CARRIERS_GROUP_BY_CARRIER_LANE
        )
        asked = {row.carrier.account_id: row.quote_errors.total for row in comparison.rows}
        if asked.get("tulip-parcel", 0) >= 1 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert asked.get("tulip-parcel", 0) >= 1
    assert all(row.returns_count == 0 for row in comparison.rows)


def test_compare_carriers_and_the_command_line_agree(
    server: ServerProcess, metadata: tuple[tuple[str, str], ...], tmp_path: Path
) -> None:
    comparison = _compare(
        server,
        metadata,
        lane=common_pb2.Lane(customer_country="DE", hub_id="EU_HUB"),
        currency="EUR",
        top_skus=3,
    )
    assert comparison.rows
    assert sum(w.weight for w in comparison.score_weights) == pytest.approx(1.0)
    assert [row.score.value for row in comparison.rows] == sorted(
        (r.score.value for r in comparison.rows), reverse=True
    )
    [reasons] = comparison.return_reasons
    assert 0 < len(reasons.skus) <= 3
    assert sum(share.share.count for share in reasons.reasons) == reasons.reasons[0].share.total

    chart, table = tmp_path / "de.png", tmp_path / "de.csv"
    printed = run_cli(
        [
            "insights",
            "compare",
            "--lane",
            "DE-EU_HUB",
            "--since",
            "90d",
            "--merchant",
            MERCHANT,
            "--currency",
            "EUR",
            "--chart",
            str(chart),
            "--csv",
            str(table),
        ],
        server.env,
        timeout=120,
    )
    assert "Carriers on DE-EU_HUB" in printed.stdout
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with table.open(encoding="utf-8") as file:
        lines = list(csv.DictReader(file))
    from_api = {(row.carrier.account_id, row.service_code): row for row in comparison.rows}
    assert {(line["carrier_account_id"], line["service_code"]) for line in lines} == set(from_api)
    for line in lines:
        row = from_api[(line["carrier_account_id"], line["service_code"])]
        assert int(line["returns"]) == row.returns_count
        assert line["on_time_count"] == str(row.on_time.count)
