"""The SQL of the carrier comparison: every figure is aggregated in the database.

Journeys (kept in `return_legs` by the journey projection, service/insights/journeys.py): for a set of labels
one GROUP BY over their tracking events, answered from the events-by-label index, gives the first event that
reached a return milestone (the drop-off: the first carrier scan), the first that reached the hub, and
flags for an exception of each reason, a customs hold and a return to sender; one UPDATE .. FROM writes
them with the days from label to drop-off and from drop-off to the hub, and whether the parcel arrived on
time (calendar days between the UTC dates of drop-off and arrival at most the promised transit days).
Voids are copied from `return_labels` the same way.

The comparison is then one GROUP BY over `return_legs` in the requested dimensions. Percentiles are linear
interpolations between the closest ranks (PostgreSQL's percentile_cont): on PostgreSQL percentile_cont
itself; on SQLite, which has none, the same interpolation from ROW_NUMBER() and COUNT() windows over each
group, picked in the same GROUP BY. Costs are summed per currency in integer minor units (converted
afterwards), quote outcomes come from the hourly counters, return reasons from `return_leg_items`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Date,
    Float,
    Integer,
    Select,
    Table,
    and_,
    case,
    extract,
    func,
    null,
    or_,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.sql.elements import KeyedColumnElement

from carriers.tracking import ExceptionReason, TrackingStatus
from service.insights.model import CUSTOMS_REASONS, Lane
from service.insights.quote_stats import hour_of
from service.insights.tables import (
    LATENCY_COLUMNS,
    CarrierQuoteStatsRow,
    ReturnLegItemRow,
    ReturnLegRow,
)
from service.labels.model import LabelState
from service.labels.tables import ReturnLabelRow
from service.tracking.milestones import ReturnMilestone
from service.tracking.tables import TrackingEventRow

_LEGS = cast(Table, ReturnLegRow.__table__)
_ITEMS = cast(Table, ReturnLegItemRow.__table__)
_LABELS = cast(Table, ReturnLabelRow.__table__)
_EVENTS = cast(Table, TrackingEventRow.__table__)
_STATS = cast(Table, CarrierQuoteStatsRow.__table__)

VOIDED_STATES = (LabelState.VOIDED.value, LabelState.VOID_REQUESTED.value)
AT_HUB = (ReturnMilestone.ARRIVED_AT_HUB.value, ReturnMilestone.DELIVERED_TO_MERCHANT.value)
LEG_DIMENSIONS = ("merchant_id", "carrier_account_id", "service_code", "customer_country", "destination")
# Whole days of transit counted one by one; the last bin holds this many days and more.
TRANSIT_HISTOGRAM_DAYS = 15


def exception_column(reason: ExceptionReason) -> str:
    return f"exception_{reason.value}"


@dataclass(frozen=True, slots=True)
class Scope:
    """Which labels: one merchant's (None: every merchant's) created in [since, until), on a lane."""

    merchant_id: str | None
    since: dt.datetime
    until: dt.datetime
    lane: Lane = field(default_factory=Lane)
    carrier_account_ids: frozenset[str] = frozenset()

    def conditions(self, table: Table) -> list[ColumnElement[bool]]:
        """For `return_legs` or `return_leg_items` (same column names)."""
        c = table.c
        found: list[ColumnElement[bool]] = [c.created_at >= self.since, c.created_at < self.until]
        if self.merchant_id is not None:
            found.append(c.merchant_id == self.merchant_id)
        if self.lane.customer_country:
            found.append(c.customer_country == self.lane.customer_country)
        if self.lane.destination:
            found.append(c.destination == self.lane.destination)
        if self.carrier_account_ids:
            found.append(c.carrier_account_id.in_(sorted(self.carrier_account_ids)))
        return found


def _flag(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.max(case((condition, 1), else_=0))


JOURNEY_FLAGS = (
    "any_exception",
    *(exception_column(r) for r in ExceptionReason),
    "customs_hold",
    "returned_to_sender",
)


def _journeys(label_ids: Select[Any]) -> Any:
    """Per label among `label_ids`: its drop-off, hub arrival and flags, from its tracking events."""
    e = _EVENTS.c
    exception = e.status == TrackingStatus.EXCEPTION.value

    def reason_is(reason: ExceptionReason) -> ColumnElement[bool]:
        if reason is ExceptionReason.OTHER:  # an exception without a reason counts as another reason
            return or_(e.reason == reason.value, e.reason.is_(None))
        return e.reason == reason.value

    return (
        select(
            e.label_id,
            func.min(case((e.milestone.is_not(None), e.occurred_at))).label("dropped_off_at"),
            func.min(case((e.milestone.in_(AT_HUB), e.occurred_at))).label("arrived_at"),
            _flag(exception).label("any_exception"),
            *(_flag(and_(exception, reason_is(r))).label(exception_column(r)) for r in ExceptionReason),
            _flag(and_(exception, e.reason.in_([r.value for r in CUSTOMS_REASONS]))).label("customs_hold"),
            _flag(e.status == TrackingStatus.RETURNED_TO_SENDER.value).label("returned_to_sender"),
        )
        .where(e.label_id.in_(label_ids))
        .group_by(e.label_id)
        .subquery("journey")
    )


def _days_between(dialect: str, start: Any, end: Any) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return sql_cast(extract("epoch", end - start) / 86400, Float)
    return func.julianday(end) - func.julianday(start)


def _calendar_days(dialect: str, start: Any, end: Any) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return sql_cast(func.timezone("UTC", end), Date) - sql_cast(func.timezone("UTC", start), Date)
    return func.julianday(func.date(end)) - func.julianday(func.date(start))


def refresh_journeys(dialect: str, label_ids: Select[Any]) -> Any:
    """UPDATE the journey columns of the legs among `label_ids` from their labels' events."""
    journey = _journeys(label_ids)
    legs = _LEGS.c
    dropped, arrived = journey.c.dropped_off_at, journey.c.arrived_at
    on_time = case(
        (
            and_(arrived.is_not(None), legs.promised_transit_days.is_not(None)),
            case((_calendar_days(dialect, dropped, arrived) <= legs.promised_transit_days, 1), else_=0),
        ),
        else_=null(),
    )
    return (
        update(_LEGS)
        .where(legs.label_id == journey.c.label_id)
        .values(
            dropped_off_at=dropped,
            arrived_at=arrived,
            drop_off_days=_days_between(dialect, legs.created_at, dropped),
            transit_days=_days_between(dialect, dropped, arrived),
            on_time=on_time,
            **{name: journey.c[name] for name in JOURNEY_FLAGS},
        )
    )


