"""Shippo's tracking status and substatus code mapped to the canonical TrackingStatus, from statuses.toml."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from carriers.datafile import DataTable, read_toml
from carriers.tracking import ExceptionReason, TrackingStatus

ANY = "*"
_ROW_FIELDS = frozenset({"status", "substatus", "canonical", "reason"})
_FILE_FIELDS = frozenset(
    {"provider", "source", "effective_from", "reviewed", "statuses", "substatuses", "rows"}
)


@dataclass(frozen=True, slots=True)
class StatusRow:
    status: str  # Shippo status, or "*"
    substatus: str  # Shippo substatus.code, or "*"
    canonical: TrackingStatus
    reason: ExceptionReason | None = None


@dataclass(frozen=True, slots=True)
class StatusTable:
    source: str
    rows: tuple[StatusRow, ...]
    _index: dict[tuple[str, str], StatusRow] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {(row.status, row.substatus): row for row in self.rows})

    def classify(self, status: str, substatus: str) -> tuple[TrackingStatus, ExceptionReason | None]:
        """Canonical status and reason: the exact pair, else the substatus alone, else the status alone."""
        for key in ((status, substatus), (ANY, substatus), (status, ANY)):
            row = self._index.get(key)
            if row is not None:
                return row.canonical, row.reason
        return TrackingStatus.UNKNOWN, None


def load_status_table(path: Path | Traversable, source: str | None = None) -> StatusTable:
    """Parse and validate a status table; DataFileError names the file and the row field."""
    document = read_toml(path, source)
    document.reject_unknown(_FILE_FIELDS)
    document.text("source")
    document.date("effective_from")
    statuses = frozenset(document.strings("statuses", required=True))
    substatuses = frozenset(document.strings("substatuses", required=True))
    rows: list[StatusRow] = []
    seen: set[tuple[str, str]] = set()
    for entry in document.tables("rows", required=True):
        rows.append(_row(entry, statuses, substatuses, seen))
    return StatusTable(document.source, tuple(rows))


def _row(
    entry: DataTable, statuses: frozenset[str], substatuses: frozenset[str], seen: set[tuple[str, str]]
) -> StatusRow:
    entry.reject_unknown(_ROW_FIELDS)
    status, substatus = entry.text("status"), entry.text("substatus")
    if status != ANY and status not in statuses:
        raise entry.error("status", f"unknown Shippo status {status!r}")
    if substatus != ANY and substatus not in substatuses:
        raise entry.error("substatus", f"unknown Shippo substatus {substatus!r}")
    if status == ANY and substatus == ANY:
        raise entry.error("substatus", "a row must name a status, a substatus or both")
    if (status, substatus) in seen:
        raise entry.error("substatus", f"duplicate row for ({status}, {substatus})")
    seen.add((status, substatus))
    canonical = entry.checked("canonical", entry.text("canonical"), TrackingStatus)
    reason_text = entry.text("reason", "")
    reason = entry.checked("reason", reason_text, ExceptionReason) if reason_text else None
    if canonical is TrackingStatus.EXCEPTION and reason is None:
        raise entry.error("reason", "exception rows need a reason")
    if reason is not None and canonical not in (TrackingStatus.EXCEPTION, TrackingStatus.RETURNED_TO_SENDER):
        raise entry.error(
            "reason", f"a reason only goes with exception or returned_to_sender, not {canonical}"
        )
    return StatusRow(status, substatus, canonical, reason)


@cache
def status_table() -> StatusTable:
    """The packaged table (carriers/shippo/statuses.toml)."""
    return load_status_table(
        files("carriers.shippo").joinpath("statuses.toml"), "carriers/shippo/statuses.toml"
    )
