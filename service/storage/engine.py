"""Database handle: one async engine and its session factories, for SQLite (embedded) or PostgreSQL.

Two session factories exist because SQLite and PostgreSQL differ in how a transaction that reads and then
writes meets a concurrent writer. On SQLite a deferred `BEGIN` takes a read snapshot; upgrading it to a
writer after another connection committed fails at once with "database is locked" (the busy timeout does
not apply to that case). `write_sessions` therefore starts SQLite transactions with `BEGIN IMMEDIATE`,
which queues for the write lock up front. On PostgreSQL both factories are the same; callers rely on
constraints and row locks there.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_DRIVER = "sqlite+aiosqlite"
POSTGRES_DRIVER = "postgresql+asyncpg"

# How long a SQLite connection waits for another connection's write lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 10_000

# How often the tracking appender retries for the write lock (see create_sqlite_writer_engine).
_WRITE_LOCK_POLL_SECONDS = 0.0005

# Execution option read by the SQLite `begin` hook; set on the engine behind `write_sessions`.
_WRITE_INTENT = "backhaul_write_intent"


@dataclass(frozen=True, slots=True)
class Database:
    url: URL
    engine: AsyncEngine
    # Sessions for reads and for writes that do not read first.
    sessions: async_sessionmaker[AsyncSession]
    # Sessions for transactions that read and then write (see the module docstring).
    write_sessions: async_sessionmaker[AsyncSession]

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.url.get_backend_name()

    def writer_engine(self) -> AsyncEngine:
        """The engine behind `write_sessions`, for work that needs a connection rather than a session."""
        return self.engine.execution_options(**{_WRITE_INTENT: True})

    async def dispose(self) -> None:
        """Close every pooled connection; the handle must not be used afterwards."""
        await self.engine.dispose()


def create_database(url: str | URL, *, pool_size: int = 10, echo: bool = False) -> Database:
    """Open a handle on `sqlite+aiosqlite:///path` or `postgresql+asyncpg://...` (no I/O happens yet).

    `pool_size` applies to PostgreSQL: connections kept open per process, with as many again allowed in
    bursts. SQLite keeps the driver's default pool: one writer at a time is all the file allows anyway.
    """
    parsed = make_url(url)
    driver = parsed.drivername
    if driver == SQLITE_DRIVER:
        engine = create_async_engine(parsed, echo=echo)
        _configure_sqlite(engine)
    elif driver == POSTGRES_DRIVER:
        engine = create_async_engine(
            parsed,
            echo=echo,
            pool_size=pool_size,
            max_overflow=pool_size,
            # Replicas outlive database restarts and idle-connection reapers; check before use.
            pool_pre_ping=True,
            pool_recycle=1800,
            connect_args={"server_settings": {"application_name": "backhaul"}},
        )
    else:
        raise ValueError(
            f"unsupported database URL scheme {driver!r}: expected {SQLITE_DRIVER}:///path "
            f"or {POSTGRES_DRIVER}://user@host/db"
        )
    writer = engine.execution_options(**{_WRITE_INTENT: True})
    return Database(
        url=parsed,
        engine=engine,
        sessions=async_sessionmaker(engine, expire_on_commit=False),
        write_sessions=async_sessionmaker(writer, expire_on_commit=False),
    )


def create_sqlite_writer_engine(url: URL) -> Engine:
    """A synchronous engine (pysqlite) on the same SQLite file, with one connection configured as the async
    engine's and transactions that begin with BEGIN IMMEDIATE, for a writer that runs whole transactions
    in a thread of its own (the tracking log's appender).

    That writer waits for the write lock by retrying BEGIN IMMEDIATE every `_WRITE_LOCK_POLL_SECONDS`
    rather than through SQLite's busy handler, whose back-off sleeps 1, 2, 5, 10, 15, 20, 25... ms between
    attempts: behind another connection's 20 ms transaction it slept 78 ms, and every event of its next
    group streamed that much later. Once BEGIN IMMEDIATE holds the lock, nothing else in a WAL transaction
    waits for one, so the connection's own busy timeout is zero."""
    engine = create_engine(url.set(drivername="sqlite+pysqlite"), pool_size=1, max_overflow=0)
    event.listen(engine, "connect", _sqlite_connection_setup(busy_handler=False))
    event.listen(engine, "begin", _begin_immediate_polling)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    event.listen(engine.sync_engine, "connect", _sqlite_connection_setup(busy_handler=True))

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        options: dict[str, Any] = dict(connection.get_execution_options())
        connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_WRITE_INTENT) else "BEGIN")


def _sqlite_connection_setup(*, busy_handler: bool) -> Callable[[DBAPIConnection, ConnectionPoolEntry], None]:
    """The `connect` listener configuring every SQLite connection of the service. Without `busy_handler`
    the connection waits for nothing once configured (the appender's, see _begin_immediate_polling)."""

    def configure(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the sqlite3 module (which skips BEGIN before SELECT and breaks
        # SAVEPOINT); the engines' `begin` hooks emit BEGIN themselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching to WAL needs a lock that a concurrent opener may hold.
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            # With WAL, NORMAL loses no committed data on a process crash, only possibly on power loss.
            cursor.execute("PRAGMA synchronous = NORMAL")
            if not busy_handler:
                cursor.execute("PRAGMA busy_timeout = 0")
        finally:
            cursor.close()

    return configure


def _begin_immediate_polling(connection: Connection) -> None:
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as exc:
            busy = getattr(exc.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() >= deadline:
                raise
        time.sleep(_WRITE_LOCK_POLL_SECONDS)
