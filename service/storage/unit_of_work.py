"""Unit of work: one transaction across the repositories. Nothing is saved unless `commit()` is called;
leaving the block without committing rolls back."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession

from service.storage.engine import Database
from service.storage.repositories import ApiKeyRepository, MerchantRepository


class UnitOfWork:
    merchants: MerchantRepository
    api_keys: ApiKeyRepository

    def __init__(self, database: Database, *, write: bool = False) -> None:
        """`write=True` for a transaction that reads and then writes (see `Database.write_sessions`)."""
        self._factory = database.write_sessions if write else database.sessions
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> Self:
        self._session = self._factory()
        self.merchants = MerchantRepository(self._session)
        self.api_keys = ApiKeyRepository(self._session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        if session is not None:
            # Closing rolls back whatever was not committed.
            await session.close()

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is used outside its `async with` block")
        return self._session

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()
