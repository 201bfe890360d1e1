"""A carrier comparison for people: rich tables, a CSV file, and a chart (PNG).

Everything here reads a CompareCarriersResponse, so the same output serves the CLI against a database or a
server, and the demo. The chart has two panels: cost per parcel against on-time rate (one point per row,
its size the number of returns), and each row's transit-time distribution (share of arrived parcels per
whole day from drop-off to the hub).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path

from google.type import money_pb2
from rich.console import Console
from rich.table import Table

from backhaul.v1 import common_pb2, insights_pb2, tracking_pb2

_CHART_ROWS = 10
_WIDE = 150  # characters a console needs for the full comparison table
CSV_COLUMNS = (
    "carrier_account_id",
    "carrier",
    "service_code",
    "lane",
    "returns",
    "currency",
    "total_cost",
    "cost_per_parcel",
    "cost_per_kg",
    "drop_off_days_p50",
    "drop_off_days_p90",
    "transit_days_p50",
    "transit_days_p90",
    "transit_days_mean",
    "on_time_rate",
    "on_time_count",
    "on_time_total",
    "exception_rate",
    "customs_hold_rate",
    "returned_to_sender_rate",
    "void_rate",
    "quote_error_rate",
    "quote_timeout_rate",
    "quote_latency_ms_p50",
    "quote_latency_ms_p90",
    "score",
)


def _amount(money: money_pb2.Money) -> Decimal:
    return Decimal(money.units) + Decimal(money.nanos) / 1_000_000_000


def _money(row: insights_pb2.CarrierComparisonRow, field: str) -> str:
    return f"{_amount(getattr(row, field)):.2f}" if row.HasField(field) else ""  # type: ignore[arg-type]


def lane_name(lane: common_pb2.Lane) -> str:
    return f"{lane.customer_country}-{lane.hub_id}"


def row_name(row: insights_pb2.CarrierComparisonRow, *, with_lane: bool = False) -> str:
    name = row.carrier.name or row.carrier.account_id
    service = row.service_name or row.service_code
    if service and service != name:
        name += f" / {service}"
    if with_lane and row.HasField("lane"):
        name += f" ({lane_name(row.lane)})"
    return name


def _several_lanes(response: insights_pb2.CompareCarriersResponse) -> bool:
    return len({lane_name(row.lane) for row in response.rows if row.HasField("lane")}) > 1


def _share(proportion: insights_pb2.Proportion) -> str:
    return f"{proportion.rate:.1%}" if proportion.total else "–"


def _days(distribution: insights_pb2.Distribution, which: str) -> str:
    return f"{getattr(distribution, which):.1f}" if distribution.count else "–"


def comparison_table(
    response: insights_pb2.CompareCarriersResponse, title: str = "", *, compact: bool = False
) -> Table:
    """One line per row; the lane column only when the rows span several lanes. `compact` keeps the columns
    that fit an 80-column terminal (cost, transit, on time, exceptions, returns to sender, score)."""
    several = _several_lanes(response)
    currency = response.currency
    columns: list[tuple[str, Callable[[insights_pb2.CarrierComparisonRow], str], bool]] = [
        ("carrier / service", row_name, True),
        ("lane", lambda row: lane_name(row.lane) if row.HasField("lane") else "all", several),
        ("returns", lambda row: str(row.returns_count), True),
        (f"{currency}/parcel", lambda row: _money(row, "cost_per_parcel"), True),
        (f"{currency}/kg", lambda row: _money(row, "cost_per_kg"), not compact),
        ("drop-off d", lambda row: _days(row.label_to_drop_off_days, "p50"), not compact),
        (
            "transit p50/p90 d",
            lambda row: f"{_days(row.transit_days, 'p50')}/{_days(row.transit_days, 'p90')}",
            True,
        ),
        ("on time", lambda row: _share(row.on_time), True),
        ("exc.", lambda row: _share(row.exceptions), True),
        ("customs", lambda row: _share(row.customs_holds), not compact),
        ("RTS", lambda row: _share(row.returned_to_sender), True),
        ("void", lambda row: _share(row.voided), not compact),
        (
            "quote err/t-o",
            lambda row: f"{_share(row.quote_errors)}/{_share(row.quote_timeouts)}",
            not compact,
        ),
        (
            "quote p90 ms",
            lambda row: f"{row.quote_latency_ms.p90:.0f}" if row.quote_latency_ms.count else "–",
            not compact,
        ),
        ("score", lambda row: f"[bold]{row.score.value:.1f}[/]", True),
    ]
    shown = [(header, cell) for header, cell, wanted in columns if wanted]
    table = Table(
        *(header for header, _ in shown),
        title=title or None,
        caption="score weights: " + ", ".join(f"{w.metric} {w.weight:.0%}" for w in response.score_weights),
    )
    for row in response.rows:
        table.add_row(*(cell(row) for _, cell in shown))
    return table


def reasons_table(response: insights_pb2.CompareCarriersResponse) -> Table:
    table = Table("lane", "what", "top return reasons", title="Why customers return")
    for lane in response.return_reasons:
        table.add_row(lane_name(lane.lane), "all items", _reasons(lane.reasons))
        for sku in lane.skus:
            table.add_row("", sku.sku, _reasons(sku.reasons))
    return table


def _reasons(shares: Sequence[insights_pb2.ReturnReasonShare]) -> str:
    return ", ".join(
        f"{common_pb2.ReturnReason.Name(s.reason).removeprefix('RETURN_REASON_').lower().replace('_', ' ')} "
        f"{s.share.rate:.0%}"
        for s in shares[:3]
    )


def print_comparison(
    console: Console, response: insights_pb2.CompareCarriersResponse, title: str = ""
) -> None:
    console.print(comparison_table(response, title, compact=console.width < _WIDE))
    for row in response.rows[:3]:
        exceptions = ", ".join(
            f"{tracking_pb2.ExceptionReason.Name(e.reason).removeprefix('EXCEPTION_REASON_').lower()} "
            f"{e.share.rate:.1%}"
            for e in row.exception_rates
        )
        if exceptions:
            console.print(f"  {row_name(row)}: {exceptions}")
    if response.return_reasons:
        console.print(reasons_table(response))
    console.print(
        f"[dim]{response.since.ToDatetime():%Y-%m-%d} to {response.until.ToDatetime():%Y-%m-%d}, costs in "
        f"{response.currency} (FX as of {response.fx_as_of.year:04d}-{response.fx_as_of.month:02d}-"
        f"{response.fx_as_of.day:02d}); weights: {response.score_weights_source}[/]"
    )


def write_csv(response: insights_pb2.CompareCarriersResponse, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_COLUMNS)
        for row in response.rows:
            writer.writerow(
                [
                    row.carrier.account_id,
                    row.carrier.name,
                    row.service_code,
                    lane_name(row.lane) if row.HasField("lane") else "",
                    row.returns_count,
                    response.currency,
                    _money(row, "total_cost"),
                    _money(row, "cost_per_parcel"),
                    _money(row, "cost_per_kg"),
                    *(_figure(row.label_to_drop_off_days, p) for p in ("p50", "p90")),
                    *(_figure(row.transit_days, p) for p in ("p50", "p90", "mean")),
                    _rate(row.on_time),
                    row.on_time.count,
                    row.on_time.total,
                    _rate(row.exceptions),
                    _rate(row.customs_holds),
                    _rate(row.returned_to_sender),
                    _rate(row.voided),
                    _rate(row.quote_errors),
                    _rate(row.quote_timeouts),
                    *(_figure(row.quote_latency_ms, p) for p in ("p50", "p90")),
                    f"{row.score.value:.2f}",
                ]
            )


def _figure(distribution: insights_pb2.Distribution, which: str) -> str:
    return f"{getattr(distribution, which):.3f}" if distribution.count else ""


def _rate(proportion: insights_pb2.Proportion) -> str:
    return f"{proportion.rate:.4f}" if proportion.total else ""


def write_chart(response: insights_pb2.CompareCarriersResponse, path: Path, title: str = "") -> None:
    import matplotlib  # loaded only when a chart is asked for: it takes a while

    matplotlib.use("Agg")
    from matplotlib import pyplot

    # The rows with the most returns, one colour each in both panels.
    shown = sorted(response.rows, key=lambda row: -row.returns_count)[:_CHART_ROWS]
    colours = pyplot.get_cmap("tab10")
    with_lane = _several_lanes(response)
    figure, (costs, transit) = pyplot.subplots(1, 2, figsize=(14, 6))
    largest = max((row.returns_count for row in shown), default=1)
    for index, row in enumerate(shown):
        name = row_name(row, with_lane=with_lane)
        if row.HasField("cost_per_parcel") and row.on_time.total:
            costs.scatter(
                row.on_time.rate * 100,
                float(_amount(row.cost_per_parcel)),
                s=60 + 600 * row.returns_count / largest,
                alpha=0.6,
                color=colours(index),
                label=f"{name}: {row.returns_count} returns",
            )
        counts = list(row.transit_days_histogram)
        if counts:
            shares = [100 * count / sum(counts) for count in counts]
            transit.step(
                range(len(counts) + 1),
                [*shares, shares[-1]],
                where="post",
                color=colours(index),
                label=f"{name}: p90 {row.transit_days.p90:.1f} d",
            )
    costs.set_xlabel("on time (% of parcels at the hub within the promise)")
    costs.set_ylabel(f"cost per parcel ({response.currency})")
    costs.set_title("Cost against on-time rate (point size: returns)")
    costs.grid(alpha=0.3)
    if costs.collections:
        costs.legend(fontsize=8, markerscale=0.4)
    last = max((len(row.transit_days_histogram) for row in shown), default=1) - 1
    transit.set_xticks([day + 0.5 for day in range(last + 1)], [*map(str, range(last)), f"{last}+"])
    transit.set_xlabel("transit days, drop-off to hub (whole days)")
    transit.set_ylabel("% of arrived parcels")
    transit.set_title("Transit-time distributions")
    transit.grid(alpha=0.3)
    if transit.lines:
        transit.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
