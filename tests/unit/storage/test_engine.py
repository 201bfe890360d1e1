import pytest

from service.storage.engine import create_database


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
