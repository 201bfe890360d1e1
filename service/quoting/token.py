"""Quote tokens: a quote as a signed, expiring string any replica can redeem, so quoting stores nothing.

Format: `q1.<payload>.<signature>`, both parts base64url without padding. The payload is a compact JSON
array [account, service, handover, amount, currency, shipment digest, merchant, expiry (Unix seconds)];
the signature is HMAC-SHA256 over `q1.<payload>` with the service's secret. Verification checks the
signature first (constant-time), then the merchant, the expiry and, when given, the shipment digest.
Older secrets may be listed for verification so a secret can be rotated without breaking live quotes.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

from carriers.models import Handover, ReturnShipment
from carriers.ratecard.card import normalise_postal_code
from customs.money import Money
from service.errors import (
    ApplicationError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    PermissionDenied,
)

_VERSION = "q1"
_MIN_SECRET_BYTES = 16
# Payload strings are written with the JSON encoder's own string escaping (what json.dumps(...,
# ensure_ascii=False) emits): a token is signed per quote, and an answer's quotes share most of the payload.
_json_string = encode_basestring
_HANDOVERS = {handover: _json_string(handover.value) for handover in Handover}
# What json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False) builds on every call.
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class QuoteTokenError(ApplicationError):
    """Base of every refusal of a quote token."""


def _violation(message: str) -> list[FieldViolation]:
    return [FieldViolation("quote_token", message)]


class MalformedQuoteToken(InvalidArgument, QuoteTokenError):
    def __init__(self, message: str) -> None:
        super().__init__(_violation(message), reason="QUOTE_TOKEN_MALFORMED")


class TamperedQuoteToken(InvalidArgument, QuoteTokenError):
    def __init__(self) -> None:
        super().__init__(
            _violation("signature does not match: the token was altered"), reason="QUOTE_TOKEN_INVALID"
        )


class QuoteShipmentMismatch(InvalidArgument, QuoteTokenError):
    def __init__(self) -> None:
        message = "the shipment differs from the one quoted (address, parcels or items): quote again"
        super().__init__(_violation(message), reason="QUOTE_SHIPMENT_MISMATCH")


class ExpiredQuoteToken(FailedPrecondition, QuoteTokenError):
    def __init__(self, expired_at: dt.datetime) -> None:
        super().__init__(
            f"the quote expired at {expired_at.isoformat()}: quote again", reason="QUOTE_EXPIRED"
        )
        self.expired_at = expired_at


class QuoteTokenWrongMerchant(PermissionDenied, QuoteTokenError):
    def __init__(self) -> None:
        super().__init__(
            "the quote token was issued to another merchant", reason="QUOTE_TOKEN_WRONG_MERCHANT"
        )


@dataclass(frozen=True, slots=True)
class QuoteClaims:
    account_id: str
    service_code: str
    handover: Handover
    price: Money
    shipment_digest: str  # hex SHA-256 of the shipment essentials, see shipment_digest()
    merchant_id: str
    expires_at: dt.datetime  # whole seconds, UTC


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64encode(data: bytes) -> str:
    """base64url without padding (binascii directly: base64.urlsafe_b64encode is two calls deeper)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _secret_bytes(secret: bytes | str) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    if len(key) < _MIN_SECRET_BYTES:
        raise ValueError(f"a quote token secret needs at least {_MIN_SECRET_BYTES} bytes")
    return key


