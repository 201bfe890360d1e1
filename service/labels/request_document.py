"""A CreateReturnLabel request as a JSON document: stored with the intent, and digested to recognise retries.

The document holds the request as the caller sent it (the shipment input, the rate chosen, the label format
and the locale), so a crashed purchase can be rebuilt from the database alone and the label can show the
shipment it was bought for. Its digest is SHA-256 over canonical JSON (sorted keys, no spaces): the same
request always gives the same digest, any difference in a field gives another one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import types
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Any, Union, get_args, get_origin, get_type_hints

from carriers.models import LabelFormat
from service.labels.model import CreateLabelRequest, ExplicitRate, QuotedRate
from service.quoting.request import ShipmentInput

DOCUMENT_VERSION = 1


def request_document(request: CreateLabelRequest) -> dict[str, Any]:
    rate: dict[str, str] | None
    if isinstance(request.rate, QuotedRate):
        rate = {"quote_token": request.rate.quote_token}
    elif isinstance(request.rate, ExplicitRate):
        rate = {
            "carrier_account_id": request.rate.carrier_account_id,
            "service_code": request.rate.service_code,
        }
    else:
        rate = None
    return {
        "version": DOCUMENT_VERSION,
        "shipment": encode(request.shipment),
        "rate": rate,
        "label_format": request.label_format.value if request.label_format else None,
        "customer_locale": request.customer_locale,
    }


def request_digest(document: Mapping[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def request_from_document(
    merchant_id: str, idempotency_key: str, document: Mapping[str, Any]
) -> CreateLabelRequest:
    rate_data = document.get("rate")
    rate: QuotedRate | ExplicitRate | None = None
    if isinstance(rate_data, Mapping) and "quote_token" in rate_data:
        rate = QuotedRate(str(rate_data["quote_token"]))
    elif isinstance(rate_data, Mapping):
        rate = ExplicitRate(str(rate_data["carrier_account_id"]), str(rate_data["service_code"]))
    label_format = document.get("label_format")
    return CreateLabelRequest(
        merchant_id=merchant_id,
        idempotency_key=idempotency_key,
        shipment=decode(ShipmentInput, document["shipment"]),
        rate=rate,
        label_format=LabelFormat(label_format) if label_format else None,
        customer_locale=str(document.get("customer_locale", "")),
    )


def encode(value: Any) -> Any:
    """A dataclass tree of the request input types as JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    return value


def decode(kind: Any, data: Any) -> Any:
    """The inverse of `encode`, led by the type hints of the dataclasses."""
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(kind) if a is not type(None)]
        return None if data is None else decode(options[0], data)
    if origin is tuple:
        return tuple(decode(get_args(kind)[0], item) for item in data)
    if origin in (Mapping, dict):
        value_type = get_args(kind)[1]
        return {str(k): decode(value_type, v) for k, v in data.items()}
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = get_type_hints(kind)
        return kind(**{name: decode(hints[name], value) for name, value in data.items()})
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(data)
    if kind is Decimal:
        return Decimal(data)
    if kind is dt.date:
        return dt.date.fromisoformat(data)
    return data
