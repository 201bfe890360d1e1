"""Who may read which tracking: per-label tracking tokens, and the selections callers may stream.

A tracking token is what a customer-facing app holds to read one return's tracking.

`bht_<payload>.<signature>`: the payload (base64url) names the merchant, the label and the expiry; the
signature is HMAC-SHA256 under a key derived from the service's token secret (the one quote tokens use,
`Settings.token_signing_secret`), so every replica sharing that secret verifies tokens any replica issued,
and a quote token can never pass for a tracking token. Nothing is stored: a token is valid until it expires.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Sequence

from service.auth import Principal
from service.errors import InvalidArgument, PermissionDenied
from service.tracking.model import normalise_tracking_number
from service.tracking.selection import EventSelection

TOKEN_PREFIX = "bht_"
_KEY_PURPOSE = b"backhaul.v1 tracking token"
_SEPARATOR = "\x1f"
_MAX_TOKEN_LENGTH = 1024


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TrackingTokens:
    def __init__(
        self,
        secret: bytes,
        *,
        validity: dt.timedelta,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        if not secret:
            raise ValueError("a tracking token secret must not be empty")
        self._key = hmac.new(secret, _KEY_PURPOSE, hashlib.sha256).digest()
        self._validity = validity
        self._clock = clock

    def issue(self, merchant_id: str, label_id: str) -> str:
        """A token letting its holder read `label_id`'s tracking (and nothing else) until it expires."""
        if not merchant_id or not label_id:
            raise ValueError("a tracking token names a merchant and a label")
        if _SEPARATOR in merchant_id or _SEPARATOR in label_id:
            raise ValueError("merchant and label ids must not contain control characters")
        expires = int((self._clock() + self._validity).timestamp())
        payload = _encode(_SEPARATOR.join((merchant_id, label_id, str(expires))).encode())
        return f"{TOKEN_PREFIX}{payload}.{self._sign(payload)}"

    def verify(self, token: str) -> Principal | None:
        """The label-scoped principal of a genuine, unexpired token; None for anything else."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > _MAX_TOKEN_LENGTH:
            return None
        payload, dot, signature = token.removeprefix(TOKEN_PREFIX).partition(".")
        if not dot or not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            return None
        try:
            merchant_id, label_id, expires = _decode(payload).decode().split(_SEPARATOR)
            expired = int(expires) <= self._clock().timestamp()
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        if expired or not merchant_id or not label_id:
            return None
        return Principal(merchant_id, label_id)

    def _sign(self, payload: str) -> str:
        return _encode(hmac.new(self._key, (TOKEN_PREFIX + payload).encode(), hashlib.sha256).digest())


def stream_selection(
    principal: Principal,
    *,
    label_ids: Sequence[str] = (),
    tracking_numbers: Sequence[str] = (),
    whole_merchant: bool = False,
) -> EventSelection:
    """What a caller may stream: a merchant picks labels, tracking numbers or everything; a tracking token
    sees its own label only (asking for it explicitly, or for nothing in particular)."""
    if principal.label_id is not None:
        if tracking_numbers or whole_merchant or any(label != principal.label_id for label in label_ids):
            raise PermissionDenied("a tracking token can only read its own label's tracking")
        return EventSelection(principal.merchant_id, label_ids=frozenset({principal.label_id}))
    if label_ids:
        return EventSelection(principal.merchant_id, label_ids=frozenset(label_ids))
    if tracking_numbers:
        numbers = frozenset(normalise_tracking_number(number) for number in tracking_numbers)
        return EventSelection(principal.merchant_id, tracking_numbers=numbers)
    if whole_merchant:
        return EventSelection(principal.merchant_id)
    raise InvalidArgument.single("filter", "choose labels, tracking_numbers or merchant")
