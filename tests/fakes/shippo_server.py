"""A fake Shippo API on loopback, answering the official `shippo` SDK (3.x) as the real service does.

Every object carries all the keys the SDK's response models require: shippo 3.9.0 raises KeyError while
decoding an incomplete object, so `Fault.missing_fields(...)` is how tests provoke exactly that.

    with ShippoFake(api_key="shippo_test_x") as fake:
        api = shippo.Shippo(api_key_header="shippo_test_x", server_url=fake.server_url)
        fake.inject(Fault.rate_limited("2"), method="POST", path="^/shipments$")
        ...
        fake.last_request("POST", "^/shipments$").json["customs_declaration"]["contents_type"]

Errors follow Shippo's field-keyed format: `{"address_to": {"zip": ["This field is required."]}}` for 400,
`{"detail": "..."}` for 401, 404 and 429. Webhooks: `fake.track_updated(carrier, number)` builds the
`track_updated` payload; `sign_webhook(body, secret)` the HMAC header sent when HMAC is enabled.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from tests.fakes.loopback import JsonBody, LoopbackServer, ProviderError, RecordedRequest, Response

CONTENTS_TYPES = frozenset(
    {"DOCUMENTS", "GIFT", "SAMPLE", "MERCHANDISE", "HUMANITARIAN_DONATION", "RETURN_MERCHANDISE", "OTHER"}
)
INCOTERMS = frozenset({"DDP", "DDU", "FCA", "DAP", "eDAP"})
EEL_PFC = frozenset({"NOEEI_30_37_a", "NOEEI_30_37_h", "NOEEI_30_37_f", "NOEEI_30_36", "AES_ITN"})
NON_DELIVERY = frozenset({"ABANDON", "RETURN"})
MASS_UNITS = frozenset({"g", "kg", "lb", "oz"})
DISTANCE_UNITS = frozenset({"cm", "in", "ft", "m", "mm", "yd"})
LABEL_FILE_TYPES = frozenset(
    {"PNG", "PNG_2.3x7.5", "PDF", "PDF_2.3x7.5", "PDF_4x6", "PDF_4x8", "PDF_A4", "PDF_A5", "PDF_A6", "ZPLII"}
)
TRACKING_STATUSES = frozenset({"UNKNOWN", "PRE_TRANSIT", "TRANSIT", "DELIVERED", "RETURNED", "FAILURE"})
SIGNATURE_HEADER = "Shippo-Auth-Signature"
OWNER = "returns@example.com"


@dataclass(frozen=True)
class ServiceSpec:
    """A service level the fake offers on every shipment."""

    provider: str
    token: str
    name: str
    amount: str
    currency: str = "USD"
    estimated_days: int | None = None
    attributes: tuple[str, ...] = ()


DEFAULT_SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("USPS", "usps_priority_mail_international", "Priority Mail International", "44.10", "USD", 8),
    ServiceSpec("UPS", "ups_saver", "UPS Saver®", "67.45", "USD", 3, ("FASTEST",)),
    ServiceSpec("FedEx", "fedex_international_economy", "FedEx International Economy®", "52.80", "USD", 5),
    ServiceSpec(
        "USPS",
        "usps_first_class_package_international_service",
        "First Class Package International",
        "19.95",
        "USD",
        12,
        ("CHEAPEST",),
    ),
)


@dataclass(frozen=True)
class TrackingScan:
    status: str
    substatus_code: str
    substatus_text: str
    details: str
    at: dt.datetime
    city: str = ""
    state: str = ""
    zip: str = ""
    country: str = ""
    action_required: bool = False


def default_history(start: dt.datetime | None = None) -> list[TrackingScan]:
    """A cross-border return in progress: information received, accepted, in transit, held by customs."""
    t0 = start or dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    hour = dt.timedelta(hours=1)
    return [
        TrackingScan(
            "PRE_TRANSIT",
            "information_received",
            "Information received",
            "Label created",
            t0,
            "Lyon",
            "",
            "69002",
            "FR",
        ),
        TrackingScan(
            "TRANSIT",
            "package_accepted",
            "Package accepted",
            "Accepted at post office",
            t0 + 20 * hour,
            "Lyon",
            "",
            "69002",
            "FR",
        ),
        TrackingScan(
            "TRANSIT",
            "package_departed",
            "Package departed",
            "Departed facility",
            t0 + 30 * hour,
            "Roissy",
            "",
            "95700",
            "FR",
        ),
    ]


def sign_webhook(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """`Shippo-Auth-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.".encode() + body, hashlib.sha256).hexdigest()
    return {SIGNATURE_HEADER: f"t={moment},v1={digest}"}


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def field_error(path: str, message: str) -> dict[str, Any]:
    """Shippo's nested field-keyed 400 body for a dotted path: "parcels.0.weight" -> {"parcels": [{...}]}."""
    parts = path.split(".")
    node: Any = [message]
    for part in reversed(parts):
        # Like Django REST framework: one entry per list element, empty for the valid ones.
        node = [*({} for _ in range(int(part))), node] if part.isdigit() else {part: node}
    return node if isinstance(node, dict) else {"__all__": [message]}


def _invalid(path: str, message: str) -> ProviderError:
    return ProviderError(Response(400, field_error(path, message)))


def _decimal(value: Any, path: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise _invalid(path, "A valid number is required.") from None
    if not result.is_finite():
        raise _invalid(path, "A valid number is required.")
    return result


class ShippoFake(LoopbackServer):
    """Fake Shippo. `server_url` is what `shippo.Shippo(server_url=...)` takes."""

    _numbers = itertools.count(1)

    def __init__(
        self, api_key: str = "shippo_test_fake_key", services: Sequence[ServiceSpec] = DEFAULT_SERVICES
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.services = tuple(services)
        self.refund_status = "QUEUED"  # QUEUED | PENDING | SUCCESS | ERROR
        self.transaction_status = "SUCCESS"  # what POST /transactions answers
        self.declarations: dict[str, dict[str, Any]] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self.shipments: dict[str, dict[str, Any]] = {}
        self.rates: dict[str, dict[str, Any]] = {}
        self.transactions: dict[str, dict[str, Any]] = {}
        self.histories: dict[tuple[str, str], list[TrackingScan]] = {}
        self.default_history: list[TrackingScan] = default_history()
        self._state = threading.Lock()
        self.route("POST", r"/customs/declarations", self._create_declaration)
        self.route("GET", r"/customs/declarations/(?P<id>\w+)", self._get_declaration)
        self.route("POST", r"/shipments", self._create_shipment)
        self.route("GET", r"/shipments/(?P<id>\w+)", self._get_shipment)
        self.route("GET", r"/rates/(?P<id>\w+)", self._get_rate)
        self.route("POST", r"/transactions", self._create_transaction)
        self.route("GET", r"/transactions/(?P<id>\w+)", self._get_transaction)
        self.route("POST", r"/refunds", self._create_refund)
        self.route("POST", r"/tracks", self._register_track)
        self.route("GET", r"/tracks/(?P<carrier>[\w-]+)/(?P<number>[\w-]+)", self._get_track)
        self.route("GET", r"/labels/(?P<name>\w+)\.(?P<ext>\w+)", self._label_file)

    @property
    def server_url(self) -> str:
        return self.origin

    def _id(self) -> str:
        return uuid.uuid4().hex

    # -- provider formats -----------------------------------------------------------------------------------

    def error_body(self, status: int) -> JsonBody:
        messages = {
            429: "Request was throttled. Expected available in 1 second.",
            500: "A server error occurred.",
            502: "Bad gateway.",
            503: "Service temporarily unavailable.",
        }
        return {"detail": messages.get(status, f"HTTP {status}")}

    def not_found(self, request: RecordedRequest) -> Response:
        return Response(404, {"detail": "Not found."})

    def authenticate(self, request: RecordedRequest) -> Response | None:
        if request.path.startswith("/labels/"):
            return None
        header = request.headers.get("Authorization", "")
        if header != f"ShippoToken {self.api_key}":
            return Response(401, {"detail": "Invalid token."})
        return None

    # -- objects --------------------------------------------------------------------------------------------

    def _meta(self, object_id: str | None = None) -> dict[str, Any]:
        return {
            "object_created": _now(),
            "object_id": object_id or self._id(),
            "object_owner": OWNER,
            "object_updated": _now(),
        }

    def _address(self, data: Any, path: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise _invalid(path, "This field is required.")
        if not data.get("country"):
            raise _invalid(f"{path}.country", "This field is required.")
        keys = (
            "name",
            "company",
            "street1",
            "street2",
            "street3",
            "street_no",
            "city",
            "state",
            "zip",
            "phone",
            "email",
            "metadata",
        )
        address: dict[str, Any] = {"country": data["country"]}
        address.update({key: data.get(key, "") for key in keys})
        address.update(
            is_residential=data.get("is_residential"),
            is_complete=True,
            latitude=None,
            longitude=None,
            validation_results={"is_valid": True, "messages": []},
            test=True,
            **self._meta(),
        )
        return address

    def _parcel(self, data: Any, path: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise _invalid(path, "This field is required.")
        if data.get("mass_unit") not in MASS_UNITS:
            raise _invalid(f"{path}.mass_unit", f"mass_unit must be one of {sorted(MASS_UNITS)}.")
        if data.get("distance_unit") not in DISTANCE_UNITS:
            raise _invalid(f"{path}.distance_unit", f"distance_unit must be one of {sorted(DISTANCE_UNITS)}.")
        for key in ("weight", "length", "width", "height"):
            if _decimal(data.get(key), f"{path}.{key}") <= 0:
                raise _invalid(f"{path}.{key}", "Ensure this value is greater than 0.")
        parcel: dict[str, Any] = {key: str(data[key]) for key in ("weight", "length", "width", "height")}
        parcel.update(
            mass_unit=data["mass_unit"],
            distance_unit=data["distance_unit"],
            extra={},
            metadata=data.get("metadata", ""),
            object_state="VALID",
            template=None,
            test=True,
            **self._meta(),
        )
        return parcel

    def _item(self, data: Any, path: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise _invalid(path, "This field is required.")
        for key in ("description", "origin_country", "value_currency"):
            if not data.get(key):
                raise _invalid(f"{path}.{key}", "This field is required.")
        if int(data.get("quantity") or 0) <= 0:
            raise _invalid(f"{path}.quantity", "Ensure this value is greater than 0.")
        if data.get("mass_unit") not in MASS_UNITS:
            raise _invalid(f"{path}.mass_unit", f"mass_unit must be one of {sorted(MASS_UNITS)}.")
        if _decimal(data.get("net_weight"), f"{path}.net_weight") <= 0:
            raise _invalid(f"{path}.net_weight", "Ensure this value is greater than 0.")
        _decimal(data.get("value_amount"), f"{path}.value_amount")
        tariff = data.get("tariff_number") or ""
        if len(tariff) > 12:
            raise _invalid(f"{path}.tariff_number", "Ensure this field has no more than 12 characters.")
        item = {
            key: data.get(key)
            for key in (
                "description",
                "mass_unit",
                "net_weight",
                "origin_country",
                "quantity",
                "value_amount",
                "value_currency",
                "eccn_ear99",
                "metadata",
                "sku_code",
                "hs_code",
                "tariff_number",
            )
        }
        item.update(object_state="VALID", test=True, **self._meta())
        return item

    def _declaration(self, data: Any, path: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise _invalid(path, "This field is required.")
        prefix = f"{path}." if path else ""
        if data.get("contents_type") not in CONTENTS_TYPES:
            raise _invalid(
                f"{prefix}contents_type", f"contents_type must be one of {sorted(CONTENTS_TYPES)}."
            )
        if data["contents_type"] == "OTHER" and not data.get("contents_explanation"):
            raise _invalid(f"{prefix}contents_explanation", "Required when contents_type is OTHER.")
        if data.get("non_delivery_option") not in NON_DELIVERY:
            raise _invalid(f"{prefix}non_delivery_option", "non_delivery_option must be ABANDON or RETURN.")
        if data.get("incoterm") is not None and data["incoterm"] not in INCOTERMS:
            raise _invalid(f"{prefix}incoterm", f"incoterm must be one of {sorted(INCOTERMS)}.")
        if data.get("eel_pfc") is not None and data["eel_pfc"] not in EEL_PFC:
            raise _invalid(f"{prefix}eel_pfc", f"eel_pfc must be one of {sorted(EEL_PFC)}.")
        if data.get("eel_pfc") == "AES_ITN" and not data.get("aes_itn"):
            raise _invalid(f"{prefix}aes_itn", "Required when eel_pfc is AES_ITN.")
        if not data.get("certify") or not data.get("certify_signer"):
            raise _invalid(f"{prefix}certify", "The declaration must be certified and signed.")
        raw_items = data.get("items")
        if not isinstance(raw_items, list) or not raw_items:
            raise _invalid(f"{prefix}items", "This field is required.")
        item_ids = []
        for index, raw in enumerate(raw_items):
            if isinstance(raw, str):
                if raw not in self.items:
                    raise _invalid(f"{prefix}items.{index}", "Unknown customs item.")
                item_ids.append(raw)
                continue
            item = self._item(raw, f"{prefix}items.{index}")
            self.items[item["object_id"]] = item
            item_ids.append(item["object_id"])
        keys = (
            "certify",
            "certify_signer",
            "contents_type",
            "non_delivery_option",
            "aes_itn",
            "b13a_filing_option",
            "b13a_number",
            "certificate",
            "commercial_invoice",
            "contents_explanation",
            "disclaimer",
            "duties_payor",
            "exporter_identification",
            "exporter_reference",
            "importer_reference",
            "is_vat_collected",
            "invoice",
            "license",
            "metadata",
            "notes",
            "eel_pfc",
            "incoterm",
        )
        declaration = {key: data.get(key) for key in keys}
        declaration.update(
            items=item_ids,
            address_importer=None,
            invoiced_charges=None,
            object_state="VALID",
            test=True,
            **self._meta(),
        )
        return declaration

    def _rate(self, spec: ServiceSpec, shipment_id: str) -> dict[str, Any]:
        return {
            "amount": spec.amount,
            "amount_local": spec.amount,
            "currency": spec.currency,
            "currency_local": spec.currency,
            "attributes": list(spec.attributes),
            "carrier_account": hashlib.sha1(spec.provider.encode()).hexdigest()[:32],
            "provider": spec.provider,
            "servicelevel": {
                "name": spec.name,
                "terms": "",
                "token": spec.token,
                "extended_token": spec.token,
                "parent_servicelevel": None,
            },
            "shipment": shipment_id,
            "arrives_by": None,
            "duration_terms": f"Delivery in {spec.estimated_days} days." if spec.estimated_days else "",
            "estimated_days": spec.estimated_days,
            "included_insurance_price": None,
            "messages": [],
            "provider_image_75": f"https://shippo-static.s3.amazonaws.com/providers/75/{spec.provider}.png",
            "provider_image_200": f"https://shippo-static.s3.amazonaws.com/providers/200/{spec.provider}.png",
            "test": True,
            "zone": "1",
            **self._meta(),
        }

    def _tracking_status(self, scan: TrackingScan) -> dict[str, Any]:
        return {
            "object_created": _iso(scan.at),
            "object_id": hashlib.sha1(f"{scan.status}{scan.at}{scan.substatus_code}".encode()).hexdigest()[
                :32
            ],
            "object_updated": _iso(scan.at),
            "status": scan.status,
            "status_details": scan.details,
            "status_date": _iso(scan.at),
            "substatus": {
                "code": scan.substatus_code,
                "text": scan.substatus_text,
                "action_required": scan.action_required,
            },
            "location": {"city": scan.city, "state": scan.state, "zip": scan.zip, "country": scan.country},
        }

    def _track(self, carrier: str, number: str, metadata: str = "") -> dict[str, Any]:
        scans = self.histories.get((carrier, number), self.default_history)
        history = [self._tracking_status(scan) for scan in scans]
        transaction = next((t for t in self.transactions.values() if t["tracking_number"] == number), None)
        eta = _iso(scans[-1].at + dt.timedelta(days=4)) if scans else None
        return {
            "carrier": carrier,
            "tracking_number": number,
            "messages": [],
            "tracking_history": history,
            "tracking_status": history[-1] if history else None,
            "address_from": {"city": "Lyon", "state": "", "zip": "69002", "country": "FR"},
            "address_to": {"city": "Louisville", "state": "KY", "zip": "40213", "country": "US"},
            "eta": eta,
            "original_eta": eta,
            "metadata": metadata,
            "servicelevel": {
                "name": None,
                "terms": None,
                "token": None,
                "extended_token": None,
                "parent_servicelevel": None,
            },
            "transaction": transaction["object_id"] if transaction else None,
        }

    # -- scripting ------------------------------------------------------------------------------------------

    def set_history(self, carrier: str, tracking_number: str, scans: Sequence[TrackingScan]) -> None:
        with self._state:
            self.histories[(carrier, tracking_number)] = list(scans)

    def track_updated(self, carrier: str, tracking_number: str) -> dict[str, Any]:
        """The `track_updated` webhook body Shippo POSTs for the parcel's current state."""
        with self._state:
            track = self._track(carrier, tracking_number)
        return {"event": "track_updated", "test": True, "data": json.loads(json.dumps(track))}

    @staticmethod
    def invalid(path: str, message: str) -> dict[str, Any]:
        """A 400 body naming one field, for `Fault.error(400, ShippoFake.invalid(...))`."""
        return field_error(path, message)

    # -- routes ---------------------------------------------------------------------------------------------

    def _create_declaration(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        with self._state:
            declaration = self._declaration(request.json, "")
            self.declarations[declaration["object_id"]] = declaration
        return Response(201, declaration)

    def _get_declaration(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        with self._state:
            declaration = self.declarations.get(match["id"])
        return Response(200, declaration) if declaration else self.not_found(request)

    def _create_shipment(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        data = request.json
        if not isinstance(data, dict):
            raise _invalid("__all__", "Invalid JSON body.")
        parcels = data.get("parcels")
        if not isinstance(parcels, list) or not parcels:
            raise _invalid("parcels", "This field is required.")
        with self._state:
            shipment_id = self._id()
            customs = data.get("customs_declaration")
            if isinstance(customs, str):
                declaration = self.declarations.get(customs)
                if declaration is None:
                    raise _invalid("customs_declaration", "Unknown customs declaration.")
            elif customs is not None:
                declaration = self._declaration(customs, "customs_declaration")
                self.declarations[declaration["object_id"]] = declaration
            else:
                declaration = None
            rates = [self._rate(spec, shipment_id) for spec in self.services]
            shipment = {
                "metadata": data.get("metadata", ""),
                "address_from": self._address(data.get("address_from"), "address_from"),
                "address_to": self._address(data.get("address_to"), "address_to"),
                "address_return": self._address(data.get("address_from"), "address_from"),
                "carrier_accounts": list(data.get("carrier_accounts") or []),
                "messages": [],
                "parcels": [self._parcel(p, f"parcels.{i}") for i, p in enumerate(parcels)],
                "rates": rates,
                "status": "SUCCESS",
                "extra": dict(data.get("extra") or {}),
                "shipment_date": data.get("shipment_date") or _now(),
                "customs_declaration": declaration,
                "test": True,
                **self._meta(shipment_id),
            }
            self.shipments[shipment_id] = shipment
            for rate in rates:
                self.rates[rate["object_id"]] = rate
        return Response(201, shipment)

    def _get_shipment(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        with self._state:
            shipment = self.shipments.get(match["id"])
        return Response(200, shipment) if shipment else self.not_found(request)

    def _get_rate(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        with self._state:
            rate = self.rates.get(match["id"])
        return Response(200, rate) if rate else self.not_found(request)

    def _create_transaction(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        data = request.json or {}
        file_type = data.get("label_file_type") or "PDF"
        if file_type not in LABEL_FILE_TYPES:
            raise _invalid("label_file_type", f"label_file_type must be one of {sorted(LABEL_FILE_TYPES)}.")
        with self._state:
            rate = self.rates.get(str(data.get("rate")))
            if rate is None:
                raise _invalid("rate", "Rate not found.")
            transaction_id = self._id()
            number = f"92{next(self._numbers):020d}"
            extension = "zpl" if file_type == "ZPLII" else file_type.split("_")[0].lower()
            succeeded = self.transaction_status == "SUCCESS"
            transaction = {
                "commercial_invoice_url": f"{self.origin}/labels/ci_{transaction_id}.pdf"
                if succeeded
                else None,
                "created_by": {"first_name": "Returns", "last_name": "Desk", "username": OWNER},
                "eta": None,
                "label_file_type": file_type,
                "label_url": f"{self.origin}/labels/{transaction_id}.{extension}" if succeeded else "",
                "messages": []
                if succeeded
                else [{"source": rate["provider"], "code": "", "text": "The carrier refused the label."}],
                "metadata": data.get("metadata", ""),
                "object_state": "VALID",
                "parcel": self.shipments[rate["shipment"]]["parcels"][0]["object_id"],
                "qr_code_url": None,
                "rate": rate["object_id"],
                "status": self.transaction_status,
                "test": True,
                "tracking_number": number if succeeded else "",
                "tracking_status": "UNKNOWN",
                "tracking_url_provider": f"https://tools.usps.com/go/TrackConfirmAction?tLabels={number}"
                if succeeded
                else "",
                **self._meta(transaction_id),
            }
            self.transactions[transaction_id] = transaction
        return Response(201, transaction)

    def _get_transaction(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        with self._state:
            transaction = self.transactions.get(match["id"])
        return Response(200, transaction) if transaction else self.not_found(request)

    def _create_refund(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        data = request.json or {}
        with self._state:
            transaction = self.transactions.get(str(data.get("transaction")))
            if transaction is None:
                raise _invalid("transaction", "Transaction not found.")
            if self.refund_status in {"QUEUED", "PENDING"}:
                transaction["status"] = "REFUNDPENDING"
            elif self.refund_status == "SUCCESS":
                transaction["status"] = "REFUNDED"
            else:
                transaction["status"] = "REFUNDREJECTED"
        refund = {
            "status": self.refund_status,
            "test": True,
            "transaction": transaction["object_id"],
            **self._meta(),
        }
        return Response(201, refund)

    def _register_track(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        data = request.json or {}
        if not data.get("carrier"):
            raise _invalid("carrier", "This field is required.")
        if not data.get("tracking_number"):
            raise _invalid("tracking_number", "This field is required.")
        with self._state:
            track = self._track(data["carrier"], data["tracking_number"], data.get("metadata") or "")
        return Response(200, track)

    def _get_track(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        with self._state:
            track = self._track(match["carrier"], match["number"])
        return Response(200, track)

    def _label_file(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        documents: Mapping[str, tuple[bytes, str]] = {
            "pdf": (b"%PDF-1.4\n%fake label\n%%EOF\n", "application/pdf"),
            "png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 16, "image/png"),
            "zpl": (b"^XA^FO50,50^A0N,40,40^FDRETURN^FS^XZ", "application/zpl"),
        }
        found = documents.get(match["ext"])
        if found is None:
            return self.not_found(request)
        return Response(200, raw=found[0], content_type=found[1])
