"""The history simulator (`backhaul simulate`): realistic returns across carriers and lanes, deterministic by
seed, written into the configured database through the real code paths (service/insights/history.py).

For return i of N over the D days ending at `until` (one random draw sequence per seed):
- its time falls in the i-th of N equal slices of the period, so returns come in time order;
- a customer country by share (profiles), the hub its country routes to, 1..max_lines SKUs by share, each
  with a reason drawn by that SKU's reason weights;
- a quote: every configured carrier account with a profile that serves the lane and that the hub accepts
  answers, by its quote behaviour (an error, a timeout, or rates after a drawn latency). The answers are
  counted like live quote outcomes. Prices and transit days are the carriers' own quotes for the parcel
  (rate cards, the sandbox's price model), asked once per carrier, country and 500 g weight step;
- the label: from the carriers that quoted, by choice weight, and a service by weight (else the cheapest);
- the journey: drop-off after drawn days (some labels are never used, some of those voided), transit of
  the promise times a drawn factor, customs holds on lanes crossing a customs border, exceptions, returns
  to sender, lost parcels; only scans that happened before `until` are written.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import os
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import text

from carriers.accounts import CarrierAccount, load_accounts
from carriers.errors import CarrierError
from carriers.models import Handover, Parcel, Rate
from carriers.port import CarrierAdapter, Operation, TrackingUpdates
from carriers.registry import build_carriers
from carriers.tracking import ExceptionReason, TrackingLocation, TrackingStatus
from customs.declaration import declaration_required
from service.bus import open_bus
from service.config import Settings
from service.insights.history import BulkHistoryWriter, HistoryWriter, SimulatedReturn, SimulatedScan
from service.insights.profiles import (
    CarrierProfile,
    CountryProfile,
    SimulationProfiles,
    SkuProfile,
    load_profiles,
    pick,
)
from service.insights.runtime import InsightsConfig, open_insights
from service.labels.repository import LabelRepository
from service.metrics import ServiceMetrics
from service.quoting.fx import load_fx_table
from service.quoting.hubs import Hub, HubDirectory, load_hubs
from service.quoting.request import (
    AddressInput,
    ContactInput,
    ItemInput,
    MoneyInput,
    PartyInput,
    ShipmentInput,
)
from service.quoting.use_case import CarrierAnswer
from service.quoting.validation import validate_shipment
from service.storage.engine import create_database
from service.storage.schema import upgrade_database
from service.storage.tenancy import Tenancy
from service.tracking.runtime import open_tracking

WEIGHT_STEP_GRAMS = 500
QUOTE_TIMEOUT_SECONDS = 5.0  # the quote budget a timed-out answer used up
REQUOTE_AFTER = dt.timedelta(minutes=2)  # a customer whose quote found no carrier asks again
MAX_QUOTES = 5

# Scan codes: UPU EMSEVT for partners that push (see service/tracking/data/partner_status_codes.toml), short
# codes of an API carrier for the others. Statuses and reasons are given with every scan.
_PARTNER_CODES = {
    "accepted": "EMA",
    "departed": "EMC",
    "released": "EMF",
    "out_for_delivery": "EDG",
    "delivered": "EMI",
    "returned": "RTS",
    ExceptionReason.CUSTOMS_DELAY: "EME",
    ExceptionReason.CUSTOMS_INSPECTION: "EDB",
    ExceptionReason.DUTIES_UNPAID: "EDU",
    ExceptionReason.ADDRESS_PROBLEM: "EMH",
    ExceptionReason.DAMAGED: "EDM",
    ExceptionReason.LOST: "ELS",
    ExceptionReason.OTHER: "EXX",
}
_API_CODES = {
    "accepted": "AC",
    "departed": "DP",
    "released": "CR",
    "out_for_delivery": "OD",
    "delivered": "DL",
    "returned": "RS",
    ExceptionReason.CUSTOMS_DELAY: "CD",
    ExceptionReason.CUSTOMS_INSPECTION: "CI",
    ExceptionReason.DUTIES_UNPAID: "DU",
    ExceptionReason.ADDRESS_PROBLEM: "AP",
    ExceptionReason.DAMAGED: "DM",
    ExceptionReason.LOST: "LO",
    ExceptionReason.OTHER: "EX",
}


@dataclass(frozen=True, slots=True)
class SimulationRequest:
    merchant_id: str
    returns: int
    days: int
    seed: int
    until: dt.datetime


@dataclass
class SimulationReport:
    returns: int = 0
    written: int = 0  # new to the store (0 when the same seed was written before)
    scans: int = 0
    quote_answers: int = 0
    by_carrier: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class GeneratedBatch:
    returns: list[SimulatedReturn]
    answers: list[tuple[CarrierAnswer, dt.datetime]]


@dataclass(frozen=True, slots=True)
class _Lane:
    country: CountryProfile
    hub: Hub
    carriers: tuple[CarrierProfile, ...]
    customs: bool  # the lane crosses a customs border


def _days(value: float) -> dt.timedelta:
    return dt.timedelta(days=value)


class HistoryGenerator:
    def __init__(
        self,
        profiles: SimulationProfiles,
        *,
        adapters: Mapping[str, CarrierAdapter],
        accounts: Mapping[str, CarrierAccount],
        hubs: HubDirectory,
        request: SimulationRequest,
    ) -> None:
        self._profiles = profiles
        self._adapters = adapters
        self._accounts = accounts
        self._hubs = hubs
        self._request = request
        self._rng = random.Random(request.seed)
        self._start = request.until - dt.timedelta(days=request.days)
        tag = hashlib.sha256(f"{request.merchant_id}\x1f{request.seed}".encode()).hexdigest()[:6].upper()
        self._number_prefix = f"SIM{tag}"
        self._rates: dict[tuple[str, str, int], list[Rate]] = {}
        self._lanes = [self._lane(country) for country in profiles.countries]
        self._lane_weights = [(lane, lane.country.share) for lane in self._lanes if lane.carriers]
        if not self._lane_weights:
            raise ValueError("no simulated country has a configured carrier with a profile")

    def _lane(self, country: CountryProfile) -> _Lane:
        hub = self._hubs.route(country.country)
        hub_country = hub.party.address.country
        carriers = tuple(
            profile
            for account_id, profile in self._profiles.carriers.items()
            if account_id in self._adapters
            and hub.accepts(account_id)
            and self._adapters[account_id].capabilities.supports(Operation.QUOTE)
            and self._adapters[account_id].capabilities.serves(country.country, hub_country, hub.id)
        )
        return _Lane(country, hub, carriers, declaration_required(country.country, hub_country))

    async def batch(self, first: int, count: int) -> GeneratedBatch:
        returns: list[SimulatedReturn] = []
        answers: list[tuple[CarrierAnswer, dt.datetime]] = []
        for index in range(first, first + count):
            generated = await self._one(index, answers)
            if generated is not None:
                returns.append(generated)
        return GeneratedBatch(returns, answers)

    async def _one(
        self, index: int, answers: list[tuple[CarrierAnswer, dt.datetime]]
    ) -> SimulatedReturn | None:
        rng, request = self._rng, self._request
        span = request.until - self._start
        created = (self._start + span * ((index + rng.random()) / request.returns)).replace(microsecond=0)
        lane = pick(rng, self._lane_weights)
        shipment = self._shipment(lane.country)
        grams = sum(parcel.weight_grams for parcel in shipment.parcels)
        quoted_at = created - self._profiles.customers.quote_lead
        offers: dict[str, list[Rate]] = {}
        for _ in range(MAX_QUOTES):
            offers = await self._quote(lane, shipment, grams, quoted_at, answers)
            if offers:
                break
            quoted_at += REQUOTE_AFTER
        if not offers:
            return None  # nobody quoted, five times: the customer gave up
        profile = pick(rng, [(self._profiles.carriers[a], self._profiles.carriers[a].choice) for a in offers])
        rate = self._service(profile, offers[profile.account_id])
        adapter = self._adapters[profile.account_id]
        account = self._accounts[profile.account_id]
        scans, voided_at = self._journey(profile, lane, created, rate.transit_days or 1, adapter)
        return SimulatedReturn(
            merchant_id=request.merchant_id,
            idempotency_key=f"sim-{request.seed}-{index}",
            shipment=shipment,
            hub_id=lane.hub.id,
            cross_border=lane.customs,
            account_id=profile.account_id,
            carrier_name=account.carrier,
            provider=account.adapter,
            service_code=rate.service_code,
            service_name=rate.service_name,
            price=rate.price,
            tracking_number=f"{self._number_prefix}{index:09d}",
            created_at=created,
            scans=scans,
            voided_at=voided_at,
        )

    def _shipment(self, country: CountryProfile) -> ShipmentInput:
        rng, customers = self._rng, self._profiles.customers
        skus = [(sku, sku.share) for sku in self._profiles.skus]
        chosen: dict[str, SkuProfile] = {}
        for _ in range(rng.randint(1, customers.max_lines)):
            sku = pick(rng, skus)
            chosen.setdefault(sku.sku, sku)
        items = tuple(
            ItemInput(
                sku=sku.sku,
                description=sku.description,
                quantity=2 if rng.random() < customers.second_unit else 1,
                unit_value=MoneyInput(sku.unit_value.currency, sku.unit_value.amount),
                unit_weight_grams=sku.unit_weight_grams,
                origin_country=sku.origin_country,
                hs_code=sku.hs_code,
                return_reason=pick(rng, list(sku.reasons.items())),
            )
            for sku in chosen.values()
        )
        parcel = self._profiles.parcel
        grams = parcel.packaging_grams + sum(i.unit_weight_grams * i.quantity for i in items)
        return ShipmentInput(
            customer=PartyInput(
                ContactInput(name="Simulated Customer"),
                AddressInput(
                    region_code=country.country,
                    address_lines=(country.street,),
                    locality=country.locality,
                    postal_code=country.postal_code,
                    administrative_area=country.administrative_area,
                ),
            ),
            parcels=(Parcel(grams, parcel.length_mm, parcel.width_mm, parcel.height_mm),),
            items=items,
        )

    async def _quote(
        self,
        lane: _Lane,
        shipment: ShipmentInput,
        grams: int,
        at: dt.datetime,
        answers: list[tuple[CarrierAnswer, dt.datetime]],
    ) -> dict[str, list[Rate]]:
        offers: dict[str, list[Rate]] = {}
        rng, merchant = self._rng, self._request.merchant_id
        for profile in lane.carriers:
            behaviour = profile.quote
            draw = rng.random()
            latency = behaviour.latency_ms.draw(rng) / 1000
            rates: list[Rate] = []
            if draw < behaviour.timeout_rate:
                error: str | None = "TIMEOUT"
                latency = QUOTE_TIMEOUT_SECONDS
            elif draw < behaviour.timeout_rate + behaviour.error_rate:
                error = "UNAVAILABLE"
            else:
                rates = await self._carrier_rates(profile.account_id, lane, shipment, grams)
                error = None if rates else "UNSUPPORTED_LANE"
            answer = CarrierAnswer(
                merchant, profile.account_id, lane.country.country, lane.hub.id, latency, error, rates
            )
            answers.append((answer, at))
            if rates:
                offers[profile.account_id] = rates
        return offers

    async def _carrier_rates(
        self, account_id: str, lane: _Lane, shipment: ShipmentInput, grams: int
    ) -> list[Rate]:
        """The carrier's own drop-off rates for this country and weight step (asked once, then remembered)."""
        step = -(-grams // WEIGHT_STEP_GRAMS)
        key = (account_id, lane.country.country, step)
        if key not in self._rates:
            priced = dataclasses.replace(
                shipment,
                parcels=tuple(
                    dataclasses.replace(p, weight_grams=step * WEIGHT_STEP_GRAMS) for p in shipment.parcels
                ),
            )
            routed, _ = validate_shipment(priced, self._hubs, today=self._request.until.date())
            rates: list[Rate] = []
            if routed is not None:
                try:
                    quoted = await self._adapters[account_id].quote(
                        dataclasses.replace(routed.shipment, handover=Handover.DROP_OFF)
                    )
                    rates = [r for r in quoted if r.handover is Handover.DROP_OFF]
                except CarrierError:
                    rates = []
            self._rates[key] = rates
        return self._rates[key]

    def _service(self, profile: CarrierProfile, rates: Sequence[Rate]) -> Rate:
        offered = [(rate, profile.services.get(rate.service_code, 0.0)) for rate in rates]
        if profile.services and any(weight for _, weight in offered):
            return pick(self._rng, offered)
        return min(rates, key=lambda rate: (rate.price.amount, rate.service_code))

    def _journey(
        self,
        profile: CarrierProfile,
        lane: _Lane,
        created: dt.datetime,
        promised_days: int,
        adapter: CarrierAdapter,
    ) -> tuple[tuple[SimulatedScan, ...], dt.datetime | None]:
        rng, customers, until = self._rng, self._profiles.customers, self._request.until
        if rng.random() < customers.never_sent:
            voided = (
                created + _days(rng.uniform(0.5, 5.0))
                if rng.random() < customers.voided_when_never_sent
                else None
            )
            return (), voided if voided is not None and voided < until else None
        codes = (
            _PARTNER_CODES
            if TrackingUpdates.PARTNER_PUSH in adapter.capabilities.tracking_updates
            else _API_CODES
        )
        origin = TrackingLocation(city=lane.country.locality, country=lane.country.country)
        hub_address = lane.hub.party.address
        hub = TrackingLocation(city=hub_address.locality, country=hub_address.country)
        dropped = created + _days(profile.drop_off_days.draw(rng))
        transit = max(0.25, promised_days * profile.transit_factor.draw(rng))
        scans: list[SimulatedScan] = [
            SimulatedScan(
                dropped, TrackingStatus.IN_TRANSIT, codes["accepted"], "accepted at drop-off", origin
            ),
            SimulatedScan(
                dropped + _days(transit * 0.3),
                TrackingStatus.IN_TRANSIT,
                codes["departed"],
                "departed",
                origin,
            ),
        ]
        delay = 0.0
        ended = False
        if lane.customs:
            for reason, chance in profile.customs.items():
                if rng.random() < chance:
                    held_at = dropped + _days(transit * 0.5)
                    delay += profile.customs_hold_days.draw(rng)
                    scans.append(
                        SimulatedScan(held_at, TrackingStatus.EXCEPTION, codes[reason], "held", hub, reason)
                    )
                    scans.append(
                        SimulatedScan(
                            dropped + _days(transit * 0.5 + delay),
                            TrackingStatus.IN_TRANSIT,
                            codes["released"],
                            "released by customs",
                            hub,
                        )
                    )
                    break
        for reason, chance in profile.exceptions.items():
            if rng.random() < chance:
                when = dropped + _days(transit * 0.6 + delay)
                scans.append(
                    SimulatedScan(when, TrackingStatus.EXCEPTION, codes[reason], reason.value, hub, reason)
                )
                ended = reason is ExceptionReason.LOST
                delay += profile.exception_delay_days.draw(rng)
                break
        if not ended and rng.random() < profile.returned_to_sender:
            when = dropped + _days(transit * 0.7 + delay)
            scans.append(
                SimulatedScan(
                    when, TrackingStatus.RETURNED_TO_SENDER, codes["returned"], "returned to sender", hub
                )
            )
            ended = True
        if not ended:
            arrival = dropped + _days(transit + delay)
            scans.append(
                SimulatedScan(
                    arrival - _days(min(0.2, transit / 4)),
                    TrackingStatus.OUT_FOR_DELIVERY,
                    codes["out_for_delivery"],
                    "out for delivery",
                    hub,
                )
            )
            scans.append(
                SimulatedScan(
                    arrival, TrackingStatus.DELIVERED, codes["delivered"], "delivered to returns hub", hub
                )
            )
        happened = sorted((s for s in scans if s.occurred_at < until), key=lambda s: s.occurred_at)
        return tuple(
            dataclasses.replace(s, occurred_at=s.occurred_at.replace(microsecond=0)) for s in happened
        ), None


async def simulate(
    settings: Settings,
    request: SimulationRequest,
    *,
    profiles: SimulationProfiles | None = None,
    batch_size: int = 500,
    bulk: bool = False,
    progress: Callable[[SimulationReport], None] | None = None,
) -> SimulationReport:
    """Generate `request.returns` returns and write them into the configured database, one by one through
    the labels repository and tracking registration, or with `bulk` in batches (BulkHistoryWriter's two
    shortcuts, see service/insights/history.py); scans go through tracking ingestion either way."""
    started = asyncio.get_running_loop().time()
    report = SimulationReport()
    await upgrade_database(settings.database_url)
    database = create_database(settings.database_url)
    carriers = build_carriers(load_accounts(settings.carriers_file), os.environ)
    bus = await open_bus("memory://")
    tracking = None
    insights = None
    try:
        await Tenancy(database).ensure_merchant(request.merchant_id, request.merchant_id)
        tracking = await open_tracking(
            settings, database, bus, carriers.adapters, ServiceMetrics(), start_poller=False
        )
        insights = await open_insights(
            InsightsConfig(score_weights_file=settings.insights_score_weights_file),
            database=database,
            fx=load_fx_table(settings.fx_rates_file),
            accounts=carriers.accounts,
            tracking=tracking.ingestion,
            start=False,
        )
        writer: HistoryWriter | BulkHistoryWriter
        if bulk:
            writer = BulkHistoryWriter(
                database=database,
                legs=insights.legs,
                ingestion=tracking.ingestion,
                adapters=carriers.adapters,
                clock=lambda: dt.datetime.now(dt.UTC),
            )
        else:
            writer = HistoryWriter(
                labels=LabelRepository(database),
                registry=insights.registry,
                ingestion=tracking.ingestion,
                adapters=carriers.adapters,
            )
        generator = HistoryGenerator(
            profiles or load_profiles(),
            adapters=carriers.adapters,
            accounts=carriers.accounts,
            hubs=load_hubs(settings.hubs_file),
            request=request,
        )
        for first in range(0, request.returns, batch_size):
            batch = await generator.batch(first, min(batch_size, request.returns - first))
            for answer, at in batch.answers:
                insights.quote_outcomes.record(answer, at)
            await insights.quote_outcomes.flush()
            report.written += await writer.write(batch.returns)
            report.returns += len(batch.returns)
            report.quote_answers += len(batch.answers)
            report.scans += sum(len(item.scans) for item in batch.returns)
            for item in batch.returns:
                report.by_carrier[item.account_id] = report.by_carrier.get(item.account_id, 0) + 1
            report.seconds = asyncio.get_running_loop().time() - started
            if progress is not None:
                progress(report)
        await insights.journeys.catch_up()
        if database.backend == "postgresql":
            # A bulk load leaves the planner's statistics behind; the comparison's plans depend on them.
            async with database.engine.connect() as connection:
                await connection.execute(text("ANALYZE"))
                await connection.commit()
    finally:
        if insights is not None:
            await insights.close()
        if tracking is not None:
            await tracking.close()
        await bus.close()
        await carriers.close()
        await database.dispose()
    report.seconds = asyncio.get_running_loop().time() - started
    return report
