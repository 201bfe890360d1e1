"""Every row of carriers/easypost/statuses.toml against a hand-written oracle."""

from __future__ import annotations

from pathlib import Path

import pytest

from carriers.easypost.statuses import ANY, StatusRow, load_status_table, status_table
from carriers.tracking import ExceptionReason, TrackingStatus
from customs.datafile import DataFileError

S, R = TrackingStatus, ExceptionReason

# (status, status_detail) -> (canonical status, reason): one entry per row of the table.
EXPECTED: dict[tuple[str, str], tuple[TrackingStatus, ExceptionReason | None]] = {
    ("unknown", ANY): (S.UNKNOWN, None),
    ("pre_transit", ANY): (S.PRE_TRANSIT, None),
    ("in_transit", ANY): (S.IN_TRANSIT, None),
    ("out_for_delivery", ANY): (S.OUT_FOR_DELIVERY, None),
    ("available_for_pickup", ANY): (S.AVAILABLE_FOR_PICKUP, None),
    ("delivered", ANY): (S.DELIVERED, None),
    ("return_to_sender", ANY): (S.RETURNED_TO_SENDER, None),
    ("cancelled", ANY): (S.CANCELLED, None),
    ("failure", ANY): (S.EXCEPTION, R.OTHER),
    ("error", ANY): (S.EXCEPTION, R.OTHER),
    (ANY, "damaged"): (S.EXCEPTION, R.DAMAGED),
    (ANY, "lost"): (S.EXCEPTION, R.LOST),
    (ANY, "address_correction"): (S.EXCEPTION, R.ADDRESS_PROBLEM),
    (ANY, "delivery_exception"): (S.EXCEPTION, R.OTHER),
    (ANY, "transit_exception"): (S.EXCEPTION, R.OTHER),
    (ANY, "refused"): (S.EXCEPTION, R.OTHER),
    (ANY, "held"): (S.EXCEPTION, R.OTHER),
    (ANY, "arrived_at_pickup_location"): (S.AVAILABLE_FOR_PICKUP, None),
    (ANY, "cancelled"): (S.CANCELLED, None),
    ("in_transit", "return"): (S.IN_TRANSIT, None),
}
STATUSES = [status for status, detail in EXPECTED if detail == ANY]
PLAIN_DETAIL = "status_update"  # a detail no row names


def test_the_table_has_exactly_the_rows_of_the_oracle() -> None:
    assert {(row.status, row.substatus) for row in status_table().rows} == set(EXPECTED)


@pytest.mark.parametrize(("key", "expected"), list(EXPECTED.items()), ids=[f"{s}/{d}" for s, d in EXPECTED])
def test_each_row(key: tuple[str, str], expected: tuple[TrackingStatus, ExceptionReason | None]) -> None:
    status, detail = key
    table = status_table()
    if detail == ANY:
        assert table.classify(status, PLAIN_DETAIL) == expected
    elif status == ANY:
        for any_status in STATUSES:
            if (any_status, detail) not in EXPECTED:
                assert table.classify(any_status, detail) == expected, any_status
    else:
        assert table.classify(status, detail) == expected


def test_a_detail_row_wins_over_a_status_row() -> None:
    assert status_table().classify("delivered", "damaged") == (S.EXCEPTION, R.DAMAGED)
    assert status_table().classify("in_transit", "arrived_at_pickup_location") == (
        S.AVAILABLE_FOR_PICKUP,
        None,
    )


def test_an_exact_row_wins_over_a_detail_row() -> None:
    assert status_table().classify("in_transit", "return") == (S.IN_TRANSIT, None)


def test_unknown_pairs_are_unknown() -> None:
    assert status_table().classify("teleported", "beamed_up") == (S.UNKNOWN, None)
    assert status_table().classify("teleported", "lost") == (S.EXCEPTION, R.LOST)


def test_every_exception_has_a_reason() -> None:
    rows: tuple[StatusRow, ...] = status_table().rows
    assert all(row.reason is not None for row in rows if row.canonical is S.EXCEPTION)


HEADER = """
provider = "easypost"
source = "test"
effective_from = 2026-11-01
statuses = ["in_transit", "failure"]
details = ["lost", "held"]
"""


@pytest.mark.parametrize(
    ("rows", "field", "message"),
    [
        ('status = "in_transit"\ndetail = "*"\ncanonical = "moving"', "rows[0].canonical", "moving"),
        ('status = "failure"\ndetail = "*"\ncanonical = "exception"', "rows[0].reason", "need a reason"),
        (
            'status = "in_transit"\ndetail = "*"\ncanonical = "in_transit"\nreason = "lost"',
            "rows[0].reason",
            "only goes",
        ),
        ('status = "teleported"\ndetail = "*"\ncanonical = "unknown"', "rows[0].status", "teleported"),
        ('status = "in_transit"\ndetail = "beamed"\ncanonical = "unknown"', "rows[0].detail", "beamed"),
        ('status = "*"\ndetail = "*"\ncanonical = "unknown"', "rows[0].detail", "name a status"),
        (
            'status = "in_transit"\ndetail = "*"\ncanonical = "in_transit"\ncolour = "red"',
            "rows[0].colour",
            "unknown field",
        ),
    ],
)
def test_a_bad_row_is_reported_with_file_and_field(
    tmp_path: Path, rows: str, field: str, message: str
) -> None:
    path = tmp_path / "statuses.toml"
    path.write_text(HEADER + "[[rows]]\n" + rows + "\n", encoding="utf-8")
    with pytest.raises(DataFileError) as error:
        load_status_table(path, "easypost/statuses.toml")
    assert error.value.source == "easypost/statuses.toml"
    assert error.value.field == field
    assert message in error.value.message


def test_a_duplicate_row_is_refused(tmp_path: Path) -> None:
    row = '[[rows]]\nstatus = "in_transit"\ndetail = "*"\ncanonical = "in_transit"\n'
    path = tmp_path / "statuses.toml"
    path.write_text(HEADER + row + row, encoding="utf-8")
    with pytest.raises(DataFileError, match=r"rows\[1\]\.detail: duplicate"):
        load_status_table(path)
