"""Quote outcomes: counted in memory on the quote path, persisted as hourly aggregates in the background.

Quoting stays stateless and never waits for storage: `carrier_answered` (called by QuoteReturns once per
carrier per quote) only adds to in-memory counters keyed by (merchant, carrier account, lane, hour,
outcome), where the outcome is "ok" or the carrier error code. A background task flushes them every
`flush_seconds`, and once more when the replica drains, with one upsert per key that adds the counts to what
other replicas flushed (`answers = answers + excluded.answers`, ...). A flush that fails puts its counts back
for the next one, so a database outage loses nothing but what a crash of the replica would.

Latency is kept as a histogram (LATENCY_BUCKETS_MS) plus an exact sum: the comparison reports the exact
mean and p50/p90 interpolated within buckets.

The same answers say which transit days each carrier service quoted on each lane; the latest are kept in
memory and flushed to `quoted_transit_days`: a label bought afterwards is judged against that promise.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite

from service.insights.tables import (
    LATENCY_BUCKETS_MS,
    LATENCY_COLUMNS,
    CarrierQuoteStatsRow,
    QuotedTransitDaysRow,
)
from service.quoting.use_case import CarrierAnswer
from service.storage.engine import Database

_log = logging.getLogger(__name__)

_STATS = cast(Table, CarrierQuoteStatsRow.__table__)
_PROMISES = cast(Table, QuotedTransitDaysRow.__table__)
OK = "ok"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def hour_of(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class OutcomeKey:
    merchant_id: str
    account_id: str
    origin_country: str
    destination: str
    hour_start: dt.datetime
    outcome: str  # OK or a carrier error code


@dataclass(frozen=True, slots=True)
class PromiseKey:
    account_id: str
    service_code: str
    origin_country: str
    destination: str


@dataclass(slots=True)
class OutcomeCounts:
    answers: int = 0
    latency_ms_sum: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_COLUMNS))

    def add(self, latency_ms: int) -> None:
        self.answers += 1
        self.latency_ms_sum += latency_ms
        self.buckets[bisect_left(LATENCY_BUCKETS_MS, latency_ms)] += 1

    def merge(self, other: OutcomeCounts) -> None:
        self.answers += other.answers
        self.latency_ms_sum += other.latency_ms_sum
        self.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]


class QuoteOutcomeRecorder:
    def __init__(
        self,
        database: Database,
        *,
        flush_seconds: float = 60.0,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self._database = database
        self._flush_seconds = flush_seconds
        self._clock = clock
        self._counts: dict[OutcomeKey, OutcomeCounts] = {}
        self._promises: dict[PromiseKey, tuple[int, dt.datetime]] = {}
        self._unflushed_promises: dict[PromiseKey, tuple[int, dt.datetime]] = {}
        self._task: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()

    # -- the quote path (memory only) ----------------------------------------------------------------------

    def carrier_answered(self, answer: CarrierAnswer) -> None:
        self.record(answer, self._clock())

    def record(self, answer: CarrierAnswer, at: dt.datetime) -> None:
        """Count one answer as of `at` (the history simulator passes past moments)."""
        key = OutcomeKey(
            answer.merchant_id,
            answer.account_id,
            answer.origin_country,
            answer.destination,
            hour_of(at),
            answer.error_code or OK,
        )
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = OutcomeCounts()
        counts.add(round(answer.latency_seconds * 1000))
        for rate in answer.rates:
            if rate.transit_days is None:
                continue
            promise = PromiseKey(
                rate.account_id, rate.service_code, answer.origin_country, answer.destination
            )
            known = self._promises.get(promise)
            if known is None or known[1] <= at:
                self._promises[promise] = self._unflushed_promises[promise] = (rate.transit_days, at)

    # -- promises ------------------------------------------------------------------------------------------

    async def promised_days(
        self, account_id: str, service_code: str, origin_country: str, destination: str
    ) -> int | None:
        """The transit days last quoted for the service on the lane: this replica's memory, else the table."""
        key = PromiseKey(account_id, service_code, origin_country, destination)
        known = self._promises.get(key)
        if known is not None:
            return known[0]
        statement = select(_PROMISES.c.transit_days).where(
            _PROMISES.c.carrier_account_id == account_id,
            _PROMISES.c.service_code == service_code,
            _PROMISES.c.origin_country == origin_country,
            _PROMISES.c.destination == destination,
        )
        async with self._database.sessions() as session:
            days = await session.scalar(statement)
        return int(days) if days is not None else None

    # -- flushing ------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._flush_periodically(), name="insights-quote-stats-flush")

    async def close(self) -> None:
        """Stop the periodic flush and flush what is left (the replica is draining)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            await self.flush()

    @property
    def pending(self) -> int:
        """Counter rows waiting for the next flush."""
        return len(self._counts)

    async def flush(self) -> None:
        async with self._flushing:
            counts, self._counts = self._counts, {}
            promises, self._unflushed_promises = self._unflushed_promises, {}
            if not counts and not promises:
                return
            try:
                async with self._database.sessions() as session, session.begin():
                    dialect = session.get_bind().dialect.name
                    if counts:
                        await session.execute(_add_counts(dialect), [_row(k, c) for k, c in counts.items()])
                    if promises:
                        await session.execute(
                            _newer_promise(dialect), [_promise_row(k, v) for k, v in promises.items()]
                        )
            except Exception:
                _log.exception("quote outcome counters not flushed; kept for the next flush")
                self._restore(counts, promises)

    def _restore(
        self,
        counts: Mapping[OutcomeKey, OutcomeCounts],
        promises: Mapping[PromiseKey, tuple[int, dt.datetime]],
    ) -> None:
        for key, counted in counts.items():
            self._counts.setdefault(key, OutcomeCounts()).merge(counted)
        for promise, quoted in promises.items():
            self._unflushed_promises.setdefault(promise, quoted)


def _insert(dialect: str, table: Table) -> Any:
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def _add_counts(dialect: str) -> Any:
    statement = _insert(dialect, _STATS)
    summed = ("answers", "latency_ms_sum", *LATENCY_COLUMNS)
    return statement.on_conflict_do_update(
        index_elements=[
            "merchant_id",
            "carrier_account_id",
            "origin_country",
            "destination",
            "hour_start",
            "outcome",
        ],
        set_={name: _STATS.c[name] + statement.excluded[name] for name in summed},
    )


def _newer_promise(dialect: str) -> Any:
    statement = _insert(dialect, _PROMISES)
    return statement.on_conflict_do_update(
        index_elements=["carrier_account_id", "service_code", "origin_country", "destination"],
        set_={
            "transit_days": statement.excluded.transit_days,
            "observed_at": statement.excluded.observed_at,
        },
        where=_PROMISES.c.observed_at <= statement.excluded.observed_at,
    )


def _row(key: OutcomeKey, counts: OutcomeCounts) -> dict[str, Any]:
    return {
        "merchant_id": key.merchant_id,
        "carrier_account_id": key.account_id,
        "origin_country": key.origin_country,
        "destination": key.destination,
        "hour_start": key.hour_start,
        "outcome": key.outcome,
        "answers": counts.answers,
        "latency_ms_sum": counts.latency_ms_sum,
        **dict(zip(LATENCY_COLUMNS, counts.buckets, strict=True)),
    }


def _promise_row(key: PromiseKey, value: tuple[int, dt.datetime]) -> dict[str, Any]:
    return {
        "carrier_account_id": key.account_id,
        "service_code": key.service_code,
        "origin_country": key.origin_country,
        "destination": key.destination,
        "transit_days": value[0],
        "observed_at": value[1],
    }
