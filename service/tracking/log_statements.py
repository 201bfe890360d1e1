"""The statements of an append to the tracking log, for each backend.

On PostgreSQL they are SQLAlchemy Core statements on the transaction's connection. On SQLite they run on the
DB-API connection under the same transaction (see sqlite_appender.py), with SQL text built once from the
same table definitions and values converted by the column types' own SQLite processors, so what is stored
is byte for byte what SQLAlchemy would store: an append spends about a third of the CPU it spends through
SQLAlchemy's execution layer, which matters on the path every ingested event takes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import Connection, Dialect, Table, bindparam, select, update

from service.tracking.tables import LOG_HEAD_ID, TrackedShipmentRow, TrackingEventRow, TrackingLogHeadRow

EVENTS = cast(Table, TrackingEventRow.__table__)
SHIPMENTS = cast(Table, TrackedShipmentRow.__table__)
HEAD = cast(Table, TrackingLogHeadRow.__table__)
_E = EVENTS.c
_S = SHIPMENTS.c
_H = HEAD.c

# Columns of a parcel's state, in the order `shipment_states` returns them.
STATE_COLUMNS = (
    "id",
    "merchant_id",
    "label_id",
    "status",
    "substatus",
    "last_event_at",
    "milestone",
    "route",
)
# Columns `save_states` writes, besides the parcel id `b_id`.
SAVED_STATE_COLUMNS = ("status", "substatus", "last_event_at", "milestone", "final")


@dataclass(frozen=True, slots=True)
class ShipmentStateRow:
    id: str
    merchant_id: str
    label_id: str | None
    status: str
    substatus: str
    last_event_at: dt.datetime | None
    milestone: str | None
    route: str


class LogStatements(Protocol):
    def known_keys(self, keys: Sequence[str]) -> dict[str, int]:
        """Cursor by deduplication key, for the keys already in the log."""
        ...

    def advance_head(self, count: int) -> int:
        """Move the head `count` cursors on (locking it until the transaction ends); the new head."""
        ...

    def shipment_states(self, ids: Sequence[str]) -> list[ShipmentStateRow]: ...

    def insert_events(self, rows: Sequence[dict[str, Any]]) -> None: ...

    def save_states(self, rows: Sequence[dict[str, Any]]) -> None:
        """Rows with `b_id` (the parcel) and the SAVED_STATE_COLUMNS."""
        ...

    def stop_polling(self, ids: Sequence[str]) -> None: ...


_ADVANCE_HEAD = (
    update(HEAD)
    .where(_H.id == LOG_HEAD_ID)
    .values(last_cursor=_H.last_cursor + bindparam("count"))
    .returning(_H.last_cursor)
)
_KNOWN_KEYS = select(_E.dedup_key, _E.cursor).where(_E.dedup_key.in_(bindparam("keys", expanding=True)))
_STATES = select(*(_S[name] for name in STATE_COLUMNS)).where(_S.id.in_(bindparam("ids", expanding=True)))
_SAVE_STATE = (
    update(SHIPMENTS)
    .where(_S.id == bindparam("b_id"))
    .values(**{name: bindparam(name) for name in SAVED_STATE_COLUMNS})
)


class CoreLogStatements:
    """SQLAlchemy Core on the append transaction's connection."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def known_keys(self, keys: Sequence[str]) -> dict[str, int]:
        rows = self._connection.execute(_KNOWN_KEYS, {"keys": list(keys)})
        return {row.dedup_key: row.cursor for row in rows}

    def advance_head(self, count: int) -> int:
        return int(self._connection.execute(_ADVANCE_HEAD, {"count": count}).scalar_one())

    def shipment_states(self, ids: Sequence[str]) -> list[ShipmentStateRow]:
        rows = self._connection.execute(_STATES, {"ids": list(ids)})
        return [ShipmentStateRow(*row) for row in rows]

    def insert_events(self, rows: Sequence[dict[str, Any]]) -> None:
        self._connection.execute(EVENTS.insert(), list(rows))

    def save_states(self, rows: Sequence[dict[str, Any]]) -> None:
        self._connection.execute(_SAVE_STATE, list(rows))

    def stop_polling(self, ids: Sequence[str]) -> None:
        self._connection.execute(update(SHIPMENTS).where(_S.id.in_(ids)).values(next_poll_at=None))


