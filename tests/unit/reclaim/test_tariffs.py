"""Tariff tables for estimates: longest-prefix duty rows, import tax rates, the US MPF."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from customs.datafile import DataFileError
from customs.money import Money
from customs.tariffs import load_tariff_table, parse_duty_rates, parse_fee_schedules
from customs.territories import customs_territories

HEADER = "market,hs_code,description,duty_rate_percent,source,as_of,confirmed,note\n"


def test_duty_rate_takes_the_longest_matching_prefix() -> None:
    table = load_tariff_table()
    silk = table.duty_rate("US", "6206.10.00.10")
    assert silk is not None
    assert silk.rate_percent == Decimal("6.9")
    assert silk.confirmed
    assert "as of 2026-01-01" in silk.citation
    wool = table.duty_rate("EU", "6110.11.00")
    cotton = table.duty_rate("EU", "6110.20.10")
    assert wool is not None
    assert cotton is not None
    assert (wool.rate_percent, cotton.rate_percent) == (Decimal("10.5"), Decimal("12"))
    assert table.duty_rate("US", "0101.21.00") is None


def test_every_row_carries_source_and_as_of_date() -> None:
    table = load_tariff_table()
    assert len(table.duty_rates) >= 60
    for row in table.duty_rates:
        assert row.source
        assert row.as_of.year >= 2026
    assert {row.market for row in table.duty_rates} == {"EU", "GB", "US", "CA", "AU", "JP"}


def test_every_eu_member_has_an_import_tax_rate() -> None:
    table = load_tariff_table()
    for country in customs_territories()["EU"].countries_on(dt.date(2026, 1, 1)):
        assert table.import_tax_rate(country) is not None, country
    rate = table.import_tax_rate("DE")
    assert rate is not None
    assert rate.rate_percent == 19


@pytest.mark.parametrize(
    ("value", "fee"),
    [("2500.00", "2.69"), ("2500.01", "33.58"), ("100000", "346.40"), ("1000000", "651.50")],
)
def test_mpf_is_flat_on_informal_and_clamped_ad_valorem_on_formal_entries(value: str, fee: str) -> None:
    schedule = load_tariff_table().processing_fees("US", dt.date(2026, 1, 10))
    assert schedule is not None
    assert schedule.fee_for(Money.of(value, "USD")) == Money.of(fee, "USD")
    assert load_tariff_table().processing_fees("US", dt.date(2024, 9, 30)) is None


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "US,6109,T,abc,S,2026-01-01,true,",
            "tariffs/t.csv: row 1: duty_rate_percent: expected a decimal number",
        ),
        ("XX,6109,T,5,S,2026-01-01,true,", "tariffs/t.csv: row 1: market: unknown market 'XX'"),
        ("US,61-09,T,5,S,2026-01-01,true,", "row 1: hs_code: invalid HS code '61-09'"),
        ("US,61091,T,5,S,2026-01-01,true,", "row 1: hs_code: invalid HS code '61091': has 5 digits"),
        ("US,6109,T,5,S,2026-13-01,true,", "row 1: as_of: expected a date"),
        ("US,6109,T,5,S,2026-01-01,maybe,", "row 1: confirmed: expected true or false"),
        ("US,6109,T,5,S,2026-01-01,true,,extra", "row 1: more fields than the 8 columns"),
        ("US,6109,T,5,,2026-01-01,true,", "row 1: source: missing"),
    ],
)
def test_bad_duty_rows_name_file_row_and_column(row: str, message: str) -> None:
    with pytest.raises(DataFileError) as error:
        parse_duty_rates(HEADER + row + "\n", "tariffs/t.csv")
    assert message in str(error.value)


def test_duplicate_duty_rows_and_missing_columns_are_rejected() -> None:
    row = "US,6109,T,5,S,2026-01-01,true,\n"
    with pytest.raises(DataFileError, match="row 2: hs_code: duplicate row for US 6109"):
        parse_duty_rates(HEADER + row + row, "tariffs/t.csv")
    with pytest.raises(DataFileError, match="header: missing column"):
        parse_duty_rates("market,hs_code\nUS,6109\n", "tariffs/t.csv")


def test_fee_schedules_must_not_overlap() -> None:
    schedule = """
[[schedules]]
effective_from = 2025-10-01
ad_valorem_percent = 0.3464
formal_minimum = 33.58
formal_maximum = 651.50
informal_entry_limit = 2500
informal_fee = 2.69
source = "S"
"""
    text = 'market = "US"\ncurrency = "USD"\n' + schedule + schedule
    with pytest.raises(DataFileError, match=r"us\.toml: schedules\[1\]\.effective_from: overlaps"):
        parse_fee_schedules(text, "tariffs/us.toml")
