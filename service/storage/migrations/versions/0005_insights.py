"""Insights: lane facts and journeys of bought labels and their items, the journey projection's position in
the tracking log, hourly quote outcome counters, quoted transit days, and an index of tracking events by
label.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JOURNEY_FLAGS = (
    "any_exception",
    "exception_customs_delay",
    "exception_customs_inspection",
    "exception_duties_unpaid",
    "exception_address_problem",
    "exception_damaged",
    "exception_lost",
    "exception_other",
    "customs_hold",
    "returned_to_sender",
    "voided",
)
_LATENCY_COLUMNS = (
    "latency_le_25",
    "latency_le_50",
    "latency_le_100",
    "latency_le_250",
    "latency_le_500",
    "latency_le_1000",
    "latency_le_2500",
    "latency_le_5000",
    "latency_le_inf",
)


def upgrade() -> None:
    op.create_table(
        "return_legs",
        sa.Column("label_id", sa.String(32), nullable=False),
        sa.Column("merchant_id", sa.String(64), nullable=False),
        sa.Column("carrier_account_id", sa.String(64), nullable=False),
        sa.Column("service_code", sa.String(64), nullable=False),
        sa.Column("service_name", sa.String(200), nullable=False),
        sa.Column("customer_country", sa.String(2), nullable=False),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("promised_transit_days", sa.Integer(), nullable=True),
        sa.Column("gross_weight_grams", sa.BigInteger(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dropped_off_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("drop_off_days", sa.Float(), nullable=True),
        sa.Column("transit_days", sa.Float(), nullable=True),
        sa.Column("on_time", sa.Integer(), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _JOURNEY_FLAGS),
        sa.ForeignKeyConstraint(
            ["label_id"], ["return_labels.id"], name="fk_return_legs_label_id_return_labels"
        ),
        sa.PrimaryKeyConstraint("label_id", name="pk_return_legs"),
    )
    op.create_index(
        "ix_return_legs_merchant_lane_created_at",
        "return_legs",
        ["merchant_id", "customer_country", "destination", "created_at"],
    )
    op.create_index("ix_return_legs_merchant_id_created_at", "return_legs", ["merchant_id", "created_at"])
    op.create_table(
        "return_leg_items",
        sa.Column("label_id", sa.String(32), nullable=False),
        sa.Column("line", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("merchant_id", sa.String(64), nullable=False),
        sa.Column("carrier_account_id", sa.String(64), nullable=False),
        sa.Column("customer_country", sa.String(2), nullable=False),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sku", sa.String(200), nullable=False),
        sa.Column("return_reason", sa.String(32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("voided", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["label_id"], ["return_legs.label_id"], name="fk_return_leg_items_label_id_return_legs"
        ),
        sa.PrimaryKeyConstraint("label_id", "line", name="pk_return_leg_items"),
    )
    op.create_index(
        "ix_return_leg_items_merchant_lane_created_at",
        "return_leg_items",
        ["merchant_id", "customer_country", "destination", "created_at"],
    )
    op.create_table(
        "return_leg_journey_position",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_cursor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_return_leg_journey_position"),
    )
    # Legs start with this revision, and a leg takes its label's earlier events when it is recorded: the
    # projection starts at the log's current head.
    op.execute(
        "INSERT INTO return_leg_journey_position (id, last_cursor) "
        "SELECT 1, last_cursor FROM tracking_log_head WHERE id = 1"
    )
    op.create_table(
        "carrier_quote_stats",
        sa.Column("merchant_id", sa.String(64), nullable=False),
        sa.Column("carrier_account_id", sa.String(64), nullable=False),
        sa.Column("origin_country", sa.String(2), nullable=False),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("hour_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("answers", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms_sum", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _LATENCY_COLUMNS),
        sa.PrimaryKeyConstraint(
            "merchant_id",
            "carrier_account_id",
            "origin_country",
            "destination",
            "hour_start",
            "outcome",
            name="pk_carrier_quote_stats",
        ),
    )
    op.create_table(
        "quoted_transit_days",
        sa.Column("carrier_account_id", sa.String(64), nullable=False),
        sa.Column("service_code", sa.String(64), nullable=False),
        sa.Column("origin_country", sa.String(2), nullable=False),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("transit_days", sa.Integer(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "carrier_account_id",
            "service_code",
            "origin_country",
            "destination",
            name="pk_quoted_transit_days",
        ),
    )
    op.create_index(
        "ix_tracking_events_label_journey",
        "tracking_events",
        ["label_id", "milestone", "occurred_at", "status", "reason"],
    )


def downgrade() -> None:
    op.drop_index("ix_tracking_events_label_journey", table_name="tracking_events")
    op.drop_table("quoted_transit_days")
    op.drop_table("carrier_quote_stats")
    op.drop_table("return_leg_journey_position")
    op.drop_index(
        "ix_return_leg_items_merchant_lane_created_at",
        table_name="return_leg_items",
    )
    op.drop_table("return_leg_items")
    op.drop_index("ix_return_legs_merchant_id_created_at", table_name="return_legs")
    op.drop_index("ix_return_legs_merchant_lane_created_at", table_name="return_legs")
    op.drop_table("return_legs")
