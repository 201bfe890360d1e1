"""Partner pushes mapped onto canonical tracking: the packaged UPU EMSEVT table and the partner's own say."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from carriers.tracking import ExceptionReason, TrackingLocation, TrackingStatus
from customs.datafile import DataFileError
from service.tracking.partner_scans import PartnerScan, canonical_event
from service.tracking.rule_files import load_milestone_rules, load_partner_status_table

TABLE = load_partner_status_table()
AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _scan(code: str, **fields: object) -> PartnerScan:
    return PartnerScan(tracking_number="RR123456785DE", occurred_at=AT, code=code, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "status", "reason"),
    [
        ("EMA", TrackingStatus.IN_TRANSIT, None),
        ("emc", TrackingStatus.IN_TRANSIT, None),
        ("EME", TrackingStatus.EXCEPTION, ExceptionReason.CUSTOMS_DELAY),
        ("EDB", TrackingStatus.EXCEPTION, ExceptionReason.CUSTOMS_INSPECTION),
        ("EDG", TrackingStatus.OUT_FOR_DELIVERY, None),
        ("EDH", TrackingStatus.AVAILABLE_FOR_PICKUP, None),
        ("EMH", TrackingStatus.EXCEPTION, ExceptionReason.ADDRESS_PROBLEM),
        ("EMI", TrackingStatus.DELIVERED, None),
        ("ZZZ", TrackingStatus.UNKNOWN, None),
    ],
)
def test_codes_map_through_the_packaged_table(code: str, status: TrackingStatus, reason: object) -> None:
    event = canonical_event("tulip-nl", _scan(code), TABLE)
    assert (event.status, event.reason) == (status, reason)
    assert event.code == code
    assert event.substatus == code  # no wording given: the code is the verbatim substatus


def test_the_partner_status_wins_over_its_code_and_its_wording_is_kept() -> None:
    scan = _scan(
        "EMI",
        status=TrackingStatus.EXCEPTION,
        substatus="Zustellung gescheitert",
        description="Empfänger nicht angetroffen",
        location=TrackingLocation(city="Bremen", country="DE"),
        raw={"scan": 7},
    )
    event = canonical_event("rhein-de", scan, TABLE)
    assert event.status is TrackingStatus.EXCEPTION
    assert event.reason is ExceptionReason.OTHER  # an exception always says why, OTHER at least
    assert event.substatus == "Zustellung gescheitert"
    assert event.location.city == "Bremen"
    assert event.raw == {"scan": 7}
    assert event.carrier == "rhein-de"


def test_a_stated_reason_is_kept_and_a_reason_on_a_non_exception_is_dropped() -> None:
    stated = canonical_event("a", _scan("EME", reason=ExceptionReason.DUTIES_UNPAID), TABLE)
    assert stated.reason is ExceptionReason.DUTIES_UNPAID
    dropped = canonical_event("a", _scan("EMI", reason=ExceptionReason.DAMAGED), TABLE)
    assert (dropped.status, dropped.reason) == (TrackingStatus.DELIVERED, None)


def test_a_partner_status_differing_from_the_table_does_not_borrow_the_tables_reason() -> None:
    event = canonical_event("a", _scan("EME", status=TrackingStatus.RETURNED_TO_SENDER), TABLE)
    assert (event.status, event.reason) == (TrackingStatus.RETURNED_TO_SENDER, None)


def test_bad_status_table_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "codes.toml"
    path.write_text(
        'effective_from = 2026-01-01\n[[codes]]\ncode = "A"\nmeaning = "x"\nstatus = "in_transit"\n'
        '[[codes]]\ncode = "B"\nmeaning = "y"\nstatus = "teleported"\n'
    )
    with pytest.raises(DataFileError, match=r"codes\.toml: codes\[1\]\.status"):
        load_partner_status_table(path)
    path.write_text(
        'effective_from = 2026-01-01\n[[codes]]\ncode = "A"\nmeaning = "x"\nstatus = "delivered"\n'
        'reason = "lost"\n'
    )
    with pytest.raises(DataFileError, match=r"codes\[0\]\.reason: only exception"):
        load_partner_status_table(path)


def test_packaged_milestone_codes_load() -> None:
    assert "HUB_RELEASED" in load_milestone_rules().merchant_receipt_codes
