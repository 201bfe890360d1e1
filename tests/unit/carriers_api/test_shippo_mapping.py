"""Pure pieces of the Shippo adapter: error bodies, tracking numbers, webhook HMAC, carrier tokens."""

from __future__ import annotations

import pytest

from carriers.shippo.adapter import carrier_token
from carriers.shippo.sdk_errors import canonical_field, first_error
from carriers.shippo.tracking_numbers import tracking_number_patterns
from carriers.shippo.webhook_auth import TOKEN_HEADER, hmac_problem, signature, token_problem

BODY = b'{"event": "track_updated", "data": {}}'
SECRET = "s3cret"
T = 1_790_000_000


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"address_to": {"zip": ["This field is required."]}},
            (("address_to", "zip"), "This field is required."),
        ),
        (
            {"parcels": [{}, {"weight": ["Too light.", "Really."]}]},
            (("parcels", "1", "weight"), "Too light.; Really."),
        ),
        ({"detail": "Invalid token."}, (("detail",), "Invalid token.")),
        ({"parcels": [{}, {}]}, None),
        (["Something went wrong."], ((), "Something went wrong.")),
    ],
)
def test_first_error_of_a_nested_shippo_body(body: object, expected: object) -> None:
    assert first_error(body) == expected


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        (("address_to", "country"), "customer.address.region_code"),
        (("address_from", "email"), "destination.contact.email"),
        (("parcels", "2", "length"), "parcels[2].length_mm"),
        (("customs_declaration", "items", "0", "value_currency"), "items[0].unit_value.currency_code"),
        (("items", "1", "tariff_number"), "items[1].hs_code"),
        (("customs_declaration", "eel_pfc"), "eel_pfc"),
        (("detail",), ""),
        ((), ""),
    ],
)
def test_provider_fields_in_canonical_terms(path: tuple[str, ...], canonical: str) -> None:
    assert canonical_field(path) == canonical


@pytest.mark.parametrize(
    ("number", "carrier"),
    [
        ("1Z999AA10123456784", "ups"),
        ("9400111899560000000001", "usps"),
        ("9205590164917312751089", "usps"),
        ("LZ123456785US", "usps"),
        ("123456789012", "fedex"),
        ("123456789012345", "fedex"),
        ("1234567890", "dhl_express"),
        (" 1z999aa10123456784 ", "ups"),
        ("RR123456785DE", None),
        ("12345", None),
    ],
)
def test_the_carrier_of_a_tracking_number(number: str, carrier: str | None) -> None:
    assert tracking_number_patterns().carrier_for(number) == carrier


@pytest.mark.parametrize(
    ("provider", "token"),
    [("USPS", "usps"), ("UPS", "ups"), ("FedEx", "fedex"), ("DHL Express", "dhl_express")],
)
def test_carrier_tokens_from_rate_providers(provider: str, token: str) -> None:
    assert carrier_token(provider) == token


class TestHmac:
    def check(self, value: str, now: float = T, body: bytes = BODY) -> str | None:
        return hmac_problem(
            {"Shippo-Auth-Signature": value},
            body,
            SECRET,
            header_name="shippo-auth-signature",
            max_age_seconds=300,
            now=now,
        )

    def test_a_fresh_correct_signature_passes(self) -> None:
        assert self.check(signature(BODY, SECRET, T)) is None
        assert self.check(signature(BODY, SECRET, T), now=T + 299) is None

    def test_any_of_several_signatures_may_match(self) -> None:
        good = signature(BODY, SECRET, T).split("v1=")[1]
        assert self.check(f"t={T},v1={'0' * 64},v1={good}") is None

    @pytest.mark.parametrize(
        ("value", "now", "problem"),
        [
            ("", T, "missing"),
            ("sha256=abc", T, "not t=<unix time>"),
            (f"t={T}", T, "not t=<unix time>"),
            (f"t=soon,v1={'0' * 64}", T, "not t=<unix time>"),
            (f"t={T},v1={'0' * 64}", T, "does not match"),
            (signature(BODY, SECRET, T), T + 301, "replay"),
            (signature(BODY, SECRET, T), T - 301, "replay"),
            (signature(BODY, "other", T), T, "does not match"),
        ],
    )
    def test_problems(self, value: str, now: float, problem: str) -> None:
        found = self.check(value, now)
        assert found is not None
        assert problem in found

    def test_the_signature_covers_the_timestamp(self) -> None:
        moved = signature(BODY, SECRET, T).replace(f"t={T}", f"t={T + 1}")
        assert self.check(moved) is not None


def test_token_check() -> None:
    assert token_problem({TOKEN_HEADER.upper(): "abc"}, "abc") is None
    assert token_problem({TOKEN_HEADER: "abd"}, "abc") == "webhook token does not match"
    missing = token_problem({}, "abc")
    assert missing is not None
    assert "?token=" in missing
