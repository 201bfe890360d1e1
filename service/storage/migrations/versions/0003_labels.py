"""Labels: return labels with their purchase intents, stored documents, durable S10 serials.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "return_labels",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("merchant_id", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("attempt_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("carrier_account_id", sa.String(64), nullable=False),
        sa.Column("carrier_name", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("service_code", sa.String(64), nullable=False),
        sa.Column("service_name", sa.String(200), nullable=False),
        sa.Column("handover", sa.String(32), nullable=False),
        sa.Column("label_format", sa.String(8), nullable=False),
        sa.Column("customer_locale", sa.String(35), nullable=False),
        sa.Column("destination_hub_id", sa.String(64), nullable=False),
        sa.Column("cross_border", sa.Boolean(), nullable=False),
        sa.Column("purchase_date", sa.Date(), nullable=False),
        sa.Column("quoted_amount", sa.String(40), nullable=True),
        sa.Column("quoted_currency", sa.String(3), nullable=True),
        sa.Column("declaration", sa.JSON(), nullable=True),
        sa.Column("tracking_number", sa.String(64), nullable=True),
        sa.Column("price_amount", sa.String(40), nullable=True),
        sa.Column("price_currency", sa.String(3), nullable=True),
        sa.Column("carrier_shipment_id", sa.String(200), nullable=False),
        sa.Column("carrier_label_id", sa.String(200), nullable=False),
        sa.Column("label_url", sa.Text(), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("error_field", sa.String(200), nullable=False),
        sa.Column("tracking_registered", sa.Boolean(), nullable=False),
        sa.Column("void_reason", sa.Text(), nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name="fk_return_labels_merchant_id_merchants"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_return_labels"),
        sa.UniqueConstraint(
            "merchant_id", "idempotency_key", name="uq_return_labels_merchant_id_idempotency_key"
        ),
    )
    op.create_index(
        "ix_return_labels_merchant_id_created_at_id", "return_labels", ["merchant_id", "created_at", "id"]
    )
    op.create_index(
        "ix_return_labels_merchant_id_tracking_number", "return_labels", ["merchant_id", "tracking_number"]
    )
    op.create_index(
        "ix_return_labels_state_attempt_started_at", "return_labels", ["state", "attempt_started_at"]
    )
    op.create_table(
        "label_documents",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("label_id", sa.String(32), nullable=False),
        sa.Column("merchant_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("language_code", sa.String(35), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["label_id"], ["return_labels.id"], name="fk_label_documents_label_id_return_labels"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_label_documents"),
    )
    op.create_index("ix_label_documents_label_id_position", "label_documents", ["label_id", "position"])
    op.create_table(
        "s10_series",
        sa.Column("series_key", sa.String(16), nullable=False),
        sa.Column("next_ordinal", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("series_key", name="pk_s10_series"),
    )
    op.create_table(
        "s10_allocations",
        sa.Column("series_key", sa.String(16), nullable=False),
        sa.Column("ordinal", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("purchase_key", sa.String(200), nullable=False),
        sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("series_key", "ordinal", name="pk_s10_allocations"),
        sa.UniqueConstraint("series_key", "purchase_key", name="uq_s10_allocations_series_key_purchase_key"),
    )


def downgrade() -> None:
    op.drop_table("s10_allocations")
    op.drop_table("s10_series")
    op.drop_index("ix_label_documents_label_id_position", table_name="label_documents")
    op.drop_table("label_documents")
    op.drop_index("ix_return_labels_state_attempt_started_at", table_name="return_labels")
    op.drop_index("ix_return_labels_merchant_id_tracking_number", table_name="return_labels")
    op.drop_index("ix_return_labels_merchant_id_created_at_id", table_name="return_labels")
    op.drop_table("return_labels")
