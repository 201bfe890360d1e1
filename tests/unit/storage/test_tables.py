from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Dialect
from sqlalchemy.dialects import postgresql, sqlite

from service.storage.tables import UtcDateTime

SQLITE: Dialect = sqlite.dialect()
POSTGRES: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
PARIS_WINTER = timezone(timedelta(hours=1))


def test_sqlite_stores_naive_utc() -> None:
    value = datetime(2026, 1, 15, 13, 30, tzinfo=PARIS_WINTER)
    assert UtcDateTime().process_bind_param(value, SQLITE) == datetime(2026, 1, 15, 12, 30)


def test_postgres_stores_aware_utc() -> None:
    value = datetime(2026, 1, 15, 13, 30, tzinfo=PARIS_WINTER)
    stored = UtcDateTime().process_bind_param(value, POSTGRES)
    assert stored == datetime(2026, 1, 15, 12, 30, tzinfo=UTC)
    assert stored is not None
    assert stored.tzinfo is UTC


@pytest.mark.parametrize("dialect", [SQLITE, POSTGRES])
def test_naive_datetimes_are_refused(dialect: Dialect) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        UtcDateTime().process_bind_param(datetime(2026, 1, 15, 12, 30), dialect)


def test_values_come_back_aware_in_utc() -> None:
    assert UtcDateTime().process_result_value(datetime(2026, 1, 15, 12, 30), SQLITE) == datetime(
        2026, 1, 15, 12, 30, tzinfo=UTC
    )
    back = UtcDateTime().process_result_value(datetime(2026, 1, 15, 13, 30, tzinfo=PARIS_WINTER), POSTGRES)
    assert back is not None
    assert back.tzinfo is UTC
    assert back.hour == 12


def test_none_passes_through() -> None:
    assert UtcDateTime().process_bind_param(None, SQLITE) is None
    assert UtcDateTime().process_result_value(None, POSTGRES) is None
