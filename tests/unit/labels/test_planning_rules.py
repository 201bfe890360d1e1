"""Request checks and the customer's locale, before anything is planned or bought."""

from __future__ import annotations

import pytest

from customs.address import Address
from service.labels.model import CreateLabelRequest, ExplicitRate, QuotedRate
from service.labels.planning import customer_locale, request_violations
from service.quoting.request import ShipmentInput

TOKEN = QuotedRate("q1.x.y")


def request(
    key: str = "rma-1", rate: QuotedRate | ExplicitRate | None = TOKEN, locale: str = ""
) -> CreateLabelRequest:
    return CreateLabelRequest("m1", key, ShipmentInput(customer=None, parcels=()), rate, None, locale)


def fields(found: CreateLabelRequest) -> list[str]:
    return [v.field for v in request_violations(found)]


def test_a_complete_request_has_no_problems() -> None:
    assert fields(request()) == []
    assert fields(request(rate=ExplicitRate("sandbox", "sandbox_standard"), locale="de-CH")) == []


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        (request(key=""), ["idempotency_key"]),
        (request(key="   "), ["idempotency_key"]),
        (request(key="k" * 129), ["idempotency_key"]),
        (request(rate=None), ["rate"]),
        (request(rate=QuotedRate(" ")), ["quote_token"]),
        (
            request(rate=ExplicitRate("", "")),
            ["explicit_rate.carrier_account_id", "explicit_rate.service_code"],
        ),
        (request(locale="not a locale!"), ["customer_locale"]),
        (request(locale="x" * 40), ["customer_locale"]),
    ],
)
def test_each_bad_field_is_named(found: CreateLabelRequest, expected: list[str]) -> None:
    assert fields(found) == expected


def test_a_key_of_128_characters_is_accepted() -> None:
    assert fields(request(key="k" * 128)) == []


@pytest.mark.parametrize(
    ("requested", "address", "expected"),
    [
        ("ja-JP", Address("DE", ("Street 1",), "Berlin", "10115", language_code="de"), "ja-JP"),
        ("", Address("CH", ("Street 1",), "Genève", "1201", language_code="fr"), "fr"),
        ("", Address("DE", ("Street 1",), "Berlin", "10115"), "de-DE"),
        ("", Address("JP", ("1-1 Chiyoda",), "Tokyo", "100-0001"), "ja-JP"),
        ("", Address("AQ", ("Station",), "Base"), "en"),
    ],
)
def test_the_locale_falls_back_from_the_request_to_the_address_to_the_country(
    requested: str, address: Address, expected: str
) -> None:
    assert customer_locale(requested, address) == expected
