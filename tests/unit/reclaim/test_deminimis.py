"""De minimis rules by market and date."""

from __future__ import annotations

import datetime as dt

import pytest

from customs.datafile import DataFileError
from customs.deminimis import DutyTreatment, ImportChannel, decide_de_minimis, parse_de_minimis
from customs.money import CurrencyMismatch, Money


def usd(value: str) -> Money:
    return Money.of(value, "USD")


def test_us_800_limit_is_inclusive_before_the_suspensions() -> None:
    assert decide_de_minimis("US", dt.date(2024, 6, 1), usd("800.00")).duty is DutyTreatment.EXEMPT
    over = decide_de_minimis("US", dt.date(2024, 6, 1), usd("800.01"))
    assert over.duty is DutyTreatment.ASSESSED
    assert over.import_tax_due


def test_us_suspension_for_china_and_hong_kong_from_2025_05_02() -> None:
    before = decide_de_minimis("US", dt.date(2025, 5, 1), usd("50"), origins=["CN"])
    on = decide_de_minimis("US", dt.date(2025, 5, 2), usd("50"), origins=["CN"])
    other = decide_de_minimis("US", dt.date(2025, 5, 2), usd("50"), origins=["VN"])
    assert before.duty is DutyTreatment.EXEMPT
    assert on.duty is DutyTreatment.ASSESSED
    assert "CN" in on.explanation
    assert other.duty is DutyTreatment.EXEMPT


def test_us_suspension_for_all_countries_from_2025_08_29() -> None:
    assert (
        decide_de_minimis("US", dt.date(2025, 8, 28), usd("50"), origins=["VN"]).duty is DutyTreatment.EXEMPT
    )
    after = decide_de_minimis("US", dt.date(2025, 8, 29), usd("50"), origins=["VN"])
    assert after.duty is DutyTreatment.ASSESSED
    assert after.import_tax_due
    assert after.rule_id == "us-de-minimis-suspended"


def test_eu_150_duty_relief_until_2026_06_30_with_vat_at_import_or_by_ioss() -> None:
    plain = decide_de_minimis("DE", dt.date(2026, 6, 30), Money.of("150.00", "EUR"))
    assert plain.duty is DutyTreatment.EXEMPT
    assert plain.import_tax_due
    assert not plain.tax_collected_at_sale
    ioss = decide_de_minimis("DE", dt.date(2026, 6, 30), Money.of("150.00", "EUR"), seller_collects_tax=True)
    assert ioss.tax_collected_at_sale
    assert not ioss.import_tax_due
    above = decide_de_minimis("DE", dt.date(2026, 6, 30), Money.of("150.01", "EUR"), seller_collects_tax=True)
    assert above.duty is DutyTreatment.ASSESSED
    assert above.import_tax_due


def test_eu_flat_duty_from_2026_07_01_is_for_ioss_sellers_and_unconfirmed() -> None:
    codes = ["6109.10", "6109.10.00", "8517.13"]
    ioss = decide_de_minimis(
        "IT", dt.date(2026, 7, 1), Money.of("90", "EUR"), seller_collects_tax=True, hs_codes=codes
    )
    assert ioss.flat_duty == Money.of("6.00", "EUR")
    assert not ioss.confirmed
    plain = decide_de_minimis("IT", dt.date(2026, 7, 1), Money.of("90", "EUR"), hs_codes=codes)
    assert plain.duty is DutyTreatment.ASSESSED
    assert plain.flat_duty is None


def test_uk_135_duty_relief_with_vat_charged_by_the_seller() -> None:
    within = decide_de_minimis("GB", dt.date(2026, 3, 1), Money.of("135.00", "GBP"))
    assert within.duty is DutyTreatment.EXEMPT
    assert within.tax_collected_at_sale
    assert not within.import_tax_due
    above = decide_de_minimis("GB", dt.date(2026, 3, 1), Money.of("135.01", "GBP"))
    assert above.duty is DutyTreatment.ASSESSED
    assert above.import_tax_due
    assert not above.tax_collected_at_sale


def test_australia_1000_threshold_with_gst_at_the_point_of_sale() -> None:
    within = decide_de_minimis("AU", dt.date(2026, 3, 1), Money.of("1000.00", "AUD"))
    assert within.duty is DutyTreatment.EXEMPT
    assert within.tax_collected_at_sale
    above = decide_de_minimis("AU", dt.date(2026, 3, 1), Money.of("1000.01", "AUD"))
    assert above.duty is DutyTreatment.ASSESSED
    assert above.import_tax_due


def test_japan_10000_yen_and_the_2028_change() -> None:
    within = decide_de_minimis("JP", dt.date(2026, 3, 1), Money.of(10000, "JPY"))
    assert within.duty is DutyTreatment.EXEMPT
    assert not within.import_tax_due
    assert decide_de_minimis("JP", dt.date(2026, 3, 1), Money.of(10001, "JPY")).duty is DutyTreatment.ASSESSED
    later = decide_de_minimis("JP", dt.date(2028, 4, 1), Money.of(10000, "JPY"))
    assert later.duty is DutyTreatment.EXEMPT
    assert later.import_tax_due
    assert not later.confirmed


def test_canada_thresholds_depend_on_where_goods_ship_from_not_origin() -> None:
    from_us = decide_de_minimis(
        "CA",
        dt.date(2026, 3, 1),
        Money.of("100", "CAD"),
        channel=ImportChannel.COURIER,
        shipped_from="US",
        origins=["CN"],
    )
    assert from_us.duty is DutyTreatment.EXEMPT
    assert from_us.import_tax_due


def test_value_in_another_currency_is_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        decide_de_minimis("GB", dt.date(2026, 3, 1), Money.of("100", "EUR"))


def test_no_rule_on_file_means_duty_and_tax_assumed_due() -> None:
    decision = decide_de_minimis("CA", dt.date(2019, 1, 1), Money.of("10", "CAD"))
    assert decision.rule_id is None
    assert decision.duty is DutyTreatment.ASSESSED
    assert decision.import_tax_due


RULE = """
market = "CA"
currency = "CAD"

[[rules]]
id = "a"
effective_from = 2020-07-01
source = "S"
bands = [{ channel = "post", duty_free_up_to = 20 }]
"""


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'channel = "post"',
            'channel = "pigeon"',
            r"deminimis/ca\.toml: rules\[0\]\.bands\[0\]\.channel: unknown value",
        ),
        (
            'source = "S"',
            'source = "S"\nseller_collection = "mandatory"',
            r"rules\[0\]\.seller_collects_up_to: required",
        ),
        ('currency = "CAD"', 'currency = "CAX"', r"currency: unknown currency 'CAX'"),
        (
            "duty_free_up_to = 20",
            "duty_free_up_to = -1",
            r"bands\[0\]\.duty_free_up_to: must not be negative",
        ),
        (
            'source = "S"',
            'source = "S"\nexcluded_origins = ["ZZ"]',
            r"excluded_origins\[0\]: unknown country",
        ),
    ],
)
def test_bad_rule_files_name_the_file_and_field(old: str, new: str, message: str) -> None:
    with pytest.raises(DataFileError, match=message):
        parse_de_minimis(RULE.replace(old, new), "deminimis/ca.toml")


def test_overlapping_rules_are_rejected() -> None:
    second = RULE + '\n[[rules]]\nid = "b"\neffective_from = 2021-01-01\nsource = "S"\n'
    with pytest.raises(DataFileError, match=r"rules\[1\]\.effective_from: overlaps rule 'a'"):
        parse_de_minimis(second, "deminimis/ca.toml")
