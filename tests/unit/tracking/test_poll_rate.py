"""The per-account poll rate limit spaces calls evenly."""

from __future__ import annotations

import asyncio

from service.tracking.polling import AccountRateLimit


async def test_calls_to_one_account_are_spaced_one_over_rate_apart() -> None:
    now = [100.0]
    started: list[float] = []

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    limit = AccountRateLimit(4.0, clock=lambda: now[0], sleep=sleep)

    async def call() -> None:
        await limit.acquire()
        started.append(now[0])

    for _ in range(5):
        await call()
    assert started == [100.0, 100.25, 100.5, 100.75, 101.0]
    now[0] = 200.0  # after a quiet spell the next call goes at once
    await call()
    assert started[-1] == 200.0


async def test_concurrent_callers_get_distinct_slots() -> None:
    limit = AccountRateLimit(50.0, clock=asyncio.get_running_loop().time, sleep=asyncio.sleep)
    loop = asyncio.get_running_loop()
    start = loop.time()
    times: list[float] = []

    async def call() -> None:
        await limit.acquire()
        times.append(loop.time() - start)

    await asyncio.gather(*(call() for _ in range(6)))
    assert times[-1] >= 5 / 50 - 0.005
