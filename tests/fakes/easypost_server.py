"""A fake EasyPost API (v2) on loopback, answering the official `easypost` SDK as the real service does.

Objects follow EasyPost's documented JSON (Shipment, Rate, PostageLabel, CustomsInfo/CustomsItem, Tracker with
TrackingDetail, Event, and `{"error": {"code", "message", "errors": [{"field", "message"}]}}` errors), with
every documented key present. State lives in memory per server.

    with EasyPostFake(api_key="EZTK_test") as fake:
        client = easypost.EasyPostClient("EZTK_test", api_base=fake.api_base, timeout=2)
        fake.inject(Fault.rate_limited("3"), method="POST", path="/shipments$")
        ...
        fake.last_request("POST", "/v2/shipments$").json["shipment"]["customs_info"]

Webhooks: `fake.tracker_event(code)` builds an Event for a tracker's current state and
`sign_webhook(body, secret)` the `X-Hmac-Signature` header EasyPost sends with it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import re
import threading
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from tests.fakes.loopback import JsonBody, LoopbackServer, ProviderError, RecordedRequest, Response

CONTENTS_TYPES = frozenset(
    {
        "documents",
        "gift",
        "merchandise",
        "returned_goods",
        "sample",
        "dangerous_goods",
        "humanitarian_donation",
        "other",
    }
)
NON_DELIVERY_OPTIONS = frozenset({"return", "abandon"})
LABEL_FILE_TYPES = {
    "PNG": "image/png",
    "PDF": "application/pdf",
    "ZPL": "application/zpl",
    "EPL2": "application/epl2",
}
_LABEL_URL_FIELDS = {"PDF": "label_pdf_url", "ZPL": "label_zpl_url", "EPL2": "label_epl2_url"}
# Small but valid-looking documents so a client that downloads a label gets the right magic bytes.
LABEL_DOCUMENTS = {
    "PNG": b"\x89PNG\r\n\x1a\n" + b"\x00" * 16,
    "PDF": b"%PDF-1.4\n%fake label\n%%EOF\n",
    "ZPL": b"^XA^FO50,50^A0N,40,40^FDRETURN^FS^XZ",
    "EPL2": b'N\nA50,50,0,4,1,1,N,"RETURN"\nP1\n',
}
TRACKER_STATUSES = frozenset(
    {
        "unknown",
        "pre_transit",
        "in_transit",
        "out_for_delivery",
        "delivered",
        "available_for_pickup",
        "return_to_sender",
        "failure",
        "cancelled",
        "error",
    }
)


@dataclass(frozen=True)
class RateSpec:
    """A service the fake offers on every shipment."""

    carrier: str
    service: str
    rate: str  # decimal string, as EasyPost sends it
    currency: str = "USD"
    delivery_days: int | None = None
    retail_rate: str | None = None
    list_rate: str | None = None


DEFAULT_RATES: tuple[RateSpec, ...] = (
    RateSpec("USPS", "FirstClassPackageInternationalService", "18.40", "USD", 10, "21.15", "18.40"),
    RateSpec("USPS", "PriorityMailInternational", "42.35", "USD", 7, "48.60", "42.35"),
    RateSpec("UPS", "Expedited", "61.20", "USD", 4, "70.05", "61.20"),
    RateSpec("DHLExpress", "ExpressWorldwideNonDoc", "78.90", "USD", 3, "88.00", "78.90"),
)


@dataclass(frozen=True)
class TrackingScan:
    """One scan of a fake tracker's history."""

    status: str
    status_detail: str
    message: str
    at: dt.datetime
    city: str = ""
    state: str = ""
    country: str = ""
    zip: str = ""


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_history(start: dt.datetime | None = None) -> list[TrackingScan]:
    """A cross-border return in progress: label created, accepted, departed, held in customs."""
    t0 = start or dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    hour = dt.timedelta(hours=1)
    return [
        TrackingScan(
            "pre_transit", "label_created", "Shipping Label Created", t0, "Cologne", "NW", "DE", "50667"
        ),
        TrackingScan(
            "in_transit",
            "arrived_at_facility",
            "Accepted at origin facility",
            t0 + 20 * hour,
            "Cologne",
            "NW",
            "DE",
        ),
        TrackingScan(
            "in_transit",
            "departed_facility",
            "Departed origin facility",
            t0 + 26 * hour,
            "Leipzig",
            "SN",
            "DE",
            "04435",
        ),
    ]


