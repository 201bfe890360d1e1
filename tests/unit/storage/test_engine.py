import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError

from service.storage import engine as engine_module
from service.storage.engine import create_database, create_sqlite_writer_engine


def test_unsupported_scheme_is_refused_with_the_accepted_ones() -> None:
    with pytest.raises(ValueError, match=r"'mysql\+aiomysql'.*sqlite\+aiosqlite.*postgresql\+asyncpg"):
        create_database("mysql+aiomysql://user@localhost/db")


def test_sync_drivers_are_refused() -> None:
    with pytest.raises(ValueError, match="'sqlite'"):
        create_database("sqlite:///backhaul.db")


async def test_backend_names() -> None:
    sqlite = create_database("sqlite+aiosqlite:///unused.db")
    postgres = create_database("postgresql+asyncpg://postgres@127.0.0.1/unused")
    try:
        assert sqlite.backend == "sqlite"
        assert postgres.backend == "postgresql"
        assert postgres.engine.pool.size() == 10  # type: ignore[attr-defined]
    finally:
        await sqlite.dispose()
        await postgres.dispose()


def _hold_write_lock(path: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA journal_mode = WAL")
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_the_sqlite_writer_engine_retries_for_the_write_lock_until_it_is_released(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    engine = create_sqlite_writer_engine(make_url(f"sqlite+aiosqlite:///{path}"))
    try:
        holder = _hold_write_lock(path)
        released = threading.Timer(0.2, holder.commit)
        released.start()
        started = time.monotonic()
        with engine.begin() as connection:  # waits for the holder, without SQLite's busy handler
            connection.exec_driver_sql("CREATE TABLE written (id INTEGER)")
        assert time.monotonic() - started >= 0.15
        released.join()
        holder.close()
    finally:
        engine.dispose()


def test_the_sqlite_writer_engine_gives_up_after_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 50)
    path = tmp_path / "log.db"
    engine = create_sqlite_writer_engine(make_url(f"sqlite+aiosqlite:///{path}"))
    holder = _hold_write_lock(path)
    try:
        with pytest.raises(OperationalError, match="locked"), engine.begin():
            pass
    finally:
        holder.close()
        engine.dispose()
