"""Repositories: the only code that turns rows into records and back. They never commit; the unit of
work that owns their session does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.storage.statements import insert_or_ignore
from service.storage.tables import ApiKeyRow, MerchantRow


@dataclass(frozen=True, slots=True)
class Merchant:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    """What may be shown about a key: everything but its secret and the secret's digest."""

    id: str
    merchant_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True, slots=True)
class VerifiableApiKey:
    """A key with its stored secret digest, for verification only; never leaves the tenancy store."""

    key: ApiKey
    secret_sha256: str


def _merchant(row: MerchantRow) -> Merchant:
    return Merchant(id=row.id, name=row.name, created_at=row.created_at)


def _api_key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        merchant_id=row.merchant_id,
        name=row.name,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


class MerchantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, merchant_id: str) -> Merchant | None:
        row = await self._session.get(MerchantRow, merchant_id)
        return None if row is None else _merchant(row)

    async def add_if_absent(self, merchant: Merchant) -> bool:
        """Insert the merchant unless one with its id exists; True when this call inserted it."""
        statement = (
            insert_or_ignore(self._session, cast(Table, MerchantRow.__table__))
            .values(id=merchant.id, name=merchant.name, created_at=merchant.created_at)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        return _rowcount(await self._session.execute(statement)) == 1


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, key: ApiKey, secret_sha256: str) -> None:
        self._session.add(
            ApiKeyRow(
                id=key.id,
                merchant_id=key.merchant_id,
                secret_sha256=secret_sha256,
                name=key.name,
                created_at=key.created_at,
                revoked_at=key.revoked_at,
                last_used_at=key.last_used_at,
            )
        )
        await self._session.flush()

    async def get(self, key_id: str) -> ApiKey | None:
        row = await self._session.get(ApiKeyRow, key_id)
        return None if row is None else _api_key(row)

    async def get_verifiable(self, key_id: str) -> VerifiableApiKey | None:
        row = await self._session.get(ApiKeyRow, key_id)
        return None if row is None else VerifiableApiKey(key=_api_key(row), secret_sha256=row.secret_sha256)

    async def list_for_merchant(self, merchant_id: str, *, include_revoked: bool = True) -> list[ApiKey]:
        statement = select(ApiKeyRow).where(ApiKeyRow.merchant_id == merchant_id)
        if not include_revoked:
            statement = statement.where(ApiKeyRow.revoked_at.is_(None))
        rows = await self._session.scalars(statement.order_by(ApiKeyRow.created_at, ApiKeyRow.id))
        return [_api_key(row) for row in rows]

    async def revoke(self, key_id: str, at: datetime, *, merchant_id: str | None = None) -> bool:
        """Mark the key revoked; True when it existed (for this merchant, if given) and was active."""
        statement = (
            update(ApiKeyRow)
            .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=at)
            .execution_options(synchronize_session=False)
        )
        if merchant_id is not None:
            statement = statement.where(ApiKeyRow.merchant_id == merchant_id)
        return _rowcount(await self._session.execute(statement)) == 1

    async def record_use(self, key_id: str, at: datetime, *, unless_used_after: datetime) -> bool:
        """Set last_used_at unless it is already later than `unless_used_after`; True when written.

        The condition sits in the UPDATE so that replicas racing on the same key write it once.
        """
        statement = (
            update(ApiKeyRow)
            .where(
                ApiKeyRow.id == key_id,
                (ApiKeyRow.last_used_at.is_(None)) | (ApiKeyRow.last_used_at <= unless_used_after),
            )
            .values(last_used_at=at)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(await self._session.execute(statement)) == 1
