"""The `shippo` adapter: return labels through a Shippo account, on the official `shippo` SDK (3.x).

The SDK is synchronous (requests + dataclasses-json) and sends no timeout at all: a silent Shippo would hold a
thread forever. The adapter gives it a session whose requests always carry the account's timeout and never
retry (the resilience layer retries within the caller's deadline), and runs every call in its own bounded
thread pool so the event loop is never blocked. Decoding a Shippo answer costs the SDK 11-15 ms of CPU
(research/carrier-apis.md); that work happens in the pool too.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import requests
import shippo
from requests.adapters import HTTPAdapter
from shippo.models import components
from urllib3.util.retry import Retry

from carriers.accounts import CarrierAccount
from carriers.errors import (
    InvalidRequest,
    MalformedResponse,
    UnsupportedLane,
    UnsupportedOperation,
    WebhookVerificationFailed,
)
from carriers.models import (
    Handover,
    LabelReference,
    PurchasedLabel,
    PurchaseRequest,
    Rate,
    ReturnShipment,
    VoidResult,
    VoidStatus,
)
from carriers.port import Capabilities, Operation, TrackingUpdates
from carriers.shippo.options import ShippoOptions
from carriers.shippo.sdk_errors import translate
from carriers.shippo.shipment_request import LABEL_FILE_TYPES, shipment_request
from carriers.shippo.track_events import TRACK_EVENTS, track_snapshot
from carriers.shippo.tracking_numbers import tracking_number_patterns
from carriers.shippo.webhook_auth import hmac_problem, token_problem
from carriers.tracking import TrackingEvent, TrackingSnapshot
from customs.money import Money

T = TypeVar("T")

_PENDING_TRANSACTION = frozenset({"QUEUED", "WAITING"})
_LABEL_POLLS = 8
_LABEL_POLL_SECONDS = 0.25
_REFUND_STATUSES = {
    "QUEUED": VoidStatus.PENDING,
    "PENDING": VoidStatus.PENDING,
    "SUCCESS": VoidStatus.VOIDED,
    "ERROR": VoidStatus.REFUSED,
}
_REMEMBERED_LABELS = 10_000


class TimeoutSession(requests.Session):
    """A session whose requests carry a timeout even when the caller (the Shippo SDK) passes none."""

    def __init__(self, timeout: float, pool_size: int) -> None:
        super().__init__()
        self.timeout = timeout
        no_retries = Retry(
            total=0, connect=0, read=False, redirect=False, status=0, respect_retry_after_header=False
        )
        adapter = HTTPAdapter(max_retries=no_retries, pool_connections=1, pool_maxsize=pool_size)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def _value(enum_or_text: Any) -> str:
    return str(getattr(enum_or_text, "value", enum_or_text) or "")


def carrier_token(provider: str) -> str:
    """Shippo's carrier token for a rate's provider name ("DHL Express" -> "dhl_express")."""
    return provider.strip().lower().replace(" ", "_")


class ShippoCarrier:
    """One Shippo account. Secrets: `api_key` (required); `webhook_token` and/or `webhook_hmac_secret`
    enable webhooks (every configured check must pass)."""

    def __init__(
        self,
        account_id: str,
        carrier: str,
        api_key: str,
        options: ShippoOptions,
        *,
        webhook_token: str | None = None,
        webhook_hmac_secret: str | None = None,
    ) -> None:
        self._account_id = account_id
        self._carrier = carrier
        self.options = options
        self._webhook_token = webhook_token
        self._webhook_hmac_secret = webhook_hmac_secret
        self._session = TimeoutSession(options.http_timeout_seconds, options.workers)
        self._api = shippo.Shippo(api_key_header=api_key, server_url=options.server_url, client=self._session)
        self._pool = ThreadPoolExecutor(
            max_workers=options.workers, thread_name_prefix=f"shippo-{account_id}"
        )
        self._label_carriers: OrderedDict[str, str] = OrderedDict()  # tracking number -> carrier token
        operations = {Operation.QUOTE, Operation.PURCHASE, Operation.VOID, Operation.TRACK}
        updates = {TrackingUpdates.POLLING}
        if webhook_token is not None or webhook_hmac_secret is not None:
            operations.add(Operation.PARSE_WEBHOOK)
            updates.add(TrackingUpdates.WEBHOOK)
        self._capabilities = Capabilities(
            operations=frozenset(operations),
            label_formats=frozenset(LABEL_FILE_TYPES),
            tracking_updates=frozenset(updates),
        )

    @classmethod
    def from_account(cls, account: CarrierAccount, environ: Mapping[str, str]) -> ShippoCarrier:
        """Secrets `api_key_env` (required), `webhook_token_env`, `webhook_hmac_secret_env`; options: see
        ShippoOptions."""
        options = ShippoOptions.parse(account)
        api_key = account.secret("api_key", environ)
        token = account.secret("webhook_token", environ) if "webhook_token" in account.secret_env else None
        hmac_secret = (
            account.secret("webhook_hmac_secret", environ)
            if "webhook_hmac_secret" in account.secret_env
            else None
        )
        return cls(
            account.id,
            account.carrier,
            api_key,
            options,
            webhook_token=token,
            webhook_hmac_secret=hmac_secret,
        )

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
        try:
            return work()
        except Exception as error:
            raise translate(error, self._account_id) from error

    # -- quote ----------------------------------------------------------------------------------------------

    async def quote(self, shipment: ReturnShipment) -> Sequence[Rate]:
        request = shipment_request(shipment, self.options, self._account_id)
        return await self._run(lambda: self._rates(self._api.shipments.create(request)))

    def _rates(self, created: Any) -> list[Rate]:
        rates = [self._rate(rate) for rate in created.rates]
        if not rates:
            messages = "; ".join(f"{m.source or ''}: {m.text or ''}" for m in created.messages or [])
            raise UnsupportedLane(
                f"Shippo offered no rate for this return. {messages}".strip(), carrier=self._account_id
            )
        return rates

    def _rate(self, rate: Any) -> Rate:
        service = rate.servicelevel
        return Rate(
            account_id=self._account_id,
            carrier=f"{rate.provider} via {self._carrier}",
            service_code=str(service.token),
            service_name=f"{rate.provider} {service.name}",
            price=Money.of(str(rate.amount), str(rate.currency)),
            transit_days=int(rate.estimated_days) if rate.estimated_days is not None else None,
            # Shippo return labels are scan-based drop-offs; its rates say nothing of pickup.
            handover=Handover.DROP_OFF,
            carrier_rate_id=str(rate.object_id),
            raw={
                "object_id": rate.object_id,
                "shipment": rate.shipment,
                "provider": rate.provider,
                "servicelevel": service.token,
                "amount": rate.amount,
                "currency": rate.currency,
                "estimated_days": rate.estimated_days,
                "duration_terms": rate.duration_terms,
                "attributes": [_value(a) for a in rate.attributes],
            },
        )

    # -- purchase -------------------------------------------------------------------------------------------

    async def purchase(self, request: PurchaseRequest) -> PurchasedLabel:
        if request.label_format not in LABEL_FILE_TYPES:
            raise InvalidRequest(
                f"Shippo labels come as {', '.join(sorted(LABEL_FILE_TYPES))}",
                field="label_format",
                carrier=self._account_id,
            )
        shipment = None
        if not request.carrier_rate_id:
            shipment = shipment_request(request.shipment, self.options, self._account_id)
        label, token = await self._run(lambda: self._buy(request, shipment))
        self._remember(label.tracking_number, token)
        return label

    def _buy(self, request: PurchaseRequest, shipment: Any) -> tuple[PurchasedLabel, str]:
        if shipment is None:
            rate = self._api.rates.get(request.carrier_rate_id)
        else:
            created = self._api.shipments.create(shipment)
            rate = next((r for r in created.rates if r.servicelevel.token == request.service_code), None)
            if rate is None:
                raise InvalidRequest(
                    f"Shippo no longer offers {request.service_code!r} for this return",
                    field="service_code",
                    carrier=self._account_id,
                )
        if rate.servicelevel.token != request.service_code:
            raise InvalidRequest(
                f"rate {request.carrier_rate_id} is for {rate.servicelevel.token}, "
                f"not {request.service_code}",
                field="carrier_rate_id",
                carrier=self._account_id,
            )
        price = Money.of(str(rate.amount), str(rate.currency))
        expected = request.expected_price
        if expected is not None and (expected.currency != price.currency or price > expected):
            raise InvalidRequest(
                f"Shippo now charges {price} for {request.service_code}, quoted {expected}",
                field="price",
                carrier=self._account_id,
            )
        transaction = self._api.transactions.create(
            components.TransactionCreateRequest(
                rate=rate.object_id,
                label_file_type=LABEL_FILE_TYPES[request.label_format],
                metadata=request.idempotency_key[:100],
                async_=False,
            )
        )
        for _ in range(_LABEL_POLLS):
            if _value(transaction.status) not in _PENDING_TRANSACTION:
                break
            time.sleep(_LABEL_POLL_SECONDS)
            transaction = self._api.transactions.get(transaction.object_id)
        status = _value(transaction.status)
        if status == "ERROR":
            reasons = "; ".join(m.text or "" for m in transaction.messages or []) or "no reason given"
            raise InvalidRequest(f"Shippo could not issue the label: {reasons}", carrier=self._account_id)
        if status != "SUCCESS" or not transaction.tracking_number or not transaction.label_url:
            raise MalformedResponse(
                f"Shippo transaction {transaction.object_id} is {status} without a label; "
                "it may still complete: check it before buying again",
                carrier=self._account_id,
            )
        label = PurchasedLabel(
            account_id=self._account_id,
            carrier=f"{rate.provider} via {self._carrier}",
            service_code=request.service_code,
            tracking_number=str(transaction.tracking_number),
            price=price,
            label_format=request.label_format,
            carrier_shipment_id=str(rate.shipment),
            carrier_label_id=str(transaction.object_id),
            label_url=str(transaction.label_url),
            tracking_url=str(transaction.tracking_url_provider or ""),
            raw={
                "transaction": transaction.object_id,
                "rate": rate.object_id,
                "status": status,
                "label_file_type": _value(transaction.label_file_type),
                "commercial_invoice_url": transaction.commercial_invoice_url,
            },
        )
        return label, carrier_token(str(rate.provider))

    def _remember(self, tracking_number: str, token: str) -> None:
        self._label_carriers[tracking_number] = token
        self._label_carriers.move_to_end(tracking_number)
        while len(self._label_carriers) > _REMEMBERED_LABELS:
            self._label_carriers.popitem(last=False)

    # -- void -----------------------------------------------------------------------------------------------

    async def void(self, label: LabelReference) -> VoidResult:
        if not label.carrier_label_id:
            raise InvalidRequest(
                "a Shippo refund needs the transaction id", field="carrier_label_id", carrier=self._account_id
            )
        refund = await self._run(
            lambda: self._api.refunds.create(transaction=label.carrier_label_id, async_=False)
        )
        status = _value(refund.status)
        if status not in _REFUND_STATUSES:
            raise MalformedResponse(f"unknown Shippo refund status {status!r}", carrier=self._account_id)
        return VoidResult(_REFUND_STATUSES[status], f"Shippo refund {status}")

    # -- tracking -------------------------------------------------------------------------------------------

    async def track(self, tracking_number: str) -> TrackingSnapshot:
        token = self._label_carriers.get(tracking_number) or tracking_number_patterns().carrier_for(
            tracking_number
        )
        if token is None:
            raise InvalidRequest(
                f"cannot tell which carrier issued {tracking_number!r}",
                field="tracking_number",
                carrier=self._account_id,
            )
        return await self._run(
            lambda: track_snapshot(
                self._account_id, self._api.tracking_status.get(tracking_number, token).to_dict()
            )
        )

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[TrackingEvent]:
        """Check the URL token and the HMAC header (each when configured), then the `track_updated` data."""
        if self._webhook_token is None and self._webhook_hmac_secret is None:
            raise UnsupportedOperation(
                "no webhook token or HMAC secret configured (webhook_token_env, webhook_hmac_secret_env)",
                carrier=self._account_id,
            )
        problem = None
        if self._webhook_token is not None:
            problem = token_problem(headers, self._webhook_token)
        if problem is None and self._webhook_hmac_secret is not None:
            problem = hmac_problem(
                headers,
                body,
                self._webhook_hmac_secret,
                header_name=self.options.webhook_signature_header,
                max_age_seconds=self.options.webhook_max_age_seconds,
            )
        if problem is not None:
            raise WebhookVerificationFailed(problem, carrier=self._account_id)
        try:
            payload = json.loads(body)
            if payload.get("event") not in TRACK_EVENTS:
                return []
            return track_snapshot(self._account_id, payload["data"]).events
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MalformedResponse(f"unreadable Shippo webhook: {exc}", carrier=self._account_id) from exc

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._session.close()
