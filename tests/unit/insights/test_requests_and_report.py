"""CompareCarriers requests (defaults, refusals naming the request field) and the report for people: the
CSV's rows and the chart file."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from backhaul.v1 import common_pb2, insights_pb2
from customs.money import FxTable, Money
from service.errors import InvalidArgument
from service.grpc import convert
from service.grpc.insights_servicer import comparison_query_from_proto
from service.insights.comparison import CarrierComparisons
from service.insights.model import ComparisonQuery, GroupBy, Lane
from service.insights.report import CSV_COLUMNS, print_comparison, write_chart, write_csv
from service.insights.scoring import load_score_weights
from service.storage import create_database

NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
FX = FxTable(base="EUR", as_of=dt.date(2026, 11, 2), rates={"USD": Decimal("1.10")})


def comparisons() -> CarrierComparisons:
    # Refused queries never reach the database.
    database = create_database("sqlite+aiosqlite:///:memory:")
    return CarrierComparisons(database, fx=FX, weights=load_score_weights(), accounts={}, clock=lambda: NOW)


def test_an_empty_request_takes_every_default() -> None:
    query = comparison_query_from_proto(insights_pb2.CompareCarriersRequest(), "m1")
    assert query == ComparisonQuery("m1", group_by=GroupBy.CARRIER_SERVICE_LANE)
    request = insights_pb2.CompareCarriersRequest(
        lane=common_pb2.Lane(customer_country=" de", hub_id="eu_hub"),
        group_by=insights_pb2.COMPARE_CARRIERS_GROUP_BY_CARRIER,
        carrier_account_ids=[" sandbox ", ""],
    )
    request.since.FromDatetime(NOW - dt.timedelta(days=7))
    query = comparison_query_from_proto(request, "m1")
    assert (query.lane, query.group_by, query.carrier_account_ids) == (
        Lane("DE", "EU_HUB"),
        GroupBy.CARRIER,
        {"sandbox"},
    )
    assert query.since == NOW - dt.timedelta(days=7)
    assert query.until is None


async def test_refusals_name_the_request_fields() -> None:
    with pytest.raises(InvalidArgument) as refused:
        await comparisons().compare(
            ComparisonQuery(
                "m1",
                since=NOW,
                until=NOW - dt.timedelta(days=1),
                currency="XYZ",
                lane=Lane("ZZ"),
                top_skus=101,
            )
        )
    assert {v.field for v in refused.value.violations} == {
        "since",
        "currency",
        "lane.customer_country",
        "top_skus",
    }
    with pytest.raises(InvalidArgument, match="group_by"):
        comparison_query_from_proto(insights_pb2.CompareCarriersRequest(group_by=99), "m1")  # type: ignore[arg-type]


def response() -> insights_pb2.CompareCarriersResponse:
    def row(
        account: str, service: str, cost: str, on_time: int, histogram: list[int]
    ) -> insights_pb2.CarrierComparisonRow:
        return insights_pb2.CarrierComparisonRow(
            carrier=common_pb2.Carrier(account_id=account, name=account.title(), provider="ratecard"),
            service_code=service,
            service_name=service.title(),
            lane=common_pb2.Lane(customer_country="DE", hub_id="EU_HUB"),
            returns_count=sum(histogram) + 2,
            total_cost=convert.money_to_proto(Money(Decimal(cost) * 10, "EUR")),
            cost_per_parcel=convert.money_to_proto(Money(Decimal(cost), "EUR")),
            transit_days=insights_pb2.Distribution(count=sum(histogram), p50=2.0, p90=3.5, mean=2.2),
            on_time=insights_pb2.Proportion(
                count=on_time, total=sum(histogram), rate=on_time / sum(histogram)
            ),
            score=insights_pb2.CompositeScore(value=50.0),
            transit_days_histogram=histogram,
        )

    message = insights_pb2.CompareCarriersResponse(
        rows=[
            row("rhein", "retoure", "7.30", 9, [0, 4, 5, 1]),
            row("tulip", "standard", "13.40", 6, [0, 1, 5, 4]),
        ],
        score_weights=[insights_pb2.ScoreWeight(metric="cost_per_parcel", weight=1.0, description="cheaper")],
        currency="EUR",
        score_weights_source="test",
    )
    message.fx_as_of.CopyFrom(convert.date_to_proto(FX.as_of))
    return message


def test_the_csv_has_one_line_per_row_with_the_figures(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_csv(response(), path)
    with path.open(encoding="utf-8") as file:
        reader = csv.DictReader(file)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        lines = list(reader)
    assert [(line["carrier_account_id"], line["lane"], line["cost_per_parcel"]) for line in lines] == [
        ("rhein", "DE-EU_HUB", "7.30"),
        ("tulip", "DE-EU_HUB", "13.40"),
    ]
    assert lines[0]["on_time_rate"] == "0.9000"
    assert lines[0]["transit_days_p90"] == "3.500"


def test_the_chart_is_a_png_and_the_table_prints(tmp_path: Path) -> None:
    path = tmp_path / "chart.png"
    write_chart(response(), path, "DE-EU_HUB")
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    console = Console(width=80, record=True, file=io.StringIO())
    print_comparison(console, response(), "DE-EU_HUB")
    text = console.export_text()
    assert "EUR/parcel" in text
    assert "EUR/kg" not in text  # 80 columns: the compact table
    assert "90.0%" in text
    assert "13.40" in text