def sign_webhook(body: bytes, secret: str) -> dict[str, str]:
    """The header EasyPost sends with a webhook: HMAC-SHA256 over the raw body, NFKD-normalised secret."""
    key = unicodedata.normalize("NFKD", secret).encode()
    digest = hmac.new(key, body, hashlib.sha256).hexdigest()
    return {"X-Hmac-Signature": f"hmac-sha256-hex={digest}"}


def _error(status: int, code: str, message: str, errors: Sequence[dict[str, str]] = ()) -> Response:
    return Response(status, {"error": {"code": code, "message": message, "errors": list(errors)}})


def _decimal(value: Any, field: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ProviderError(
            _error(
                422,
                "PARAMETER.INVALID",
                f"{field} must be a number",
                [{"field": field, "message": "invalid"}],
            )
        ) from None
    return result


class EasyPostFake(LoopbackServer):
    """Fake EasyPost. `api_base` is what `EasyPostClient(api_base=...)` takes."""

    _ids = itertools.count(1)

    def __init__(
        self, api_key: str = "EZTK_fake_test_key", rates: Sequence[RateSpec] = DEFAULT_RATES
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.rates = tuple(rates)
        self.refund_status = (
            "submitted"  # what POST /shipments/{id}/refund answers: submitted|refunded|rejected
        )
        self.shipments: dict[str, dict[str, Any]] = {}
        self.trackers: dict[str, dict[str, Any]] = {}  # by tracking code
        self.histories: dict[str, list[TrackingScan]] = {}  # scripted per tracking code
        self.default_history: list[TrackingScan] = default_history()  # for codes without a script
        self._state = threading.Lock()
        self.route("POST", r"/v2/shipments", self._create_shipment)
        self.route("GET", r"/v2/shipments/(?P<id>shp_\w+)", self._get_shipment)
        self.route("POST", r"/v2/shipments/(?P<id>shp_\w+)/buy", self._buy)
        self.route("GET", r"/v2/shipments/(?P<id>shp_\w+)/label", self._convert_label)
        self.route("POST", r"/v2/shipments/(?P<id>shp_\w+)/refund", self._refund)
        self.route("GET", r"/v2/rates/(?P<id>rate_\w+)", self._get_rate)
        self.route("POST", r"/v2/trackers", self._create_tracker)
        self.route("GET", r"/v2/trackers", self._list_trackers)
        self.route("GET", r"/v2/trackers/(?P<id>trk_\w+)", self._get_tracker)
        self.route("GET", r"/files/postage_label/(?P<name>\w+)\.(?P<ext>\w+)", self._label_file)

    @property
    def api_base(self) -> str:
        return f"{self.origin}/v2"

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{uuid.uuid4().hex}"

    # -- provider formats -----------------------------------------------------------------------------------

    def error_body(self, status: int) -> JsonBody:
        codes = {
            429: ("RATE_LIMITED", "You have exceeded the rate limit. Please retry later."),
            500: ("INTERNAL_SERVER_ERROR", "We're sorry, something went wrong. Please try again."),
            502: ("BAD_GATEWAY", "Bad gateway."),
            503: ("SERVICE_UNAVAILABLE", "The service is temporarily unavailable."),
            504: ("GATEWAY_TIMEOUT", "The upstream carrier did not answer in time."),
        }
        code, message = codes.get(status, ("UNKNOWN", f"HTTP {status}"))
        return {"error": {"code": code, "message": message, "errors": []}}

    def not_found(self, request: RecordedRequest) -> Response:
        return _error(404, "NOT_FOUND", "The requested resource could not be found.")

    def authenticate(self, request: RecordedRequest) -> Response | None:
        if request.path.startswith("/files/"):
            return None
        header = request.headers.get("Authorization", "")
        if not header:
            return _error(401, "APIKEY.REQUIRED", "An API key is required for this request.")
        if header != f"Bearer {self.api_key}":
            return _error(
                401,
                "APIKEY.INACTIVE",
                "This api key is no longer active. Please use a different api key or reactivate this key.",
            )
        return None

    @staticmethod
    def invalid(field: str, message: str, code: str = "SHIPMENT.INVALID_PARAMS") -> dict[str, Any]:
        """A 422 body naming one field, for `Fault.error(422, EasyPostFake.invalid(...))`."""
        return {"error": {"code": code, "message": message, "errors": [{"field": field, "message": message}]}}

    # -- objects --------------------------------------------------------------------------------------------

    def _address(self, data: dict[str, Any]) -> dict[str, Any]:
        keys = ("name", "company", "street1", "street2", "city", "state", "zip", "country", "phone", "email")
        address: dict[str, Any] = {"id": self._id("adr"), "object": "Address", "mode": "test"}
        address.update({key: data.get(key) for key in keys})
        address.update(
            residential=data.get("residential"),
            carrier_facility=None,
            federal_tax_id=data.get("federal_tax_id"),
            state_tax_id=None,
            verifications={},
            created_at=_now(),
            updated_at=_now(),
        )
        return address

    def _parcel(self, data: dict[str, Any]) -> dict[str, Any]:
        parcel: dict[str, Any] = {"id": self._id("prcl"), "object": "Parcel", "mode": "test"}
        for key in ("length", "width", "height", "weight"):
            if key == "weight" and key not in data:
                raise ProviderError(
                    _error(
                        422,
                        "PARCEL.INVALID_PARAMS",
                        "weight is required",
                        [{"field": "parcel.weight", "message": "required"}],
                    )
                )
            parcel[key] = float(_decimal(data[key], f"parcel.{key}")) if key in data else None
            if key == "weight" and parcel[key] <= 0:
                raise ProviderError(
                    _error(
                        422,
                        "PARCEL.INVALID_PARAMS",
                        "weight must be positive",
                        [{"field": "parcel.weight", "message": "must be greater than 0"}],
                    )
                )
        parcel.update(predefined_package=data.get("predefined_package"), created_at=_now(), updated_at=_now())
        return parcel

    def _customs_info(self, data: dict[str, Any]) -> dict[str, Any]:
        contents_type = data.get("contents_type", "merchandise")
        if contents_type not in CONTENTS_TYPES:
            raise ProviderError(
                _error(
                    422,
                    "CUSTOMSINFO.INVALID_PARAMS",
                    f"contents_type must be one of {sorted(CONTENTS_TYPES)}",
                    [{"field": "customs_info.contents_type", "message": "invalid"}],
                )
            )
        if contents_type == "other" and not data.get("contents_explanation"):
            raise ProviderError(
                _error(
                    422,
                    "CUSTOMSINFO.INVALID_PARAMS",
                    "contents_explanation is required when contents_type is other",
                    [{"field": "customs_info.contents_explanation", "message": "required"}],
                )
            )
        if data.get("non_delivery_option", "return") not in NON_DELIVERY_OPTIONS:
            raise ProviderError(
                _error(
                    422,
                    "CUSTOMSINFO.INVALID_PARAMS",
                    "non_delivery_option must be return or abandon",
                    [{"field": "customs_info.non_delivery_option", "message": "invalid"}],
                )
            )
        items = []
        for index, item in enumerate(data.get("customs_items") or []):
            prefix = f"customs_info.customs_items.{index}"
            quantity = int(item.get("quantity", 0))
            weight = _decimal(item.get("weight"), f"{prefix}.weight")
            value = _decimal(item.get("value"), f"{prefix}.value")
            if quantity <= 0 or weight <= 0 or value < 0:
                raise ProviderError(
                    _error(
                        422,
                        "CUSTOMSITEM.INVALID_PARAMS",
                        "customs items need a positive quantity and weight",
                        [{"field": prefix, "message": "invalid quantity, weight or value"}],
                    )
                )
            items.append(
                {
                    "id": self._id("cstitem"),
                    "object": "CustomsItem",
                    "description": item.get("description"),
                    "hs_tariff_number": item.get("hs_tariff_number"),
                    "origin_country": item.get("origin_country"),
                    "quantity": quantity,
                    "value": str(value),
                    "weight": float(weight),
                    "code": item.get("code"),
                    "manufacturer": item.get("manufacturer"),
                    "currency": item.get("currency"),
                    "eccn": item.get("eccn"),
                    "printed_commodity_identifier": None,
                    "created_at": _now(),
                    "updated_at": _now(),
                }
            )
        return {
            "id": self._id("cstinfo"),
            "object": "CustomsInfo",
            "mode": "test",
            "contents_type": contents_type,
            "contents_explanation": data.get("contents_explanation"),
            "customs_certify": bool(data.get("customs_certify", False)),
            "customs_signer": data.get("customs_signer"),
            "eel_pfc": data.get("eel_pfc"),
            "non_delivery_option": data.get("non_delivery_option", "return"),
            "restriction_type": data.get("restriction_type", "none"),
            "restriction_comments": data.get("restriction_comments"),
            "declaration": data.get("declaration"),
            "customs_items": items,
            "created_at": _now(),
            "updated_at": _now(),
        }

    def _rate(self, spec: RateSpec, shipment_id: str) -> dict[str, Any]:
        return {
            "id": self._id("rate"),
            "object": "Rate",
            "mode": "test",
            "service": spec.service,
            "carrier": spec.carrier,
            "rate": spec.rate,
            "currency": spec.currency,
            "retail_rate": spec.retail_rate,
            "retail_currency": spec.currency if spec.retail_rate else None,
            "list_rate": spec.list_rate,
            "list_currency": spec.currency if spec.list_rate else None,
            "billing_type": "easypost",
            "delivery_days": spec.delivery_days,
            "delivery_date": None,
            "delivery_date_guaranteed": False,
            "est_delivery_days": spec.delivery_days,
            "shipment_id": shipment_id,
            "carrier_account_id": f"ca_{hashlib.sha1(spec.carrier.encode()).hexdigest()[:32]}",
            "created_at": _now(),
            "updated_at": _now(),
        }

    def _tracker(self, code: str, carrier: str, shipment_id: str | None, is_return: bool) -> dict[str, Any]:
        tracker_id = self._id("trk")
        tracker = {
            "id": tracker_id,
            "object": "Tracker",
            "mode": "test",
            "tracking_code": code,
            "status": "unknown",
            "status_detail": "unknown",
            "signed_by": None,
            "weight": None,
            "est_delivery_date": None,
            "shipment_id": shipment_id,
            "carrier": carrier,
            "tracking_details": [],
            "carrier_detail": {
                "object": "CarrierDetail",
                "service": None,
                "container_type": None,
                "est_delivery_date_local": None,
                "est_delivery_time_local": None,
                "origin_location": None,
                "origin_tracking_location": None,
                "destination_location": None,
                "destination_tracking_location": None,
                "guaranteed_delivery_date": None,
                "alternate_identifier": None,
                "initial_delivery_attempt": None,
            },
            "public_url": f"https://track.easypost.com/{tracker_id}",
            "fees": [
                {
                    "object": "Fee",
                    "type": "TrackerFee",
                    "amount": "0.00000",
                    "charged": False,
                    "refunded": False,
                }
            ],
            "finalized": False,
            "is_return": is_return,
            "created_at": _now(),
            "updated_at": _now(),
        }
        self._apply_history(tracker)
        return tracker

    def _apply_history(self, tracker: dict[str, Any]) -> None:
        scans = self.histories.get(tracker["tracking_code"], self.default_history)
        tracker["tracking_details"] = [
            {
                "object": "TrackingDetail",
                "message": scan.message,
                "description": scan.message,
                "status": scan.status,
                "status_detail": scan.status_detail,
                "datetime": _iso(scan.at),
                "source": tracker["carrier"],
                "carrier_code": scan.status_detail.upper(),
                "tracking_location": {
                    "object": "TrackingLocation",
                    "city": scan.city or None,
                    "state": scan.state or None,
                    "country": scan.country or None,
                    "zip": scan.zip or None,
                },
            }
            for scan in scans
        ]
        if scans:
            tracker["status"] = scans[-1].status
            tracker["status_detail"] = scans[-1].status_detail
            tracker["est_delivery_date"] = _iso(scans[-1].at + dt.timedelta(days=4))
            tracker["finalized"] = scans[-1].status in {"delivered", "return_to_sender", "cancelled"}
        tracker["updated_at"] = _now()

    # -- scripting ------------------------------------------------------------------------------------------

    def set_history(self, tracking_code: str, scans: Sequence[TrackingScan]) -> None:
        """Script what the tracker for `tracking_code` reports (now and on later fetches)."""
        with self._state:
            self.histories[tracking_code] = list(scans)
            tracker = self.trackers.get(tracking_code)
            if tracker is not None:
                self._apply_history(tracker)

    def tracker_event(self, tracking_code: str, carrier: str = "USPS") -> dict[str, Any]:
        """A `tracker.updated` Event for the tracker's current state, as EasyPost POSTs it to a webhook."""
        with self._state:
            tracker = self.trackers.get(tracking_code)
            if tracker is None:
                tracker = self._tracker(tracking_code, carrier, None, True)
                self.trackers[tracking_code] = tracker
            result = json.loads(json.dumps(tracker))
        return {
            "object": "Event",
            "id": self._id("evt"),
            "mode": "test",
            "description": "tracker.updated",
            "previous_attributes": {"status": "pre_transit"},
            "result": result,
            "status": "pending",
            "pending_urls": ["https://example.com/webhooks/easypost"],
            "completed_urls": [],
            "user_id": "user_060ab38db3c04ffaa60f262e5781a9be",
            "created_at": _now(),
            "updated_at": _now(),
        }

    # -- routes ---------------------------------------------------------------------------------------------

    def _create_shipment(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        data = (request.json or {}).get("shipment")
        if not isinstance(data, dict):
            return _error(
                422,
                "PARAMETER.REQUIRED",
                "shipment is required",
                [{"field": "shipment", "message": "required"}],
            )
        for side in ("to_address", "from_address"):
            if not isinstance(data.get(side), dict):
                return _error(
                    422, "ADDRESS.REQUIRED", f"{side} is required", [{"field": side, "message": "required"}]
                )
        if not isinstance(data.get("parcel"), dict):
            return _error(
                422, "PARCEL.REQUIRED", "parcel is required", [{"field": "parcel", "message": "required"}]
            )
        shipment_id = self._id("shp")
        options = dict(data.get("options") or {})
        options.setdefault("label_format", "PNG")
        options.setdefault("currency", "USD")
        shipment = {
            "id": shipment_id,
            "object": "Shipment",
            "mode": "test",
            "reference": data.get("reference"),
            "is_return": bool(data.get("is_return", False)),
            "status": "unknown",
            "to_address": self._address(data["to_address"]),
            "from_address": self._address(data["from_address"]),
            "return_address": self._address(data["from_address"]),
            "buyer_address": self._address(data["to_address"]),
            "parcel": self._parcel(data["parcel"]),
            "customs_info": self._customs_info(data["customs_info"]) if data.get("customs_info") else None,
            "options": options,
            "rates": [self._rate(spec, shipment_id) for spec in self.rates],
            "messages": [],
            "selected_rate": None,
            "postage_label": None,
            "tracking_code": None,
            "tracker": None,
            "refund_status": None,
            "insurance": None,
            "fees": [],
            "forms": [],
            "scan_form": None,
            "batch_id": None,
            "batch_status": None,
            "batch_message": None,
            "usps_zone": 4,
            "created_at": _now(),
            "updated_at": _now(),
        }
        with self._state:
            self.shipments[shipment_id] = shipment
        return Response(201, shipment)

    def _shipment(self, match: re.Match[str]) -> dict[str, Any]:
        shipment = self.shipments.get(match["id"])
        if shipment is None:
            raise ProviderError(self.not_found_shipment())
        return shipment

    @staticmethod
    def not_found_shipment() -> Response:
        return _error(404, "NOT_FOUND", "The requested resource could not be found.")

    def _get_shipment(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        with self._state:
            return Response(200, self._shipment(match))

    def _postage_label(self, file_format: str) -> dict[str, Any]:
        label_id = self._id("pl")
        url = f"{self.origin}/files/postage_label/{label_id}"
        label = {
            "id": label_id,
            "object": "PostageLabel",
            "date_advance": 0,
            "integrated_form": "none",
            "label_date": _now(),
            "label_resolution": 300,
            "label_size": "4x6",
            "label_type": "default",
            "label_file_type": LABEL_FILE_TYPES["PNG"],
            "label_url": f"{url}.png",
            "label_file": None,
            "label_pdf_url": None,
            "label_zpl_url": None,
            "label_epl2_url": None,
            "created_at": _now(),
            "updated_at": _now(),
        }
        self._add_label_format(label, file_format)
        return label

    def _add_label_format(self, label: dict[str, Any], file_format: str) -> None:
        if file_format in _LABEL_URL_FIELDS:
            base = label["label_url"].rsplit(".", 1)[0]
            label[_LABEL_URL_FIELDS[file_format]] = f"{base}.{file_format.lower()}"

    def _buy(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        body = request.json or {}
        rate_id = (body.get("rate") or {}).get("id")
        with self._state:
            shipment = self._shipment(match)
            if shipment["postage_label"] is not None:
                return _error(422, "SHIPMENT.POSTAGE.EXISTS", "Shipment already has postage.")
            rate = next((r for r in shipment["rates"] if r["id"] == rate_id), None)
            if rate is None:
                return _error(
                    422,
                    "SHIPMENT.RATE.INVALID",
                    "The rate is not valid for this shipment.",
                    [{"field": "rate.id", "message": "unknown rate"}],
                )
            tracking_code = f"EZ{next(self._ids):010d}"
            file_format = str(shipment["options"].get("label_format", "PNG")).upper()
            tracker = self._tracker(tracking_code, rate["carrier"], shipment["id"], shipment["is_return"])
            self.trackers[tracking_code] = tracker
            shipment.update(
                selected_rate=rate,
                postage_label=self._postage_label(file_format),
                tracking_code=tracking_code,
                tracker=tracker,
                status="unknown",
                fees=[
                    {
                        "object": "Fee",
                        "type": "LabelFee",
                        "amount": "0.00000",
                        "charged": True,
                        "refunded": False,
                    },
                    {
                        "object": "Fee",
                        "type": "PostageFee",
                        "amount": rate["rate"],
                        "charged": True,
                        "refunded": False,
                    },
                ],
                updated_at=_now(),
            )
            return Response(200, shipment)

    def _convert_label(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        file_format = (request.query.get("file_format") or [""])[0].upper()
        with self._state:
            shipment = self._shipment(match)
            if shipment["postage_label"] is None:
                return _error(422, "SHIPMENT.POSTAGE.REQUIRED", "Shipment has no postage yet.")
            if file_format not in LABEL_FILE_TYPES:
                return _error(
                    422,
                    "SHIPMENT.LABEL.INVALID_FORMAT",
                    "file_format must be one of PNG, PDF, ZPL, EPL2",
                    [{"field": "file_format", "message": "invalid"}],
                )
            self._add_label_format(shipment["postage_label"], file_format)
            return Response(200, shipment)

    def _refund(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        with self._state:
            shipment = self._shipment(match)
            if shipment["postage_label"] is None:
                return _error(422, "SHIPMENT.REFUND.UNAVAILABLE", "Shipment has no postage to refund.")
            shipment["refund_status"] = self.refund_status
            shipment["updated_at"] = _now()
            return Response(200, shipment)

    def _get_rate(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        with self._state:
            rate = next(
                (r for s in self.shipments.values() for r in s["rates"] if r["id"] == match["id"]),
                None,
            )
        return Response(200, rate) if rate is not None else self.not_found(request)

    def _create_tracker(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        data = (request.json or {}).get("tracker") or {}
        code = data.get("tracking_code")
        if not code:
            return _error(
                422,
                "TRACKER.CREATE.ERROR",
                "tracking_code is required",
                [{"field": "tracking_code", "message": "required"}],
            )
        with self._state:
            tracker = self.trackers.get(code)
            if tracker is None:
                tracker = self._tracker(code, data.get("carrier") or "USPS", None, False)
                self.trackers[code] = tracker
            return Response(201, tracker)

    def _list_trackers(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        code = (request.query.get("tracking_code") or [""])[0]
        with self._state:
            found = [t for c, t in self.trackers.items() if not code or c == code]
        return Response(200, {"trackers": found, "has_more": False})

    def _get_tracker(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        with self._state:
            tracker = next((t for t in self.trackers.values() if t["id"] == match["id"]), None)
        if tracker is None:
            return self.not_found(request)
        return Response(200, tracker)

    def _label_file(self, request: RecordedRequest, match: re.Match[str]) -> Response:
        file_format = match["ext"].upper()
        if file_format not in LABEL_DOCUMENTS:
            return self.not_found(request)
        return Response(200, raw=LABEL_DOCUMENTS[file_format], content_type=LABEL_FILE_TYPES[file_format])
