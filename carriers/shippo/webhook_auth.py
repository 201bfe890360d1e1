"""Verifying a Shippo webhook delivery: the URL token and, when enabled for the account, the HMAC header.

Shippo signs nothing by default. It offers a self-chosen token in the webhook URL (`?token=...`) and, on
request, HMAC: a header `Shippo-Auth-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.
The port hands adapters headers only, so the HTTP webhook endpoint copies the URL's `token` query parameter
into the `TOKEN_HEADER` header before calling `parse_webhook`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

TOKEN_HEADER = "x-backhaul-webhook-token"
TOKEN_QUERY_PARAMETER = "token"


def header(headers: Mapping[str, str], name: str) -> str:
    """A header's value by case-insensitive name ("" when absent)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), "")


def signature(body: bytes, secret: str, timestamp: int) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def token_problem(headers: Mapping[str, str], expected: str) -> str | None:
    """Why the delivery's token is not `expected`, or None when it is."""
    given = header(headers, TOKEN_HEADER)
    if not given:
        return f"webhook token missing (the endpoint passes ?{TOKEN_QUERY_PARAMETER}= as {TOKEN_HEADER})"
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return "webhook token does not match"
    return None


def hmac_problem(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    *,
    header_name: str,
    max_age_seconds: float,
    now: float | None = None,
) -> str | None:
    """Why the HMAC header does not vouch for `body`, or None when it does (and is fresh)."""
    value = header(headers, header_name)
    if not value:
        return f"{header_name} header missing"
    fields: dict[str, list[str]] = {}
    for part in value.split(","):
        key, _, item = part.strip().partition("=")
        fields.setdefault(key, []).append(item)
    stamps, signatures = fields.get("t", []), fields.get("v1", [])
    if len(stamps) != 1 or not stamps[0].isdigit() or not signatures:
        return f"{header_name} is not t=<unix time>,v1=<hex>"
    timestamp = int(stamps[0])
    current = time.time() if now is None else now
    if abs(current - timestamp) > max_age_seconds:
        return f"{header_name} timestamp is more than {max_age_seconds:.0f} s away from now (replay?)"
    expected = signature(body, secret, timestamp).split("v1=", 1)[1]
    if not any(hmac.compare_digest(candidate.encode(), expected.encode()) for candidate in signatures):
        return f"{header_name} does not match the body"
    return None
