"""Insights tables: the lane facts of every bought label, its returned items, and quote outcomes per hour.

`return_legs` holds what the comparison groups and filters by as plain columns (customer country,
destination, promised transit days, gross weight, price in minor units), so no query parses the labels'
request documents. Its journey columns (drop-off and hub arrival, the days between, on time, exception
flags, return to sender, void) are derived in SQL from `tracking_events` and `return_labels` by the journey
projection (service/insights/journeys.py), which follows the tracking log from
`return_leg_journey_position`; the comparison then aggregates one row per label.

`carrier_quote_stats` holds counters, never single quotes: each replica adds its in-memory counts for
(merchant, account, lane, hour, outcome) with an upsert that sums (service/insights/quote_stats.py).
`quoted_transit_days` remembers the transit days each carrier service last quoted on a lane: the promise a
label bought from such a quote is judged against.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from service.storage.tables import MERCHANT_ID_LENGTH, NAME_LENGTH, Base, UtcDateTime
from service.tracking.tables import TrackingEventRow

LABEL_ID_LENGTH = 32
ACCOUNT_ID_LENGTH = 64
CODE_LENGTH = 64
DESTINATION_LENGTH = 64
SKU_LENGTH = 200
ENUM_LENGTH = 32

# Upper bounds (ms) of the quote latency histogram buckets; the last bucket is unbounded.
LATENCY_BUCKETS_MS: tuple[int, ...] = (25, 50, 100, 250, 500, 1000, 2500, 5000)
LATENCY_COLUMNS: tuple[str, ...] = (
    *(f"latency_le_{bound}" for bound in LATENCY_BUCKETS_MS),
    "latency_le_inf",
)
JOURNEY_POSITION_ID = 1


class ReturnLegRow(Base):
    """One bought label: its carrier service, lane, promise, weight and price, and how its journey went."""

    __tablename__ = "return_legs"
    __table_args__ = (
        Index(
            "ix_return_legs_merchant_lane_created_at",
            "merchant_id",
            "customer_country",
            "destination",
            "created_at",
        ),
        Index("ix_return_legs_merchant_id_created_at", "merchant_id", "created_at"),
    )

    label_id: Mapped[str] = mapped_column(
        String(LABEL_ID_LENGTH), ForeignKey("return_labels.id"), primary_key=True
    )
    merchant_id: Mapped[str] = mapped_column(String(MERCHANT_ID_LENGTH))
    carrier_account_id: Mapped[str] = mapped_column(String(ACCOUNT_ID_LENGTH))
    service_code: Mapped[str] = mapped_column(String(CODE_LENGTH))
    service_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    customer_country: Mapped[str] = mapped_column(String(2))
    # The returns hub's id; for a return sent to an explicit address, that address's country.
    destination: Mapped[str] = mapped_column(String(DESTINATION_LENGTH))
    # Transit days the carrier quoted for this service on this lane; NULL when no quote was seen.
    promised_transit_days: Mapped[int | None] = mapped_column(Integer)
    gross_weight_grams: Mapped[int] = mapped_column(BigInteger)
    price_minor: Mapped[int] = mapped_column(BigInteger)  # the carrier's price in minor units of `currency`
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())  # the label's creation
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The journey, from the label's tracking events (the projection keeps these up to date).
    dropped_off_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # first event reaching a milestone
    arrived_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # first event at the hub
    drop_off_days: Mapped[float | None] = mapped_column(Float)  # label created -> dropped off
    transit_days: Mapped[float | None] = mapped_column(Float)  # dropped off -> arrived
    # 1: arrived within the promise (calendar days between the UTC dates), 0: late; NULL: not arrived or
    # no promise.
    on_time: Mapped[int | None] = mapped_column(Integer)
    any_exception: Mapped[int] = mapped_column(Integer)
    exception_customs_delay: Mapped[int] = mapped_column(Integer)
    exception_customs_inspection: Mapped[int] = mapped_column(Integer)
    exception_duties_unpaid: Mapped[int] = mapped_column(Integer)
    exception_address_problem: Mapped[int] = mapped_column(Integer)
    exception_damaged: Mapped[int] = mapped_column(Integer)
    exception_lost: Mapped[int] = mapped_column(Integer)
    exception_other: Mapped[int] = mapped_column(Integer)  # also exceptions without a reason
    customs_hold: Mapped[int] = mapped_column(Integer)
    returned_to_sender: Mapped[int] = mapped_column(Integer)
    voided: Mapped[int] = mapped_column(Integer)  # the label was voided (or its void is pending)


class ReturnLegItemRow(Base):
    """One returned item line of a bought label, with the lane and time copied for grouping."""

    __tablename__ = "return_leg_items"
    __table_args__ = (
        Index(
            "ix_return_leg_items_merchant_lane_created_at",
            "merchant_id",
            "customer_country",
            "destination",
            "created_at",
        ),
    )

    label_id: Mapped[str] = mapped_column(
        String(LABEL_ID_LENGTH), ForeignKey("return_legs.label_id"), primary_key=True
    )
    line: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    merchant_id: Mapped[str] = mapped_column(String(MERCHANT_ID_LENGTH))
    carrier_account_id: Mapped[str] = mapped_column(String(ACCOUNT_ID_LENGTH))
    customer_country: Mapped[str] = mapped_column(String(2))
    destination: Mapped[str] = mapped_column(String(DESTINATION_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sku: Mapped[str] = mapped_column(String(SKU_LENGTH))
    return_reason: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    quantity: Mapped[int] = mapped_column(Integer)
    voided: Mapped[int] = mapped_column(Integer)  # as its leg (the journey projection copies it)


class CarrierQuoteStatsRow(Base):
    """Quote answers of one carrier account on one lane in one hour, for one merchant, by outcome."""

    __tablename__ = "carrier_quote_stats"

    merchant_id: Mapped[str] = mapped_column(String(MERCHANT_ID_LENGTH), primary_key=True)
    carrier_account_id: Mapped[str] = mapped_column(String(ACCOUNT_ID_LENGTH), primary_key=True)
    origin_country: Mapped[str] = mapped_column(String(2), primary_key=True)
    destination: Mapped[str] = mapped_column(String(DESTINATION_LENGTH), primary_key=True)
    hour_start: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    # "ok", or the carriers.errors code of the failure ("TIMEOUT", "UNAVAILABLE", ...).
    outcome: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    answers: Mapped[int] = mapped_column(BigInteger)
    latency_ms_sum: Mapped[int] = mapped_column(BigInteger)
    latency_le_25: Mapped[int] = mapped_column(BigInteger)
    latency_le_50: Mapped[int] = mapped_column(BigInteger)
    latency_le_100: Mapped[int] = mapped_column(BigInteger)
    latency_le_250: Mapped[int] = mapped_column(BigInteger)
    latency_le_500: Mapped[int] = mapped_column(BigInteger)
    latency_le_1000: Mapped[int] = mapped_column(BigInteger)
    latency_le_2500: Mapped[int] = mapped_column(BigInteger)
    latency_le_5000: Mapped[int] = mapped_column(BigInteger)
    latency_le_inf: Mapped[int] = mapped_column(BigInteger)


class JourneyPositionRow(Base):
    """One row: the last tracking log cursor whose labels' journeys are in `return_legs`. Its row lock makes
    replicas take turns."""

    __tablename__ = "return_leg_journey_position"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_cursor: Mapped[int] = mapped_column(BigInteger)


class QuotedTransitDaysRow(Base):
    """The transit days a carrier service last quoted on a lane."""

    __tablename__ = "quoted_transit_days"

    carrier_account_id: Mapped[str] = mapped_column(String(ACCOUNT_ID_LENGTH), primary_key=True)
    service_code: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    origin_country: Mapped[str] = mapped_column(String(2), primary_key=True)
    destination: Mapped[str] = mapped_column(String(DESTINATION_LENGTH), primary_key=True)
    transit_days: Mapped[int] = mapped_column(Integer)
    observed_at: Mapped[datetime] = mapped_column(UtcDateTime())


# The journey projection reads each label's milestones, exceptions and returns to sender from the event log
# by label: this index answers it from the index alone, without visiting the events' rows.
TRACKING_EVENTS_BY_LABEL = Index(
    "ix_tracking_events_label_journey",
    TrackingEventRow.__table__.c.label_id,
    TrackingEventRow.__table__.c.milestone,
    TrackingEventRow.__table__.c.occurred_at,
    TrackingEventRow.__table__.c.status,
    TrackingEventRow.__table__.c.reason,
)
