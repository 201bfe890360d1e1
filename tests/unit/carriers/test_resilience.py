import asyncio

import pytest

from carriers.accounts import CallPolicy
from carriers.errors import (
    CarrierError,
    CircuitOpen,
    InvalidRequest,
    RateLimited,
    TimedOut,
    Unavailable,
)
from carriers.models import LabelFormat, PurchaseRequest, Rate
from carriers.resilience import CircuitBreaker, CircuitState, ResilientCarrier
from customs.money import Money

from .fake_carriers import FakeClock, ScriptedCarrier
from .sample_shipments import return_shipment

RATE = Rate("scripted", "Scripted", "std", "Standard", Money.of("5", "EUR"), 2)
SHIPMENT = return_shipment("DE", "10115")


def resilient(carrier: ScriptedCarrier, clock: FakeClock, **policy: float) -> ResilientCarrier:
    defaults = {"max_attempts": 3, "backoff_initial_seconds": 0.1, "backoff_max_seconds": 1.0}
    return ResilientCarrier(
        carrier,
        CallPolicy(**{**defaults, **policy}),
        clock=clock.time,
        sleep=clock.sleep,  # type: ignore[arg-type]
    )


async def test_retryable_errors_are_retried_with_bounded_jittered_backoff() -> None:
    clock = FakeClock()
    carrier = ScriptedCarrier([Unavailable("500"), Unavailable("500"), [RATE]])
    rates = await resilient(carrier, clock).quote(SHIPMENT, deadline=clock.now + 10)
    assert list(rates) == [RATE]
    assert carrier.calls == 3
    assert len(clock.sleeps) == 2
    # Full jitter: first wait within [0, 0.1], second within [0, 0.2].
    assert 0 <= clock.sleeps[0] <= 0.1
    assert 0 <= clock.sleeps[1] <= 0.2


async def test_non_retryable_errors_are_raised_at_once() -> None:
    clock = FakeClock()
    carrier = ScriptedCarrier([InvalidRequest("bad postcode", field="customer.address.postal_code")])
    with pytest.raises(InvalidRequest) as caught:
        await resilient(carrier, clock).quote(SHIPMENT, deadline=clock.now + 10)
    assert carrier.calls == 1
    assert clock.sleeps == []
    assert caught.value.carrier == "scripted"


async def test_retry_after_is_honoured() -> None:
    clock = FakeClock()
    carrier = ScriptedCarrier([RateLimited("429", retry_after_seconds=2.0), [RATE]])
    await resilient(carrier, clock).quote(SHIPMENT, deadline=clock.now + 10)
    assert carrier.calls == 2
    assert clock.sleeps[0] >= 2.0


async def test_a_retry_after_beyond_the_deadline_is_not_waited_for() -> None:
    clock = FakeClock()
    start = clock.now
    carrier = ScriptedCarrier([RateLimited("429", retry_after_seconds=5.0), [RATE]])
    with pytest.raises(RateLimited):
        await resilient(carrier, clock).quote(SHIPMENT, deadline=start + 3)
    assert carrier.calls == 1
    assert clock.now == start


async def test_retries_never_run_past_the_deadline() -> None:
    clock = FakeClock()
    start = clock.now
    carrier = ScriptedCarrier([Unavailable("500")])
    wrapped = resilient(
        carrier, clock, max_attempts=1000, backoff_initial_seconds=0.2, backoff_max_seconds=0.5
    )
    wrapped.breaker = CircuitBreaker(failure_threshold=10_000, reset_seconds=30, clock=clock.time)
    with pytest.raises(Unavailable):
        await wrapped.quote(SHIPMENT, deadline=start + 2.0)
    assert carrier.calls > 3
    assert clock.now < start + 2.0


async def test_attempt_timeout_turns_a_hang_into_timed_out() -> None:
    carrier = ScriptedCarrier([None])
    wrapped = ResilientCarrier(carrier, CallPolicy(timeout_seconds=0.05, max_attempts=1))
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(TimedOut):
        await wrapped.quote(SHIPMENT)
    assert 0.04 <= loop.time() - start < 0.5


