"""A provider's tracking statuses mapped to the canonical TrackingStatus, kept as data beside its adapter.

Each provider names its second-level code differently (EasyPost `status_detail`, Shippo `substatus.code`);
a `StatusTableFormat` says what the provider calls it in its TOML file, and every table is read, validated
and looked up the same way. Errors name the file and the row field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path

from carriers.tracking import ExceptionReason, TrackingStatus
from customs.datafile import DataTable, read_toml

ANY = "*"


@dataclass(frozen=True, slots=True)
class StatusTableFormat:
    provider: str  # for messages, e.g. "EasyPost"
    substatus_field: str  # row key of the second-level code, e.g. "detail"
    substatus_list: str  # file key listing the provider's known second-level codes, e.g. "details"
    substatus_label: str  # the provider's own name for it, e.g. "status_detail"


@dataclass(frozen=True, slots=True)
class StatusRow:
    status: str  # the provider's status, or "*"
    substatus: str  # the provider's second-level code, or "*"
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


def load_status_table(
    path: Path | Traversable, table_format: StatusTableFormat, source: str | None = None
) -> StatusTable:
    """Parse and validate a status table; DataFileError names the file and the row field."""
    document = read_toml(path, source)
    document.reject_unknown(
        {"provider", "source", "effective_from", "reviewed", "statuses", table_format.substatus_list, "rows"}
    )
    document.text("source")
    document.date("effective_from")
    statuses = frozenset(document.strings("statuses", required=True))
    substatuses = frozenset(document.strings(table_format.substatus_list, required=True))
    rows: list[StatusRow] = []
    seen: set[tuple[str, str]] = set()
    for entry in document.tables("rows", required=True):
        rows.append(_row(entry, table_format, statuses, substatuses, seen))
    return StatusTable(document.source, tuple(rows))


def _row(
    entry: DataTable,
    table_format: StatusTableFormat,
    statuses: frozenset[str],
    substatuses: frozenset[str],
    seen: set[tuple[str, str]],
) -> StatusRow:
    sub_field = table_format.substatus_field
    entry.reject_unknown({"status", sub_field, "canonical", "reason"})
    status, substatus = entry.text("status"), entry.text(sub_field)
    if status != ANY and status not in statuses:
        raise entry.error("status", f"unknown {table_format.provider} status {status!r}")
    if substatus != ANY and substatus not in substatuses:
        raise entry.error(
            sub_field, f"unknown {table_format.provider} {table_format.substatus_label} {substatus!r}"
        )
    if status == ANY and substatus == ANY:
        raise entry.error(sub_field, f"a row must name a status, a {sub_field} or both")
    if (status, substatus) in seen:
        raise entry.error(sub_field, f"duplicate row for ({status}, {substatus})")
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
