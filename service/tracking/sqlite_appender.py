"""Appending to the tracking log on SQLite from a thread of its own, with a plain synchronous connection.

aiosqlite hands every cursor operation (open, execute, fetch, close) to its worker thread and back, and on
the append path those hand-overs cost more than the statements: a single-event append took about 2.5 ms of
CPU that way, against 0.8 ms when the whole transaction runs in one thread (and 0.3 ms with the statements
of log_statements.py on the DB-API connection). The connection is configured as
service/storage/engine.py configures SQLite connections (WAL, busy timeout, foreign keys, NORMAL
synchronous) and its transactions begin with BEGIN IMMEDIATE, so it takes its turn with the service's other
writers exactly as they do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import URL, Connection, create_engine, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry

from service.storage.engine import SQLITE_BUSY_TIMEOUT_MS
from service.tracking.log_statements import LogStatements, SqliteStatements

T = TypeVar("T")


class SqliteAppender:
    def __init__(self, url: URL) -> None:
        self._engine = create_engine(url.set(drivername="sqlite+pysqlite"), pool_size=1, max_overflow=0)
        event.listen(self._engine, "connect", _configure)
        event.listen(self._engine, "begin", _begin_immediate)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracking-sqlite-appender")
        self._statements = SqliteStatements(self._engine.dialect)

    async def run(self, work: Callable[[LogStatements], T]) -> T:
        """Run `work` in one transaction on the appender's thread; committed when it returns."""

        def transaction() -> T:
            with self._engine.begin() as connection:
                return work(self._statements.bound(connection.connection.dbapi_connection))

        return await asyncio.get_running_loop().run_in_executor(self._thread, transaction)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._engine.dispose()


def _configure(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _begin_immediate(connection: Connection, *_: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")
