"""Reclaim tables: the claims recorded with cross-border return labels, their append-only audit trail, and
how far the tracking log has been read for export evidence.

A claim row holds the claim's current state; every change of it (recorded, moved by tracking evidence,
expired, cancelled) appends one `reclaim_claim_events` row under the next `sequence` in the same
transaction, and event rows are never updated or deleted. `revision` on the claim is the number of its
events, so the next sequence is `revision + 1` and a stale writer fails the conditional update.
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

CLAIM_ID_LENGTH = 32
LABEL_ID_LENGTH = 64
REGIME_ID_LENGTH = 64
GROUP_KEY_LENGTH = 80
ENUM_LENGTH = 32
ENTRY_NUMBER_LENGTH = 64
AMOUNT_LENGTH = 40
TRACKING_NUMBER_LENGTH = 64
REFERENCE_LENGTH = 200
ACTOR_LENGTH = 100
POSITION_ID = 1


class ReclaimClaimRow(Base):
    __tablename__ = "reclaim_claims"
    __table_args__ = (
        # One claim per label, group of items (same reason and condition) and regime ("" = not eligible).
        UniqueConstraint("merchant_id", "label_id", "group_key", "regime_key"),
        # Listing: nearest deadline first (keyset on deadline_order, id), optionally by status.
        Index("ix_reclaim_claims_merchant_id_deadline_order_id", "merchant_id", "deadline_order", "id"),
        Index(
            "ix_reclaim_claims_merchant_id_status_deadline_order_id",
            "merchant_id",
            "status",
            "deadline_order",
            "id",
        ),
        Index("ix_reclaim_claims_merchant_id_created_at_id", "merchant_id", "created_at", "id"),
        # Expiry sweeps: open claims by deadline.
        Index("ix_reclaim_claims_status_deadline_order", "status", "deadline_order"),
    )

    id: Mapped[str] = mapped_column(String(CLAIM_ID_LENGTH), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(MERCHANT_ID_LENGTH), ForeignKey("merchants.id"))
    label_id: Mapped[str] = mapped_column(String(LABEL_ID_LENGTH))
    group_key: Mapped[str] = mapped_column(String(GROUP_KEY_LENGTH))
    regime_key: Mapped[str] = mapped_column(String(REGIME_ID_LENGTH))
    regime_id: Mapped[str | None] = mapped_column(String(REGIME_ID_LENGTH))
    status: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    revision: Mapped[int] = mapped_column(Integer)
    market: Mapped[str] = mapped_column(String(8))
    import_country: Mapped[str] = mapped_column(String(2))
    entry_number: Mapped[str] = mapped_column(String(ENTRY_NUMBER_LENGTH))
    # Unknown only on a NOT_ELIGIBLE record whose original order had no date.
    import_date: Mapped[date | None] = mapped_column(Date)
    debt_notified_on: Mapped[date | None] = mapped_column(Date)
    rules_date: Mapped[date | None] = mapped_column(Date)
    destination_country: Mapped[str | None] = mapped_column(String(2))
    currency: Mapped[str] = mapped_column(String(3))
    # [{"component", "amount", "display_amount", "display_currency"}], amounts as decimal strings.
    refundable: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    refundable_total: Mapped[str] = mapped_column(String(AMOUNT_LENGTH))
    amounts_estimated: Mapped[bool] = mapped_column(Boolean)
    basis_confirmed: Mapped[bool] = mapped_column(Boolean)
    unconfirmed_points: Mapped[list[str]] = mapped_column(JSON)
    export_date: Mapped[date | None] = mapped_column(Date)
    export_proven: Mapped[bool] = mapped_column(Boolean)
    export_deadline: Mapped[date | None] = mapped_column(Date)
    filing_deadline: Mapped[date | None] = mapped_column(Date)
    # The filing deadline, or 9999-12-31 when there is none: keeps the deadline order total and indexable.
    deadline_order: Mapped[date] = mapped_column(Date)
    # [{"milestone", "occurred_at", "country", "reference", "cursor"}], oldest first.
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    filing_reference: Mapped[str] = mapped_column(String(REFERENCE_LENGTH))
    # [{"code", "message", "regime_id", "line_id"}]
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    return_reason: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    item_condition: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    skus: Mapped[list[str]] = mapped_column(JSON)
    tracking_number: Mapped[str] = mapped_column(String(TRACKING_NUMBER_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ReclaimClaimEventRow(Base):
    """One change of a claim. Append-only: written with the change, never updated or deleted."""

    __tablename__ = "reclaim_claim_events"

    claim_id: Mapped[str] = mapped_column(
        String(CLAIM_ID_LENGTH), ForeignKey("reclaim_claims.id"), primary_key=True
    )
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    merchant_id: Mapped[str] = mapped_column(String(MERCHANT_ID_LENGTH))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    description: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    # The tracking evidence that caused the change, when tracking did.
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    tracking_cursor: Mapped[int] = mapped_column(BigInteger)


class ReclaimTrackingPositionRow(Base):
    """One row: the tracking log cursor up to which export evidence has been applied to the claims. Its row
    lock makes replicas take turns, so each event is applied once."""

    __tablename__ = "reclaim_tracking_position"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_cursor: Mapped[int] = mapped_column(BigInteger)
