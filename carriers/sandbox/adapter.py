"""The `sandbox` adapter: a simulated API carrier for demos, tests and benchmarks.

It behaves like a remote carrier (latency with jitter, random failures, a hanging mode, HTTP-like error
modes) while staying deterministic for a given seed and call order. Prices follow a fixed formula of the
shipment; tracking events unfold over time from the purchase; webhooks are HMAC-SHA256 signed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import hmac
import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from carriers.accounts import CarrierAccount
from carriers.errors import (
    AuthenticationFailed,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    RateLimited,
    Unavailable,
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
from carriers.port import Capabilities, Lane, Operation, TrackingUpdates
from carriers.sandbox.ledger import LedgerPurchase, LedgerVoid, PurchaseLedger, sandbox_label
from carriers.tracking import (
    ExceptionReason,
    TrackingEvent,
    TrackingLocation,
    TrackingSnapshot,
    TrackingStatus,
)
from customs.countries import validate_country
from customs.datafile import DataTable
from customs.money import Money, validate_currency

SIGNATURE_HEADER = "x-sandbox-signature"
_SIGNATURE_PREFIX = "sha256="


class SandboxMode(StrEnum):
    NORMAL = "normal"
    HANG = "hang"  # never answers: only the caller's timeout ends the call
    UNAVAILABLE = "unavailable"  # as if the API answered 500
    RATE_LIMITED = "rate_limited"  # as if it answered 429 with Retry-After
    AUTH_FAILURE = "auth_failure"  # as if it answered 401
    MALFORMED = "malformed"  # as if it answered unreadable JSON


@dataclass(frozen=True, slots=True)
class SandboxSettings:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    failure_rate: float = 0.0  # share of calls failing as Unavailable, drawn from the seeded generator
    mode: SandboxMode = SandboxMode.NORMAL
    fail_first: int = 0  # when > 0, `mode` applies to the first N calls only, then calls succeed
    retry_after_seconds: float = 1.0
    seed: int = 0
    currency: str = "EUR"
    base_price: Decimal = Decimal("6.00")
    per_kg: Decimal = Decimal("1.20")  # per started kg of total weight
    cross_border_fee: Decimal = Decimal("4.00")
    pickup_fee: Decimal = Decimal("2.50")  # when the carrier collects
    tracking_step_seconds: float = 60.0  # simulated time between two scans
    origin_countries: frozenset[str] = frozenset()  # empty: any
    # Durable purchase ledger (JSON lines): purchases survive restarts and can be looked up by idempotency
    # key. Empty: purchases live in memory only and cannot be looked up.
    ledger_file: str = ""


_SETTINGS_FIELDS = frozenset(SandboxSettings.__dataclass_fields__)


def parse_settings(options: Mapping[str, Any], source: str) -> SandboxSettings:
    table = DataTable(options, source, "options")
    table.reject_unknown(_SETTINGS_FIELDS)
    default = SandboxSettings()
    failure_rate = table.number("failure_rate", default.failure_rate, minimum=0)
    if failure_rate > 1:
        raise table.error("failure_rate", "must be between 0 and 1")
    return SandboxSettings(
        latency_ms=table.number("latency_ms", default.latency_ms, minimum=0),
        jitter_ms=table.number("jitter_ms", default.jitter_ms, minimum=0),
        failure_rate=failure_rate,
        mode=table.checked("mode", table.text("mode", default.mode.value), SandboxMode),
        fail_first=table.integer("fail_first", default.fail_first, minimum=0),
        retry_after_seconds=table.number("retry_after_seconds", default.retry_after_seconds, minimum=0),
        seed=table.integer("seed", default.seed),
        currency=table.checked("currency", table.text("currency", default.currency), validate_currency),
        base_price=table.decimal("base_price", default.base_price, minimum=Decimal(0)),
        per_kg=table.decimal("per_kg", default.per_kg, minimum=Decimal(0)),
        cross_border_fee=table.decimal("cross_border_fee", default.cross_border_fee, minimum=Decimal(0)),
        pickup_fee=table.decimal("pickup_fee", default.pickup_fee, minimum=Decimal(0)),
        tracking_step_seconds=table.number(
            "tracking_step_seconds", default.tracking_step_seconds, minimum=0.001
        ),
        origin_countries=frozenset(
            table.checked("origin_countries", c, validate_country) for c in table.strings("origin_countries")
        ),
        ledger_file=table.text("ledger_file", default.ledger_file),
    )


@dataclass(frozen=True, slots=True)
class _Service:
    code: str
    name: str
    factor: Decimal
    domestic_days: int
    cross_border_days: int


_SERVICES = (
    _Service("sandbox_standard", "Sandbox Standard", Decimal(1), 3, 5),
    _Service("sandbox_express", "Sandbox Express", Decimal("1.8"), 1, 2),
)
_HANDOVERS = (Handover.DROP_OFF, Handover.PICKUP)


@dataclass(slots=True)
class _Purchase:
    label: PurchasedLabel
    purchased_at: dt.datetime
    cross_border: bool
    origin: TrackingLocation
    destination: TrackingLocation
    voided: bool = False


def sign_webhook(secret: str, body: bytes) -> str:
    """The signature header value the sandbox expects for `body`."""
    return _SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SandboxCarrier:
    def __init__(
        self,
        account_id: str,
        carrier: str,
        settings: SandboxSettings,
        *,
        webhook_secret: str | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self._account_id = account_id
        self._carrier = carrier
        self.settings = settings
        self._webhook_secret = webhook_secret
        self._clock = clock
        self._rng = random.Random(settings.seed)
        # The simulated carrier's price list: a shipment's rates depend only on its lane, its started kilos
        # and the handover, and Rates are immutable, so each combination is worked out once.
        self._price_list = functools.lru_cache(maxsize=1024)(self._priced)
        self._calls = 0
        self._purchases: dict[str, _Purchase] = {}
        self._by_key: dict[str, str] = {}  # idempotency key -> tracking number
        self._ledger = PurchaseLedger(Path(settings.ledger_file)) if settings.ledger_file else None
        if self._ledger is not None:
            self._restore(self._ledger)
        operations = {Operation.QUOTE, Operation.PURCHASE, Operation.VOID, Operation.TRACK}
        updates = {TrackingUpdates.POLLING}
        if webhook_secret is not None:
            operations.add(Operation.PARSE_WEBHOOK)
            updates.add(TrackingUpdates.WEBHOOK)
        self._capabilities = Capabilities(
            operations=frozenset(operations),
            label_formats=frozenset(LabelFormat),
            handovers=frozenset(Handover),
            tracking_updates=frozenset(updates),
            lanes=(Lane(origin_countries=settings.origin_countries),),
        )

    def _restore(self, ledger: PurchaseLedger) -> None:
        for entry in ledger.entries():
            if isinstance(entry, LedgerVoid):
                if entry.tracking_number in self._purchases:
                    self._purchases[entry.tracking_number].voided = True
                continue
            self._purchases[entry.label.tracking_number] = _Purchase(
                label=entry.label,
                purchased_at=entry.purchased_at,
                cross_border=entry.cross_border,
                origin=_location(*entry.origin),
                destination=_location(*entry.destination),
            )
            self._by_key[entry.idempotency_key] = entry.label.tracking_number

    @classmethod
    def from_account(cls, account: CarrierAccount, environ: Mapping[str, str]) -> SandboxCarrier:
        """Options: see SandboxSettings. A `webhook_secret_env` enables signed webhooks."""
        settings = parse_settings(account.options, account.source or account.id)
        secret = account.secret("webhook_secret", environ) if "webhook_secret" in account.secret_env else None
        return cls(account.id, account.carrier, settings, webhook_secret=secret)

    @property
    def account_id(self) -> str:
        return self._account_id

    @property
    def carrier(self) -> str:
        return self._carrier

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def _behave(self) -> None:
        """Latency, then the configured failure, as a remote API would."""
        settings = self.settings
        self._calls += 1
        delay_ms = settings.latency_ms + self._rng.uniform(-settings.jitter_ms, settings.jitter_ms)
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        if settings.mode is not SandboxMode.NORMAL and (
            settings.fail_first == 0 or self._calls <= settings.fail_first
        ):
            await self._fail(settings.mode)
        if settings.failure_rate and self._rng.random() < settings.failure_rate:
            raise Unavailable("sandbox: simulated 503 Service Unavailable", carrier=self._account_id)

    async def _fail(self, mode: SandboxMode) -> None:
        carrier = self._account_id
        if mode is SandboxMode.HANG:
            await asyncio.Event().wait()
        if mode is SandboxMode.UNAVAILABLE:
            raise Unavailable("sandbox: HTTP 500 Internal Server Error", carrier=carrier)
        if mode is SandboxMode.RATE_LIMITED:
            raise RateLimited(
                "sandbox: HTTP 429 Too Many Requests",
                retry_after_seconds=self.settings.retry_after_seconds,
                carrier=carrier,
            )
        if mode is SandboxMode.AUTH_FAILURE:
            raise AuthenticationFailed("sandbox: HTTP 401 invalid API key", carrier=carrier)
        if mode is SandboxMode.MALFORMED:
            raise MalformedResponse("sandbox: response body is not valid JSON", carrier=carrier)

    def _rates(self, shipment: ReturnShipment) -> Sequence[Rate]:
        """Each service for each handover (drop-off first), or for `shipment.handover` only."""
        origin, destination = shipment.origin_country, shipment.destination_country
        started_kg = -(-shipment.total_weight_grams // 1000)
        return self._price_list(origin, destination, started_kg, shipment.handover)

    def _priced(
        self, origin: str, destination: str, started_kg: int, handover: Handover | None
    ) -> tuple[Rate, ...]:
        """The rates of a shipment, which depend on these alone (see `_price_list`)."""
        if not self._capabilities.serves(origin, destination):
            raise UnsupportedLane(f"sandbox does not collect in {origin}", carrier=self._account_id)
        settings = self.settings
        cross_border = origin != destination
        base = settings.base_price + settings.per_kg * started_kg
        if cross_border:
            base += settings.cross_border_fee
        raw = {"started_kg": started_kg, "cross_border": cross_border}
        return tuple(
            Rate(
                account_id=self._account_id,
                carrier=self._carrier,
                service_code=service.code,
                service_name=service.name,
                price=Money(
                    base * service.factor + (settings.pickup_fee if each is Handover.PICKUP else 0),
                    settings.currency,
                ).rounded(),
                transit_days=service.cross_border_days if cross_border else service.domestic_days,
                handover=each,
                carrier_rate_id=f"rate_{service.code}_{each.value}_{started_kg}",
                raw=raw,
            )
            for each in (_HANDOVERS if handover is None else (handover,))
            for service in _SERVICES
        )

    async def quote(self, shipment: ReturnShipment) -> Sequence[Rate]:
        await self._behave()
        return self._rates(shipment)

    async def purchase(self, request: PurchaseRequest) -> PurchasedLabel:
        await self._behave()
        rate = next(
            (r for r in self._rates(request.shipment) if r.service_code == request.service_code), None
        )
        if rate is None:
            raise InvalidRequest(
                f"unknown service {request.service_code!r}", field="service_code", carrier=self._account_id
            )
        tracking_number = f"SB{self._rng.randrange(10**12):012d}"
        while tracking_number in self._purchases:  # a restarted sandbox replays its seeded numbers
            tracking_number = f"SB{self._rng.randrange(10**12):012d}"
        shipment = request.shipment
        label = sandbox_label(
            self._account_id,
            self._carrier,
            rate.service_code,
            tracking_number,
            rate.price,
            request.label_format,
            request.idempotency_key,
        )
        purchase = _Purchase(
            label=label,
            purchased_at=self._clock(),
            cross_border=shipment.is_cross_border,
            origin=_location(shipment.customer.address.locality, shipment.origin_country),
            destination=_location(shipment.destination.address.locality, shipment.destination_country),
        )
        if self._ledger is not None:
            self._ledger.record_purchase(
                LedgerPurchase(
                    label=label,
                    idempotency_key=request.idempotency_key,
                    purchased_at=purchase.purchased_at,
                    cross_border=purchase.cross_border,
                    origin=(purchase.origin.city, purchase.origin.country),
                    destination=(purchase.destination.city, purchase.destination.country),
                )
            )
        self._purchases[tracking_number] = purchase
        self._by_key[request.idempotency_key] = tracking_number
        return label

    async def find_purchase(self, request: PurchaseRequest) -> PurchasedLabel | None:
        """From the ledger: only a sandbox with `ledger_file` remembers its purchases across restarts."""
        if self._ledger is None:
            raise UnsupportedOperation(
                "purchases can only be looked up with a ledger_file", carrier=self._account_id
            )
        tracking_number = self._by_key.get(request.idempotency_key)
        return self._purchases[tracking_number].label if tracking_number is not None else None

    async def void(self, label: LabelReference) -> VoidResult:
        await self._behave()
        purchase = self._purchase(label.tracking_number)
        if len(self._events(purchase)) > 1:
            return VoidResult(VoidStatus.REFUSED, "the parcel has already been scanned")
        if self._ledger is not None:
            self._ledger.record_void(label.tracking_number)
        purchase.voided = True
        return VoidResult(VoidStatus.VOIDED, "refunded", refund=purchase.label.price)

    async def track(self, tracking_number: str) -> TrackingSnapshot:
        await self._behave()
        purchase = self._purchase(tracking_number)
        events = self._events(purchase)
        return TrackingSnapshot(
            carrier=self._account_id,
            tracking_number=tracking_number,
            status=events[-1].status if events else TrackingStatus.UNKNOWN,
            events=tuple(events),
        )

    def _purchase(self, tracking_number: str) -> _Purchase:
        purchase = self._purchases.get(tracking_number)
        if purchase is None:
            raise NotFound(f"no sandbox shipment {tracking_number!r}", carrier=self._account_id)
        return purchase

    def _events(self, purchase: _Purchase) -> list[TrackingEvent]:
        """The scans that have happened by now; one cross-border parcel in four is held by customs."""
        number = purchase.label.tracking_number
        plan: list[tuple[TrackingStatus, str, str, TrackingLocation, ExceptionReason | None]]
        if purchase.voided:
            plan = [(TrackingStatus.CANCELLED, "VOID", "label voided", purchase.origin, None)]
        else:
            plan = [
                (TrackingStatus.PRE_TRANSIT, "LC", "label created", purchase.origin, None),
                (TrackingStatus.IN_TRANSIT, "AC", "accepted at drop-off point", purchase.origin, None),
                (TrackingStatus.IN_TRANSIT, "DP", "departed sorting centre", purchase.origin, None),
            ]
            if purchase.cross_border and int(number[-1]) % 4 == 0:
                plan.append(
                    (
                        TrackingStatus.EXCEPTION,
                        "CD",
                        "held by customs",
                        purchase.destination,
                        ExceptionReason.CUSTOMS_DELAY,
                    )
                )
            plan += [
                (TrackingStatus.OUT_FOR_DELIVERY, "OD", "out for delivery", purchase.destination, None),
                (TrackingStatus.DELIVERED, "DL", "delivered to returns hub", purchase.destination, None),
            ]
        now = self._clock()
        step = dt.timedelta(seconds=self.settings.tracking_step_seconds)
        events = []
        for index, (status, code, description, location, reason) in enumerate(plan):
            occurred_at = purchase.purchased_at + step * index
            if occurred_at > now:
                break
            events.append(
                TrackingEvent(
                    carrier=self._account_id,
                    tracking_number=number,
                    occurred_at=occurred_at,
                    status=status,
                    substatus=code,
                    code=code,
                    description=description,
                    location=location,
                    reason=reason,
                    raw={"code": code, "description": description},
                )
            )
        return events

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[TrackingEvent]:
        """Body: {"tracking_number": ..., "events": [{"occurred_at", "status", "code", "description",
        "location": {city, region, postal_code, country}}]}; header x-sandbox-signature: sha256=<hex>."""
        if self._webhook_secret is None:
            raise UnsupportedOperation("no webhook secret configured", carrier=self._account_id)
        signature = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), "")
        expected = sign_webhook(self._webhook_secret, body)
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            raise WebhookVerificationFailed("missing or wrong x-sandbox-signature", carrier=self._account_id)
        try:
            document = json.loads(body)
            number = str(document["tracking_number"])
            return [self._webhook_event(number, entry) for entry in document["events"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedResponse(f"unreadable sandbox webhook: {exc}", carrier=self._account_id) from exc

    def _webhook_event(self, tracking_number: str, entry: Mapping[str, Any]) -> TrackingEvent:
        raw_status = str(entry["status"])
        try:
            status = TrackingStatus(raw_status)
        except ValueError:
            status = TrackingStatus.UNKNOWN
        reason = entry.get("reason")
        location = entry.get("location") or {}
        return TrackingEvent(
            carrier=self._account_id,
            tracking_number=tracking_number,
            occurred_at=dt.datetime.fromisoformat(str(entry["occurred_at"])),
            status=status,
            substatus=raw_status,
            code=str(entry.get("code", "")),
            description=str(entry.get("description", "")),
            location=TrackingLocation(
                city=str(location.get("city", "")),
                region=str(location.get("region", "")),
                postal_code=str(location.get("postal_code", "")),
                country=str(location.get("country", "")),
            ),
            reason=ExceptionReason(reason) if reason else None,
            raw=dict(entry),
        )

    async def close(self) -> None:
        return None


def _location(city: str, country: str) -> TrackingLocation:
    return TrackingLocation(city=city, country=country)
