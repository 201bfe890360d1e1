"""The `easypost` adapter: return labels through an EasyPost account, on the official `easypost` SDK.

The SDK is synchronous (requests). Every call runs in this adapter's own bounded thread pool, so a slow or
hanging EasyPost ties up at most `workers` threads of this account and never the event loop. The SDK's
session retries on its own (`HTTPAdapter(max_retries=3)`: a GET answered 429 sleeps the Retry-After inside
the thread, a GET that times out is sent again up to three times); the adapter replaces that adapter with one
that never retries, because the resilience layer retries with backoff within the caller's deadline.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

from easypost.easypost_client import EasyPostClient
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from carriers.accounts import CarrierAccount
from carriers.easypost.options import EasyPostOptions
from carriers.easypost.sdk_errors import LastResponse, translate
from carriers.easypost.shipment_params import LABEL_FORMATS, shipment_params
from carriers.easypost.tracker_events import TRACKER_EVENTS, tracker_snapshot
from carriers.errors import (
    CarrierError,
    InvalidRequest,
    MalformedResponse,
    UnsupportedLane,
    UnsupportedOperation,
    WebhookVerificationFailed,
)
from carriers.models import (
    Handover,
    LabelFormat,
    LabelReference,
    PurchasedLabel,
    PurchaseRequest,
    Rate,
    ReturnShipment,
    VoidResult,
    VoidStatus,
)
from carriers.port import Capabilities, Operation, TrackingUpdates
from carriers.tracking import TrackingEvent, TrackingSnapshot
from customs.money import Money

T = TypeVar("T")

SIGNATURE_HEADER = "x-hmac-signature"
SIGNATURE_PREFIX = "hmac-sha256-hex="
# Where a bought label's URL is, per format (PNG is EasyPost's native format, in label_url).
_LABEL_URL_FIELDS = {
    LabelFormat.PNG: "label_url",
    LabelFormat.PDF: "label_pdf_url",
    LabelFormat.ZPL: "label_zpl_url",
}
_REFUND_STATUSES = {
    "submitted": VoidStatus.PENDING,
    "refunded": VoidStatus.VOIDED,
    "rejected": VoidStatus.REFUSED,
    "not_applicable": VoidStatus.REFUSED,
}


def _plain(sdk_object: Any) -> dict[str, Any]:
    """An EasyPostObject (attribute access, nested objects) as plain JSON-like dicts and lists."""
    return cast(dict[str, Any], sdk_object.to_dict())


def _service_code(rate: Mapping[str, Any]) -> str:
    return f"{rate['carrier']}:{rate['service']}"


def _service_name(rate: Mapping[str, Any]) -> str:
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", str(rate["service"]))
    return f"{rate['carrier']} {words}"


def expected_signature(body: bytes, secret: str) -> str:
    """The `X-Hmac-Signature` value EasyPost sends: HMAC-SHA256 hex over the raw body, NFKD secret."""
    key = unicodedata.normalize("NFKD", secret).encode("utf-8")
    return SIGNATURE_PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


class EasyPostCarrier:
    """One EasyPost account. Secrets: `api_key` (required), `webhook_secret` (enables webhooks)."""

    def __init__(
        self,
        account_id: str,
        carrier: str,
        api_key: str,
        options: EasyPostOptions,
        *,
        webhook_secret: str | None = None,
    ) -> None:
        self._account_id = account_id
        self._carrier = carrier
        self.options = options
        self._webhook_secret = webhook_secret
        # requests takes a float timeout; the SDK's `int` hint is narrower than what it passes on.
        timeout = cast(int, options.http_timeout_seconds)
        self._client = EasyPostClient(api_key, api_base=options.api_base, timeout=timeout)
        self._last = LastResponse()
        self._client.subscribe_to_response_hook(self._last.hook)  # type: ignore[no-untyped-call]
        no_retries = Retry(
            total=0, connect=0, read=False, redirect=False, status=0, respect_retry_after_header=False
        )
        self._session = self._client._requests_session
        self._session.mount(
            options.api_base.rsplit("/v2", 1)[0],
            HTTPAdapter(max_retries=no_retries, pool_connections=1, pool_maxsize=options.workers),
        )
        self._pool = ThreadPoolExecutor(
            max_workers=options.workers, thread_name_prefix=f"easypost-{account_id}"
        )
        operations = {Operation.QUOTE, Operation.PURCHASE, Operation.VOID, Operation.TRACK}
        updates = {TrackingUpdates.POLLING}
        if webhook_secret is not None:
            operations.add(Operation.PARSE_WEBHOOK)
            updates.add(TrackingUpdates.WEBHOOK)
        self._capabilities = Capabilities(
            operations=frozenset(operations),
            label_formats=frozenset(LABEL_FORMATS),
            tracking_updates=frozenset(updates),
        )

    @classmethod
    def from_account(cls, account: CarrierAccount, environ: Mapping[str, str]) -> EasyPostCarrier:
        """Secrets `api_key_env` (required) and `webhook_secret_env`; options: see EasyPostOptions."""
        options = EasyPostOptions.parse(account)
        api_key = account.secret("api_key", environ)
        secret = account.secret("webhook_secret", environ) if "webhook_secret" in account.secret_env else None
        return cls(account.id, account.carrier, api_key, options, webhook_secret=secret)

    @property
    def account_id(self) -> str:
        return self._account_id

    @property
    def carrier(self) -> str:
        return self._carrier

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def _run(self, work: Callable[[], T]) -> T:
        """Run SDK work in this account's pool; whatever it raises comes back as a CarrierError."""
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, functools.partial(self._guarded, work)
        )

    def _guarded(self, work: Callable[[], T]) -> T:
        self._last.clear()
        try:
            return work()
        except Exception as error:
            raise translate(error, self._last, self._account_id) from error

    # -- quote ----------------------------------------------------------------------------------------------

    async def quote(self, shipment: ReturnShipment) -> Sequence[Rate]:
        params = shipment_params(shipment, self.options, self._account_id)
        return await self._run(lambda: self._rates(_plain(self._client.shipment.create(**params))))

    def _rates(self, created: Mapping[str, Any]) -> list[Rate]:
        rates = [self._rate(rate) for rate in created["rates"]]
        if not rates:
            messages = "; ".join(
                f"{m.get('carrier', '')}: {m.get('message', '')}" for m in created.get("messages") or []
            )
            raise UnsupportedLane(
                f"EasyPost offered no rate for this return. {messages}".strip(), carrier=self._account_id
            )
        return rates

    def _rate(self, rate: Mapping[str, Any]) -> Rate:
        days = rate.get("delivery_days") or rate.get("est_delivery_days")
        return Rate(
            account_id=self._account_id,
            carrier=f"{rate['carrier']} via {self._carrier}",
            service_code=_service_code(rate),
            service_name=_service_name(rate),
            price=Money.of(str(rate["rate"]), str(rate["currency"])),
            transit_days=int(days) if days is not None else None,
            # Return labels are taken to a drop-off point; EasyPost books pickups apart from rates.
            handover=Handover.DROP_OFF,
            carrier_rate_id=str(rate["id"]),
            raw=dict(rate),
        )

    # -- purchase -------------------------------------------------------------------------------------------

    async def purchase(self, request: PurchaseRequest) -> PurchasedLabel:
        if request.label_format not in LABEL_FORMATS:
            raise InvalidRequest(
                f"EasyPost labels come as {', '.join(sorted(LABEL_FORMATS))}",
                field="label_format",
                carrier=self._account_id,
            )
        params = None
        if not request.carrier_rate_id:
            params = shipment_params(request.shipment, self.options, self._account_id, request.label_format)
        return await self._run(lambda: self._buy(request, params))

    def _buy(self, request: PurchaseRequest, params: dict[str, Any] | None) -> PurchasedLabel:
        rate: dict[str, Any] | None
        if params is None:
            rate = _plain(self._client.rate.retrieve(request.carrier_rate_id))
        else:
            created = _plain(self._client.shipment.create(**params))
            rate = next((r for r in created["rates"] if _service_code(r) == request.service_code), None)
            if rate is None:
                raise InvalidRequest(
                    f"EasyPost no longer offers {request.service_code!r} for this return",
                    field="service_code",
                    carrier=self._account_id,
                )
        if _service_code(rate) != request.service_code:
            raise InvalidRequest(
                f"rate {request.carrier_rate_id} is for {_service_code(rate)}, not {request.service_code}",
                field="carrier_rate_id",
                carrier=self._account_id,
            )
        price = Money.of(str(rate["rate"]), str(rate["currency"]))
        expected = request.expected_price
        if expected is not None and (expected.currency != price.currency or price > expected):
            raise InvalidRequest(
                f"EasyPost now charges {price} for {request.service_code}, quoted {expected}",
                field="price",
                carrier=self._account_id,
            )
        shipment_id = str(rate["shipment_id"])
        bought = _plain(self._client.shipment.buy(shipment_id, rate={"id": rate["id"]}))
        url_field = _LABEL_URL_FIELDS[request.label_format]
        url = (bought.get("postage_label") or {}).get(url_field)
        tracking_code = str(bought.get("tracking_code") or "")
        if not url:
            url = self._converted_label_url(shipment_id, tracking_code, request.label_format)
        if not url or not tracking_code:
            raise MalformedResponse(
                f"EasyPost bought shipment {shipment_id} but returned no {url_field} or tracking code",
                carrier=self._account_id,
            )
        return PurchasedLabel(
            account_id=self._account_id,
            carrier=f"{rate['carrier']} via {self._carrier}",
            service_code=request.service_code,
            tracking_number=tracking_code,
            price=price,
            label_format=request.label_format,
            carrier_shipment_id=shipment_id,
            carrier_label_id=str(bought["postage_label"]["id"]),
            label_url=str(url),
            tracking_url=str((bought.get("tracker") or {}).get("public_url") or ""),
            raw=bought,
        )

    def _converted_label_url(self, shipment_id: str, tracking_code: str, label_format: LabelFormat) -> str:
        """Bought in another format (a quote's shipment): EasyPost converts the PNG label on request.

        The label is paid for by now, so a failure here must not look retryable: retrying the purchase
        would buy a second label.
        """
        try:
            converted = self._client.shipment.label(shipment_id, file_format=LABEL_FORMATS[label_format])
            return str(
                (_plain(converted).get("postage_label") or {}).get(_LABEL_URL_FIELDS[label_format]) or ""
            )
        except Exception as error:
            cause = translate(error, self._last, self._account_id)
            raise CarrierError(
                f"EasyPost sold the label (shipment {shipment_id}, tracking {tracking_code}) but converting "
                f"it to {label_format.value} failed: {cause.message}",
                carrier=self._account_id,
                retryable=False,
            ) from error

    # -- void -----------------------------------------------------------------------------------------------

    async def void(self, label: LabelReference) -> VoidResult:
        if not label.carrier_shipment_id:
            raise InvalidRequest(
                "an EasyPost refund needs the shipment id",
                field="carrier_shipment_id",
                carrier=self._account_id,
            )
        refunded = await self._run(lambda: _plain(self._client.shipment.refund(label.carrier_shipment_id)))
        refund_status = str(refunded.get("refund_status") or "")
        if refund_status not in _REFUND_STATUSES:
            raise MalformedResponse(
                f"unknown EasyPost refund_status {refund_status!r}", carrier=self._account_id
            )
        return VoidResult(_REFUND_STATUSES[refund_status], f"EasyPost refund {refund_status}")

    # -- tracking -------------------------------------------------------------------------------------------

    async def track(self, tracking_number: str) -> TrackingSnapshot:
        return await self._run(lambda: tracker_snapshot(self._account_id, self._tracker(tracking_number)))

    def _tracker(self, tracking_number: str) -> dict[str, Any]:
        """The existing tracker for the code, else a new one (EasyPost detects the carrier from the code).

        Listing first avoids EasyPost's "duplicate request in-flight" refusal when several pollers ask.
        """
        listed = _plain(self._client.tracker.all(tracking_code=tracking_number, page_size=1))
        trackers = listed["trackers"]
        if trackers:
            return dict(trackers[0])
        return _plain(self._client.tracker.create(tracking_code=tracking_number))

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[TrackingEvent]:
        """Verify `X-Hmac-Signature` (any header case), then the `tracker.*` Event's tracking details."""
        if self._webhook_secret is None:
            raise UnsupportedOperation(
                "no webhook secret configured (webhook_secret_env)", carrier=self._account_id
            )
        signature = next((value for name, value in headers.items() if name.lower() == SIGNATURE_HEADER), "")
        if not signature:
            raise WebhookVerificationFailed("X-Hmac-Signature header missing", carrier=self._account_id)
        expected = expected_signature(body, self._webhook_secret)
        if not hmac.compare_digest(signature.strip().encode(), expected.encode()):
            raise WebhookVerificationFailed(
                "X-Hmac-Signature does not match the body", carrier=self._account_id
            )
        try:
            event = json.loads(body)
            if event.get("description") not in TRACKER_EVENTS:
                return []
            return tracker_snapshot(self._account_id, event["result"]).events
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MalformedResponse(f"unreadable EasyPost webhook: {exc}", carrier=self._account_id) from exc

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._session.close()
