"""Lane figures for quotes: each merchant's on-time rate and transit percentiles per carrier service and lane,
computed in the database every few minutes and served to QuoteReturns from memory.

Quoting never waits for the database: `lane_performance` reads the last snapshot. The snapshot is one
aggregate query (the comparison's, grouped by merchant, carrier account, service and lane) over the labels
created in the last `period_days`; `refresh` runs at start and then every `refresh_seconds` in the
background. A lane with fewer than `min_delivered` returns at the hub in the period says so
(`unknown_reason`) instead of giving figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from service.insights.comparison_queries import Scope, leg_statistics
from service.quoting.quotes import LanePerformance, LaneReliability
from service.quoting.use_case import LaneKey
from service.storage.engine import Database

_log = logging.getLogger(__name__)

_DIMENSIONS = ("merchant_id", "carrier_account_id", "service_code", "customer_country", "destination")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _figure(value: float) -> Decimal:
    return Decimal(str(round(value, 4)))


class LaneFigures:
    def __init__(
        self,
        database: Database,
        *,
        min_delivered: int = 30,
        period_days: int = 90,
        refresh_seconds: float = 300.0,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self._database = database
        self._min_delivered = min_delivered
        self._period_days = period_days
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._figures: dict[LaneKey, LanePerformance] = {}
        self._task: asyncio.Task[None] | None = None

    async def lane_performance(self, lanes: Sequence[LaneKey]) -> Mapping[LaneKey, LanePerformance]:
        return {lane: self._figures.get(lane) or self._unknown(0) for lane in lanes}

    def _unknown(self, delivered: int) -> LanePerformance:
        return LanePerformance(
            sample_size=delivered,
            period_days=self._period_days,
            unknown_reason=(
                f"{delivered} delivered returns in {self._period_days} days, {self._min_delivered} needed"
            ),
        )

    async def refresh(self) -> None:
        until = self._clock()
        scope = Scope(None, until - dt.timedelta(days=self._period_days), until)
        async with self._database.engine.connect() as connection:
            statement = leg_statistics(connection.dialect.name, scope, _DIMENSIONS)
            rows = (await connection.execute(statement)).mappings().all()
        figures: dict[LaneKey, LanePerformance] = {}
        for row in rows:
            key = LaneKey(
                row["carrier_account_id"],
                row["service_code"],
                row["customer_country"],
                row["destination"],
                row["merchant_id"],
            )
            delivered = int(row["transit_days_count"])
            on_time_total = int(row["on_time_total"])
            if delivered < self._min_delivered:
                figures[key] = self._unknown(delivered)
            elif not on_time_total:
                figures[key] = LanePerformance(
                    delivered, self._period_days, unknown_reason="no quoted promise to judge on-time against"
                )
            else:
                figures[key] = LanePerformance(
                    delivered,
                    self._period_days,
                    LaneReliability(
                        on_time_rate=_figure(int(row["on_time"]) / on_time_total),
                        p50_transit_days=_figure(float(row["transit_days_p50"])),
                        p90_transit_days=_figure(float(row["transit_days_p90"])),
                    ),
                )
        self._figures = figures

    def start(self) -> None:
        self._task = asyncio.create_task(self._refresh_periodically(), name="insights-lane-figures")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _refresh_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_seconds)
            try:
                await self.refresh()
            except Exception:
                # The last snapshot stays in use; quotes are never held up by this.
                _log.exception("lane figures not refreshed")
