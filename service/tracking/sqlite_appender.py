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
from pathlib import Path
from typing import TypeVar

from sqlalchemy import URL

from service.logging import get_logger
from service.storage.engine import create_sqlite_writer_engine
from service.tracking.log_statements import LogStatements, SqliteStatements

T = TypeVar("T")

log = get_logger("backhaul.tracking.sqlite_appender")

# Write-ahead log size beyond which the appender checkpoints and truncates it after a commit.
WAL_TRUNCATE_BYTES = 16 * 1024 * 1024


class SqliteAppender:
    """Also keeps the write-ahead log bounded. SQLite's automatic checkpoints are passive: they copy only the
    frames no reader still needs, and the log starts over only once every frame is copied and no reader is
    using it. With a commit in flight nearly all the time and reads between them, that moment never came:
    at 3,000 events/s the log grew past 100 MB in a minute and every read and commit slowed with it. After
    a commit that leaves it over WAL_TRUNCATE_BYTES, the appender asks for a truncating checkpoint, which
    its zero busy timeout turns down at once while another connection writes or reads from the log; it
    asks again after the next commit."""

    def __init__(self, url: URL) -> None:
        self._engine = create_sqlite_writer_engine(url)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracking-sqlite-appender")
        self._statements = SqliteStatements(self._engine.dialect)
        self._wal = Path(f"{url.database}-wal") if url.database and url.database != ":memory:" else None

    async def run(self, work: Callable[[LogStatements], T]) -> T:
        """Run `work` in one transaction on the appender's thread; committed when it returns."""

        def transaction() -> T:
            with self._engine.begin() as connection:
                result = work(self._statements.bound(connection.connection.dbapi_connection))
            self._bound_wal()
            return result

        return await asyncio.get_running_loop().run_in_executor(self._thread, transaction)

    def _bound_wal(self) -> None:
        try:
            size = self._wal.stat().st_size if self._wal is not None else 0
        except FileNotFoundError:
            return
        if size <= WAL_TRUNCATE_BYTES:
            return
        with self._engine.connect() as connection:
            # On the DB-API connection: outside any transaction (a checkpoint cannot run inside one).
            dbapi_connection = connection.connection.dbapi_connection
            assert dbapi_connection is not None
            busy = dbapi_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if not busy:
            log.debug("tracking.wal_truncated", bytes=size)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._engine.dispose()
