"""Expected refund dates: business days after the merchant has the goods, per-merchant terms from data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from customs.datafile import DataFileError
from service.tracking.milestones import JOURNEY, MilestoneProgress, ReturnMilestone
from service.tracking.refunds import RefundTerms, add_business_days
from service.tracking.rule_files import load_refund_terms

FRIDAY = dt.date(2026, 3, 6)


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (FRIDAY, 1, dt.date(2026, 3, 9)),  # over the weekend to Monday
        (FRIDAY, 5, dt.date(2026, 3, 13)),
        (dt.date(2026, 3, 7), 1, dt.date(2026, 3, 9)),  # from a Saturday
        (dt.date(2026, 3, 2), 3, dt.date(2026, 3, 5)),  # Monday + 3 = Thursday
        (dt.date(2026, 3, 2), 0, dt.date(2026, 3, 2)),
        (dt.date(2026, 12, 31), 2, dt.date(2027, 1, 4)),  # Thursday over New Year's weekend
    ],
)
def test_business_days(start: dt.date, days: int, expected: dt.date) -> None:
    assert add_business_days(start, days) == expected


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)), st.integers(1, 60))
def test_business_days_land_on_a_weekday_within_the_calendar_bound(start: dt.date, days: int) -> None:
    result = add_business_days(start, days)
    assert result.weekday() < 5
    assert days <= (result - start).days <= days + 2 * (days // 5 + 1)


def _received(at: dt.datetime | None) -> tuple[MilestoneProgress, ...]:
    return tuple(
        MilestoneProgress(m, at if m is ReturnMilestone.DELIVERED_TO_MERCHANT else None, 1 if at else 0)
        for m in JOURNEY
    )


def test_refund_date_counts_from_receipt_else_from_the_estimate() -> None:
    terms = RefundTerms(5, {"fastpay": 1})
    received = _received(dt.datetime(2026, 3, 6, 23, 30, tzinfo=dt.UTC))
    assert terms.expected_refund_date("acme", received, None) == dt.date(2026, 3, 13)
    assert terms.expected_refund_date("fastpay", received, None) == dt.date(2026, 3, 9)
    assert terms.expected_refund_date("acme", _received(None), FRIDAY) == dt.date(2026, 3, 13)
    assert terms.expected_refund_date("acme", _received(None), None) is None


def test_refund_terms_file_overrides_per_merchant(tmp_path: Path) -> None:
    path = tmp_path / "refund_terms.toml"
    path.write_text('[[merchants]]\nmerchant_id = "acme"\nbusiness_days = 2\n')
    terms = load_refund_terms(5, path)
    assert (terms.business_days("acme"), terms.business_days("other")) == (2, 5)
    assert load_refund_terms(4, None).business_days("acme") == 4


def test_refund_terms_file_errors_name_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "refund_terms.toml"
    path.write_text('[[merchants]]\nmerchant_id = "acme"\nbusiness_days = -1\n')
    with pytest.raises(DataFileError, match=r"refund_terms\.toml: merchants\[0\]\.business_days"):
        load_refund_terms(5, path)
    entry = '[[merchants]]\nmerchant_id = "a"\nbusiness_days = 1\n'
    path.write_text(entry + entry)
    with pytest.raises(DataFileError, match=r"merchants\[1\]\.merchant_id: duplicate"):
        load_refund_terms(5, path)