def labels_with_events(after: int, through: int) -> Select[Any]:
    """The labels with an event in the log between the two cursors."""
    e = _EVENTS.c
    return select(e.label_id).where(e.cursor > after, e.cursor <= through, e.label_id.is_not(None)).distinct()


def mark_voided(label_ids: Select[Any] | None) -> list[Any]:
    """UPDATEs of the legs and their items (among `label_ids`; None: all) whose labels are voided or being
    voided."""
    voided = select(_LABELS.c.id).where(_LABELS.c.state.in_(VOIDED_STATES))
    if label_ids is not None:
        voided = voided.where(_LABELS.c.id.in_(label_ids))
    return [
        update(table).where(table.c.voided == 0, table.c.label_id.in_(voided)).values(voided=1)
        for table in (_LEGS, _ITEMS)
    ]


def _measured(scope: Scope) -> Any:
    """Per leg in scope: what the groups aggregate (a voided label counts only as bought and voided)."""
    legs = _LEGS.c
    kept = legs.voided == 0

    def unless_voided(value: Any) -> ColumnElement[Any]:
        return case((kept, value), else_=null())

    return (
        select(
            *(legs[name] for name in LEG_DIMENSIONS),
            legs.service_name,
            legs.voided,
            case(
                (and_(kept, or_(legs.dropped_off_at.is_not(None), legs.returned_to_sender == 1)), 1), else_=0
            ).label("handled"),
            unless_voided(legs.drop_off_days).label("drop_off_days"),
            unless_voided(legs.transit_days).label("transit_days"),
            unless_voided(legs.on_time).label("on_time"),
            *(case((kept, legs[name]), else_=0).label(name) for name in JOURNEY_FLAGS),
        )
        .where(*scope.conditions(_LEGS))
        .cte("measured")
    )


