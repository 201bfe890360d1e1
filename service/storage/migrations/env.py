"""Alembic environment for Backhaul: runs on a connection handed over by service.storage.schema, or opens
its own async engine (from the `url` attribute of the configuration) when Alembic's API is used directly.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import URL, Connection

from service.schema import metadata
from service.storage.engine import create_database

config = context.config
target_metadata = metadata


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite supports transactional DDL once the engine controls BEGIN (service.storage.engine).
        transactional_ddl=True,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> URL:
    url = config.attributes.get("url")
    if not isinstance(url, URL):
        raise RuntimeError("no database: build the config with service.storage.schema.alembic_config(url)")
    return url


async def _run_with_own_engine() -> None:
    database = create_database(_url(), pool_size=1)
    try:
        async with database.writer_engine().connect() as connection:
            await connection.run_sync(_configure_and_run)
            await connection.commit()
    finally:
        await database.dispose()


def _run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


_handed_over = config.attributes.get("connection")
if isinstance(_handed_over, Connection):
    _configure_and_run(_handed_over)
elif context.is_offline_mode():
    _run_offline()
else:
    asyncio.run(_run_with_own_engine())
