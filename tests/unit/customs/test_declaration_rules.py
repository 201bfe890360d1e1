"""The rule files behind declarations: EORI formats, lane scopes, dates, and load-time errors."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from customs.datafile import DataFileError, parse_toml
from customs.declaration import InvalidEori, declaration_rules, validate_eori
from customs.declaration.requirements import (
    DatedRule,
    Direction,
    Lane,
    LaneScope,
    parse_declaration_rules,
)
from customs.territories import customs_territories


@pytest.mark.parametrize(
    ("raw", "issuer", "number"),
    [
        ("DE123456789012345", "DE", "123456789012345"),
        ("fr 1234 5678 901", "FR", "12345678901"),
        ("GB123456789000", "GB", "123456789000"),
        ("XI-123456789000", "XI", "123456789000"),
        ("ATEOS1000012345", "AT", "EOS1000012345"),
        ("EL123456789", "EL", "123456789"),
    ],
)
def test_valid_eoris_are_normalised(raw: str, issuer: str, number: str) -> None:
    eori = validate_eori(raw)
    assert (eori.issuer, eori.number, str(eori)) == (issuer, number, issuer + number)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("GB12345678900", "GB or XI (Northern Ireland) followed by 12 digits"),
        ("GB12345678900A", "GB or XI (Northern Ireland) followed by 12 digits"),
        ("XI12345", "GB or XI (Northern Ireland) followed by 12 digits"),
        ("DE1234567890123456", "up to 15 letters or digits"),
        ("DE12345_678", "up to 15 letters or digits"),
        ("US123456", "US does not issue EORI numbers"),
        ("CH123456", "CH does not issue EORI numbers"),
        ("MC123456", "MC does not issue EORI numbers"),
        ("DE", "too short"),
    ],
)
def test_invalid_eoris_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidEori) as caught:
        validate_eori(raw)
    assert reason in caught.value.reason


def test_the_shipped_rules_load_with_their_sources() -> None:
    rules = declaration_rules()
    assert rules.postal_forms.letter_post_max_grams == 2000
    assert str(rules.postal_forms.cn22_max_value) == "300.00 XDR"
    dated = [
        *(r.rule for r in rules.tax_ids),
        *(r.rule for r in rules.references),
        *(r.rule for r in rules.export_filings),
    ]
    ids = [rule.id for rule in dated]
    assert len(ids) == len(set(ids))
    assert {"eu-import-eori", "gb-import-eori", "us-american-goods-returned", "us-eei"} <= set(ids)
    assert all(rule.source and rule.summary for rule in dated)
    (eei,) = rules.export_filings
    assert (str(eei.threshold), eei.exempt_destinations["CA"]) == ("2500.00 USD", "NOEEI 30.36")


def test_rules_apply_between_their_dates() -> None:
    rule = DatedRule("r", "s", "src", dt.date(2021, 1, 1), dt.date(2028, 1, 1))
    assert not rule.in_force_on(dt.date(2020, 12, 31))
    assert rule.in_force_on(dt.date(2021, 1, 1))
    assert rule.in_force_on(dt.date(2027, 12, 31))
    assert not rule.in_force_on(dt.date(2028, 1, 1))
    assert DatedRule("p", "s", "src", None, None).in_force_on(dt.date(1990, 1, 1))


@pytest.mark.parametrize(
    ("scope", "lane", "matches"),
    [
        (LaneScope("EU", Direction.IMPORT), Lane("CH", "EU"), True),
        (LaneScope("EU", Direction.IMPORT), Lane("EU", "CH"), False),
        (LaneScope("EU", Direction.EXPORT), Lane("EU", "CH"), True),
        (LaneScope("EU", Direction.ANY), Lane("GB", "EU"), True),
        (LaneScope("EU", Direction.ANY), Lane("GB", "US"), False),
        (LaneScope("*", Direction.ANY), Lane("GB", "US"), True),
    ],
)
def test_lane_scopes(scope: LaneScope, lane: Lane, matches: bool) -> None:
    assert scope.matches(lane) is matches


_RULES = """
[upu]
cn22_max_value = { amount = "300", currency = "XDR" }
letter_post_max_grams = 2000
source = "UPU"

[formats.aes_itn]
pattern = "X[0-9]{14}"
description = "an ITN"
source = "FTR"

[[eori_formats]]
issuers = ["GB", "XI"]
number = "[0-9]{12}"
description = "GB + 12 digits"
source = "HMRC"