_DISTRIBUTIONS = ("drop_off_days", "transit_days")
_PERCENTILES = (("p50", 0.5), ("p90", 0.9))


def leg_statistics(dialect: str, scope: Scope, dimensions: Sequence[str]) -> Select[Any]:
    """One row per group of `dimensions` (names from LEG_DIMENSIONS) with every leg figure."""
    measured = _measured(scope)
    source = measured if dialect == "postgresql" else _ranked(measured, dimensions)
    c = source.c
    percentiles: list[KeyedColumnElement[Any]] = []
    for name in _DISTRIBUTIONS:
        for suffix, fraction in _PERCENTILES:
            value = (
                func.percentile_cont(fraction).within_group(c[name])
                if dialect == "postgresql"
                else _picked(c, name, suffix)
            )
            percentiles.append(value.label(f"{name}_{suffix}"))
    dims = [c[name] for name in dimensions]
    return (
        select(
            *dims,
            func.max(c.service_name).label("service_name"),
            func.count().label("returns_count"),
            func.sum(c.voided).label("voided"),
            func.sum(c.handled).label("handled"),
            *(func.count(c[name]).label(f"{name}_count") for name in _DISTRIBUTIONS),
            *(func.avg(c[name]).label(f"{name}_mean") for name in _DISTRIBUTIONS),
            *percentiles,
            func.coalesce(func.sum(c.on_time), 0).label("on_time"),
            func.count(c.on_time).label("on_time_total"),
            *(func.sum(c[name]).label(name) for name in JOURNEY_FLAGS),
            *_transit_histogram(c.transit_days),
        )
        .group_by(*dims)
        .order_by(*dims)
    )


def transit_bin(day: int) -> str:
    return f"transit_days_bin_{day}"


def _transit_histogram(days: Any) -> list[KeyedColumnElement[Any]]:
    bins: list[KeyedColumnElement[Any]] = []
    for day in range(TRANSIT_HISTOGRAM_DAYS + 1):
        within = days >= day if day == TRANSIT_HISTOGRAM_DAYS else and_(days >= day, days < day + 1)
        bins.append(func.sum(case((within, 1), else_=0)).label(transit_bin(day)))
    return bins


def _ranked(measured: Any, dimensions: Sequence[str]) -> Any:
    """SQLite: each distribution's values ranked within their group, with the ranks to interpolate."""
    c = measured.c
    partition = [c[name] for name in dimensions]
    extra: list[KeyedColumnElement[Any]] = []
    for name in _DISTRIBUTIONS:
        count = func.count(c[name]).over(partition_by=partition)
        extra.append(
            func.row_number()
            .over(partition_by=partition, order_by=c[name].nulls_last())
            .label(f"{name}_rank")
        )
        for suffix, fraction in _PERCENTILES:
            position = 1 + fraction * (count - 1)
            below = sql_cast(position, Integer)
            extra.append(below.label(f"{name}_{suffix}_below"))
            extra.append((position - below).label(f"{name}_{suffix}_fraction"))
    return select(*c, *extra).cte("ranked")


def _picked(c: Any, name: str, suffix: str) -> ColumnElement[Any]:
    rank, below = c[f"{name}_rank"], c[f"{name}_{suffix}_below"]
    low = func.max(case((rank == below, c[name])))
    high = func.coalesce(func.max(case((rank == below + 1, c[name]))), low)
    return low + func.max(c[f"{name}_{suffix}_fraction"]) * (high - low)


