"""UPU S10 serials of rate-card partners, allocated in the database so numbers never repeat.

The in-memory allocator of carriers/ratecard restarts at the series' first number with every process;
this one keeps the next ordinal of each series in `s10_series` and records which purchase (carrier-side
idempotency key) got which ordinal in `s10_allocations`. So every replica and every restart draws from one
counter, a purchase asking again under its key gets its own number back, and reconciliation can find the
number a crashed purchase was given (RateCardCarrier.find_purchase).

Allocation is one write transaction: the key's existing allocation, else the series counter is bumped
(`UPDATE ... RETURNING`, row-locked on PostgreSQL, BEGIN IMMEDIATE on SQLite) and the allocation inserted.
Two replicas allocating for the same key at once collide on the unique (series, key) constraint; the loser
rolls back (its ordinal is never issued: a gap, which S10 allows) and reads the winner's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from carriers.ratecard import RateCardCarrier
from carriers.registry import ConfiguredCarriers
from service.labels.tables import S10AllocationRow, S10SeriesRow
from service.storage.engine import Database
from service.storage.statements import insert_or_ignore

_SERIES = cast(Table, S10SeriesRow.__table__)
_ALLOCATIONS = cast(Table, S10AllocationRow.__table__)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class DatabaseSerialAllocator:
    """A carriers.ratecard.s10.KeyedSerialAllocator on the service database."""

    def __init__(self, database: Database, *, clock: Callable[[], dt.datetime] = _utc_now) -> None:
        self._database = database
        self._clock = clock

    async def next_ordinal(self, series_key: str) -> int:
        async with self._database.write_sessions() as session, session.begin():
            return await self._bump(session, series_key)

    async def ordinal_for(self, series_key: str, purchase_key: str) -> int:
        try:
            async with self._database.write_sessions() as session, session.begin():
                known = await self._allocated(session, series_key, purchase_key)
                if known is not None:
                    return known
                ordinal = await self._bump(session, series_key)
                await session.execute(
                    _ALLOCATIONS.insert().values(
                        series_key=series_key,
                        ordinal=ordinal,
                        purchase_key=purchase_key,
                        allocated_at=self._clock(),
                    )
                )
                return ordinal
        except IntegrityError:
            found = await self.find_ordinal(series_key, purchase_key)
            if found is None:
                raise
            return found

    async def find_ordinal(self, series_key: str, purchase_key: str) -> int | None:
        async with self._database.sessions() as session:
            return await self._allocated(session, series_key, purchase_key)

    @staticmethod
    async def _allocated(session: AsyncSession, series_key: str, purchase_key: str) -> int | None:
        ordinal = await session.scalar(
            select(_ALLOCATIONS.c.ordinal).where(
                _ALLOCATIONS.c.series_key == series_key, _ALLOCATIONS.c.purchase_key == purchase_key
            )
        )
        return None if ordinal is None else int(ordinal)

    @staticmethod
    async def _bump(session: AsyncSession, series_key: str) -> int:
        await session.execute(
            insert_or_ignore(session, _SERIES)
            .values(series_key=series_key, next_ordinal=0)
            .on_conflict_do_nothing()
        )
        next_ordinal = await session.scalar(
            update(_SERIES)
            .where(_SERIES.c.series_key == series_key)
            .values(next_ordinal=_SERIES.c.next_ordinal + 1)
            .returning(_SERIES.c.next_ordinal)
        )
        assert next_ordinal is not None
        return int(next_ordinal) - 1


def use_durable_serials(carriers: ConfiguredCarriers, allocator: DatabaseSerialAllocator) -> None:
    """Give every rate-card account the durable allocator, before anything else holds the adapters."""
    for account_id, adapter in carriers.adapters.items():
        if isinstance(adapter, RateCardCarrier):
            carriers.adapters[account_id] = adapter.with_serials(allocator)