class QuoteTokenSigner:
    def __init__(self, secret: bytes | str, *, previous_secrets: Sequence[bytes | str] = ()) -> None:
        # Keyed MAC states are prepared once and copied per token (saves the key schedule on every quote).
        self._mac = hmac.new(_secret_bytes(secret), digestmod=hashlib.sha256)
        self._verification_macs = (
            self._mac,
            *(hmac.new(_secret_bytes(s), digestmod=hashlib.sha256) for s in previous_secrets),
        )

    @staticmethod
    def _signature(keyed: hmac.HMAC, signed_part: str) -> bytes:
        mac = keyed.copy()
        mac.update(signed_part.encode("ascii"))
        return mac.digest()

    def for_answer(self, *, shipment_digest: str, merchant_id: str, expires_at: dt.datetime) -> AnswerTokens:
        """Signs the quotes of one answer, which share the shipment, the merchant and the expiry."""
        return AnswerTokens(self._mac, shipment_digest, merchant_id, expires_at)

    def sign(self, claims: QuoteClaims) -> str:
        tokens = self.for_answer(
            shipment_digest=claims.shipment_digest,
            merchant_id=claims.merchant_id,
            expires_at=claims.expires_at,
        )
        return tokens.sign(claims.account_id, claims.service_code, claims.handover, claims.price)

    def verify(
        self,
        token: str,
        *,
        merchant_id: str,
        now: dt.datetime,
        shipment_digest: str | None = None,
    ) -> QuoteClaims:
        """The token's claims, or a QuoteTokenError saying why it is refused."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _VERSION:
            raise MalformedQuoteToken(f"expected {_VERSION}.<payload>.<signature>")
        signed_part = f"{parts[0]}.{parts[1]}"
        try:
            signature = _b64decode(parts[2])
        except (binascii.Error, ValueError):
            raise MalformedQuoteToken("signature is not base64url") from None
        if not any(
            hmac.compare_digest(signature, self._signature(k, signed_part)) for k in self._verification_macs
        ):
            raise TamperedQuoteToken()
        claims = _decode_claims(parts[1])
        if not hmac.compare_digest(claims.merchant_id.encode(), merchant_id.encode()):
            raise QuoteTokenWrongMerchant()
        if now >= claims.expires_at:
            raise ExpiredQuoteToken(claims.expires_at)
        if shipment_digest is not None and not hmac.compare_digest(claims.shipment_digest, shipment_digest):
            raise QuoteShipmentMismatch()
        return claims


class AnswerTokens:
    """The quote tokens of one answer: the payload's common tail is written once, each token costs one
    HMAC (a copy of the keyed state) and two base64 encodings."""

    __slots__ = ("_mac", "_tail", "expires_at")

    def __init__(
        self, mac: hmac.HMAC, shipment_digest: str, merchant_id: str, expires_at: dt.datetime
    ) -> None:
        self._mac = mac
        self.expires_at = expires_at
        self._tail = (
            f",{_json_string(shipment_digest)},{_json_string(merchant_id)},{int(expires_at.timestamp())}]"
        )

    def sign(self, account_id: str, service_code: str, handover: Handover, price: Money) -> str:
        payload = (
            f"[{_json_string(account_id)},{_json_string(service_code)},{_HANDOVERS[handover]},"
            f'"{format(price.amount, "f")}",{_json_string(price.currency)}{self._tail}'
        )
        signed_part = f"{_VERSION}.{_b64encode(payload.encode())}"
        mac = self._mac.copy()
        mac.update(signed_part.encode("ascii"))
        return f"{signed_part}.{_b64encode(mac.digest())}"


def _decode_claims(body: str) -> QuoteClaims:
    # Only reached for correctly signed payloads: a failure here means a signer bug or a format change.
    try:
        account, service, handover, amount, currency, digest, merchant, expiry = json.loads(_b64decode(body))
        return QuoteClaims(
            account_id=str(account),
            service_code=str(service),
            handover=Handover(handover),
            price=Money(Decimal(amount), str(currency)),
            shipment_digest=str(digest),
            merchant_id=str(merchant),
            expires_at=dt.datetime.fromtimestamp(int(expiry), dt.UTC),
        )
    except (ValueError, TypeError, binascii.Error) as exc:
        raise MalformedQuoteToken(f"unreadable payload: {exc}") from exc


def _amount(money: Money) -> list[str]:
    return [format(money.amount.normalize(), "f"), money.currency]


def shipment_digest(shipment: ReturnShipment) -> str:
    """SHA-256 (hex) of the canonical JSON of what a price depends on and a label must match.

    Covered: origin (country, area, locality, postal code), destination (hub id, country, postal code),
    every parcel's weight and dimensions, every item's SKU, quantity, unit value, HS code and origin. Names,
    street lines and contact details may be corrected between quote and label without a new quote.
    """
    origin = shipment.customer.address
    destination = shipment.destination.address
    essentials: dict[str, Any] = {
        "from": [
            origin.country,
            origin.administrative_area,
            origin.locality.strip().casefold(),
            normalise_postal_code(origin.postal_code),
        ],
        "to": [
            shipment.destination_hub_id,
            destination.country,
            normalise_postal_code(destination.postal_code),
        ],
        "parcels": [[p.weight_grams, p.length_mm, p.width_mm, p.height_mm] for p in shipment.parcels],
        "items": [
            [item.sku, item.quantity, *_amount(item.unit_value), item.hs_code, item.origin_country]
            for item in shipment.items
        ],
    }
    return hashlib.sha256(_CANONICAL_JSON.encode(essentials).encode()).hexdigest()
