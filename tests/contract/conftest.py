"""Fake provider servers and adapters pointed at them, configured the way the service configures them."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from carriers.accounts import CallPolicy, CarrierAccount
from carriers.easypost import EasyPostCarrier
from carriers.shippo import ShippoCarrier
from tests.fakes.easypost_server import EasyPostFake
from tests.fakes.shippo_server import ShippoFake

EASYPOST_KEY = "EZTK_contract_test"
EASYPOST_WEBHOOK_SECRET = "whsec_contract"
SHIPPO_KEY = "shippo_test_contract"
SHIPPO_WEBHOOK_TOKEN = "url-token-4f1c"
SHIPPO_HMAC_SECRET = "hmac-secret-9a2b"
TIMEOUT = 0.5  # short, so the hang case stays fast
FX = {"base": "USD", "as_of": dt.date(2026, 11, 2), "source": "ECB reference rate", "rates": {"EUR": "0.92"}}
ENVIRON = {
    "EASYPOST_API_KEY": EASYPOST_KEY,
    "EASYPOST_WEBHOOK_SECRET": EASYPOST_WEBHOOK_SECRET,
    "SHIPPO_API_KEY": SHIPPO_KEY,
    "SHIPPO_WEBHOOK_TOKEN": SHIPPO_WEBHOOK_TOKEN,
    "SHIPPO_HMAC_SECRET": SHIPPO_HMAC_SECRET,
}


@pytest.fixture
def easypost_fake() -> Iterator[EasyPostFake]:
    with EasyPostFake(api_key=EASYPOST_KEY) as fake:
        yield fake


@pytest.fixture
def shippo_fake() -> Iterator[ShippoFake]:
    with ShippoFake(api_key=SHIPPO_KEY) as fake:
        yield fake


def easypost_account(fake: EasyPostFake, **options: Any) -> CarrierAccount:
    return CarrierAccount(
        id="easypost-us",
        adapter="easypost",
        carrier="EasyPost",
        secret_env={"api_key": "EASYPOST_API_KEY", "webhook_secret": "EASYPOST_WEBHOOK_SECRET"},
        options={"api_base": fake.api_base, "customs_fx": FX, **options},
        policy=CallPolicy(timeout_seconds=TIMEOUT, max_concurrency=4),
    )


def shippo_account(fake: ShippoFake, secrets: dict[str, str] | None = None, **options: Any) -> CarrierAccount:
    return CarrierAccount(
        id="shippo-main",
        adapter="shippo",
        carrier="Shippo",
        secret_env=secrets
        if secrets is not None
        else {
            "api_key": "SHIPPO_API_KEY",
            "webhook_token": "SHIPPO_WEBHOOK_TOKEN",
            "webhook_hmac_secret": "SHIPPO_HMAC_SECRET",
        },
        options={"server_url": fake.server_url, **options},
        policy=CallPolicy(timeout_seconds=TIMEOUT, max_concurrency=4),
    )


@pytest.fixture
async def easypost(easypost_fake: EasyPostFake) -> AsyncIterator[EasyPostCarrier]:
    adapter = EasyPostCarrier.from_account(easypost_account(easypost_fake), ENVIRON)
    yield adapter
    await adapter.close()


@pytest.fixture
async def make_shippo(shippo_fake: ShippoFake) -> AsyncIterator[Callable[..., ShippoCarrier]]:
    built: list[ShippoCarrier] = []

    def make(secrets: dict[str, str] | None = None, **options: Any) -> ShippoCarrier:
        adapter = ShippoCarrier.from_account(shippo_account(shippo_fake, secrets, **options), ENVIRON)
        built.append(adapter)
        return adapter

    yield make
    for adapter in built:
        await adapter.close()


@pytest.fixture
def shippo(make_shippo: Callable[..., ShippoCarrier]) -> ShippoCarrier:
    return make_shippo()
