"""Ordering and tagging quotes: CHEAPEST, FASTEST and BEST_VALUE.

BEST_VALUE score (lower is better), in display-currency units:

    score = display price × (1 + day_weight × expected days) × (2 − on-time rate)

- expected days: the promised transit days, or the lane's measured p90 transit days when known and longer
  (a promise the carrier does not keep on this lane counts at what it delivers); unknown transit days count
  as `unknown_transit_days`;
- day_weight: what one day of transit is worth as a share of the price (default 0.08: a day costs 8 %);
- on-time rate: from LanePerformance when the lane has history, else 1 (no penalty without evidence).
Quotes without a display price (no FX rate) sort after all others in every order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from service.quoting.quotes import LanePerformance, Quote, QuoteTag
from service.quoting.request import QuoteSort

_ONE = Decimal(1)
_TWO = Decimal(2)


@dataclass(frozen=True, slots=True)
class ValueWeights:
    day_weight: Decimal = Decimal("0.08")
    unknown_transit_days: int = 10


def value_score(
    display_amount: Decimal, transit_days: int | None, lane: LanePerformance | None, weights: ValueWeights
) -> Decimal:
    days = Decimal(transit_days if transit_days is not None else weights.unknown_transit_days)
    on_time = _ONE
    if lane is not None and lane.reliability is not None:
        days = max(days, lane.reliability.p90_transit_days)
        on_time = min(_ONE, max(Decimal(0), lane.reliability.on_time_rate))
    return display_amount * (_ONE + weights.day_weight * days) * (_TWO - on_time)


def _sort_key(quote: Quote, order: QuoteSort) -> tuple[object, ...]:
    unpriced = quote.display_price is None
    amount = quote.display_price.amount if quote.display_price else Decimal(0)
    no_days = quote.transit_days is None
    days = quote.transit_days or 0
    tie_break = (quote.carrier, quote.service_code, quote.handover.value)
    if order is QuoteSort.FASTEST:
        return (unpriced, no_days, days, amount, *tie_break)
    if order is QuoteSort.BEST_VALUE:
        return (unpriced, quote.value_score or Decimal(0), amount, no_days, days, *tie_break)
    return (unpriced, amount, no_days, days, *tie_break)


def rank(quotes: Sequence[Quote], order: QuoteSort) -> tuple[Quote, ...]:
    """Sorted as asked, each quote tagged CHEAPEST and/or FASTEST (every quote sharing the best value)."""
    priced = [q.display_price.amount for q in quotes if q.display_price is not None]
    timed = [q.transit_days for q in quotes if q.transit_days is not None]
    cheapest = min(priced) if priced else None
    fastest = min(timed) if timed else None
    tagged = []
    for quote in quotes:
        tags = set(quote.tags)
        if (
            cheapest is not None
            and quote.display_price is not None
            and quote.display_price.amount == cheapest
        ):
            tags.add(QuoteTag.CHEAPEST)
        if fastest is not None and quote.transit_days == fastest:
            tags.add(QuoteTag.FASTEST)
        tagged.append(dataclasses.replace(quote, tags=frozenset(tags)))
    return tuple(sorted(tagged, key=lambda q: _sort_key(q, order)))