Processor = Callable[[Any], Any]


def _binder(table: Table, names: Sequence[str], dialect: Dialect) -> Callable[[dict[str, Any]], list[Any]]:
    """Row dict -> parameter list in `names` order, through the SQLite processors of the columns that have
    one (timestamps, JSON, booleans)."""
    ordered = list(names)
    processors: list[tuple[int, Processor]] = []
    for index, name in enumerate(ordered):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((index, process))

    def bind(row: dict[str, Any]) -> list[Any]:
        values = [row[name] for name in ordered]
        for index, process in processors:
            if values[index] is not None:
                values[index] = process(values[index])
        return values

    return bind


def _marks(count: int) -> str:
    return ", ".join("?" * count)


class SqliteStatements:
    """The same statements as SQL text on the SQLite DB-API connection (built once per appender)."""

    def __init__(self, dialect: Dialect) -> None:
        self.event_columns = [column.name for column in EVENTS.c]
        self.insert_sql = (
            f"INSERT INTO {EVENTS.name} ({', '.join(self.event_columns)}) "
            f"VALUES ({_marks(len(self.event_columns))})"
        )
        self.bind_event = _binder(EVENTS, self.event_columns, dialect)
        assignments = ", ".join(f"{name} = ?" for name in SAVED_STATE_COLUMNS)
        self.save_sql = f"UPDATE {SHIPMENTS.name} SET {assignments} WHERE id = ?"
        self.bind_state = _binder(SHIPMENTS, SAVED_STATE_COLUMNS, dialect)
        last_event_at = _S.last_event_at.type.dialect_impl(dialect).result_processor(dialect, None)
        assert last_event_at is not None
        self.read_last_event_at: Processor = last_event_at

    def bound(self, dbapi_connection: Any) -> SqliteLogStatements:
        return SqliteLogStatements(self, dbapi_connection)


class SqliteLogStatements:
    def __init__(self, statements: SqliteStatements, dbapi_connection: Any) -> None:
        self._sql = statements
        self._connection = dbapi_connection

    def known_keys(self, keys: Sequence[str]) -> dict[str, int]:
        sql = f"SELECT dedup_key, cursor FROM {EVENTS.name} WHERE dedup_key IN ({_marks(len(keys))})"
        return dict(self._connection.execute(sql, list(keys)).fetchall())

    def advance_head(self, count: int) -> int:
        sql = f"UPDATE {HEAD.name} SET last_cursor = last_cursor + ? WHERE id = ? RETURNING last_cursor"
        return int(self._connection.execute(sql, (count, LOG_HEAD_ID)).fetchone()[0])

    def shipment_states(self, ids: Sequence[str]) -> list[ShipmentStateRow]:
        sql = f"SELECT {', '.join(STATE_COLUMNS)} FROM {SHIPMENTS.name} WHERE id IN ({_marks(len(ids))})"
        rows = self._connection.execute(sql, list(ids)).fetchall()
        read = self._sql.read_last_event_at
        return [
            ShipmentStateRow(
                id=row[0],
                merchant_id=row[1],
                label_id=row[2],
                status=row[3],
                substatus=row[4],
                last_event_at=read(row[5]) if row[5] else None,
                milestone=row[6],
                route=row[7],
            )
            for row in rows
        ]

    def insert_events(self, rows: Sequence[dict[str, Any]]) -> None:
        self._connection.executemany(self._sql.insert_sql, [self._sql.bind_event(row) for row in rows])

    def save_states(self, rows: Sequence[dict[str, Any]]) -> None:
        bind = self._sql.bind_state
        self._connection.executemany(self._sql.save_sql, [[*bind(row), row["b_id"]] for row in rows])

    def stop_polling(self, ids: Sequence[str]) -> None:
        sql = f"UPDATE {SHIPMENTS.name} SET next_poll_at = NULL WHERE id IN ({_marks(len(ids))})"
        self._connection.execute(sql, list(ids))
