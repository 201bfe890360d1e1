"""Every row of carriers/shippo/statuses.toml against a hand-written oracle."""

from __future__ import annotations

from pathlib import Path

import pytest
from shippo.models import components

from carriers.shippo.statuses import ANY, load_status_table, status_table
from carriers.tracking import ExceptionReason, TrackingStatus
from customs.datafile import DataFileError

S, R = TrackingStatus, ExceptionReason

# (status, substatus code) -> (canonical status, reason): one entry per row of the table.
EXPECTED: dict[tuple[str, str], tuple[TrackingStatus, ExceptionReason | None]] = {
    ("UNKNOWN", ANY): (S.UNKNOWN, None),
    ("PRE_TRANSIT", ANY): (S.PRE_TRANSIT, None),
    ("TRANSIT", ANY): (S.IN_TRANSIT, None),
    ("DELIVERED", ANY): (S.DELIVERED, None),
    ("RETURNED", ANY): (S.RETURNED_TO_SENDER, None),
    ("FAILURE", ANY): (S.EXCEPTION, R.OTHER),
    (ANY, "out_for_delivery"): (S.OUT_FOR_DELIVERY, None),
    (ANY, "pickup_available"): (S.AVAILABLE_FOR_PICKUP, None),
    (ANY, "address_issue"): (S.EXCEPTION, R.ADDRESS_PROBLEM),
    (ANY, "location_inaccessible"): (S.EXCEPTION, R.ADDRESS_PROBLEM),
    (ANY, "package_damaged"): (S.EXCEPTION, R.DAMAGED),
    (ANY, "package_lost"): (S.EXCEPTION, R.LOST),
    (ANY, "package_disposed"): (S.EXCEPTION, R.LOST),
    (ANY, "package_held"): (S.EXCEPTION, R.OTHER),
    (ANY, "contact_carrier"): (S.EXCEPTION, R.OTHER),
    (ANY, "delivery_attempted"): (S.EXCEPTION, R.OTHER),
    (ANY, "notice_left"): (S.EXCEPTION, R.OTHER),
    (ANY, "package_unclaimed"): (S.EXCEPTION, R.OTHER),
    (ANY, "package_undeliverable"): (S.EXCEPTION, R.ADDRESS_PROBLEM),
    (ANY, "return_to_sender"): (S.RETURNED_TO_SENDER, None),
    ("TRANSIT", "delayed"): (S.IN_TRANSIT, None),
}
STATUSES = [status for status, substatus in EXPECTED if substatus == ANY]
PLAIN_SUBSTATUS = "package_departed"  # a substatus no row names


def test_the_table_has_exactly_the_rows_of_the_oracle() -> None:
    assert {(row.status, row.substatus) for row in status_table().rows} == set(EXPECTED)


def test_the_table_covers_every_status_of_the_sdk() -> None:
    assert set(STATUSES) == {status.value for status in components.TrackingStatusEnum}


@pytest.mark.parametrize(("key", "expected"), list(EXPECTED.items()), ids=[f"{s}/{d}" for s, d in EXPECTED])
def test_each_row(key: tuple[str, str], expected: tuple[TrackingStatus, ExceptionReason | None]) -> None:
    status, substatus = key
    table = status_table()
    if substatus == ANY:
        assert table.classify(status, PLAIN_SUBSTATUS) == expected
    elif status == ANY:
        for any_status in STATUSES:
            if (any_status, substatus) not in EXPECTED:
                assert table.classify(any_status, substatus) == expected, any_status
    else:
        assert table.classify(status, substatus) == expected


def test_a_substatus_row_wins_over_a_status_row() -> None:
    assert status_table().classify("TRANSIT", "out_for_delivery") == (S.OUT_FOR_DELIVERY, None)
    assert status_table().classify("TRANSIT", "package_held") == (S.EXCEPTION, R.OTHER)


def test_a_plain_delay_in_transit_is_not_an_exception() -> None:
    assert status_table().classify("TRANSIT", "delayed") == (S.IN_TRANSIT, None)
    assert status_table().classify("FAILURE", "delayed") == (S.EXCEPTION, R.OTHER)


def test_unknown_pairs_are_unknown_and_an_empty_substatus_falls_back_to_the_status() -> None:
    assert status_table().classify("LOST_IN_SPACE", "other") == (S.UNKNOWN, None)
    assert status_table().classify("DELIVERED", "") == (S.DELIVERED, None)


def test_a_bad_row_is_reported_with_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "statuses.toml"
    path.write_text(
        'provider = "shippo"\nsource = "t"\neffective_from = 2026-11-01\nstatuses = ["TRANSIT"]\n'
        'substatuses = ["delayed"]\n[[rows]]\nstatus = "TRANSIT"\nsubstatus = "stuck"\n'
        'canonical = "in_transit"\n',
        encoding="utf-8",
    )
    with pytest.raises(DataFileError) as error:
        load_status_table(path, "shippo/statuses.toml")
    assert str(error.value) == "shippo/statuses.toml: rows[0].substatus: unknown Shippo substatus 'stuck'"
