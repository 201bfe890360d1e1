"""Tracking: parcels followed, the tracking event log, and the log head that allocates cursors.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tracking_log_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_cursor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tracking_log_head"),
    )
    # The single row whose lock serialises appenders (service/tracking/event_log.py).
    op.execute("INSERT INTO tracking_log_head (id, last_cursor) VALUES (1, 0)")
    op.create_table(
        "tracked_shipments",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("merchant_id", sa.String(64), nullable=False),
        sa.Column("label_id", sa.String(64), nullable=True),
        sa.Column("carrier_account_id", sa.String(64), nullable=False),
        sa.Column("tracking_number", sa.String(64), nullable=False),
        sa.Column("route", sa.String(32), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("substatus", sa.Text(), nullable=False),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("milestone", sa.String(32), nullable=True),
        sa.Column("estimated_delivery", sa.Date(), nullable=True),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("poll_failures", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name="fk_tracked_shipments_merchant_id_merchants"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tracked_shipments"),
        sa.UniqueConstraint(
            "carrier_account_id",
            "tracking_number",
            name="uq_tracked_shipments_carrier_account_id_tracking_number",
        ),
        sa.UniqueConstraint("merchant_id", "label_id", name="uq_tracked_shipments_merchant_id_label_id"),
    )
    op.create_index("ix_tracked_shipments_next_poll_at", "tracked_shipments", ["next_poll_at"])
    op.create_table(
        "tracking_events",
        sa.Column("cursor", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("dedup_key", sa.String(64), nullable=False),
        sa.Column("merchant_id", sa.String(64), nullable=False),
        sa.Column("shipment_id", sa.String(32), nullable=False),
        sa.Column("label_id", sa.String(64), nullable=True),
        sa.Column("carrier_account_id", sa.String(64), nullable=False),
        sa.Column("tracking_number", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("substatus", sa.Text(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location_city", sa.String(200), nullable=False),
        sa.Column("location_region", sa.String(200), nullable=False),
        sa.Column("location_postal_code", sa.String(200), nullable=False),
        sa.Column("location_country", sa.String(2), nullable=False),
        sa.Column("location_facility", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("milestone", sa.String(32), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["tracked_shipments.id"], name="fk_tracking_events_shipment_id_tracked_shipments"
        ),
        sa.PrimaryKeyConstraint("cursor", name="pk_tracking_events"),
        sa.UniqueConstraint("dedup_key", name="uq_tracking_events_dedup_key"),
    )
    op.create_index("ix_tracking_events_merchant_id_cursor", "tracking_events", ["merchant_id", "cursor"])
    op.create_index(
        "ix_tracking_events_merchant_id_label_id_cursor",
        "tracking_events",
        ["merchant_id", "label_id", "cursor"],
    )
    op.create_index(
        "ix_tracking_events_merchant_id_tracking_number_cursor",
        "tracking_events",
        ["merchant_id", "tracking_number", "cursor"],
    )
    op.create_index("ix_tracking_events_shipment_id_cursor", "tracking_events", ["shipment_id", "cursor"])


def downgrade() -> None:
    op.drop_index("ix_tracking_events_shipment_id_cursor", table_name="tracking_events")
    op.drop_index("ix_tracking_events_merchant_id_tracking_number_cursor", table_name="tracking_events")
    op.drop_index("ix_tracking_events_merchant_id_label_id_cursor", table_name="tracking_events")
    op.drop_index("ix_tracking_events_merchant_id_cursor", table_name="tracking_events")
    op.drop_table("tracking_events")
    op.drop_index("ix_tracked_shipments_next_poll_at", table_name="tracked_shipments")
    op.drop_table("tracked_shipments")
    op.drop_table("tracking_log_head")
