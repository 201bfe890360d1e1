import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from carriers.models import Handover
from customs.money import Money
from service.quoting.quotes import LanePerformance, LaneReliability, Quote, QuoteTag
from service.quoting.ranking import ValueWeights, rank, value_score
from service.quoting.request import QuoteSort


def quote(carrier: str, amount: str | None, days: int | None, score: str | None = None) -> Quote:
    display = Money.of(amount, "EUR") if amount is not None else None
    return Quote(
        token="t",
        expires_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        account_id=carrier,
        carrier=carrier,
        provider="ratecard",
        service_code="s",
        service_name="S",
        price=display or Money.of("1", "JPY"),
        display_price=display,
        components=(),
        transit_days=days,
        estimated_delivery=None,
        handover=Handover.DROP_OFF,
        hub=None,
        label_formats=frozenset(),
        value_score=Decimal(score) if score else None,
    )


def test_value_score_worked_example() -> None:
    weights = ValueWeights(day_weight=Decimal("0.08"), unknown_transit_days=10)
    # 10.00 x (1 + 0.08 x 3) x (2 - 1) = 12.40
    assert value_score(Decimal("10.00"), 3, None, weights) == Decimal("12.40")
    # Unknown transit counts as 10 days: 10.00 x 1.80 = 18.00
    assert value_score(Decimal("10.00"), None, None, weights) == Decimal("18.00")
    # Lane history: p90 of 5 days beats the promised 3; 80 % on time -> x 1.2: 10 x 1.40 x 1.2 = 16.80
    lane = LanePerformance(200, 90, LaneReliability(Decimal("0.8"), Decimal(3), Decimal(5)))
    assert value_score(Decimal("10.00"), 3, lane, weights) == Decimal("16.800")
    # Too little history: no reliability figures, no penalty.
    thin = LanePerformance(3, 90, None, "3 delivered returns in 90 days, 30 needed")
    assert value_score(Decimal("10.00"), 3, thin, weights) == Decimal("12.40")


def test_orders_and_tags() -> None:
    quotes = [
        quote("a", "9.00", 5, "12"),
        quote("b", "12.00", 1, "11"),
        quote("c", "9.00", 3, "10"),
        quote("d", None, 1),
    ]
    cheapest = rank(quotes, QuoteSort.CHEAPEST)
    assert [q.carrier for q in cheapest] == ["c", "a", "b", "d"]  # tie on price broken by transit days
    fastest = rank(quotes, QuoteSort.FASTEST)
    assert [q.carrier for q in fastest] == ["b", "c", "a", "d"]  # unpriced last whatever its speed
    best = rank(quotes, QuoteSort.BEST_VALUE)
    assert [q.carrier for q in best] == ["c", "b", "a", "d"]
    tags = {q.carrier: q.tags for q in cheapest}
    assert tags["a"] == {QuoteTag.CHEAPEST}
    assert tags["c"] == {QuoteTag.CHEAPEST}
    assert tags["b"] == {QuoteTag.FASTEST}
    assert tags["d"] == {QuoteTag.FASTEST}


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(st.decimals(min_value=0, max_value=500, places=2), st.integers(min_value=1, max_value=15)),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from(list(QuoteSort)),
)
def test_quotes_come_back_sorted_as_asked(rows: list[tuple[Decimal, int]], order: QuoteSort) -> None:
    weights = ValueWeights()
    quotes = [
        quote(f"c{i}", str(amount), days, str(value_score(amount, days, None, weights)))
        for i, (amount, days) in enumerate(rows)
    ]
    ranked = rank(quotes, order)
    assert sorted(q.carrier for q in ranked) == sorted(q.carrier for q in quotes)
    if order is QuoteSort.CHEAPEST:
        keys = [q.display_price.amount for q in ranked if q.display_price]
    elif order is QuoteSort.FASTEST:
        keys = [Decimal(q.transit_days or 0) for q in ranked]
    else:
        keys = [q.value_score or Decimal(0) for q in ranked]
    assert keys == sorted(keys)
    assert any(QuoteTag.CHEAPEST in q.tags for q in ranked)
    assert any(QuoteTag.FASTEST in q.tags for q in ranked)
