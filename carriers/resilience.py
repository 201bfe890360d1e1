"""Resilience around every carrier call: retries, circuit breaker, concurrency limit, timeouts, deadlines.

- Retries (tenacity) only for retryable CarrierErrors, with exponential backoff and full jitter, waiting at
  least a RateLimited's Retry-After, and never starting a wait that would end past the caller's deadline.
- Purchases are retried only after RateLimited: any other failure may have bought the label, and the labels
  use case reconciles instead of buying twice.
- One circuit breaker per account: after `breaker_failure_threshold` consecutive carrier-side failures it
  opens and calls fail fast with CircuitOpen (an Unavailable); after `breaker_reset_seconds` one probe call is
  let through (half-open); its success closes the breaker, its failure re-opens it.
- A semaphore bounds concurrent calls per account; each attempt is bounded by `timeout_seconds` and by the
  time left before the deadline.
- An optional CallObserver sees each attempt and its outcome (the service records metrics and spans).

Deadlines are absolute times on the injected clock, by default the running event loop's `time()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from enum import StrEnum
from typing import Protocol, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_base, wait_random_exponential

from carriers.accounts import CallPolicy
from carriers.errors import (
    AuthenticationFailed,
    CarrierError,
    CircuitOpen,
    MalformedResponse,
    RateLimited,
    TimedOut,
    Unavailable,
)
from carriers.models import LabelReference, PurchasedLabel, PurchaseRequest, Rate, ReturnShipment, VoidResult
from carriers.port import Capabilities, CarrierAdapter
from carriers.tracking import TrackingEvent, TrackingSnapshot

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

_log = logging.getLogger(__name__)


def loop_time() -> float:
    return asyncio.get_running_loop().time()


def counts_against_carrier(error: CarrierError) -> bool:
    """Failures that say the carrier (or our access to it) is unhealthy; a refused request does not."""
    return isinstance(error, Unavailable | RateLimited | MalformedResponse | AuthenticationFailed)


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Consecutive-failure breaker with a single half-open probe. Not thread-safe: one event loop."""

    def __init__(self, *, failure_threshold: int, reset_seconds: float, clock: Clock = loop_time) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self._threshold = failure_threshold
        self._reset_seconds = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_in_flight = False

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock() - self._opened_at >= self._reset_seconds:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def acquire(self, carrier: str = "") -> None:
        """Allow a call or raise CircuitOpen. In half-open state only one probe is allowed at a time."""
        if self._opened_at is None:  # closed: the common case, asked before every attempt
            return
        state = self.state
        if state is CircuitState.CLOSED:
            return
        assert self._opened_at is not None
        if state is CircuitState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return
        wait = max(0.0, self._opened_at + self._reset_seconds - self._clock())
        raise CircuitOpen(
            f"circuit open after {self._failures} consecutive failures",
            retry_after_seconds=wait,
            carrier=carrier,
        )

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probe_in_flight = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._probe_in_flight or self._failures >= self._threshold:
            self._opened_at = self._clock()
        self._probe_in_flight = False

    def release(self) -> None:
        """The call ended without a verdict (cancelled): let another probe through."""
        self._probe_in_flight = False


class _StopAtDeadline(stop_base):
    """Stop when the next wait would end at or after the deadline."""

    def __init__(self, deadline: float, clock: Clock) -> None:
        self._deadline = deadline
        self._clock = clock

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self._clock() + (retry_state.upcoming_sleep or 0.0) >= self._deadline


class _BackoffHonouringRetryAfter(wait_base):
    def __init__(self, policy: CallPolicy) -> None:
        self._backoff = wait_random_exponential(
            multiplier=policy.backoff_initial_seconds, max=policy.backoff_max_seconds
        )

    def __call__(self, retry_state: RetryCallState) -> float:
        backoff = float(self._backoff(retry_state))
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, RateLimited) and error.retry_after_seconds is not None:
            return max(backoff, error.retry_after_seconds)
        return backoff


def _retry_if_retryable(error: BaseException) -> bool:
    return isinstance(error, CarrierError) and error.retryable and not isinstance(error, CircuitOpen)


def _retry_if_rate_limited(error: BaseException) -> bool:
    return isinstance(error, RateLimited)


class CallObserver(Protocol):
    """Sees every attempt of every carrier call, for metrics and tracing; it must not raise.

    `attempt()` is entered before the attempt and exited after it, with the attempt's exception (always a
    CarrierError, or CancelledError) or none on success; the breaker has recorded the outcome by then.
    """

    def attempt(self, carrier: ResilientCarrier, operation: str) -> AbstractContextManager[object]: ...


class _Unobserved:
    def attempt(self, carrier: ResilientCarrier, operation: str) -> AbstractContextManager[object]:
        return contextlib.nullcontext()


