"""What the carrier comparison takes in and hands back: lanes, the query, distributions, shares, rows."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from carriers.tracking import ExceptionReason
from customs.goods import ReturnReason
from customs.money import Money

# Exception reasons that mean the parcel was held by customs (counted once per parcel as a customs hold).
CUSTOMS_REASONS: tuple[ExceptionReason, ...] = (
    ExceptionReason.CUSTOMS_DELAY,
    ExceptionReason.CUSTOMS_INSPECTION,
    ExceptionReason.DUTIES_UNPAID,
)

_LANE = re.compile(r"(?P<country>[A-Za-z]{2})?-(?P<destination>[A-Za-z0-9_]+)?")


class GroupBy(StrEnum):
    CARRIER = "carrier"
    CARRIER_SERVICE = "carrier_service"
    CARRIER_LANE = "carrier_lane"
    CARRIER_SERVICE_LANE = "carrier_service_lane"

    @property
    def by_service(self) -> bool:
        return self in (GroupBy.CARRIER_SERVICE, GroupBy.CARRIER_SERVICE_LANE)

    @property
    def by_lane(self) -> bool:
        return self in (GroupBy.CARRIER_LANE, GroupBy.CARRIER_SERVICE_LANE)


@dataclass(frozen=True, slots=True, order=True)
class Lane:
    """From a customer country to a destination (a hub id; a country for returns to an explicit address).
    In a query an empty part matches every value."""

    customer_country: str = ""
    destination: str = ""

    def __str__(self) -> str:
        return f"{self.customer_country}-{self.destination}"

    @classmethod
    def parse(cls, text: str) -> Lane:
        """`DE-EU_HUB`; `DE-` (every hub) and `-EU_HUB` (every country) too."""
        match = _LANE.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"expected COUNTRY-HUB such as DE-EU_HUB, got {text!r}")
        return cls((match["country"] or "").upper(), (match["destination"] or "").upper())


@dataclass(frozen=True, slots=True)
class ComparisonQuery:
    """Unset fields take the use case's defaults (service/insights/comparison.py)."""

    merchant_id: str
    since: dt.datetime | None = None  # labels created at or after
    until: dt.datetime | None = None  # labels created before
    currency: str = ""
    lane: Lane = field(default_factory=Lane)
    group_by: GroupBy = GroupBy.CARRIER_SERVICE_LANE
    carrier_account_ids: frozenset[str] = frozenset()
    top_skus: int = 0


@dataclass(frozen=True, slots=True)
class Distribution:
    count: int = 0
    p50: float | None = None
    p90: float | None = None
    mean: float | None = None


@dataclass(frozen=True, slots=True)
class Proportion:
    count: int = 0
    total: int = 0

    @property
    def rate(self) -> float:
        return self.count / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class ExceptionShare:
    reason: ExceptionReason
    share: Proportion


@dataclass(frozen=True, slots=True)
class ScoreContribution:
    metric: str
    normalized: float  # 0 (worst of the comparison) .. 1 (best); 0 when the row lacks the figure
    points: float  # weight x normalized x 100


@dataclass(frozen=True, slots=True)
class CompositeScore:
    value: float  # 0..100
    contributions: tuple[ScoreContribution, ...]


@dataclass(frozen=True, slots=True)
class CarrierComparison:
    """One row: a carrier account (and service, and lane, by the grouping) over the period."""

    account_id: str
    carrier_name: str
    provider: str
    service_code: str  # "" when not grouped by service
    service_name: str
    lane: Lane | None  # None when not grouped by lane
    returns_count: int  # labels bought, voided ones included
    total_cost: Money  # labels not voided, in the query's currency
    cost_per_parcel: Money | None
    cost_per_kg: Money | None
    label_to_drop_off_days: Distribution
    transit_days: Distribution
    on_time: Proportion
    exception_rates: tuple[ExceptionShare, ...]
    exceptions: Proportion
    customs_holds: Proportion
    returned_to_sender: Proportion
    voided: Proportion
    quote_errors: Proportion
    quote_timeouts: Proportion
    quote_latency_ms: Distribution
    # Arrived parcels per whole day of transit; the last element counts that many days and more.
    transit_days_histogram: tuple[int, ...] = ()
    score: CompositeScore | None = None


@dataclass(frozen=True, slots=True)
class ReasonShare:
    reason: ReturnReason
    share: Proportion  # returned units with the reason / returned units considered


@dataclass(frozen=True, slots=True)
class SkuReasons:
    sku: str
    reasons: tuple[ReasonShare, ...]


@dataclass(frozen=True, slots=True)
class LaneReasons:
    lane: Lane
    reasons: tuple[ReasonShare, ...]
    skus: tuple[SkuReasons, ...]  # the lane's most returned SKUs, most returned first


@dataclass(frozen=True, slots=True)
class ScoreWeight:
    metric: str
    weight: float
    description: str


@dataclass(frozen=True, slots=True)
class CarrierComparisonResult:
    rows: Sequence[CarrierComparison]  # best score first
    weights: Sequence[ScoreWeight]
    weights_source: str
    return_reasons: Sequence[LaneReasons]
    since: dt.datetime
    until: dt.datetime
    currency: str
    fx_as_of: dt.date
