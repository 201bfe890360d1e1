"""Tracking tables: the parcels followed, the event log, and the head of the log that allocates cursors.

The cursor of an event is allocated by the appending transaction from `tracking_log_head`, under that row's
lock (see service/tracking/event_log.py): commit order equals cursor order, and cursors have no holes.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.storage.tables import MERCHANT_ID_LENGTH, Base, UtcDateTime

SHIPMENT_ID_LENGTH = 32
LABEL_ID_LENGTH = 64
ACCOUNT_ID_LENGTH = 64
TRACKING_NUMBER_LENGTH = 64
CODE_LENGTH = 64
ENUM_LENGTH = 32
LOCATION_PART_LENGTH = 200
LEASE_OWNER_LENGTH = 64
LOG_HEAD_ID = 1


class TrackedShipmentRow(Base):
    __tablename__ = "tracked_shipments"
    __table_args__ = (
        UniqueConstraint("carrier_account_id", "tracking_number"),
        UniqueConstraint("merchant_id", "label_id"),
        Index("ix_tracked_shipments_next_poll_at", "next_poll_at"),
    )

    id: Mapped[str] = mapped_column(String(SHIPMENT_ID_LENGTH), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(MERCHANT_ID_LENGTH), ForeignKey("merchants.id"))
    label_id: Mapped[str | None] = mapped_column(String(LABEL_ID_LENGTH))
    carrier_account_id: Mapped[str] = mapped_column(String(ACCOUNT_ID_LENGTH))
    tracking_number: Mapped[str] = mapped_column(String(TRACKING_NUMBER_LENGTH))
    route: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Current state, kept by the appending transaction.
    status: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    substatus: Mapped[str] = mapped_column(Text)
    last_event_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    final: Mapped[bool] = mapped_column(Boolean)
    milestone: Mapped[str | None] = mapped_column(String(ENUM_LENGTH))
    estimated_delivery: Mapped[date | None] = mapped_column(Date)
    # Polling: NULL next_poll_at means not polled. A lease names the replica polling it until it expires.
    next_poll_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(LEASE_OWNER_LENGTH))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_polled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    poll_failures: Mapped[int] = mapped_column(Integer)


class TrackingEventRow(Base):
    __tablename__ = "tracking_events"
    __table_args__ = (
        Index("ix_tracking_events_merchant_id_cursor", "merchant_id", "cursor"),
        Index("ix_tracking_events_merchant_id_label_id_cursor", "merchant_id", "label_id", "cursor"),
        Index(
            "ix_tracking_events_merchant_id_tracking_number_cursor",
            "merchant_id",
            "tracking_number",
            "cursor",
        ),
        Index("ix_tracking_events_shipment_id_cursor", "shipment_id", "cursor"),
    )

    cursor: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # SHA-256 of the deduplication key (carrier account, tracking number, event time, code, location).
    dedup_key: Mapped[str] = mapped_column(String(64), unique=True)
    merchant_id: Mapped[str] = mapped_column(String(MERCHANT_ID_LENGTH))
    shipment_id: Mapped[str] = mapped_column(String(SHIPMENT_ID_LENGTH), ForeignKey("tracked_shipments.id"))
    label_id: Mapped[str | None] = mapped_column(String(LABEL_ID_LENGTH))
    carrier_account_id: Mapped[str] = mapped_column(String(ACCOUNT_ID_LENGTH))
    tracking_number: Mapped[str] = mapped_column(String(TRACKING_NUMBER_LENGTH))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    substatus: Mapped[str] = mapped_column(Text)
    code: Mapped[str] = mapped_column(String(CODE_LENGTH))
    description: Mapped[str] = mapped_column(Text)
    location_city: Mapped[str] = mapped_column(String(LOCATION_PART_LENGTH))
    location_region: Mapped[str] = mapped_column(String(LOCATION_PART_LENGTH))
    location_postal_code: Mapped[str] = mapped_column(String(LOCATION_PART_LENGTH))
    location_country: Mapped[str] = mapped_column(String(2))
    location_facility: Mapped[str] = mapped_column(String(LOCATION_PART_LENGTH))
    reason: Mapped[str | None] = mapped_column(String(ENUM_LENGTH))
    milestone: Mapped[str | None] = mapped_column(String(ENUM_LENGTH))
    source: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)


class TrackingLogHeadRow(Base):
    """One row: the last cursor handed out. Its row lock serialises appenders (see event_log.py)."""

    __tablename__ = "tracking_log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_cursor: Mapped[int] = mapped_column(BigInteger)
