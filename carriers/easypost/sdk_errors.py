"""EasyPost SDK failures as typed carrier errors; nothing the SDK raises leaves the adapter untyped.

easypost 10.7.0 builds its error from the HTTP status but drops the response headers, and turns a non-JSON
body (a proxy's HTML 502 page, a truncated answer) into `JsonError` without a status. `LastResponse`, fed by
the client's response hook in the calling worker thread, keeps both so a 429 still yields its Retry-After and
a 502 page still counts as "unavailable" rather than "malformed".
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import threading
from collections.abc import Mapping
from decimal import InvalidOperation
from typing import Any

from easypost.errors.api.api_error import ApiError
from easypost.errors.api.http_error import HttpError
from easypost.errors.api.json_error import JsonError
from easypost.errors.api.timeout_error import TimeoutError as EasyPostTimeout
from easypost.errors.general.easypost_error import EasyPostError

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
    "city": "address.locality",
    "state": "address.administrative_area",
    "zip": "address.postal_code",
    "country": "address.region_code",
    "company": "address.organization",
    "name": "contact.name",
    "phone": "contact.phone",
    "email": "contact.email",
}
_PARTIES = {"to_address": "customer", "from_address": "destination"}
_PARCEL_FIELDS = {"weight": "weight_grams", "length": "length_mm", "width": "width_mm", "height": "height_mm"}
_ITEM_FIELDS = {
    "weight": "unit_weight_grams",
    "value": "unit_value",
    "hs_tariff_number": "hs_code",
    "origin_country": "origin_country",
    "description": "description",
    "quantity": "quantity",
    "code": "sku",
}


class LastResponse(threading.local):
    """Status and headers of the last HTTP answer seen by the SDK in this thread."""

    status: int | None = None
    headers: Mapping[str, str] = {}

    def hook(self, **kwargs: Any) -> None:
        self.status = kwargs.get("http_status")
        self.headers = kwargs.get("headers") or {}

    def clear(self) -> None:
        self.status = None
        self.headers = {}


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


def canonical_field(provider_field: str) -> str:
    """EasyPost's field path ("shipment.to_address.zip", "customs_items[0].weight") in canonical terms."""
    path = re.sub(r"\[(\d+)\]", r".\1", provider_field).removeprefix("shipment.")
    parts = path.split(".")
    if parts[0] in _PARTIES and len(parts) == 2 and parts[1] in _ADDRESS_FIELDS:
        return f"{_PARTIES[parts[0]]}.{_ADDRESS_FIELDS[parts[1]]}"
    if parts[0] == "parcel" and len(parts) == 2 and parts[1] in _PARCEL_FIELDS:
        return f"parcels[0].{_PARCEL_FIELDS[parts[1]]}"
    if parts[:2] == ["customs_info", "customs_items"]:
        parts = parts[1:]
    if parts[0] == "customs_items" and len(parts) == 3 and parts[1].isdigit() and parts[2] in _ITEM_FIELDS:
        return f"items[{parts[1]}].{_ITEM_FIELDS[parts[2]]}"
    return path


def _field_of(error: ApiError) -> str:
    for entry in error.errors or []:
        if isinstance(entry, Mapping) and entry.get("field"):
            return canonical_field(str(entry["field"]))
    return ""


def _describe(error: ApiError) -> str:
    details = [
        f"{entry.get('field')}: {entry.get('message')}"
        for entry in (error.errors or [])
        if isinstance(entry, Mapping) and entry.get("field")
    ]
    code = f"{error.code}: " if error.code else ""
    return code + "; ".join([error.message, *details]) if details else code + error.message


def from_status(status: int, message: str, headers: Mapping[str, str], carrier: str) -> CarrierError:
    if status in (401, 403):
        return AuthenticationFailed(f"EasyPost refused the API key ({status}): {message}", carrier=carrier)
    if status == 402:
        return AuthenticationFailed(f"EasyPost account cannot pay for this (402): {message}", carrier=carrier)
    if status == 404:
        return NotFound(f"EasyPost: {message}", carrier=carrier)
    if status == 408:
        return TimedOut(f"EasyPost timed out (408): {message}", carrier=carrier)
    if status == 429:
        return RateLimited(
            f"EasyPost rate limit: {message}",
            retry_after_seconds=retry_after_seconds(headers),
            carrier=carrier,
        )
    if status >= 500:
        return Unavailable(f"EasyPost answered {status}: {message}", carrier=carrier)
    return InvalidRequest(f"EasyPost refused the request ({status}): {message}", carrier=carrier)


def translate(error: Exception, last: LastResponse, carrier: str) -> CarrierError:
    """The typed error for anything the SDK (or reading its answer) raised."""
    if isinstance(error, CarrierError):
        return error
    if isinstance(error, EasyPostTimeout) and error.http_status is None:
        return TimedOut(f"EasyPost did not answer in time: {error.message}", carrier=carrier)
    if isinstance(error, HttpError):
        return Unavailable(f"EasyPost connection failed: {error.message}", carrier=carrier)
    if isinstance(error, JsonError):
        status = error.http_status or last.status
        if status is not None and (status >= 500 or status == 429):
            return from_status(status, "unreadable error body", last.headers, carrier)
        return MalformedResponse(
            f"EasyPost answered something that is not JSON: {error.message[:200]}", carrier=carrier
        )
    if isinstance(error, ApiError) and error.http_status is not None:
        status = int(error.http_status)
        if status in (400, 422):
            return InvalidRequest(
                f"EasyPost refused the request ({status}): {_describe(error)}",
                field=_field_of(error),
                carrier=carrier,
            )
        return from_status(status, _describe(error), last.headers, carrier)
    if isinstance(error, KeyError | TypeError | AttributeError | ValueError | InvalidOperation | IndexError):
        return MalformedResponse(
            f"EasyPost answer lacks what we need: {type(error).__name__}: {error}", carrier=carrier
        )
    if isinstance(error, EasyPostError):
        return CarrierError(f"EasyPost SDK error: {error.message}", carrier=carrier)
    return CarrierError(
        f"unexpected error calling EasyPost: {type(error).__name__}: {error}", carrier=carrier
    )
