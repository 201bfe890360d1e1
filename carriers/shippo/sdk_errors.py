"""Shippo SDK failures as typed carrier errors; nothing the SDK raises leaves the adapter untyped.

shippo 3.9.0 raises `SDKError` (status, body, raw response) for every 4xx/5xx, lets requests' exceptions
through for timeouts and broken connections, and raises KeyError/TypeError/AttributeError or a JSON decode
error while turning an incomplete or malformed answer into its dataclasses.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from collections.abc import Mapping
from decimal import InvalidOperation
from typing import Any

import requests
from shippo.models.errors import SDKError

from carriers.errors import (
    AuthenticationFailed,
    CarrierError,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    RateLimited,
    TimedOut,
    Unavailable,
)

_ADDRESS_FIELDS = {
    "street1": "address.address_lines",
    "street2": "address.address_lines",
    "street3": "address.address_lines",
    "city": "address.locality",
    "state": "address.administrative_area",
    "zip": "address.postal_code",
    "country": "address.region_code",
    "company": "address.organization",
    "name": "contact.name",
    "phone": "contact.phone",
    "email": "contact.email",
}
_PARTIES = {"address_to": "customer", "address_from": "destination"}
_PARCEL_FIELDS = {"weight": "weight_grams", "length": "length_mm", "width": "width_mm", "height": "height_mm"}
_ITEM_FIELDS = {
    "net_weight": "unit_weight_grams",
    "value_amount": "unit_value",
    "value_currency": "unit_value.currency_code",
    "tariff_number": "hs_code",
    "hs_code": "hs_code",
    "origin_country": "origin_country",
    "description": "description",
    "quantity": "quantity",
    "sku_code": "sku",
}
_NOT_FIELDS = frozenset({"detail", "__all__", "non_field_errors", "messages"})


def retry_after_seconds(headers: Mapping[str, str], now: dt.datetime | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110 10.2.3); None when absent or bad."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def first_error(body: Any, path: tuple[str, ...] = ()) -> tuple[tuple[str, ...], str] | None:
    """The path and message of the first field error in Shippo's nested `{field: [messages]}` body."""
    if isinstance(body, str):
        return path, body
    if isinstance(body, Mapping):
        for key, value in body.items():
            found = first_error(value, (*path, str(key)))
            if found is not None:
                return found
    if isinstance(body, list):
        if body and all(isinstance(entry, str) for entry in body):
            return path, "; ".join(body)
        for index, entry in enumerate(body):
            found = first_error(entry, (*path, str(index)))
            if found is not None:
                return found
    return None


def canonical_field(parts: tuple[str, ...]) -> str:
    """Shippo's field path in canonical terms (`address_to.zip` -> `customer.address.postal_code`)."""
    if not parts or parts[0] in _NOT_FIELDS:
        return ""
    if parts[0] in _PARTIES and len(parts) == 2 and parts[1] in _ADDRESS_FIELDS:
        return f"{_PARTIES[parts[0]]}.{_ADDRESS_FIELDS[parts[1]]}"
    if parts[0] == "parcels" and len(parts) == 3 and parts[1].isdigit() and parts[2] in _PARCEL_FIELDS:
        return f"parcels[{parts[1]}].{_PARCEL_FIELDS[parts[2]]}"
    if parts[0] == "customs_declaration":
        parts = parts[1:]
    if len(parts) == 3 and parts[0] == "items" and parts[1].isdigit() and parts[2] in _ITEM_FIELDS:
        return f"items[{parts[1]}].{_ITEM_FIELDS[parts[2]]}"
    return ".".join(parts)


def _body(error: SDKError) -> Any:
    try:
        return json.loads(error.body)
    except ValueError:
        return error.body


def _message(body: Any) -> str:
    if isinstance(body, Mapping) and isinstance(body.get("detail"), str):
        return str(body["detail"])
    found = first_error(body)
    if found is None:
        return str(body)[:300]
    path, message = found
    return f"{'.'.join(path)}: {message}" if path else message


def from_sdk_error(error: SDKError, carrier: str) -> CarrierError:
    status = int(error.status_code)
    body = _body(error)
    message = _message(body)
    headers: Mapping[str, str] = error.raw_response.headers if error.raw_response is not None else {}
    if status in (401, 403):
        return AuthenticationFailed(f"Shippo refused the API token ({status}): {message}", carrier=carrier)
    if status == 402:
        return AuthenticationFailed(f"Shippo account cannot pay for this (402): {message}", carrier=carrier)
    if status == 404:
        return NotFound(f"Shippo: {message}", carrier=carrier)
    if status == 408:
        return TimedOut(f"Shippo timed out (408): {message}", carrier=carrier)
    if status == 429:
        return RateLimited(
            f"Shippo rate limit: {message}", retry_after_seconds=retry_after_seconds(headers), carrier=carrier
        )
    if status >= 500:
        return Unavailable(f"Shippo answered {status}: {message}", carrier=carrier)
    if 400 <= status < 500:
        found = first_error(body)
        field = canonical_field(found[0]) if found is not None else ""
        return InvalidRequest(
            f"Shippo refused the request ({status}): {message}", field=field, carrier=carrier
        )
    return MalformedResponse(f"Shippo answered {status} unexpectedly: {error.message}", carrier=carrier)


def translate(error: Exception, carrier: str) -> CarrierError:
    """The typed error for anything the SDK (or reading its answer) raised."""
    if isinstance(error, CarrierError):
        return error
    if isinstance(error, SDKError):
        return from_sdk_error(error, carrier)
    if isinstance(error, requests.exceptions.Timeout):
        return TimedOut(f"Shippo did not answer in time: {error}", carrier=carrier)
    if isinstance(error, requests.exceptions.JSONDecodeError | json.JSONDecodeError):
        return MalformedResponse(f"Shippo answered something that is not JSON: {error}", carrier=carrier)
    if isinstance(error, requests.exceptions.RequestException):
        return Unavailable(f"Shippo connection failed: {error}", carrier=carrier)
    if isinstance(error, KeyError | TypeError | AttributeError | ValueError | InvalidOperation | IndexError):
        return MalformedResponse(
            f"Shippo answer lacks what we need: {type(error).__name__}: {error}", carrier=carrier
        )
    return CarrierError(f"unexpected error calling Shippo: {type(error).__name__}: {error}", carrier=carrier)
