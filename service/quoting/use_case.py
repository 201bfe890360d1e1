"""QuoteReturns: ask every eligible carrier account at once and answer within the deadline.

1. Validate the shipment and preferences, collecting every bad field (InvalidArgument).
2. Route to a hub (or the caller's destination) and decide the market's return policy.
3. Select the accounts that serve the lane, are accepted by the hub, offer the handover and pass the
   caller's filter; an account the caller named but that cannot quote gets an error entry saying why.
4. Fan out concurrently through the resilience layer under one deadline (the caller's, else the configured
   budget), keeping a small margin to assemble the answer: one call per account, answering every service
   and handover it offers, kept to the caller's handover preference afterwards. A carrier that fails or is
   still running at the deadline becomes one error entry; the others' quotes come back.
5. Convert to the display currency (FX as-of date in the answer), add estimated delivery dates and lane
   performance, sign a quote token per quote, filter by transit days, sort and tag.
Nothing is written anywhere. Each carrier's answer (latency, error code, the transit days it quoted) is handed
to an optional in-memory sink (the insights counters), which persists aggregates away from the quote path.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from carriers.accounts import CarrierAccount
from carriers.errors import CarrierError, TimedOut
from carriers.models import Handover, Rate, ReturnShipment
from carriers.port import Operation
from carriers.registry import ConfiguredCarriers
from carriers.resilience import ResilientCarrier, loop_time
from customs.money import FxTable, MissingFxRate, Money
from service.errors import FailedPrecondition, InvalidArgument
from service.quoting.hubs import Hub, HubDirectory
from service.quoting.policy import NoReturnPolicy, ReturnPolicyBook
from service.quoting.quotes import CarrierQuoteFailure, LanePerformance, Quote, QuoteReturnResult
from service.quoting.ranking import BestMarks, ValueWeights, rank, value_score
from service.quoting.request import QuotePreferences, QuoteReturnRequest
from service.quoting.token import AnswerTokens, QuoteTokenSigner, shipment_digest
from service.quoting.validation import (
    RoutedShipment,
    crosses_customs_border,
    preference_violations,
    validate_shipment,
)

_log = logging.getLogger(__name__)


class LaneKey(NamedTuple):
    """A carrier service on a lane for one merchant. A named tuple: every quote builds one and the key is
    hashed several times (deduplication, the lane figures, the quote), which a tuple does in C."""

    account_id: str
    service_code: str
    origin_country: str
    destination: str  # hub id, or the destination country for an explicit address
    merchant_id: str = ""  # whose history: figures come from the merchant's own returns


class LanePerformanceSource(Protocol):
    """Measured lane performance (the insights use case); quoting works without one."""

    async def lane_performance(self, lanes: Sequence[LaneKey]) -> Mapping[LaneKey, LanePerformance]: ...


@dataclass(frozen=True, slots=True)
class CarrierAnswer:
    """How one carrier account answered one quote request."""

    merchant_id: str
    account_id: str
    origin_country: str
    destination: str  # as in LaneKey
    latency_seconds: float
    error_code: str | None  # None when it quoted
    rates: Sequence[Rate]


class QuoteOutcomeSink(Protocol):
    """Counts carrier answers (the insights use case). Called on the quote path: must only touch memory."""

    def carrier_answered(self, answer: CarrierAnswer) -> None: ...


@dataclass(frozen=True, slots=True)
class QuotingSettings:
    default_budget_seconds: float = 5.0  # when the caller sets no deadline
    max_budget_seconds: float = 30.0  # a caller's very long deadline is capped to this
    # Kept back from the deadline to assemble the answer: at least deadline_margin_seconds, and a share of
    # the budget up to a cap, because when a carrier hangs every call waiting for it reaches its deadline at
    # about the same time and their answers are assembled one after the other on the event loop.
    deadline_margin_seconds: float = 0.02
    deadline_margin_share: float = 0.1
    deadline_margin_max_seconds: float = 0.5
    token_ttl: dt.timedelta = dt.timedelta(minutes=30)
    weights: ValueWeights = field(default_factory=ValueWeights)


@functools.lru_cache(maxsize=256)
def add_business_days(start: dt.date, days: int) -> dt.date:
    """`days` working days (Monday to Friday) after `start`."""
    current = start
    remaining = days
    while remaining > 0:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


_ELIGIBILITY_KEPT = 4096  # (account, lane) answers kept; more are forgotten all at once


def _end_waiting(waiting: asyncio.Future[None]) -> None:
    if not waiting.done():
        waiting.set_result(None)


@dataclass(slots=True)
class _Answer:
    account_id: str
    rates: list[Rate]
    error: CarrierError | None
    latency_seconds: float


class QuoteReturns:
    def __init__(
        self,
        *,
        carriers: Mapping[str, ResilientCarrier],
        accounts: Mapping[str, CarrierAccount],
        hubs: HubDirectory,
        policies: ReturnPolicyBook,
        fx: FxTable,
        signer: QuoteTokenSigner,
        clock: Callable[[], dt.datetime],
        settings: QuotingSettings | None = None,
        disabled: Mapping[str, str] | None = None,
        lane_performance: LanePerformanceSource | None = None,
        outcomes: QuoteOutcomeSink | None = None,
        loop_clock: Callable[[], float] = loop_time,
    ) -> None:
        self._carriers = carriers
        self._accounts = accounts
        self._hubs = hubs
        self._policies = policies
        self._fx = fx
        self._signer = signer
        self._clock = clock
        self._settings = settings or QuotingSettings()
        self._disabled = dict(disabled or {})
        self._lane_performance = lane_performance
        self._outcomes = outcomes
        self._loop_clock = loop_clock
        self._eligible: dict[tuple[object, ...], str | None] = {}  # see _plan
        # Declared capabilities do not change: each quote reads its account's label formats.
        self._label_formats = {
            account_id: carrier.capabilities.label_formats for account_id, carrier in carriers.items()
        }

    @classmethod
    def from_carriers(
        cls,
        configured: ConfiguredCarriers,
        *,
        hubs: HubDirectory,
        policies: ReturnPolicyBook,
        fx: FxTable,
        signer: QuoteTokenSigner,
        clock: Callable[[], dt.datetime],
        settings: QuotingSettings | None = None,
        lane_performance: LanePerformanceSource | None = None,
    ) -> QuoteReturns:
        """Wrap every built adapter in the resilience layer with its account's call policy."""
        carriers = {
            account_id: ResilientCarrier(adapter, configured.accounts[account_id].policy)
            for account_id, adapter in configured.adapters.items()
        }
        return cls(
            carriers=carriers,
            accounts=configured.accounts,
            disabled={d.account_id: d.reason for d in configured.disabled},
            hubs=hubs,
            policies=policies,
            fx=fx,
            signer=signer,
            clock=clock,
            settings=settings,
            lane_performance=lane_performance,
        )

    async def execute(
        self, request: QuoteReturnRequest, *, time_remaining: float | None = None
    ) -> QuoteReturnResult:
        settings = self._settings
        budget = settings.default_budget_seconds if time_remaining is None else time_remaining
        budget = min(budget, settings.max_budget_seconds)
        margin = max(
            settings.deadline_margin_seconds,
            min(settings.deadline_margin_share * budget, settings.deadline_margin_max_seconds),
        )
        deadline = self._loop_clock() + budget - margin
        now = self._clock()
        today = now.date()

        preferences = request.preferences
        routed, violations = validate_shipment(request.shipment, self._hubs, today=today)
        violations += preference_violations(preferences, account_ids=self._accounts.keys(), fx=self._fx)
        if routed is None or violations:
            raise InvalidArgument(violations)
        shipment = routed.shipment
        try:
            decision = self._policies.decide(
                shipment.origin_country,
                shipment.original_order,
                [item.return_reason for item in shipment.items],
                today,
            )
        except NoReturnPolicy as exc:
            raise FailedPrecondition(str(exc), reason="NO_RETURN_POLICY") from exc
        display_currency = self._display_currency(
            preferences, request.merchant_currency, decision.customer_fee
        )

        accounts, failures = self._plan(routed, preferences)
        answers = await self._fan_out(shipment, accounts, deadline)
        rates = self._kept_rates(answers, preferences.handover, failures)
        origin = shipment.origin_country
        destination = routed.hub.id if routed.hub else shipment.destination_country
        if self._outcomes is not None:
            self._count(answers, request.merchant_id, origin, destination)
        limit = preferences.max_transit_days
        if limit:
            rates = [r for r in rates if r.transit_days is not None and r.transit_days <= limit]
        lane_keys = [
            LaneKey(rate.account_id, rate.service_code, origin, destination, request.merchant_id)
            for rate in rates
        ]
        lanes = await self._lanes(lane_keys, deadline)
        tokens = self._signer.for_answer(
            shipment_digest=shipment_digest(shipment),
            merchant_id=request.merchant_id,
            expires_at=(now + self._settings.token_ttl).replace(microsecond=0),
        )
        quotes = self._quotes(rates, lane_keys, lanes, display_currency, routed.hub, today, tokens)
        return QuoteReturnResult(
            quotes=rank(quotes, preferences.sort),
            errors=tuple(failures),
            shipment=shipment,
            hub=routed.hub,
            cross_border=crosses_customs_border(shipment.origin_country, shipment.destination_country, today),
            display_currency=display_currency,
            fx_as_of=self._fx.as_of,
            fx_source=self._fx.source,
            return_policy=decision,
        )

    def _display_currency(
        self, preferences: QuotePreferences, merchant_currency: str, policy_fee: Money
    ) -> str:
        for candidate in (preferences.display_currency, merchant_currency, policy_fee.currency):
            if not candidate:
                continue
            try:
                self._fx.rate(self._fx.base, candidate)
            except (MissingFxRate, ValueError):
                continue
            return candidate.strip().upper()
        return self._fx.base

    def _plan(
        self, routed: RoutedShipment, preferences: QuotePreferences
    ) -> tuple[list[str], list[CarrierQuoteFailure]]:
        """The eligible accounts; error entries for named accounts left out."""
        shipment, hub = routed.shipment, routed.hub
        named = set(preferences.carrier_account_ids)
        accounts: list[str] = []
        refusals: list[CarrierQuoteFailure] = []
        lane = (
            shipment.origin_country,
            shipment.destination_country,
            shipment.destination_hub_id,
            hub.id if hub is not None else "",
            preferences.handover,
        )
        for account_id in self._accounts:
            if named and account_id not in named:
                continue
            # Accounts, capabilities and hubs are fixed configuration: a lane's answer is worked out once.
            key = (account_id, *lane)
            if key in self._eligible:
                reason = self._eligible[key]
            else:
                reason = self._eligibility(account_id, shipment, hub, preferences.handover)
                if len(self._eligible) >= _ELIGIBILITY_KEPT:
                    self._eligible.clear()
                self._eligible[key] = reason
            if reason is None:
                accounts.append(account_id)
            elif named:
                code = "UNAVAILABLE" if account_id in self._disabled else "UNSUPPORTED_LANE"
                refusals.append(self._refusal(account_id, code, reason))
        return accounts, refusals

    def _eligibility(
        self, account_id: str, shipment: ReturnShipment, hub: Hub | None, wanted: Handover | None
    ) -> str | None:
        """Why the account cannot quote this shipment, or None when it can."""
        carrier = self._carriers.get(account_id)
        if carrier is None:
            return f"account disabled: {self._disabled.get(account_id, 'not configured')}"
        capabilities = carrier.capabilities
        if not capabilities.supports(Operation.QUOTE):
            return "the carrier does not quote"
        if not capabilities.serves(
            shipment.origin_country, shipment.destination_country, shipment.destination_hub_id
        ):
            target = shipment.destination_hub_id or shipment.destination_country
            return f"does not carry from {shipment.origin_country} to {target}"
        if hub is not None and not hub.accepts(account_id):
            return f"hub {hub.id} does not take in this carrier"
        if not capabilities.handovers or (wanted is not None and wanted not in capabilities.handovers):
            return f"offers no {wanted.value if wanted else 'handover'}"
        return None

    async def _fan_out(
        self, shipment: ReturnShipment, accounts: Sequence[str], deadline: float
    ) -> list[_Answer]:
        """One call per account (it answers every service and handover the account offers), all at once.

        Each call ends itself at the deadline (the resilience layer's timeout); a margin later, a call still
        running is cancelled and answers TIMEOUT. One future counts the calls down, which costs less than
        asyncio.wait's per-call bookkeeping.
        """
        if not accounts:
            return []
        loop = asyncio.get_running_loop()
        started = self._loop_clock()
        ended_at: dict[str, float] = {}  # account -> when its call ended
        all_ended = loop.create_future()
        running = len(accounts)

        def call_ended(account_id: str, _: object) -> None:
            nonlocal running
            ended_at[account_id] = self._loop_clock()
            running -= 1
            if not running and not all_ended.done():
                all_ended.set_result(None)

        calls: list[tuple[str, asyncio.Task[Sequence[Rate]]]] = []
        for account_id in accounts:
            task = loop.create_task(self._carriers[account_id].quote(shipment, deadline=deadline))
            task.add_done_callback(functools.partial(call_ended, account_id))
            calls.append((account_id, task))
        wait = max(0.0, deadline + self._settings.deadline_margin_seconds - started)
        backstop = loop.call_later(wait, _end_waiting, all_ended)
        try:
            await all_ended
        except asyncio.CancelledError:
            for _, task in calls:
                task.cancel()
            raise
        finally:
            backstop.cancel()
        late = {account_id: task for account_id, task in calls if not task.done()}
        for task in late.values():
            task.cancel()
        if late:
            await asyncio.gather(*late.values(), return_exceptions=True)
        answers = []
        for account_id, task in calls:
            if account_id in late or task.cancelled():
                timed_out = TimedOut("no answer by the deadline", carrier=account_id)
                answers.append(_Answer(account_id, [], timed_out, self._loop_clock() - started))
                continue
            latency = ended_at[account_id] - started
            error = task.exception()
            if error is None:
                answers.append(_Answer(account_id, list(task.result()), None, latency))
            elif isinstance(error, CarrierError):
                answers.append(_Answer(account_id, [], error, latency))
            else:
                raise error
        return answers

    def _kept_rates(
        self, answers: Sequence[_Answer], wanted: Handover | None, failures: list[CarrierQuoteFailure]
    ) -> list[Rate]:
        """The rates of the caller's handover (all without a preference); an error entry (added to
        `failures`) per account that failed or offered nothing for that handover."""
        kept: list[Rate] = []
        for answer in answers:
            if answer.error is not None:
                failures.append(self._failure(answer.account_id, answer.error))
            elif wanted is None:
                kept += answer.rates
            else:
                offered = [rate for rate in answer.rates if rate.handover is wanted]
                if not offered:
                    message = f"no {wanted.value} service for this shipment"
                    failures.append(self._refusal(answer.account_id, "UNSUPPORTED_LANE", message))
                kept += offered
        return kept

    def _count(self, answers: Sequence[_Answer], merchant_id: str, origin: str, destination: str) -> None:
        assert self._outcomes is not None
        for answer in answers:
            error = answer.error.code if answer.error is not None else None
            try:
                self._outcomes.carrier_answered(
                    CarrierAnswer(
                        merchant_id,
                        answer.account_id,
                        origin,
                        destination,
                        answer.latency_seconds,
                        error,
                        answer.rates,
                    )
                )
            except Exception:
                # Counting is bookkeeping: it never costs the caller the quotes.
                _log.exception("quote outcome not counted")

    async def _lanes(self, keys: Sequence[LaneKey], deadline: float) -> Mapping[LaneKey, LanePerformance]:
        if self._lane_performance is None or not keys:
            return {}
        try:
            async with asyncio.timeout(max(0.0, deadline - self._loop_clock())):
                return await self._lane_performance.lane_performance(list(dict.fromkeys(keys)))
        except TimeoutError:
            return {}
        except Exception:
            # Lane figures enrich quotes; their absence must not cost the caller the quotes.
            _log.exception("lane performance lookup failed")
            return {}

    def _quotes(
        self,
        rates: Sequence[Rate],
        lane_keys: Sequence[LaneKey],
        lanes: Mapping[LaneKey, LanePerformance],
        display_currency: str,
        hub: Hub | None,
        today: dt.date,
        tokens: AnswerTokens,
    ) -> list[Quote]:
        """A quote per rate, signed and tagged; rates and lane_keys in the same order."""
        to_display = self._fx.converter(display_currency)
        displayed: list[Money | None] = []
        for rate in rates:
            try:
                displayed.append(to_display(rate.price))
            except MissingFxRate:
                displayed.append(None)
        marks = BestMarks.of(zip(displayed, [rate.transit_days for rate in rates], strict=True))
        weights = self._settings.weights
        expires_at = tokens.expires_at
        quotes = []
        for rate, display, key in zip(rates, displayed, lane_keys, strict=True):
            account_id = rate.account_id
            days = rate.transit_days
            estimated = rate.estimated_delivery
            if estimated is None and days is not None:
                estimated = add_business_days(today, days)
            lane = lanes.get(key) if lanes else None
            quotes.append(
                Quote(
                    token=tokens.sign(account_id, rate.service_code, rate.handover, rate.price),
                    expires_at=expires_at,
                    account_id=account_id,
                    carrier=rate.carrier,
                    provider=self._accounts[account_id].adapter,
                    service_code=rate.service_code,
                    service_name=rate.service_name,
                    price=rate.price,
                    display_price=display,
                    components=rate.components,
                    transit_days=days,
                    estimated_delivery=estimated,
                    handover=rate.handover,
                    hub=hub,
                    label_formats=self._label_formats[account_id],
                    lane_performance=lane,
                    value_score=(
                        value_score(display.amount, days, lane, weights) if display is not None else None
                    ),
                    tags=marks.tags(display, days),
                )
            )
        return quotes

    def _refusal(self, account_id: str, code: str, message: str) -> CarrierQuoteFailure:
        account = self._accounts[account_id]
        return CarrierQuoteFailure(
            account_id, account.carrier, account.adapter, code, message, retryable=False
        )

    def _failure(self, account_id: str, error: CarrierError) -> CarrierQuoteFailure:
        account = self._accounts[account_id]
        retry_after: float | None = getattr(error, "retry_after_seconds", None)
        return CarrierQuoteFailure(
            account_id=account_id,
            carrier=account.carrier,
            provider=account.adapter,
            code=error.code,
            message=error.message,
            retryable=error.retryable,
            retry_after_seconds=retry_after,
            field=getattr(error, "field", ""),
        )
