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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from customs.money import Money
from service.quoting.quotes import LanePerformance, Quote, QuoteTag
from service.quoting.request import QuoteSort

_ZERO = Decimal(0)
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


def _tie_break(quote: Quote) -> tuple[str, str, str]:
    return (quote.carrier, quote.service_code, quote.handover)  # a StrEnum orders as its value


def _cheapest_first(quote: Quote) -> tuple[object, ...]:
    display = quote.display_price
    days = quote.transit_days
    amount = display.amount if display is not None else _ZERO
    return (display is None, amount, days is None, days or 0, *_tie_break(quote))


def _fastest_first(quote: Quote) -> tuple[object, ...]:
    display = quote.display_price
    days = quote.transit_days
    amount = display.amount if display is not None else _ZERO
    return (display is None, days is None, days or 0, amount, *_tie_break(quote))


def _best_value_first(quote: Quote) -> tuple[object, ...]:
    display = quote.display_price
    days = quote.transit_days
    amount = display.amount if display is not None else _ZERO
    score = quote.value_score or _ZERO
    return (display is None, score, amount, days is None, days or 0, *_tie_break(quote))


_SORT_KEYS = {
    QuoteSort.CHEAPEST: _cheapest_first,
    QuoteSort.FASTEST: _fastest_first,
    QuoteSort.BEST_VALUE: _best_value_first,
}
_TAGS = {
    (False, False): frozenset[QuoteTag](),
    (True, False): frozenset({QuoteTag.CHEAPEST}),
    (False, True): frozenset({QuoteTag.FASTEST}),
    (True, True): frozenset({QuoteTag.CHEAPEST, QuoteTag.FASTEST}),
}


@dataclass(frozen=True, slots=True)
class BestMarks:
    """The lowest display amount and the fewest transit days of an answer."""

    cheapest: Decimal | None
    fastest: int | None

    @classmethod
    def of(cls, candidates: Iterable[tuple[Money | None, int | None]]) -> BestMarks:
        pairs = list(candidates)
        priced = [price.amount for price, _ in pairs if price is not None]
        timed = [days for _, days in pairs if days is not None]
        return cls(min(priced) if priced else None, min(timed) if timed else None)

    def tags(self, display_price: Money | None, transit_days: int | None) -> frozenset[QuoteTag]:
        cheapest = (
            self.cheapest is not None and display_price is not None and display_price.amount == self.cheapest
        )
        fastest = self.fastest is not None and transit_days == self.fastest
        return _TAGS[cheapest, fastest]


def rank(quotes: Sequence[Quote], order: QuoteSort) -> tuple[Quote, ...]:
    """Sorted as asked, each quote tagged CHEAPEST and/or FASTEST (every quote sharing the best value)."""
    marks = BestMarks.of((q.display_price, q.transit_days) for q in quotes)
    tagged = []
    for quote in quotes:
        tags = quote.tags | marks.tags(quote.display_price, quote.transit_days)
        tagged.append(quote if tags == quote.tags else dataclasses.replace(quote, tags=tags))
    return tuple(sorted(tagged, key=_SORT_KEYS[order]))