class ResilientCarrier:
    """A CarrierAdapter wrapped with the account's CallPolicy. Each method takes an optional `deadline`."""

    def __init__(
        self,
        adapter: CarrierAdapter,
        policy: CallPolicy,
        *,
        clock: Clock = loop_time,
        sleep: Sleep = asyncio.sleep,
        breaker: CircuitBreaker | None = None,
        observer: CallObserver | None = None,
    ) -> None:
        self.adapter = adapter
        self._account_id = adapter.account_id  # read on every attempt; an account's id does not change
        self._observer: CallObserver = observer or _Unobserved()
        self.policy = policy
        self._clock = clock
        self._sleep = sleep
        self.breaker = breaker or CircuitBreaker(
            failure_threshold=policy.breaker_failure_threshold,
            reset_seconds=policy.breaker_reset_seconds,
            clock=clock,
        )
        self._slots = asyncio.Semaphore(policy.max_concurrency)

    @property
    def account_id(self) -> str:
        return self._account_id

    @property
    def carrier(self) -> str:
        return self.adapter.carrier

    @property
    def capabilities(self) -> Capabilities:
        return self.adapter.capabilities

    async def quote(self, shipment: ReturnShipment, *, deadline: float | None = None) -> Sequence[Rate]:
        return await self._call("quote", lambda: self.adapter.quote(shipment), deadline, _retry_if_retryable)

    async def purchase(self, request: PurchaseRequest, *, deadline: float | None = None) -> PurchasedLabel:
        return await self._call(
            "purchase", lambda: self.adapter.purchase(request), deadline, _retry_if_rate_limited
        )

    async def void(self, label: LabelReference, *, deadline: float | None = None) -> VoidResult:
        return await self._call("void", lambda: self.adapter.void(label), deadline, _retry_if_retryable)

    async def track(self, tracking_number: str, *, deadline: float | None = None) -> TrackingSnapshot:
        return await self._call(
            "track", lambda: self.adapter.track(tracking_number), deadline, _retry_if_retryable
        )

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[TrackingEvent]:
        # Local verification and parsing: nothing to retry, and bad signatures say nothing of carrier health.
        return await self.adapter.parse_webhook(headers, body)

    async def close(self) -> None:
        await self.adapter.close()

    async def _call(
        self,
        name: str,
        operation: Callable[[], Awaitable[T]],
        deadline: float | None,
        retry_on: Callable[[BaseException], bool],
    ) -> T:
        # The first attempt runs without tenacity's bookkeeping (most calls succeed at once); a retryable
        # failure is then replayed as tenacity's first attempt so backoff, Retry-After and stops apply.
        first_failure: CarrierError | None = None
        try:
            with self._observer.attempt(self, name):
                return await self._attempt(operation, deadline)
        except CarrierError as error:
            if self.policy.max_attempts <= 1 or not retry_on(error):
                raise
            first_failure = error
        stop: stop_base = stop_after_attempt(self.policy.max_attempts)
        if deadline is not None:
            stop = stop | _StopAtDeadline(deadline, self._clock)
        retrying = AsyncRetrying(
            stop=stop,
            wait=_BackoffHonouringRetryAfter(self.policy),
            retry=retry_if_exception(retry_on),
            sleep=self._sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if first_failure is not None:
                    replayed, first_failure = first_failure, None
                    raise replayed
                with self._observer.attempt(self, name):
                    return await self._attempt(operation, deadline)
        raise AssertionError("tenacity ended without a result or an exception")  # pragma: no cover

    async def _attempt(self, operation: Callable[[], Awaitable[T]], deadline: float | None) -> T:
        timeout = self.policy.timeout_seconds
        if deadline is not None:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise TimedOut("the caller's deadline passed before the call", carrier=self.account_id)
            timeout = min(timeout, remaining)
        self.breaker.acquire(self.account_id)
        try:
            async with asyncio.timeout(timeout):
                async with self._slots:
                    result = await operation()
        except TimeoutError:
            self.breaker.record_failure()
            raise TimedOut(f"no answer within {timeout:.3f} s", carrier=self.account_id) from None
        except CarrierError as error:
            if counts_against_carrier(error):
                self.breaker.record_failure()
            else:
                self.breaker.record_success()  # the carrier answered; the request was the problem
            if not error.carrier:
                error.carrier = self.account_id
            raise
        except asyncio.CancelledError:
            self.breaker.release()
            raise
        except Exception as error:
            # An adapter let a raw exception escape: a bug there, but never an INTERNAL for the caller.
            _log.exception("carrier adapter %s raised an untyped exception", self.account_id)
            self.breaker.record_failure()
            raise CarrierError(
                f"adapter error: {type(error).__name__}: {error}", carrier=self.account_id
            ) from error
        self.breaker.record_success()
        return result
