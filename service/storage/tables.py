"""ORM tables. Every schema change here needs a migration in service/storage/migrations/versions/.

A test compares these declarations with the migrated database on both backends, so the two cannot drift.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Dialect, ForeignKey, MetaData, String, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint names, identical on SQLite and PostgreSQL, so migrations can address them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MERCHANT_ID_LENGTH = 64
API_KEY_ID_LENGTH = 16
NAME_LENGTH = 200


class UtcDateTime(TypeDecorator[datetime]):
    """An instant: accepts only timezone-aware datetimes and always returns them in UTC.

    PostgreSQL stores `timestamptz`; SQLite has no time zones, so the value is stored as naive UTC text
    (which also keeps its ordering) and marked UTC again on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given for a UTC timestamp column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class MerchantRow(Base):
    __tablename__ = "merchants"

    id: Mapped[str] = mapped_column(String(MERCHANT_ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    # The public key id: the `<key id>` part of `bh_<key id>_<secret>`.
    id: Mapped[str] = mapped_column(String(API_KEY_ID_LENGTH), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(
        String(MERCHANT_ID_LENGTH), ForeignKey("merchants.id"), index=True
    )
    # Hex SHA-256 of the secret part; the secret itself is never stored.
    secret_sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