async def test_the_caller_deadline_cuts_an_attempt_shorter_than_the_timeout() -> None:
    carrier = ScriptedCarrier([None])
    wrapped = ResilientCarrier(carrier, CallPolicy(timeout_seconds=5.0, max_attempts=3))
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(TimedOut):
        await wrapped.quote(SHIPMENT, deadline=start + 0.08)
    assert loop.time() - start < 0.3


async def test_purchase_is_retried_only_after_rate_limiting() -> None:
    clock = FakeClock()
    request = PurchaseRequest(SHIPMENT, "std", "key-1", label_format=LabelFormat.PDF)
    unavailable = ScriptedCarrier([Unavailable("502"), [RATE]])
    with pytest.raises(Unavailable):
        await resilient(unavailable, clock).purchase(request, deadline=clock.now + 10)
    assert unavailable.calls == 1  # it may have bought the label: never buy twice
    limited = ScriptedCarrier([RateLimited("429", retry_after_seconds=0.5), [RATE]])
    label = await resilient(limited, clock).purchase(request, deadline=clock.now + 10)
    assert label.tracking_number == "T1"
    assert limited.calls == 2


async def test_untyped_adapter_exceptions_become_carrier_errors() -> None:
    clock = FakeClock()
    carrier = ScriptedCarrier([KeyError("rates")])
    with pytest.raises(CarrierError, match="adapter error: KeyError") as caught:
        await resilient(carrier, clock).quote(SHIPMENT, deadline=clock.now + 10)
    assert type(caught.value) is CarrierError
    assert not caught.value.retryable


async def test_concurrency_is_limited_per_account() -> None:
    carrier = ScriptedCarrier([[RATE]], delay=0.02)
    wrapped = ResilientCarrier(carrier, CallPolicy(max_concurrency=2))
    await asyncio.gather(*(wrapped.quote(SHIPMENT) for _ in range(6)))
    assert carrier.calls == 6
    assert carrier.max_in_flight == 2


async def test_breaker_opens_fails_fast_then_half_opens_and_closes() -> None:
    clock = FakeClock()
    carrier = ScriptedCarrier([Unavailable("500"), Unavailable("500"), [RATE]])
    wrapped = resilient(carrier, clock, max_attempts=1, breaker_failure_threshold=2, breaker_reset_seconds=30)
    for _ in range(2):
        with pytest.raises(Unavailable):
            await wrapped.quote(SHIPMENT)
    assert wrapped.breaker.state is CircuitState.OPEN
    with pytest.raises(CircuitOpen) as caught:
        await wrapped.quote(SHIPMENT)
    assert carrier.calls == 2  # failed fast, the carrier was not called
    assert caught.value.retry_after_seconds == pytest.approx(30)
    clock.advance(30)
    assert wrapped.breaker.state is CircuitState.HALF_OPEN
    await wrapped.quote(SHIPMENT)  # the probe succeeds
    assert wrapped.breaker.state is CircuitState.CLOSED
    assert carrier.calls == 3


async def test_a_failed_probe_reopens_the_breaker() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, reset_seconds=10, clock=clock.time)
    for _ in range(3):
        breaker.acquire()
        breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    clock.advance(10)
    breaker.acquire()  # the probe
    with pytest.raises(CircuitOpen):
        breaker.acquire()  # only one probe at a time
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    clock.advance(9.9)
    with pytest.raises(CircuitOpen):
        breaker.acquire()


async def test_circuit_open_is_not_retried_within_the_call() -> None:
    clock = FakeClock()
    carrier = ScriptedCarrier([Unavailable("500")])
    wrapped = resilient(carrier, clock, max_attempts=5, breaker_failure_threshold=2)
    with pytest.raises(CircuitOpen):
        await wrapped.quote(SHIPMENT, deadline=clock.now + 60)
    assert carrier.calls == 2


async def test_refused_requests_do_not_open_the_breaker() -> None:
    clock = FakeClock()
    carrier = ScriptedCarrier([InvalidRequest("bad")])
    wrapped = resilient(carrier, clock, breaker_failure_threshold=1)
    for _ in range(3):
        with pytest.raises(InvalidRequest):
            await wrapped.quote(SHIPMENT)
    assert wrapped.breaker.state is CircuitState.CLOSED
    assert carrier.calls == 3
