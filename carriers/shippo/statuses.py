"""Shippo's tracking status and substatus code mapped to the canonical TrackingStatus, from statuses.toml."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from carriers import status_table as generic
from carriers.status_table import ANY, StatusRow, StatusTable

__all__ = ["ANY", "StatusRow", "StatusTable", "load_status_table", "status_table"]

TABLE_FORMAT = generic.StatusTableFormat(
    provider="Shippo", substatus_field="substatus", substatus_list="substatuses", substatus_label="substatus"
)


def load_status_table(path: Path | Traversable, source: str | None = None) -> StatusTable:
    return generic.load_status_table(path, TABLE_FORMAT, source)


@cache
def status_table() -> StatusTable:
    """The packaged table (carriers/shippo/statuses.toml)."""
    return load_status_table(
        files("carriers.shippo").joinpath("statuses.toml"), "carriers/shippo/statuses.toml"
    )
