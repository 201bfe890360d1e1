"""What QuoteReturns answers: quotes, per-carrier failures, the policy decision, FX provenance."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from carriers.models import Handover, LabelFormat, PriceComponent, ReturnShipment
from customs.money import Money
from service.quoting.hubs import Hub
from service.quoting.policy import PolicyDecision


class QuoteTag(StrEnum):
    CHEAPEST = "cheapest"
    FASTEST = "fastest"


class LaneReliability(NamedTuple):
    on_time_rate: Decimal  # 0..1: share delivered within the promised transit days
    p50_transit_days: Decimal
    p90_transit_days: Decimal


class LanePerformance(NamedTuple):
    """A carrier service's measured return-leg performance on a lane, or why it is not known.

    A named tuple: figures are looked up for every quote, and quotes sharing figures share their message
    parts, keyed by these values (a tuple hashes in C).
    """

    sample_size: int
    period_days: int
    reliability: LaneReliability | None = None
    unknown_reason: str = ""


# Not frozen: an answer builds one per rate, and a frozen dataclass's __init__ costs twice as much. Read only.
@dataclass(slots=True)
class Quote:
    token: str
    expires_at: dt.datetime
    account_id: str
    carrier: str  # display name
    provider: str  # adapter: ratecard, sandbox, easypost, ...
    service_code: str
    service_name: str
    price: Money  # carrier currency
    display_price: Money | None  # None when the FX table has no rate for the carrier's currency
    components: tuple[PriceComponent, ...]
    transit_days: int | None
    estimated_delivery: dt.date | None
    handover: Handover
    hub: Hub | None
    label_formats: frozenset[LabelFormat]
    lane_performance: LanePerformance | None = None
    value_score: Decimal | None = None  # BEST_VALUE score (lower is better), see ranking.value_score
    tags: frozenset[QuoteTag] = frozenset()


@dataclass(frozen=True, slots=True)
class CarrierQuoteFailure:
    """Why one carrier account gave no quote. `code` is the carriers.errors code (TIMEOUT, UNAVAILABLE...)."""

    account_id: str
    carrier: str
    provider: str
    code: str
    message: str
    retryable: bool
    retry_after_seconds: float | None = None
    field: str = ""


@dataclass(frozen=True, slots=True)
class QuoteReturnResult:
    quotes: tuple[Quote, ...]
    errors: tuple[CarrierQuoteFailure, ...]
    shipment: ReturnShipment
    hub: Hub | None
    cross_border: bool  # crosses a customs border: a declaration goes with the label
    display_currency: str
    fx_as_of: dt.date
    fx_source: str
    return_policy: PolicyDecision
