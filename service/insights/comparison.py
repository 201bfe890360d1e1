"""CompareCarriers: per carrier (service, lane) and period, every figure aggregated in the database.

The use case validates the query and fills its defaults (the last `default_period_days` up to now, the FX
table's base currency, 10 SKUs per lane), runs the queries of comparison_queries.py, converts the per-currency
cost sums with the service's FX table, joins the quote outcomes of each carrier account (and lane), and
scores the rows with the configured weights. Every read is scoped by the calling merchant.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, RowMapping, text

from carriers.accounts import CarrierAccount
from carriers.tracking import ExceptionReason
from customs.countries import validate_country
from customs.goods import ReturnReason
from customs.money import FxTable, MissingFxRate, Money, UnknownCurrency, validate_currency
from service.errors import FailedPrecondition, FieldViolation, InvalidArgument
from service.insights.comparison_queries import (
    TRANSIT_HISTOGRAM_DAYS,
    Scope,
    exception_column,
    leg_costs,
    leg_statistics,
    quote_outcomes,
    reason_units,
    sku_reason_units,
    transit_bin,
)
from service.insights.legs import from_minor
from service.insights.model import (
    CarrierComparison,
    CarrierComparisonResult,
    ComparisonQuery,
    Distribution,
    ExceptionShare,
    Lane,
    LaneReasons,
    Proportion,
    ReasonShare,
    SkuReasons,
)
from service.insights.quote_stats import OK
from service.insights.scoring import ScoreWeights
from service.insights.tables import LATENCY_BUCKETS_MS, LATENCY_COLUMNS
from service.storage.engine import Database

DEFAULT_TOP_SKUS = 10
MAX_TOP_SKUS = 100
TIMEOUT = "TIMEOUT"
SORT_MEMORY = "64MB"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class _QuoteFigures:
    errors: Proportion
    timeouts: Proportion
    latency_ms: Distribution


_NO_QUOTES = _QuoteFigures(Proportion(), Proportion(), Distribution())


class CarrierComparisons:
    def __init__(
        self,
        database: Database,
        *,
        fx: FxTable,
        weights: ScoreWeights,
        accounts: Mapping[str, CarrierAccount],
        default_period_days: int = 90,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self._database = database
        self._fx = fx
        self._weights = weights
        self._accounts = accounts
        self._default_period = dt.timedelta(days=default_period_days)
        self._clock = clock

    async def compare(self, query: ComparisonQuery) -> CarrierComparisonResult:
        scope, currency, top_skus = self._validated(query)
        dims = _dimensions(query)
        dialect = self._database.backend
        # Three connections at once: the answer waits for the slowest query, not for their sum.
        (statistics,), (costs, outcomes), (reasons, sku_reasons) = await asyncio.gather(
            self._rows([leg_statistics(dialect, scope, dims)], sorts=True),
            self._rows([leg_costs(scope, dims), quote_outcomes(scope, query.group_by.by_lane)]),
            self._rows([reason_units(scope), sku_reason_units(scope, top_skus)]),
        )
        cost_sums = self._costs(costs, dims, currency)
        quotes = _quote_figures(outcomes, query.group_by.by_lane)
        rows = [self._row(row, dims, cost_sums, quotes, currency) for row in statistics]
        rows += self._quoted_only(quotes, {_quote_key(r.account_id, r.lane) for r in rows}, query, currency)
        return CarrierComparisonResult(
            rows=self._weights.score(rows),
            weights=self._weights.weights,
            weights_source=self._weights.source,
            return_reasons=_lane_reasons(reasons, sku_reasons),
            since=scope.since,
            until=scope.until,
            currency=currency,
            fx_as_of=self._fx.as_of,
        )

    async def _rows(
        self, statements: Sequence[Executable], *, sorts: bool = False
    ) -> list[Sequence[RowMapping]]:
        async with self._database.engine.connect() as connection:
            if sorts and connection.dialect.name == "postgresql":
                # Room to sort a period's legs in memory; for this transaction only.
                await connection.execute(text(f"SET LOCAL work_mem = '{SORT_MEMORY}'"))
            return [(await connection.execute(statement)).mappings().all() for statement in statements]

    # -- validation --------------------------------------------------------------------------------------

    def _validated(self, query: ComparisonQuery) -> tuple[Scope, str, int]:
        violations: list[FieldViolation] = []
        lane = query.lane
        if lane.customer_country:
            try:
                validate_country(lane.customer_country)
            except ValueError as exc:
                violations.append(FieldViolation("lane.customer_country", str(exc)))
        until = query.until or self._clock()
        since = query.since or until - self._default_period
        if since >= until:
            violations.append(FieldViolation("since", "must be before until"))
        currency = query.currency.strip().upper() or self._fx.base
        try:
            currency = validate_currency(currency)
            self._fx.rate(self._fx.base, currency)
        except (UnknownCurrency, ValueError, MissingFxRate) as exc:
            violations.append(FieldViolation("currency", f"no FX rate for {currency!r}: {exc}"))
        if not 0 <= query.top_skus <= MAX_TOP_SKUS:
            violations.append(
                FieldViolation("top_skus", f"must be 0 (default {DEFAULT_TOP_SKUS}) to {MAX_TOP_SKUS}")
            )
        if violations:
            raise InvalidArgument(violations)
        scope = Scope(query.merchant_id, since, until, lane, query.carrier_account_ids)
        return scope, currency, query.top_skus or DEFAULT_TOP_SKUS

    # -- rows --------------------------------------------------------------------------------------------

    def _costs(
        self, rows: Iterable[Mapping[Any, Any]], dims: Sequence[str], currency: str
    ) -> dict[tuple[str, ...], tuple[Money, int, int]]:
        """(total cost in `currency`, not rounded yet; parcels; gross grams) per group."""
        sums: dict[tuple[str, ...], tuple[Money, int, int]] = {}
        for row in rows:
            key = tuple(row[name] for name in dims)
            price = from_minor(int(row["price_minor"]), row["currency"])
            try:
                converted = Money(price.amount * self._fx.rate(price.currency, currency), currency)
            except MissingFxRate as exc:
                raise FailedPrecondition(
                    f"labels were bought in {price.currency}; the FX table cannot convert it to {currency}",
                    reason="FX_RATE_MISSING",
                ) from exc
            total, parcels, grams = sums.get(key, (Money.zero(currency), 0, 0))
            sums[key] = (
                total + converted,
                parcels + int(row["parcels"]),
                grams + int(row["gross_weight_grams"]),
            )
        return sums

    def _row(
        self,
        row: Mapping[Any, Any],
        dims: Sequence[str],
        cost_sums: Mapping[tuple[str, ...], tuple[Money, int, int]],
        quotes: Mapping[tuple[str, Lane | None], _QuoteFigures],
        currency: str,
    ) -> CarrierComparison:
        key = tuple(row[name] for name in dims)
        total, parcels, grams = cost_sums.get(key, (Money.zero(currency), 0, 0))
        lane = Lane(row["customer_country"], row["destination"]) if "destination" in dims else None
        handled = int(row["handled"])
        account_id = row["carrier_account_id"]
        figures = quotes.get(_quote_key(account_id, lane), _NO_QUOTES)
        account = self._accounts.get(account_id)
        return CarrierComparison(
            account_id=account_id,
            carrier_name=account.carrier if account else account_id,
            provider=account.adapter if account else "",
            service_code=row["service_code"] if "service_code" in dims else "",
            service_name=row["service_name"] if "service_code" in dims else "",
            lane=lane,
            returns_count=int(row["returns_count"]),
            total_cost=total.rounded(),
            cost_per_parcel=Money(total.amount / parcels, currency).rounded() if parcels else None,
            cost_per_kg=Money(total.amount * 1000 / grams, currency).rounded() if grams else None,
            label_to_drop_off_days=_distribution(row, "drop_off_days"),
            transit_days=_distribution(row, "transit_days"),
            on_time=Proportion(int(row["on_time"]), int(row["on_time_total"])),
            exception_rates=tuple(
                ExceptionShare(reason, Proportion(int(row[exception_column(reason)]), handled))
                for reason in ExceptionReason
                if int(row[exception_column(reason)])
            ),
            exceptions=Proportion(int(row["any_exception"]), handled),
            customs_holds=Proportion(int(row["customs_hold"]), handled),
            returned_to_sender=Proportion(int(row["returned_to_sender"]), handled),
            voided=Proportion(int(row["voided"]), int(row["returns_count"])),
            quote_errors=figures.errors,
            quote_timeouts=figures.timeouts,
            quote_latency_ms=figures.latency_ms,
            transit_days_histogram=_histogram(row),
        )

    def _quoted_only(
        self,
        quotes: Mapping[tuple[str, Lane | None], _QuoteFigures],
        seen: set[tuple[str, Lane | None]],
        query: ComparisonQuery,
        currency: str,
    ) -> list[CarrierComparison]:
        """Carriers that were asked for quotes but sold no label in the period (rows without a service)."""
        if query.group_by.by_service:
            return []
        rows = []
        for (account_id, lane), figures in sorted(
            quotes.items(), key=lambda item: (item[0][0], str(item[0][1]))
        ):
            if (account_id, lane) in seen:
                continue
            account = self._accounts.get(account_id)
            rows.append(
                CarrierComparison(
                    account_id=account_id,
                    carrier_name=account.carrier if account else account_id,
                    provider=account.adapter if account else "",
                    service_code="",
                    service_name="",
                    lane=lane,
                    returns_count=0,
                    total_cost=Money.zero(currency),
                    cost_per_parcel=None,
                    cost_per_kg=None,
                    label_to_drop_off_days=Distribution(),
                    transit_days=Distribution(),
                    on_time=Proportion(),
                    exception_rates=(),
                    exceptions=Proportion(),
                    customs_holds=Proportion(),
                    returned_to_sender=Proportion(),
                    voided=Proportion(),
                    quote_errors=figures.errors,
                    quote_timeouts=figures.timeouts,
                    quote_latency_ms=figures.latency_ms,
                )
            )
        return rows


def _dimensions(query: ComparisonQuery) -> list[str]:
    dims = ["carrier_account_id"]
    if query.group_by.by_service:
        dims.append("service_code")
    if query.group_by.by_lane:
        dims += ["customer_country", "destination"]
    return dims


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _distribution(row: Mapping[Any, Any], name: str) -> Distribution:
    count = int(row[f"{name}_count"])
    if not count:
        return Distribution()
    return Distribution(
        count, _float(row[f"{name}_p50"]), _float(row[f"{name}_p90"]), _float(row[f"{name}_mean"])
    )


def _histogram(row: Mapping[Any, Any]) -> tuple[int, ...]:
    if not int(row["transit_days_count"]):
        return ()
    return tuple(int(row[transit_bin(day)]) for day in range(TRANSIT_HISTOGRAM_DAYS + 1))


def _quote_key(account_id: str, lane: Lane | None) -> tuple[str, Lane | None]:
    return (account_id, lane)


def _quote_figures(
    rows: Iterable[Mapping[Any, Any]], by_lane: bool
) -> dict[tuple[str, Lane | None], _QuoteFigures]:
    """Errors and timeouts among all answers; latency over the answers that came (timeouts left out)."""
    grouped: dict[tuple[str, Lane | None], list[Mapping[Any, Any]]] = defaultdict(list)
    for row in rows:
        lane = Lane(row["origin_country"], row["destination"]) if by_lane else None
        grouped[_quote_key(row["carrier_account_id"], lane)].append(row)
    figures = {}
    for key, outcomes in grouped.items():
        answers = sum(int(o["answers"]) for o in outcomes)
        timeouts = sum(int(o["answers"]) for o in outcomes if o["outcome"] == TIMEOUT)
        errors = sum(int(o["answers"]) for o in outcomes if o["outcome"] not in (OK, TIMEOUT))
        timed = [o for o in outcomes if o["outcome"] != TIMEOUT]
        buckets = [sum(int(o[name]) for o in timed) for name in LATENCY_COLUMNS]
        latency_sum = sum(int(o["latency_ms_sum"]) for o in timed)
        figures[key] = _QuoteFigures(
            Proportion(errors, answers),
            Proportion(timeouts, answers),
            histogram_distribution(buckets, latency_sum),
        )
    return figures


def histogram_distribution(buckets: Sequence[int], total: int) -> Distribution:
    """Count and exact mean; p50 and p90 interpolated linearly within the bucket that holds the rank
    (the unbounded last bucket reports its lower bound)."""
    count = sum(buckets)
    if not count:
        return Distribution()
    return Distribution(
        count, _bucket_percentile(buckets, 0.5), _bucket_percentile(buckets, 0.9), total / count
    )


def _bucket_percentile(buckets: Sequence[int], fraction: float) -> float:
    target = fraction * sum(buckets)
    below = 0
    for index, in_bucket in enumerate(buckets):
        lower = 0 if index == 0 else LATENCY_BUCKETS_MS[index - 1]
        if in_bucket and below + in_bucket >= target:
            if index == len(LATENCY_BUCKETS_MS):
                return float(lower)
            upper = LATENCY_BUCKETS_MS[index]
            return lower + (upper - lower) * (target - below) / in_bucket
        below += in_bucket
    return float(LATENCY_BUCKETS_MS[-1])


def _reason_shares(units: Mapping[str, int]) -> tuple[ReasonShare, ...]:
    total = sum(units.values())
    return tuple(
        ReasonShare(ReturnReason(reason), Proportion(count, total))
        for reason, count in sorted(units.items(), key=lambda item: (-item[1], item[0]))
    )


def _lane_reasons(
    reasons: Iterable[Mapping[Any, Any]], sku_reasons: Iterable[Mapping[Any, Any]]
) -> list[LaneReasons]:
    by_lane: dict[Lane, dict[str, int]] = defaultdict(dict)
    for row in reasons:
        by_lane[Lane(row["customer_country"], row["destination"])][row["return_reason"]] = int(row["units"])
    by_sku: dict[Lane, dict[tuple[int, str], dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for row in sku_reasons:
        lane = Lane(row["customer_country"], row["destination"])
        by_sku[lane][(int(row["sku_rank"]), row["sku"])][row["return_reason"]] = int(row["units"])
    return [
        LaneReasons(
            lane,
            _reason_shares(units),
            tuple(
                SkuReasons(sku, _reason_shares(by_sku[lane][(rank, sku)]))
                for rank, sku in sorted(by_sku[lane])
            ),
        )
        for lane, units in sorted(by_lane.items())
    ]