[[tax_ids]]
id = "gb-import-eori"
summary = "s"
territory = "GB"
direction = "import"
party = "addressee"
party_kind = "business"
scheme = "EORI"
accepted_issuers = ["GB", "XI"]
source = "HMRC"

[[references]]
id = "us-american-goods-returned"
summary = "s"
territory = "US"
direction = "import"
when_origin = "US"
fields = ["export_reference"]
formats = { export_reference = "aes_itn" }
source = "HTSUS"
"""

FILE = "customs/data/declaration_requirements.toml"


def _parse(text: str) -> None:
    parse_declaration_rules(parse_toml(text, FILE), customs_territories())


def test_the_sample_rules_parse() -> None:
    _parse(_RULES)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('amount = "300"', 'amount = "lots"', "upu.cn22_max_value: not a decimal amount"),
        ('currency = "XDR"', 'currency = "XYZ"', "upu.cn22_max_value: unknown currency 'XYZ'"),
        (
            "letter_post_max_grams = 2000",
            "letter_post_max_grams = 0",
            "upu.letter_post_max_grams: must be at least 1, got 0",
        ),
        ('pattern = "X[0-9]{14}"', 'pattern = "X[0-9"', "formats.aes_itn.pattern: not a valid regular"),
        (
            'issuers = ["GB", "XI"]',
            'issuers = ["GB", "x1"]',
            "eori_formats[0].issuers[1]: expected a territory",
        ),
        ('territory = "GB"', 'territory = "XX"', "tax_ids[0].territory: 'XX' is neither a territory"),
        ('territory = "GB"', 'territory = "DE"', "tax_ids[0].territory: DE belongs to a customs territory"),
        (
            'direction = "import"\nparty',
            'direction = "in"\nparty',
            "tax_ids[0].direction: unknown value 'in' (expected one of: import, export, any)",
        ),
        (
            'party = "addressee"',
            'party = "importer"',
            "tax_ids[0].party: unknown value 'importer' (expected one of: sender, addressee)",
        ),
        (
            'scheme = "EORI"',
            'scheme = "VAT"',
            "tax_ids[0].scheme: unknown value 'VAT' (expected one of: EORI)",
        ),
        (
            'territory = "GB"',
            'territory = "IM"',
            "tax_ids[0].territory: IM belongs to a customs territory: name the territory instead",
        ),
        ('fields = ["export_reference"]', 'fields = ["awb"]', "references[0].fields[0]: expected one of"),
        ('when_origin = "US"', 'when_origin = "USA"', "references[0].when_origin: unknown country"),
        (
            '{ export_reference = "aes_itn" }',
            '{ export_reference = "mrn" }',
            "references[0].formats.export_reference: unknown format 'mrn'",
        ),
        (
            '{ export_reference = "aes_itn" }',
            '{ invoice_number = "aes_itn" }',
            "references[0].formats.invoice_number: is not one of this rule's fields",
        ),
        ('source = "HTSUS"', 'source = ""', "references[0].source: expected a non-empty string"),
        (
            'summary = "s"\nterritory = "US"',
            'summary = "s"\neffective_from = "2020"\nterritory = "US"',
            "references[0].effective_from: expected a date",
        ),
    ],
)
def test_a_malformed_rule_file_names_the_file_and_the_field(old: str, new: str, message: str) -> None:
    assert old in _RULES
    with pytest.raises(DataFileError, match=re.escape(f"{FILE}: {message}")):
        _parse(_RULES.replace(old, new, 1))


def test_invalid_toml_names_the_file() -> None:
    with pytest.raises(DataFileError, match=re.escape(f"{FILE}: not valid TOML")):
        parse_toml("[upu\n", FILE)


@pytest.mark.parametrize(
    ("issuer", "on", "accepted"),
    [
        ("DE", dt.date(2026, 1, 1), True),
        ("XI", dt.date(2026, 1, 1), True),  # Northern Ireland: a prefix listed as such
        ("GB", dt.date(2020, 12, 31), True),  # the UK applied the Union's customs rules until then
        ("GB", dt.date(2021, 1, 1), False),
        ("HR", dt.date(2013, 6, 30), False),
        ("HR", dt.date(2013, 7, 1), True),
        ("CH", dt.date(2026, 1, 1), False),
    ],
)
def test_a_territory_among_accepted_issuers_means_its_members_on_the_declaration_date(
    issuer: str, on: dt.date, accepted: bool
) -> None:
    (rule,) = [r for r in declaration_rules().tax_ids if r.rule.id == "eu-import-eori"]
    assert rule.accepted_issuers == {"EU", "XI"}
    assert rule.accepts_issuer(issuer, on) is accepted
