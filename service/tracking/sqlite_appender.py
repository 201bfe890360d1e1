"""Appending to the tracking log on SQLite from a thread of its own, with a plain synchronous connection.

aiosqlite hands every cursor operation (open, execute, fetch, close) to its worker thread and back, and on
the append path those hand-overs cost more than the statements: a single-event append took about 2.5 ms of
CPU that way, against 0.8 ms when the whole transaction runs in one thread (and 0.3 ms with the statements
of log_statements.py on the DB-API connection). Its engine comes from service/storage/engine.py: the
connection is configured as the service's other SQLite connections are and its transactions begin with
BEGIN IMMEDIATE, so it takes its turn with the service's other writers exactly as they do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import URL

from service.storage.engine import create_sqlite_writer_engine
from service.tracking.log_statements import LogStatements, SqliteStatements

T = TypeVar("T")


class SqliteAppender:
    def __init__(self, url: URL) -> None:
        self._engine = create_sqlite_writer_engine(url)
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
