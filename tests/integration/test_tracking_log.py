"""The tracking event log on SQLite and PostgreSQL: cursors in commit order without holes, deduplication,
parcel state, and the schema matching its migration."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import random
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import service.tracking.tables  # noqa: F401  (declares the tracking tables on the shared metadata)
from carriers.tracking import TrackingStatus
from service.storage.engine import Database, create_database
from service.storage.schema import upgrade_database
from service.storage.tenancy import Tenancy
from service.tracking import sqlite_appender
from service.tracking.event_log import EventLog
from service.tracking.milestones import MilestoneRules, ReturnMilestone, ReturnRoute
from service.tracking.model import EventSource, IngestOutcome, PendingEvent, TrackedShipment
from service.tracking.selection import EventSelection
from service.tracking.shipments import ShipmentRegistry
from tests.unit.tracking.events import START, scan

S = TrackingStatus


@pytest.fixture
async def log(database: Database) -> AsyncIterator[EventLog]:
    event_log = EventLog(database, MilestoneRules())
    try:
        yield event_log
    finally:
        event_log.close()


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    await upgrade_database(database_url)
    handle = create_database(database_url)
    await Tenancy(handle).ensure_merchant("acme", "Acme")
    try:
        yield handle
    finally:
        await handle.dispose()


async def _shipment(database: Database, number: str, label: str | None = None) -> TrackedShipment:
    return await ShipmentRegistry(database).register(
        merchant_id="acme",
        label_id=label,
        carrier_account_id="sandbox-eu",
        tracking_number=number,
        route=ReturnRoute.VIA_HUB,
        registered_at=START,
        first_poll_at=START,
    )


def _pending(shipment: TrackedShipment, status: TrackingStatus, minutes: int, code: str = "") -> PendingEvent:
    event = scan(status, minutes, code=code, number=shipment.tracking_number)
    return PendingEvent(shipment, event, EventSource.POLL)


async def test_append_numbers_from_the_head_and_reports_duplicates_with_their_cursor(
    database: Database, log: EventLog
) -> None:
    parcel = await _shipment(database, "SB1", "lbl_1")
    results, stored = await log.append(
        [
            _pending(parcel, S.IN_TRANSIT, 0),
            _pending(parcel, S.IN_TRANSIT, 30),
            _pending(parcel, S.IN_TRANSIT, 0),
        ]
    )
    assert [(r.outcome, r.cursor) for r in results] == [
        (IngestOutcome.ACCEPTED, 1),
        (IngestOutcome.ACCEPTED, 2),
        (IngestOutcome.DUPLICATE, 1),  # the same scan twice in one batch
    ]
    assert [e.cursor for e in stored] == [1, 2]
    again, stored_again = await log.append(
        [_pending(parcel, S.IN_TRANSIT, 30), _pending(parcel, S.DELIVERED, 90)]
    )
    assert [(r.outcome, r.cursor) for r in again] == [
        (IngestOutcome.DUPLICATE, 2),
        (IngestOutcome.ACCEPTED, 3),
    ]
    assert [e.milestone for e in stored_again] == [ReturnMilestone.ARRIVED_AT_HUB]
    assert await log.head() == 3

    # The same scan with another UTC offset is the same scan.
    shifted = _pending(parcel, S.IN_TRANSIT, 0)
    paris = dt.timezone(dt.timedelta(hours=1))
    shifted = dataclasses.replace(
        shifted, event=dataclasses.replace(shifted.event, occurred_at=START.astimezone(paris))
    )
    assert (await log.append([shifted]))[0][0].outcome is IngestOutcome.DUPLICATE

    history = await log.history(parcel.id)
    assert [(e.cursor, e.event.status, e.milestone) for e in history] == [
        (1, S.IN_TRANSIT, ReturnMilestone.DROPPED_OFF),
        (2, S.IN_TRANSIT, ReturnMilestone.IN_TRANSIT_TO_HUB),
        (3, S.DELIVERED, ReturnMilestone.ARRIVED_AT_HUB),
    ]
    assert history[0].event.occurred_at == START
    if database.backend == "sqlite":  # the appender's own statements store what SQLAlchemy would
        async with database.engine.connect() as connection:
            stored_row = (
                await connection.exec_driver_sql(
                    "SELECT occurred_at, raw, location_city FROM tracking_events WHERE cursor = 1"
                )
            ).one()
        assert tuple(stored_row) == ("2026-03-02 09:00:00.000000", "{}", "")
    assert history[0].label_id == "lbl_1"
    assert [
        e.cursor for e in await log.read(EventSelection("acme", label_ids=frozenset({"lbl_1"})), 1, 10)
    ] == [2, 3]
    assert [
        e.cursor for e in await log.read(EventSelection("acme", tracking_numbers=frozenset({"SB1"})), 0, 2)
    ] == [1, 2]
    assert await log.read(EventSelection("globex"), 0, 10) == []


async def test_parcel_state_follows_the_latest_event_time_and_stops_polling_when_final(
    database: Database, log: EventLog
) -> None:
    registry = ShipmentRegistry(database)
    parcel = await _shipment(database, "SB2")
    await log.append([_pending(parcel, S.DELIVERED, 120), _pending(parcel, S.IN_TRANSIT, 60)])
    found = await registry.find("acme", tracking_number="SB2")
    assert found is not None
    assert (found.status, found.final, found.last_event_at) == (
        S.DELIVERED,
        True,
        START + dt.timedelta(hours=2),
    )
    assert found.next_poll_at is None
    # A later scan the carrier's table could not map moves the clock, not the status.
    await log.append([_pending(parcel, S.UNKNOWN, 180, code="??")])
    later = await registry.find("acme", tracking_number="SB2")
    assert later is not None
    assert (later.status, later.last_event_at) == (S.DELIVERED, START + dt.timedelta(hours=3))


async def test_a_failed_append_consumes_no_cursor(database: Database, log: EventLog) -> None:
    parcel = await _shipment(database, "SB3")
    await log.append([_pending(parcel, S.IN_TRANSIT, 0)])
    ghost = dataclasses.replace(parcel, id="0" * 32)
    with pytest.raises(LookupError):
        await log.append([_pending(parcel, S.IN_TRANSIT, 5), _pending(ghost, S.IN_TRANSIT, 6)])
    results, _ = await log.append([_pending(parcel, S.IN_TRANSIT, 7)])
    assert results[0].cursor == 2


@pytest.mark.postgres
async def test_concurrent_appenders_commit_in_cursor_order(postgres_url: str) -> None:
    """Eight writers append on separate connections while a reader follows "cursor > last seen": the
    reader must never find a cursor below one it has already passed, and the log must have no holes."""
    await upgrade_database(postgres_url)
    database = create_database(postgres_url, pool_size=12)
    try:
        await Tenancy(database).ensure_merchant("acme", "Acme")
        log = EventLog(database, MilestoneRules())
        parcels = [await _shipment(database, f"SB{index}") for index in range(8)]
        rng = random.Random(7)
        writers_done = asyncio.Event()
        submitted: list[int] = []

        async def writer(parcel: TrackedShipment) -> None:
            for round_ in range(40):
                batch = [_pending(parcel, S.IN_TRANSIT, round_ * 10 + i) for i in range(rng.randint(1, 3))]
                results, _ = await log.append(batch)
                submitted.extend(r.cursor for r in results)

        async def reader() -> list[int]:
            seen: list[int] = []
            while True:
                finished = writers_done.is_set()
                page = await log.read(EventSelection("acme"), seen[-1] if seen else 0, 10_000)
                expected_start = (seen[-1] if seen else 0) + 1
                assert [e.cursor for e in page] == list(range(expected_start, expected_start + len(page)))
                seen.extend(e.cursor for e in page)
                if finished and not page:
                    return seen

        reading = asyncio.create_task(reader())
        await asyncio.gather(*(writer(parcel) for parcel in parcels))
        writers_done.set()
        seen = await reading
        assert sorted(submitted) == list(range(1, len(submitted) + 1))
        assert seen == sorted(submitted)

        # Two appenders racing with the same scans: one stores them, the other gets their cursors back.
        twin = [_pending(parcels[0], S.DELIVERED, 5000 + i) for i in range(5)]
        (first, _), (second, _) = await asyncio.gather(log.append(twin), log.append(twin))
        outcomes = {r.outcome for r in first} | {r.outcome for r in second}
        assert outcomes == {IngestOutcome.ACCEPTED, IngestOutcome.DUPLICATE}
        assert [r.cursor for r in first] == [r.cursor for r in second]
    finally:
        log.close()
        await database.dispose()


def _size(path: Path) -> int:
    return path.stat().st_size


async def test_the_sqlite_appender_truncates_its_write_ahead_log_once_no_reader_needs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "log.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_database(url)
    database = create_database(url)
    await Tenancy(database).ensure_merchant("acme", "Acme")
    event_log = EventLog(database, MilestoneRules())
    limit = 64 * 1024
    monkeypatch.setattr(sqlite_appender, "WAL_TRUNCATE_BYTES", limit)
    wal = Path(f"{path}-wal")
    try:
        parcel = await _shipment(database, "SB1")
        appended = 0

        async def append_scans() -> None:
            nonlocal appended
            await event_log.append([_pending(parcel, S.IN_TRANSIT, appended + i) for i in range(100)])
            appended += 100

        reader = sqlite3.connect(path, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM tracking_events").fetchone()  # holds its snapshot
        while _size(wal) <= limit:
            await append_scans()
        await append_scans()
        assert _size(wal) > limit  # the reader's snapshot still needs the log
        reader.execute("COMMIT")
        reader.close()
        await append_scans()
        assert _size(wal) == 0
        assert await event_log.head() == appended
    finally:
        event_log.close()
        await database.dispose()