def leg_costs(scope: Scope, dimensions: Sequence[str]) -> Select[Any]:
    """Per group and currency: the price of the labels not voided, their number and gross weight."""
    legs = _LEGS.c
    dims = [legs[name] for name in dimensions]
    return (
        select(
            *dims,
            legs.currency,
            func.sum(legs.price_minor).label("price_minor"),
            func.count().label("parcels"),
            func.sum(legs.gross_weight_grams).label("gross_weight_grams"),
        )
        .where(*scope.conditions(_LEGS), legs.voided == 0)
        .group_by(*dims, legs.currency)
    )


def quote_outcomes(scope: Scope, by_lane: bool) -> Select[Any]:
    """Answers per carrier account (and lane) and outcome, with latency sums and histogram buckets, over the
    hours starting in the period (the hour of `since` included)."""
    s = _STATS.c
    dims = [s.carrier_account_id, *([s.origin_country, s.destination] if by_lane else [])]
    conditions: list[ColumnElement[bool]] = [s.hour_start >= hour_of(scope.since), s.hour_start < scope.until]
    if scope.merchant_id is not None:
        conditions.append(s.merchant_id == scope.merchant_id)
    if scope.lane.customer_country:
        conditions.append(s.origin_country == scope.lane.customer_country)
    if scope.lane.destination:
        conditions.append(s.destination == scope.lane.destination)
    if scope.carrier_account_ids:
        conditions.append(s.carrier_account_id.in_(sorted(scope.carrier_account_ids)))
    return (
        select(
            *dims,
            s.outcome,
            func.sum(s.answers).label("answers"),
            func.sum(s.latency_ms_sum).label("latency_ms_sum"),
            *(func.sum(s[name]).label(name) for name in LATENCY_COLUMNS),
        )
        .where(*conditions)
        .group_by(*dims, s.outcome)
    )


def reason_units(scope: Scope) -> Select[Any]:
    """Returned units per lane and reason (labels not voided)."""
    i = _ITEMS.c
    return (
        select(i.customer_country, i.destination, i.return_reason, func.sum(i.quantity).label("units"))
        .where(*scope.conditions(_ITEMS), i.voided == 0)
        .group_by(i.customer_country, i.destination, i.return_reason)
    )


def sku_reason_units(scope: Scope, top_skus: int) -> Select[Any]:
    """Returned units per lane, SKU and reason, for each lane's `top_skus` most returned SKUs, with each
    SKU's rank in its lane (1: most returned; ties by SKU). One pass over the items; the ranking works on
    the per-SKU sums."""
    i = _ITEMS.c
    units = (
        select(i.customer_country, i.destination, i.sku, i.return_reason, func.sum(i.quantity).label("units"))
        .where(*scope.conditions(_ITEMS), i.voided == 0)
        .group_by(i.customer_country, i.destination, i.sku, i.return_reason)
        .cte("sku_reason_units")
    )
    u = units.c
    totals = (
        select(u.customer_country, u.destination, u.sku, func.sum(u.units).label("units"))
        .group_by(u.customer_country, u.destination, u.sku)
        .subquery("sku_totals")
    )
    t = totals.c
    ranked = select(
        t.customer_country,
        t.destination,
        t.sku,
        func.row_number()
        .over(partition_by=[t.customer_country, t.destination], order_by=[t.units.desc(), t.sku])
        .label("sku_rank"),
    ).subquery("sku_ranks")
    r = ranked.c
    lane_and_sku = and_(
        r.customer_country == u.customer_country, r.destination == u.destination, r.sku == u.sku
    )
    return (
        select(u.customer_country, u.destination, u.sku, r.sku_rank, u.return_reason, u.units)
        .select_from(units.join(ranked, lane_and_sku))
        .where(r.sku_rank <= top_skus)
    )
