import base64
import dataclasses
import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carriers.models import Handover, Parcel
from customs.money import Money
from service.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from service.quoting.token import (
    ExpiredQuoteToken,
    MalformedQuoteToken,
    QuoteClaims,
    QuoteShipmentMismatch,
    QuoteTokenSigner,
    QuoteTokenWrongMerchant,
    TamperedQuoteToken,
    shipment_digest,
)

from ..carriers.sample_shipments import return_shipment

NOW = dt.datetime(2026, 11, 10, 10, 0, tzinfo=dt.UTC)
SIGNER = QuoteTokenSigner("a-secret-long-enough-for-hmac-sha256")
CLAIMS = QuoteClaims(
    account_id="tulip-parcel",
    service_code="retour_standard",
    handover=Handover.DROP_OFF,
    price=Money.of("9.80", "EUR"),
    shipment_digest=shipment_digest(return_shipment("DE", "10115")),
    merchant_id="m-1",
    expires_at=NOW + dt.timedelta(minutes=30),
)


def test_round_trip() -> None:
    token = SIGNER.sign(CLAIMS)
    assert token.startswith("q1.")
    assert len(token) < 400
    assert all(c.isalnum() or c in "-_." for c in token)  # url-safe
    assert SIGNER.verify(token, merchant_id="m-1", now=NOW, shipment_digest=CLAIMS.shipment_digest) == CLAIMS


def _resigned_payload(token: str, change: dict[int, object]) -> str:
    """The token with its payload edited but the original signature kept (what an attacker can do)."""
    version, body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    for index, value in change.items():
        payload[index] = value
    edited = (
        base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=").decode()
    )
    return f"{version}.{edited}.{signature}"


@pytest.mark.parametrize("change", [{3: "0.01"}, {1: "retour_ophalen"}, {0: "rhein-paket"}, {7: 4102444800}])
def test_a_tampered_payload_is_rejected(change: dict[int, object]) -> None:
    tampered = _resigned_payload(SIGNER.sign(CLAIMS), change)
    with pytest.raises(TamperedQuoteToken) as caught:
        SIGNER.verify(tampered, merchant_id="m-1", now=NOW)
    assert isinstance(caught.value, InvalidArgument)
    assert caught.value.violations[0].field == "quote_token"


def test_a_tampered_signature_or_another_secret_is_rejected() -> None:
    token = SIGNER.sign(CLAIMS)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(TamperedQuoteToken):
        SIGNER.verify(flipped, merchant_id="m-1", now=NOW)
    with pytest.raises(TamperedQuoteToken):
        QuoteTokenSigner("another-secret-long-enough-for-hmac").verify(token, merchant_id="m-1", now=NOW)


def test_an_expired_token_is_rejected() -> None:
    token = SIGNER.sign(CLAIMS)
    with pytest.raises(ExpiredQuoteToken) as caught:
        SIGNER.verify(token, merchant_id="m-1", now=CLAIMS.expires_at)
    assert isinstance(caught.value, FailedPrecondition)
    assert SIGNER.verify(token, merchant_id="m-1", now=CLAIMS.expires_at - dt.timedelta(seconds=1))


def test_another_merchants_token_is_rejected() -> None:
    with pytest.raises(QuoteTokenWrongMerchant) as caught:
        SIGNER.verify(SIGNER.sign(CLAIMS), merchant_id="m-2", now=NOW)
    assert isinstance(caught.value, PermissionDenied)


def test_a_different_shipment_is_rejected() -> None:
    heavier = shipment_digest(return_shipment("DE", "10115", Parcel(5000, 300, 200, 100)))
    with pytest.raises(QuoteShipmentMismatch):
        SIGNER.verify(SIGNER.sign(CLAIMS), merchant_id="m-1", now=NOW, shipment_digest=heavier)


@pytest.mark.parametrize("token", ["", "q1.abc", "q2.abc.def", "q1.abc.def.ghi", "q1.abc.!!!"])
def test_malformed_tokens_are_rejected(token: str) -> None:
    with pytest.raises((MalformedQuoteToken, TamperedQuoteToken)):
        SIGNER.verify(token, merchant_id="m-1", now=NOW)


def test_rotated_secrets_still_verify_live_quotes() -> None:
    old = QuoteTokenSigner("the-previous-secret-of-the-service")
    rotated = QuoteTokenSigner(
        "the-current-secret-of-the-service", previous_secrets=["the-previous-secret-of-the-service"]
    )
    assert rotated.verify(old.sign(CLAIMS), merchant_id="m-1", now=NOW) == CLAIMS


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        QuoteTokenSigner("short")


def test_digest_ignores_names_and_street_lines_but_not_what_prices_depend_on() -> None:
    base = return_shipment("DE", "10115")
    renamed = dataclasses.replace(
        base,
        customer=dataclasses.replace(
            base.customer,
            contact=dataclasses.replace(base.customer.contact, name="Someone Else"),
            address=dataclasses.replace(
                base.customer.address, lines=("Other street 9",), postal_code="101 15"
            ),
        ),
    )
    assert shipment_digest(renamed) == shipment_digest(base)
    moved = dataclasses.replace(
        base,
        customer=dataclasses.replace(
            base.customer, address=dataclasses.replace(base.customer.address, postal_code="25980")
        ),
    )
    assert shipment_digest(moved) != shipment_digest(base)
    other_hub = return_shipment("DE", "10115", hub_id="UK_HUB")
    assert shipment_digest(other_hub) != shipment_digest(base)


@settings(max_examples=50)
@given(
    st.decimals(min_value=0, max_value=10_000, places=2),
    st.sampled_from(list(Handover)),
    st.text(min_size=1, max_size=20),
    st.text(min_size=1, max_size=20),
)
def test_any_claims_round_trip(amount: Decimal, handover: Handover, merchant: str, service: str) -> None:
    claims = dataclasses.replace(
        CLAIMS, price=Money.of(amount, "EUR"), handover=handover, merchant_id=merchant, service_code=service
    )
    token = SIGNER.sign(claims)
    assert SIGNER.verify(token, merchant_id=merchant, now=NOW) == claims
    # The payload is the JSON array of the claims, whatever characters they hold.
    body = token.split(".")[1]
    assert json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))[1:3] == [
        service,
        handover.value,
    ]


def test_an_answers_tokens_are_those_of_its_claims() -> None:
    tokens = SIGNER.for_answer(
        shipment_digest=CLAIMS.shipment_digest, merchant_id="m-1", expires_at=CLAIMS.expires_at
    )
    pickup = dataclasses.replace(CLAIMS, handover=Handover.PICKUP, price=Money.of("13.05", "EUR"))
    for claims in (CLAIMS, pickup):
        token = tokens.sign(claims.account_id, claims.service_code, claims.handover, claims.price)
        assert token == SIGNER.sign(claims)
        assert (
            SIGNER.verify(token, merchant_id="m-1", now=NOW, shipment_digest=CLAIMS.shipment_digest) == claims
        )
