"""Simulator profiles validated at load, lanes as people write them, and periods on the command line."""

from __future__ import annotations

import datetime as dt

import pytest

from carriers.tracking import ExceptionReason
from customs.datafile import DataFileError, parse_toml
from customs.goods import ReturnReason
from service.cli import parse_instant
from service.insights.model import Lane
from service.insights.profiles import load_profiles, parse_profiles

NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)


def test_the_packaged_profiles_load() -> None:
    profiles = load_profiles()
    assert {c.country for c in profiles.countries} >= {"DE", "GB", "US", "CH"}
    sandbox = profiles.carriers["sandbox"]
    assert sandbox.services == {"sandbox_standard": 4.0, "sandbox_express": 1.0}
    assert ExceptionReason.CUSTOMS_DELAY in sandbox.customs
    assert ExceptionReason.LOST in sandbox.exceptions
    tee = next(s for s in profiles.skus if s.sku == "TEE-CREW-M")
    assert tee.reasons[ReturnReason.WRONG_SIZE] == 50


BASE = """
source = "t"
effective_from = 2026-11-26
[customers]
never_sent = 0.1
voided_when_never_sent = 0.5
second_unit = 0.1
max_lines = 2
quote_lead_minutes = 5
[parcel]
packaging_grams = 100
length_mm = 1
width_mm = 1
height_mm = 1
[[countries]]
country = "DE"
share = 1
locality = "Köln"
postal_code = "50667"
street = "x"
[[skus]]
sku = "A"
description = "a"
hs_code = "6109.10"
origin_country = "PT"
unit_value = "1.00"
currency = "EUR"
unit_weight_grams = 1
share = 1
reasons = { wrong_size = 1 }
"""
CARRIER = """
[[carriers]]
account = "sandbox"
choice = 1
drop_off_days = { median = 1, sigma = 0.5 }
transit_factor = { median = 1, sigma = 0.5 }
exceptions = { lost = 0.01 }
exception_delay_days = { median = 1, sigma = 0.5 }
customs = { customs_delay = 0.1 }
customs_hold_days = { median = 1, sigma = 0.5 }
returned_to_sender = 0.01
quote = { error_rate = 0.01, timeout_rate = 0.01, latency_ms = { median = 20, sigma = 0.5 } }
"""


def test_a_small_profile_file_parses() -> None:
    profiles = parse_profiles(parse_toml(BASE + CARRIER, "p.toml"))
    assert profiles.carriers["sandbox"].exceptions == {ExceptionReason.LOST: 0.01}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("error_rate = 0.01", "error_rate = 1.5"),
            r"p\.toml: carriers\[0\]\.quote\.error_rate: must be between 0 and 1",
        ),
        (
            ("exceptions = { lost = 0.01 }", "exceptions = { customs_delay = 0.01 }"),
            r"carriers\[0\]\.exceptions\.customs_delay: unknown field",
        ),
        (
            ("median = 20", "median = 0"),
            r"carriers\[0\]\.quote\.latency_ms\.median: must be greater than zero",
        ),
    ],
)
def test_bad_profiles_are_refused_naming_file_and_field(change: tuple[str, str], message: str) -> None:
    with pytest.raises(DataFileError, match=message):
        parse_profiles(parse_toml(BASE + CARRIER.replace(*change), "p.toml"))


def test_unknown_return_reasons_are_refused() -> None:
    with pytest.raises(DataFileError, match=r"p\.toml: skus\[0\]\.reasons\.wrong_fit: .wrong_fit. is not"):
        parse_profiles(parse_toml(BASE.replace("wrong_size = 1", "wrong_fit = 1") + CARRIER, "p.toml"))


def test_lanes_parse_as_written() -> None:
    assert Lane.parse("DE-EU_HUB") == Lane("DE", "EU_HUB")
    assert Lane.parse("de-eu_hub") == Lane("DE", "EU_HUB")
    assert Lane.parse("DE-") == Lane("DE", "")
    assert Lane.parse("-UK_HUB") == Lane("", "UK_HUB")
    assert str(Lane("DE", "EU_HUB")) == "DE-EU_HUB"
    with pytest.raises(ValueError, match="COUNTRY-HUB"):
        Lane.parse("Germany")


def test_periods_on_the_command_line() -> None:
    assert parse_instant("90d", NOW) == NOW - dt.timedelta(days=90)
    assert parse_instant("2w", NOW) == NOW - dt.timedelta(days=14)
    assert parse_instant("36h", NOW) == NOW - dt.timedelta(hours=36)
    assert parse_instant("2026-09-01", NOW) == dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    assert parse_instant("2026-09-01T10:00+02:00", NOW) == dt.datetime(2026, 9, 1, 8, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="Invalid isoformat"):
        parse_instant("soon", NOW)
