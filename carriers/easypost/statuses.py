"""EasyPost's tracker status and status_detail mapped to the canonical TrackingStatus, from statuses.toml."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from carriers.datafile import DataTable, read_toml
from carriers.tracking import ExceptionReason, TrackingStatus

ANY = "*"
_ROW_FIELDS = frozenset({"status", "detail", "canonical", "reason"})
_FILE_FIELDS = frozenset({"provider", "source", "effective_from", "reviewed", "statuses", "details", "rows"})


@dataclass(frozen=True, slots=True)
class StatusRow:
    status: str  # EasyPost status, or "*"
    detail: str  # EasyPost status_detail, or "*"
    canonical: TrackingStatus
    reason: ExceptionReason | None = None


@dataclass(frozen=True, slots=True)
class StatusTable:
    source: str
    rows: tuple[StatusRow, ...]
    _index: dict[tuple[str, str], StatusRow] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {(row.status, row.detail): row for row in self.rows})

    def classify(self, status: str, detail: str) -> tuple[TrackingStatus, ExceptionReason | None]:
        """Canonical status and reason; the exact pair wins, then the detail alone, then the status alone."""
        for key in ((status, detail), (ANY, detail), (status, ANY)):
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
    details = frozenset(document.strings("details", required=True))
    rows: list[StatusRow] = []
    seen: set[tuple[str, str]] = set()
    for entry in document.tables("rows", required=True):
        rows.append(_row(entry, statuses, details, seen))
    return StatusTable(document.source, tuple(rows))


def _row(
    entry: DataTable, statuses: frozenset[str], details: frozenset[str], seen: set[tuple[str, str]]
) -> StatusRow:
    entry.reject_unknown(_ROW_FIELDS)
    status, detail = entry.text("status"), entry.text("detail")
    if status != ANY and status not in statuses:
        raise entry.error("status", f"unknown EasyPost status {status!r}")
    if detail != ANY and detail not in details:
        raise entry.error("detail", f"unknown EasyPost status_detail {detail!r}")
    if status == ANY and detail == ANY:
        raise entry.error("detail", "a row must name a status, a detail or both")
    if (status, detail) in seen:
        raise entry.error("detail", f"duplicate row for ({status}, {detail})")
    seen.add((status, detail))
    canonical = entry.checked("canonical", entry.text("canonical"), TrackingStatus)
    reason_text = entry.text("reason", "")
    reason = entry.checked("reason", reason_text, ExceptionReason) if reason_text else None
    if canonical is TrackingStatus.EXCEPTION and reason is None:
        raise entry.error("reason", "exception rows need a reason")
    if reason is not None and canonical not in (TrackingStatus.EXCEPTION, TrackingStatus.RETURNED_TO_SENDER):
        raise entry.error(
            "reason", f"a reason only goes with exception or returned_to_sender, not {canonical}"
        )
    return StatusRow(status, detail, canonical, reason)


@cache
def status_table() -> StatusTable:
    """The packaged table (carriers/easypost/statuses.toml)."""
    return load_status_table(
        files("carriers.easypost").joinpath("statuses.toml"), "carriers/easypost/statuses.toml"
    )
