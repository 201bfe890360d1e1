"""Reclaim: claims recorded with cross-border return labels, their audit trail, and the tracking position.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reclaim_claims",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("merchant_id", sa.String(64), nullable=False),
        sa.Column("label_id", sa.String(64), nullable=False),
        sa.Column("group_key", sa.String(80), nullable=False),
        sa.Column("regime_key", sa.String(64), nullable=False),
        sa.Column("regime_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("market", sa.String(8), nullable=False),
        sa.Column("import_country", sa.String(2), nullable=False),
        sa.Column("entry_number", sa.String(64), nullable=False),
        sa.Column("import_date", sa.Date(), nullable=True),
        sa.Column("debt_notified_on", sa.Date(), nullable=True),
        sa.Column("rules_date", sa.Date(), nullable=True),
        sa.Column("destination_country", sa.String(2), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("refundable", sa.JSON(), nullable=False),
        sa.Column("refundable_total", sa.String(40), nullable=False),
        sa.Column("amounts_estimated", sa.Boolean(), nullable=False),
        sa.Column("basis_confirmed", sa.Boolean(), nullable=False),
        sa.Column("unconfirmed_points", sa.JSON(), nullable=False),
        sa.Column("export_date", sa.Date(), nullable=True),
        sa.Column("export_proven", sa.Boolean(), nullable=False),
        sa.Column("export_deadline", sa.Date(), nullable=True),
        sa.Column("filing_deadline", sa.Date(), nullable=True),
        sa.Column("deadline_order", sa.Date(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("filing_reference", sa.String(200), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("return_reason", sa.String(32), nullable=False),
        sa.Column("item_condition", sa.String(32), nullable=False),
        sa.Column("skus", sa.JSON(), nullable=False),
        sa.Column("tracking_number", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name="fk_reclaim_claims_merchant_id_merchants"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reclaim_claims"),
        sa.UniqueConstraint(
            "merchant_id",
            "label_id",
            "group_key",
            "regime_key",
            name="uq_reclaim_claims_merchant_id_label_id_group_key_regime_key",
        ),
    )
    op.create_index(
        "ix_reclaim_claims_merchant_id_deadline_order_id",
        "reclaim_claims",
        ["merchant_id", "deadline_order", "id"],
    )
    op.create_index(
        "ix_reclaim_claims_merchant_id_status_deadline_order_id",
        "reclaim_claims",
        ["merchant_id", "status", "deadline_order", "id"],
    )
    op.create_index(
        "ix_reclaim_claims_merchant_id_created_at_id", "reclaim_claims", ["merchant_id", "created_at", "id"]
    )
    op.create_index("ix_reclaim_claims_status_deadline_order", "reclaim_claims", ["status", "deadline_order"])
    op.create_table(
        "reclaim_claim_events",
        sa.Column("claim_id", sa.String(32), nullable=False),
        sa.Column("sequence", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("merchant_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("tracking_cursor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["reclaim_claims.id"], name="fk_reclaim_claim_events_claim_id_reclaim_claims"
        ),
        sa.PrimaryKeyConstraint("claim_id", "sequence", name="pk_reclaim_claim_events"),
    )
    op.create_table(
        "reclaim_tracking_position",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_cursor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reclaim_tracking_position"),
    )
    # Claims start with this revision, and a claim replays its label's earlier events when it is recorded:
    # evidence starts at the log's current head.
    op.execute(
        "INSERT INTO reclaim_tracking_position (id, last_cursor) "
        "SELECT 1, last_cursor FROM tracking_log_head WHERE id = 1"
    )


def downgrade() -> None:
    op.drop_table("reclaim_tracking_position")
    op.drop_table("reclaim_claim_events")
    op.drop_index("ix_reclaim_claims_status_deadline_order", table_name="reclaim_claims")
    op.drop_index("ix_reclaim_claims_merchant_id_created_at_id", table_name="reclaim_claims")
    op.drop_index("ix_reclaim_claims_merchant_id_status_deadline_order_id", table_name="reclaim_claims")
    op.drop_index("ix_reclaim_claims_merchant_id_deadline_order_id", table_name="reclaim_claims")
    op.drop_table("reclaim_claims")
