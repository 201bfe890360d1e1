"""The regime files: the packaged book loads, uncertain points are flagged, and bad files fail with errors
that name the file and the field; versions are picked by the case's date."""

from __future__ import annotations

import datetime as dt

import pytest

from customs.datafile import DataFileError
from customs.goods import ReturnReason
from customs.money import Money
from customs.reclaim import (
    ChargeComponent,
    LimitScope,
    calculate_duty_reclaim,
    load_regime_book,
    parse_regime,
    parse_regime_book,
)

from .cases import case, line

VALID = """
id = "test-regime"
market = "US"
name = "Test regime"
legal_basis = "Test Act s.1"
effective_from = 2020-01-01
claimant = "the importer"
currency = "USD"
confirmed = true

[[sources]]
citation = "Test Act"

[[time_limits]]
anchor = "import_date"
years = 1
applies_to = ["export", "claim"]
confirmed = true

[[refunds]]
component = "duty"
percent = 100
confirmed = true

[[forms]]
code = "T1"
name = "Test form"
authority = "Test customs"
"""


def test_packaged_book_covers_every_market_of_the_research() -> None:
    book = load_regime_book()
    assert book.markets() == ("AU", "CA", "EU", "GB", "JP", "US")
    for regime in book.regimes:
        assert regime.sources, regime.id
        assert regime.forms, regime.id
        assert regime.limits(LimitScope.CLAIM), regime.id


@pytest.mark.parametrize(
    ("regime_id", "component"),
    [
        ("us-1313c-rejected", ChargeComponent.MPF),  # MPF under 1313(c)
        ("us-1313c-retail-return", ChargeComponent.MPF),
        ("jp-faq1604-breach-of-contract", ChargeComponent.VAT),  # consumption tax under FAQ 1604
        ("eu-ucc118-rejected", ChargeComponent.VAT),  # import VAT follows national rules
    ],
)
def test_uncertain_refunds_are_flagged_unconfirmed(regime_id: str, component: ChargeComponent) -> None:
    (regime,) = load_regime_book().versions(regime_id)
    rule = regime.refund_rule(component)
    assert rule is not None
    assert not rule.confirmed


def test_uncertain_time_limit_of_canadian_casual_refund_is_flagged() -> None:
    (regime,) = load_regime_book().versions("ca-b2g-casual")
    assert [limit.confirmed for limit in regime.time_limits] == [False]
    (unused,) = load_regime_book().versions("us-1313j1-unused")
    assert unused.refund_rule(ChargeComponent.MPF) is not None
    assert unused.unconfirmed_points() == ()


def test_us_drawback_is_99_percent_and_excludes_antidumping_duties() -> None:
    for regime_id in ("us-1313j1-unused", "us-1313c-rejected", "us-1313c-retail-return"):
        (regime,) = load_regime_book().versions(regime_id)
        assert {rule.percent for rule in regime.refunds} == {99}
        assert [e.component for e in regime.exclusions] == [ChargeComponent.AD_CVD]


def test_valid_file_parses() -> None:
    regime = parse_regime(VALID, "reclaim/test.toml")
    assert regime.id == "test-regime"
    assert regime.time_limits[0].last_day(dt.date(2024, 2, 29)) == dt.date(2025, 2, 28)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("confirmed = true\n", "confirmed = true\ncolour = 'red'\n", 1),
            "reclaim/bad.toml: colour: unknown field",
        ),
        (
            ("percent = 100", "percent = 120", 1),
            "reclaim/bad.toml: refunds[0].percent: a percentage must be at most 100",
        ),
        (("percent = 100", "percent = 99", 1), "reclaim/bad.toml: refunds[0].retained_reason: required"),
        (('component = "duty"', 'component = "tarif"', 1), "refunds[0].component: unknown value 'tarif'"),
        (('market = "US"', 'market = "XX"', 1), "reclaim/bad.toml: market: unknown country 'XX'"),
        (("effective_from = 2020-01-01", 'effective_from = "soon"', 1), "effective_from: expected a date"),
        (
            ('applies_to = ["export", "claim"]', 'applies_to = ["export"]', 1),
            "no time limit applies to the claim",
        ),
        (('anchor = "import_date"', 'anchor = "today"', 1), "time_limits[0].anchor: unknown value 'today'"),
        (("[[forms]]", "[[forms]]\nextra = 1", 1), "forms[0].extra: unknown field"),
        (("years = 1", "years = 0", 1), "time_limits[0].years: a period needs years, months or days"),
        (("id = ", "id = = ", 1), "reclaim/bad.toml: not valid TOML"),
    ],
)
def test_bad_files_name_the_file_and_field(change: tuple[str, str, int], message: str) -> None:
    old, new, count = change
    assert old in VALID
    with pytest.raises(DataFileError) as error:
        parse_regime(VALID.replace(old, new, count), "reclaim/bad.toml")
    assert message in str(error.value)


def test_reasons_are_checked_against_the_return_reasons() -> None:
    text = VALID + '\n[conditions]\nreasons = ["defective", "bored"]\n'
    with pytest.raises(DataFileError, match=r"conditions\.reasons\[1\]: unknown value 'bored'"):
        parse_regime(text, "reclaim/bad.toml")


def test_a_component_cannot_be_refundable_and_always_excluded() -> None:
    text = VALID + '\n[[exclusions]]\ncomponent = "duty"\nreason = "no"\n'
    with pytest.raises(DataFileError, match=r"exclusions\[0\]\.component: duty is both refundable"):
        parse_regime(text, "reclaim/bad.toml")


def test_combinations_must_be_mutual() -> None:
    first = VALID.replace("confirmed = true\n", 'confirmed = true\ncombines_with = ["other"]\n', 1)
    second = VALID.replace('id = "test-regime"', 'id = "other"')
    with pytest.raises(DataFileError, match=r"reclaim/b\.toml: combines_with: must list 'test-regime'"):
        parse_regime_book([("reclaim/a.toml", first), ("reclaim/b.toml", second)])


def test_versions_of_a_regime_must_not_overlap() -> None:
    second = VALID.replace("effective_from = 2020-01-01", "effective_from = 2021-01-01")
    with pytest.raises(DataFileError, match="overlaps the version of test-regime"):
        parse_regime_book([("reclaim/a.toml", VALID), ("reclaim/b.toml", second)])


def test_the_version_in_force_on_the_case_date_decides_never_today() -> None:
    old = VALID.replace("confirmed = true\n", "effective_to = 2025-12-31\nconfirmed = true\n", 1)
    new = VALID.replace("effective_from = 2020-01-01", "effective_from = 2026-01-01").replace(
        "years = 1", "years = 2"
    )
    book = parse_regime_book([("reclaim/old.toml", old), ("reclaim/new.toml", new)])
    lines = (line("USD", duty="10.00"),)
    export = dt.date(2026, 12, 1)
    for imported, deadline in (
        (dt.date(2025, 12, 31), dt.date(2026, 12, 31)),
        (dt.date(2026, 1, 1), dt.date(2028, 1, 1)),
    ):
        reclaim = case("US", imported, export, lines, reason=ReturnReason.CHANGED_MIND)
        result = calculate_duty_reclaim(reclaim, book)
        (regime,) = result.regimes
        assert regime.filing_deadline == deadline
        assert result.refundable_total == Money.of("10.00", "USD")
