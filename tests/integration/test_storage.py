"""Storage against real engines: every test taking `database_url` runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, make_url, text
from sqlalchemy.exc import IntegrityError

from service import schema
from service.errors import InvalidArgument, NotFound
from service.storage import (
    Database,
    Tenancy,
    UnitOfWork,
    create_database,
    current_revision,
    head_revision,
    upgrade_database,
)
from service.storage.credentials import ApiKeyCredential, digest_secret
from service.storage.engine import create_sqlite_writer_engine
from service.storage.repositories import Merchant
from service.storage.schema import MIGRATION_LOCK_ID, alembic_config


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    await upgrade_database(database_url)
    handle = create_database(database_url)
    yield handle
    await handle.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tenancy(database: Database, clock: FakeClock) -> Tenancy:
    return Tenancy(database, clock=clock)


async def scalar_rows(database: Database, sql: str) -> list[object]:
    async with database.engine.connect() as connection:
        return list((await connection.execute(text(sql))).scalars())


# Migrations


async def test_migrations_reach_head_and_are_idempotent(database_url: str) -> None:
    assert await current_revision(database_url) is None
    await upgrade_database(database_url)
    await upgrade_database(database_url)
    assert await current_revision(database_url) == head_revision()
    handle = create_database(database_url)
    try:
        assert await scalar_rows(handle, "SELECT version_num FROM alembic_version") == [head_revision()]
        assert await scalar_rows(handle, "SELECT count(*) FROM api_keys") == [0]
    finally:
        await handle.dispose()


async def test_concurrent_upgrades_in_one_process(database_url: str) -> None:
    await asyncio.gather(upgrade_database(database_url), upgrade_database(database_url))
    assert await current_revision(database_url) == head_revision()
    handle = create_database(database_url)
    try:
        assert await scalar_rows(handle, "SELECT version_num FROM alembic_version") == [head_revision()]
    finally:
        await handle.dispose()


@pytest.mark.postgres
async def test_two_replicas_upgrading_one_postgres_database_at_once(postgres_url: str) -> None:
    # Both processes import first and report ready; they start migrating only on the same signal.
    program = (
        "import asyncio, sys\n"
        "from service.storage import upgrade_database\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "asyncio.run(upgrade_database(sys.argv[1]))\n"
        "print('done', flush=True)\n"
    )
    replicas = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            program,
            postgres_url,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for replica in replicas:
        assert replica.stdout is not None
        assert await asyncio.wait_for(replica.stdout.readline(), 60) == b"ready\n"
    outputs = await asyncio.gather(*(replica.communicate(b"go\n") for replica in replicas))
    for replica, (stdout, stderr) in zip(replicas, outputs, strict=True):
        assert replica.returncode == 0, stderr.decode()
        assert stdout == b"done\n"
    handle = create_database(postgres_url)
    try:
        assert await scalar_rows(handle, "SELECT version_num FROM alembic_version") == [head_revision()]
        # The advisory lock was released: another session can take it at once.
        async with handle.engine.connect() as connection:
            taken = await connection.scalar(text(f"SELECT pg_try_advisory_lock({MIGRATION_LOCK_ID})"))
            assert taken is True
    finally:
        await handle.dispose()


def _schema_differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, schema.metadata))


async def test_every_table_of_the_service_matches_the_migrations(database: Database) -> None:
    async with database.engine.connect() as connection:
        assert await connection.run_sync(_schema_differences) == []


async def test_alembic_api_used_directly_opens_its_own_engine(database_url: str) -> None:
    # The path a developer takes for `check` and `revision --autogenerate`; env.py runs its own loop,
    # so it is called from a worker thread.
    config = alembic_config(database_url)
    await asyncio.to_thread(command.upgrade, config, "head")
    assert await current_revision(database_url) == head_revision()
    await asyncio.to_thread(command.check, config)  # raises when the tables have unmigrated changes


def test_offline_mode_renders_the_migration_sql(database_url: str) -> None:
    output = io.StringIO()
    config = alembic_config(database_url)
    config.output_buffer = output
    command.upgrade(config, "head", sql=True)
    sql = output.getvalue()
    assert "CREATE TABLE merchants" in sql
    assert "CREATE TABLE api_keys" in sql
    assert "INSERT INTO alembic_version (version_num) VALUES ('0001')" in sql


# Engine settings


async def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(sqlite_url: str) -> None:
    handle = create_database(sqlite_url)
    try:
        async with handle.engine.connect() as connection:
            assert await connection.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
            assert await connection.scalar(text("PRAGMA busy_timeout")) == 10_000
    finally:
        await handle.dispose()


def test_the_sqlite_writer_engine_configures_its_connection_alike_and_begins_immediate(
    sqlite_url: str,
) -> None:
    engine = create_sqlite_writer_engine(make_url(sqlite_url))
    other = sqlite3.connect(make_url(sqlite_url).database or "", timeout=0)
    try:
        with engine.begin() as connection:
            assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
            assert connection.scalar(text("PRAGMA foreign_keys")) == 1
            # No busy handler: it retries BEGIN IMMEDIATE itself (tests/unit/storage/test_engine.py).
            assert connection.scalar(text("PRAGMA busy_timeout")) == 0
            assert connection.scalar(text("PRAGMA synchronous")) == 1  # NORMAL
            # BEGIN IMMEDIATE: the write lock is held from the start, before anything is written.
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()
        engine.dispose()


async def test_foreign_keys_are_enforced(database: Database) -> None:
    with pytest.raises(IntegrityError):
        async with database.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO api_keys (id, merchant_id, secret_sha256, name, created_at) "
                    "VALUES ('0123456789ab', 'nobody', 'x', '', :at)"
                ),
                {"at": datetime(2026, 1, 1, tzinfo=UTC)},
            )


async def test_failed_transaction_leaves_nothing_behind(database: Database, clock: FakeClock) -> None:
    async def add_merchant_then_violate_a_foreign_key() -> None:
        async with UnitOfWork(database, write=True) as uow:
            await uow.merchants.add_if_absent(Merchant("acme", "Acme", clock()))
            await uow.session.execute(
                text(
                    "INSERT INTO api_keys (id, merchant_id, secret_sha256, name, created_at) "
                    "VALUES ('0123456789ab', 'nobody', 'x', '', :at)"
                ),
                {"at": clock()},
            )
            await uow.commit()

    with pytest.raises(IntegrityError):
        await add_merchant_then_violate_a_foreign_key()
    assert await scalar_rows(database, "SELECT count(*) FROM merchants") == [0]


async def test_read_then_write_transactions_run_concurrently_without_lock_errors(
    database: Database, clock: FakeClock
) -> None:
    async def add_next_merchant(worker: int) -> None:
        async with UnitOfWork(database, write=True) as uow:
            count = await uow.session.scalar(text("SELECT count(*) FROM merchants"))
            await uow.merchants.add_if_absent(Merchant(f"m{worker}-{count}", "M", clock()))
            await uow.commit()

    await asyncio.gather(*(add_next_merchant(worker) for worker in range(12)))
    assert await scalar_rows(database, "SELECT count(*) FROM merchants") == [12]


async def test_timestamps_come_back_as_aware_utc(tenancy: Tenancy, clock: FakeClock) -> None:
    clock.now = datetime(2026, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    merchant = await tenancy.ensure_merchant("acme", "Acme")
    stored = await tenancy.get_merchant("acme")
    assert stored == merchant
    assert stored is not None
    assert stored.created_at == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert stored.created_at.utcoffset() == timedelta(0)


# Merchants


async def test_ensure_merchant_creates_once_and_keeps_the_first_name(
    tenancy: Tenancy, clock: FakeClock
) -> None:
    first = await tenancy.ensure_merchant("acme", "Acme GmbH")
    clock.advance(60)
    again = await tenancy.ensure_merchant("acme", "Another name")
    assert again == first
    assert first.name == "Acme GmbH"


async def test_concurrent_ensure_merchant_creates_one_row(tenancy: Tenancy, database: Database) -> None:
    results = await asyncio.gather(*(tenancy.ensure_merchant("acme", f"Acme {i}") for i in range(8)))
    assert len(set(results)) == 1
    assert await scalar_rows(database, "SELECT count(*) FROM merchants") == [1]


@pytest.mark.parametrize("merchant_id", ["", "-acme", "a b", "a" * 65, "acme/1"])
async def test_invalid_merchant_ids_are_refused(tenancy: Tenancy, merchant_id: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        await tenancy.ensure_merchant(merchant_id, "Name")
    assert refused.value.violations[0].field == "merchant_id"


async def test_empty_merchant_name_is_refused(tenancy: Tenancy) -> None:
    with pytest.raises(InvalidArgument) as refused:
        await tenancy.ensure_merchant("acme", "  ")
    assert refused.value.violations[0].field == "name"


# API keys


async def test_created_key_authenticates_as_its_merchant(tenancy: Tenancy) -> None:
    await tenancy.ensure_merchant("acme", "Acme")
    key, plaintext = await tenancy.create_api_key("acme", "checkout service")
    assert plaintext.startswith(f"bh_{key.id}_")
    assert key.merchant_id == "acme"
    assert key.name == "checkout service"
    assert not key.revoked
    assert await tenancy.authenticate(plaintext) == "acme"


async def test_key_for_an_unknown_merchant_is_not_found(tenancy: Tenancy, database: Database) -> None:
    with pytest.raises(NotFound):
        await tenancy.create_api_key("nobody", "x")
    assert await scalar_rows(database, "SELECT count(*) FROM api_keys") == [0]


async def test_only_the_digest_of_the_secret_is_stored(tenancy: Tenancy, database: Database) -> None:
    await tenancy.ensure_merchant("acme", "Acme")
    key, plaintext = await tenancy.create_api_key("acme", "ci")
    secret = ApiKeyCredential.parse(plaintext)
    assert secret is not None
    async with database.engine.connect() as connection:
        row = (await connection.execute(text("SELECT * FROM api_keys"))).one()._asdict()
    assert row["id"] == key.id
    assert row["secret_sha256"] == digest_secret(secret.secret)
    for value in row.values():
        assert secret.secret not in str(value)
        assert plaintext not in str(value)


async def test_wrong_unknown_and_malformed_keys_fail(tenancy: Tenancy) -> None:
    await tenancy.ensure_merchant("acme", "Acme")
    key, plaintext = await tenancy.create_api_key("acme")
    credential = ApiKeyCredential.parse(plaintext)
    assert credential is not None
    wrong_secret = ApiKeyCredential(key_id=key.id, secret=ApiKeyCredential.generate().secret).plaintext
    unknown_id = ApiKeyCredential(key_id="0" * 12, secret=credential.secret).plaintext
    for attempt in [
        wrong_secret,
        unknown_id,
        "",
        "bh_",
        plaintext + "x",
        plaintext[:-1],
        f"Bearer {plaintext}",
    ]:
        assert await tenancy.authenticate(attempt) is None, attempt
    assert await tenancy.authenticate(plaintext) == "acme"


async def test_keys_of_one_merchant_never_authenticate_as_another(tenancy: Tenancy) -> None:
    await tenancy.ensure_merchant("merchant-a", "A")
    await tenancy.ensure_merchant("merchant-b", "B")
    key_a, plaintext_a = await tenancy.create_api_key("merchant-a")
    key_b, plaintext_b = await tenancy.create_api_key("merchant-b")
    assert await tenancy.authenticate(plaintext_a) == "merchant-a"
    assert await tenancy.authenticate(plaintext_b) == "merchant-b"
    secret_a = ApiKeyCredential.parse(plaintext_a)
    secret_b = ApiKeyCredential.parse(plaintext_b)
    assert secret_a is not None
    assert secret_b is not None
    # A secret presented under the other merchant's key id is a wrong key, not a login as that merchant.
    assert await tenancy.authenticate(ApiKeyCredential(key_b.id, secret_a.secret).plaintext) is None
    assert await tenancy.authenticate(ApiKeyCredential(key_a.id, secret_b.secret).plaintext) is None


async def test_revoked_key_fails_and_revocation_reports_what_it_did(tenancy: Tenancy) -> None:
    await tenancy.ensure_merchant("acme", "Acme")
    await tenancy.ensure_merchant("other", "Other")
    by_id, plaintext_1 = await tenancy.create_api_key("acme", "one")
    _, plaintext_2 = await tenancy.create_api_key("acme", "two")
    assert await tenancy.authenticate(plaintext_1) == "acme"  # now cached in this process

    assert await tenancy.revoke_api_key(by_id.id, merchant_id="other") is False
    assert await tenancy.revoke_api_key(by_id.id) is True
    assert await tenancy.revoke_api_key(by_id.id) is False
    assert await tenancy.revoke_api_key(plaintext_2, merchant_id="acme") is True
    assert await tenancy.revoke_api_key("0" * 12) is False
    assert await tenancy.revoke_api_key("not a key") is False

    assert await tenancy.authenticate(plaintext_1) is None
    assert await tenancy.authenticate(plaintext_2) is None


async def test_revocation_reaches_other_replicas_within_the_cache_ttl(
    database: Database, clock: FakeClock
) -> None:
    here = Tenancy(database, clock=clock, cache_ttl=timedelta(seconds=30))
    elsewhere = Tenancy(database, clock=clock, cache_ttl=timedelta(seconds=30))
    await here.ensure_merchant("acme", "Acme")
    key, plaintext = await here.create_api_key("acme")
    assert await elsewhere.authenticate(plaintext) == "acme"
    assert await here.revoke_api_key(key.id)
    assert await here.authenticate(plaintext) is None
    assert await elsewhere.authenticate(plaintext) == "acme"  # served from its cache
    clock.advance(30)
    assert await elsewhere.authenticate(plaintext) is None


async def test_last_used_at_is_written_at_most_once_a_minute(database: Database, clock: FakeClock) -> None:
    # No cache, so every call reaches the database and only the once-a-minute rule limits writes.
    tenancy = Tenancy(database, clock=clock, cache_ttl=timedelta(0))
    await tenancy.ensure_merchant("acme", "Acme")
    _, plaintext = await tenancy.create_api_key("acme")
    started = clock()

    async def last_used() -> datetime | None:
        (listed,) = await tenancy.list_api_keys("acme")
        return listed.last_used_at

    assert await last_used() is None
    assert await tenancy.authenticate(plaintext) == "acme"
    assert await last_used() == started
    clock.advance(59)
    assert await tenancy.authenticate(plaintext) == "acme"
    assert await last_used() == started
    clock.advance(1)
    assert await tenancy.authenticate(plaintext) == "acme"
    assert await last_used() == started + timedelta(seconds=60)


async def test_listing_is_per_merchant_ordered_and_without_secrets(
    tenancy: Tenancy, clock: FakeClock
) -> None:
    await tenancy.ensure_merchant("acme", "Acme")
    await tenancy.ensure_merchant("other", "Other")
    first, _ = await tenancy.create_api_key("acme", "first")
    clock.advance(1)
    second, _ = await tenancy.create_api_key("acme", "second")
    await tenancy.create_api_key("other", "not acme's")
    await tenancy.revoke_api_key(first.id)

    listed = await tenancy.list_api_keys("acme")
    assert [key.name for key in listed] == ["first", "second"]
    assert listed[0].revoked_at == clock()
    assert listed[1] == second
    assert [key.id for key in await tenancy.list_api_keys("acme", include_revoked=False)] == [second.id]
    assert {field.name for field in dataclasses.fields(listed[0])} == {
        "id",
        "merchant_id",
        "name",
        "created_at",
        "revoked_at",
        "last_used_at",
    }
    assert await tenancy.list_api_keys("nobody") == []


async def test_concurrent_authentications_of_one_key(database: Database) -> None:
    tenancy = Tenancy(database, cache_ttl=timedelta(0))
    await tenancy.ensure_merchant("acme", "Acme")
    _, plaintext = await tenancy.create_api_key("acme")
    results = await asyncio.gather(*(tenancy.authenticate(plaintext) for _ in range(20)))
    assert results == ["acme"] * 20
