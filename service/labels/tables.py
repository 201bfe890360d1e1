"""Labels tables: return labels (one row per merchant and idempotency key), their stored documents, and the
durable UPU S10 serial counters of rate-card partners.

A label row is written first as a purchase intent (state `pending`) in its own committed transaction, before
the carrier is called; the unique (merchant_id, idempotency_key) constraint is what makes concurrent
duplicates buy one label. See service/labels/purchasing.py for the states.
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
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.storage.tables import MERCHANT_ID_LENGTH, NAME_LENGTH, Base, UtcDateTime

LABEL_ID_LENGTH = 32
IDEMPOTENCY_KEY_LENGTH = 128
ACCOUNT_ID_LENGTH = 64
CODE_LENGTH = 64
ENUM_LENGTH = 32
TRACKING_NUMBER_LENGTH = 64
LOCALE_LENGTH = 35
AMOUNT_LENGTH = 40
CARRIER_REFERENCE_LENGTH = 200
SERIES_KEY_LENGTH = 16
PURCHASE_KEY_LENGTH = 200


class ReturnLabelRow(Base):
    __tablename__ = "return_labels"
    __table_args__ = (
        UniqueConstraint("merchant_id", "idempotency_key"),
        # Listing: newest first per merchant, keyset-paged on (created_at, id).
        Index("ix_return_labels_merchant_id_created_at_id", "merchant_id", "created_at", "id"),
        Index("ix_return_labels_merchant_id_tracking_number", "merchant_id", "tracking_number"),
        # Reconciliation: pending intents by age.
        Index("ix_return_labels_state_attempt_started_at", "state", "attempt_started_at"),
    )

    id: Mapped[str] = mapped_column(String(LABEL_ID_LENGTH), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(MERCHANT_ID_LENGTH), ForeignKey("merchants.id"))
    idempotency_key: Mapped[str] = mapped_column(String(IDEMPOTENCY_KEY_LENGTH))
    # SHA-256 of the canonical request: the same key with another digest is another request.
    request_digest: Mapped[str] = mapped_column(String(64))
    # The request as received (shipment, rate, format, locale): reconciliation rebuilds the purchase from it.
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    # Purchase attempts under this key (a definite carrier failure lets the key buy again).
    attempt: Mapped[int] = mapped_column(Integer)
    attempt_started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The purchase plan, fixed when the attempt starts.
    carrier_account_id: Mapped[str] = mapped_column(String(ACCOUNT_ID_LENGTH))
    carrier_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    provider: Mapped[str] = mapped_column(String(ACCOUNT_ID_LENGTH))
    service_code: Mapped[str] = mapped_column(String(CODE_LENGTH))
    service_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    handover: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    label_format: Mapped[str] = mapped_column(String(8))
    customer_locale: Mapped[str] = mapped_column(String(LOCALE_LENGTH))
    destination_hub_id: Mapped[str] = mapped_column(String(ACCOUNT_ID_LENGTH))
    cross_border: Mapped[bool] = mapped_column(Boolean)
    purchase_date: Mapped[date] = mapped_column(Date)  # the declaration date on cross-border lanes
    quoted_amount: Mapped[str | None] = mapped_column(String(AMOUNT_LENGTH))
    quoted_currency: Mapped[str | None] = mapped_column(String(3))
    # Form, category, totals and line count of the customs declaration attached (cross-border lanes).
    declaration: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # What the carrier sold.
    tracking_number: Mapped[str | None] = mapped_column(String(TRACKING_NUMBER_LENGTH))
    price_amount: Mapped[str | None] = mapped_column(String(AMOUNT_LENGTH))
    price_currency: Mapped[str | None] = mapped_column(String(3))
    carrier_shipment_id: Mapped[str] = mapped_column(String(CARRIER_REFERENCE_LENGTH))
    carrier_label_id: Mapped[str] = mapped_column(String(CARRIER_REFERENCE_LENGTH))
    label_url: Mapped[str] = mapped_column(Text)
    # Why the last attempt failed or needs review.
    error_code: Mapped[str] = mapped_column(String(CODE_LENGTH))
    error_message: Mapped[str] = mapped_column(Text)
    error_field: Mapped[str] = mapped_column(String(NAME_LENGTH))
    tracking_registered: Mapped[bool] = mapped_column(Boolean)
    void_reason: Mapped[str] = mapped_column(Text)
    voided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LabelDocumentRow(Base):
    __tablename__ = "label_documents"
    __table_args__ = (Index("ix_label_documents_label_id_position", "label_id", "position"),)

    id: Mapped[str] = mapped_column(String(LABEL_ID_LENGTH), primary_key=True)
    label_id: Mapped[str] = mapped_column(String(LABEL_ID_LENGTH), ForeignKey("return_labels.id"))
    merchant_id: Mapped[str] = mapped_column(String(MERCHANT_ID_LENGTH))
    position: Mapped[int] = mapped_column(Integer)  # label, customs documents, instructions
    kind: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    format: Mapped[str] = mapped_column(String(8))
    content_type: Mapped[str] = mapped_column(String(CODE_LENGTH))
    filename: Mapped[str] = mapped_column(String(NAME_LENGTH))
    language_code: Mapped[str] = mapped_column(String(LOCALE_LENGTH))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class S10SeriesRow(Base):
    """The next ordinal of one S10 series (service indicator + country), shared by every replica."""

    __tablename__ = "s10_series"

    series_key: Mapped[str] = mapped_column(String(SERIES_KEY_LENGTH), primary_key=True)
    next_ordinal: Mapped[int] = mapped_column(BigInteger)


class S10AllocationRow(Base):
    """Which purchase (carrier-side idempotency key) was given which ordinal."""

    __tablename__ = "s10_allocations"
    __table_args__ = (UniqueConstraint("series_key", "purchase_key"),)

    series_key: Mapped[str] = mapped_column(String(SERIES_KEY_LENGTH), primary_key=True)
    ordinal: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    purchase_key: Mapped[str] = mapped_column(String(PURCHASE_KEY_LENGTH))
    allocated_at: Mapped[datetime] = mapped_column(UtcDateTime())
