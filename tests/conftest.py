"""Shared fixtures for tests that need a database or a message broker.

`sqlite_url`    a SQLite file in the test's tmp_path (nothing to install).
`postgres_url`  a fresh, uniquely named database on the PostgreSQL at 127.0.0.1:5432, dropped afterwards.
`database_url`  parametrized over both (ids "sqlite" and "postgres"): one test body, two backends.
`nats_url`      the NATS server at 127.0.0.1:4222.

A service that is not running skips the test locally; under CI (CI=true) it fails it instead, so a broken
CI environment can never pass by skipping.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NoReturn, TypeVar

import asyncpg  # type: ignore[import-untyped]
import pytest

POSTGRES_HOST = "127.0.0.1"
POSTGRES_PORT = 5432
POSTGRES_USER = "postgres"
# The database the fixture connects to in order to create and drop the per-test databases.
POSTGRES_ADMIN_DATABASE = "test"
NATS_HOST = "127.0.0.1"
NATS_PORT = 4222
CONNECT_TIMEOUT_SECONDS = 3.0

T = TypeVar("T")


def service_unavailable(message: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: a missing service is a failure)")
    pytest.skip(message)


def _run_in_own_loop(make: Callable[[], Awaitable[T]]) -> T:
    # A thread of its own keeps this event loop apart from the one pytest-asyncio runs the test in,
    # so these fixtures serve sync and async tests alike.
    async def run() -> T:
        return await make()

    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, run()).result()


async def _admin_execute(statement: str) -> None:
    connection = await asyncpg.connect(
        host=POSTGRES_HOST,
        port=POSTGRES_PORT,
        user=POSTGRES_USER,
        database=POSTGRES_ADMIN_DATABASE,
        timeout=CONNECT_TIMEOUT_SECONDS,
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'backhaul.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    name = f"backhaul_test_{uuid.uuid4().hex[:12]}"
    try:
        _run_in_own_loop(lambda: _admin_execute(f'CREATE DATABASE "{name}"'))
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        service_unavailable(f"PostgreSQL not reachable at {POSTGRES_HOST}:{POSTGRES_PORT}: {error!r}")
    try:
        yield f"postgresql+asyncpg://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"
    finally:
        # FORCE ends connections a failed test may have left open.
        _run_in_own_loop(lambda: _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def nats_url() -> str:
    try:
        with socket.create_connection((NATS_HOST, NATS_PORT), timeout=CONNECT_TIMEOUT_SECONDS) as sock:
            sock.settimeout(CONNECT_TIMEOUT_SECONDS)
            greeting = sock.makefile("rb").readline()
    except OSError as error:
        service_unavailable(f"NATS not reachable at {NATS_HOST}:{NATS_PORT}: {error!r}")
    if not greeting.startswith(b"INFO"):
        service_unavailable(f"NATS not reachable at {NATS_HOST}:{NATS_PORT}: greeting was {greeting[:40]!r}")
    return f"nats://{NATS_HOST}:{NATS_PORT}"
