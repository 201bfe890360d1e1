"""Streamed events' timestamps: the servicer's integer conversion equals protobuf's own FromDatetime."""

from __future__ import annotations

import datetime as dt

from google.protobuf import timestamp_pb2
from hypothesis import given
from hypothesis import strategies as st

from service.grpc.tracking_servicer import _timestamp

OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)


@given(st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=OFFSETS))
def test_the_timestamp_of_an_aware_datetime_is_protobufs(value: dt.datetime) -> None:
    expected = timestamp_pb2.Timestamp()
    expected.FromDatetime(value.astimezone(dt.UTC))
    assert _timestamp(value) == expected
