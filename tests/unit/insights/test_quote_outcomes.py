"""Quote outcomes counted in memory (per merchant, account, lane, hour and outcome), the promise each
service last quoted, and latency percentiles interpolated within histogram buckets."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carriers.models import Rate
from customs.money import Money
from service.insights.comparison import histogram_distribution
from service.insights.quote_stats import OK, OutcomeKey, QuoteOutcomeRecorder, hour_of
from service.insights.tables import LATENCY_BUCKETS_MS
from service.quoting.use_case import CarrierAnswer
from service.storage import create_database

AT = dt.datetime(2026, 11, 2, 10, 17, 5, tzinfo=dt.UTC)


def rate(service: str, days: int | None) -> Rate:
    return Rate(
        "tulip-parcel", "Tulip Parcel", service, service, Money(Decimal("5"), "EUR"), transit_days=days
    )


def answer(latency_ms: float, error: str | None = None, *rates: Rate) -> CarrierAnswer:
    return CarrierAnswer("m1", "tulip-parcel", "DE", "EU_HUB", latency_ms / 1000, error, list(rates))


@pytest.fixture
def recorder() -> QuoteOutcomeRecorder:
    return QuoteOutcomeRecorder(create_database("sqlite+aiosqlite:///:memory:"), clock=lambda: AT)


def test_answers_are_counted_per_hour_and_outcome_with_latency_buckets(
    recorder: QuoteOutcomeRecorder,
) -> None:
    recorder.carrier_answered(answer(20))
    recorder.carrier_answered(answer(26))
    recorder.carrier_answered(answer(5000, "TIMEOUT"))
    recorder.record(answer(40), AT + dt.timedelta(hours=1))
    counts = recorder._counts  # the counters waiting for the next flush
    ok_now = counts[OutcomeKey("m1", "tulip-parcel", "DE", "EU_HUB", hour_of(AT), OK)]
    assert (ok_now.answers, ok_now.latency_ms_sum) == (2, 46)
    assert ok_now.buckets[:2] == [1, 1]  # 20 ms in (0, 25], 26 ms in (25, 50]
    timeout = counts[OutcomeKey("m1", "tulip-parcel", "DE", "EU_HUB", hour_of(AT), "TIMEOUT")]
    assert timeout.buckets[LATENCY_BUCKETS_MS.index(5000)] == 1
    assert recorder.pending == 3
    assert hour_of(AT) == dt.datetime(2026, 11, 2, 10, tzinfo=dt.UTC)


async def test_the_latest_quoted_transit_days_are_the_promise(recorder: QuoteOutcomeRecorder) -> None:
    recorder.record(answer(10, None, rate("std", 3), rate("express", None)), AT)
    recorder.record(answer(10, None, rate("std", 4)), AT - dt.timedelta(days=1))  # older: ignored
    assert await recorder.promised_days("tulip-parcel", "std", "DE", "EU_HUB") == 3
    recorder.record(answer(10, None, rate("std", 2)), AT + dt.timedelta(minutes=1))
    assert await recorder.promised_days("tulip-parcel", "std", "DE", "EU_HUB") == 2


def test_histogram_percentiles_interpolate_within_buckets() -> None:
    # 2 in (0, 25], 4 in (25, 50], 2 in (50, 100], 1 in (100, 250]: the comparison fixture's example.
    buckets = [2, 4, 2, 1, 0, 0, 0, 0, 0]
    found = histogram_distribution(buckets, 430)
    assert (found.count, found.p50, found.p90, found.mean) == (9, 40.625, pytest.approx(115.0), 430 / 9)
    assert histogram_distribution([0] * 9, 0).count == 0
    assert histogram_distribution([0] * 8 + [3], 30000).p90 == 5000.0  # the open bucket gives its lower bound


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=50), min_size=9, max_size=9).filter(lambda b: sum(b) > 0))
def test_p50_never_exceeds_p90_and_both_stay_in_the_occupied_buckets(buckets: list[int]) -> None:
    found = histogram_distribution(buckets, 1)
    assert found.p50 is not None
    assert found.p90 is not None
    assert found.p50 <= found.p90
    first = next(i for i, n in enumerate(buckets) if n)
    last = max(i for i, n in enumerate(buckets) if n)
    lower = 0 if first == 0 else LATENCY_BUCKETS_MS[first - 1]
    upper = LATENCY_BUCKETS_MS[min(last, len(LATENCY_BUCKETS_MS) - 1)]
    assert lower <= found.p50 <= upper
    assert found.p90 <= upper
