"""Schema versioning: apply the packaged Alembic migrations, and report which revision a database is at.

The migrations ship inside the package (service/storage/migrations) and are located through
importlib.resources, so an installed copy migrates without a checkout or an alembic.ini.

Several replicas may start at once against one PostgreSQL database. Each holds a session-level advisory
lock on a dedicated connection for the whole upgrade, so exactly one migrates while the others wait and
then find the schema at head. On SQLite the upgrade transaction starts with BEGIN IMMEDIATE, which
serialises processes sharing the file in the same way.

New migration (developers): `alembic.command.revision(alembic_config(url), "message", autogenerate=True)`
against a database already at head.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, make_url, text

from service.storage.engine import Database, create_database

# Arbitrary constant naming Backhaul's migration lock among all advisory locks of the database.
MIGRATION_LOCK_ID = 0x6261636B6861756C  # "backhaul" in ASCII


def migrations_directory() -> Path:
    location = Path(str(files("service.storage.migrations")))
    if not (location / "env.py").is_file():
        raise RuntimeError(f"Alembic migrations not found at {location}: is the package installed unzipped?")
    return location


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic configuration built in code; `url` is used when no connection is handed over."""
    config = Config()
    config.set_main_option("script_location", str(migrations_directory()))
    if url is not None:
        # Passed as an attribute, not a main option: ConfigParser interpolation would mangle a '%'.
        config.attributes["url"] = make_url(url)
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of Backhaul."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("the packaged migrations have no head revision")
    return head


async def upgrade_database(url: str | URL) -> None:
    """Bring the database to the head revision; a no-op when it is there already."""
    database = create_database(url, pool_size=2)
    try:
        if database.backend == "postgresql":
            async with database.engine.connect() as lock_connection:
                await lock_connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
                # Session-level lock: it outlives this commit and is released below or when the
                # connection drops, so a crashed replica cannot leave it held.
                await lock_connection.commit()
                try:
                    await _upgrade(database)
                finally:
                    await lock_connection.execute(
                        text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID}
                    )
                    await lock_connection.commit()
        else:
            await _upgrade(database)
    finally:
        await database.dispose()


async def current_revision(url: str | URL) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    database = create_database(url, pool_size=1)
    try:
        async with database.engine.connect() as connection:
            return await connection.run_sync(_current_revision)
    finally:
        await database.dispose()


async def _upgrade(database: Database) -> None:
    # One transaction for the whole upgrade: a failing migration leaves the schema as it was.
    async with database.writer_engine().begin() as connection:
        await connection.run_sync(_run_upgrade)


def _run_upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
