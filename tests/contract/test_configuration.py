"""Both aggregators configured the way an operator configures them: a carriers TOML file and env vars."""

from __future__ import annotations

import asyncio
from pathlib import Path

from carriers.accounts import load_accounts
from carriers.easypost import EasyPostCarrier
from carriers.registry import build_carriers
from carriers.resilience import ResilientCarrier
from carriers.shippo import ShippoCarrier
from tests.contract.conftest import ENVIRON
from tests.contract.returns import fr_to_us
from tests.fakes.easypost_server import EasyPostFake
from tests.fakes.loopback import Fault
from tests.fakes.shippo_server import ShippoFake

CARRIERS_TOML = """
[[accounts]]
id = "easypost"
adapter = "easypost"
carrier = "EasyPost"
api_key_env = "EASYPOST_API_KEY"
webhook_secret_env = "EASYPOST_WEBHOOK_SECRET"
[accounts.options]
api_base = "{easypost}"
workers = 4
[accounts.options.customs_fx]
base = "USD"
as_of = 2026-11-02
source = "ECB reference rate"
rates = {{ EUR = "0.92" }}
[accounts.policy]
timeout_seconds = 0.5
max_attempts = 3
backoff_initial_seconds = 0.01

[[accounts]]
id = "shippo"
adapter = "shippo"
carrier = "Shippo"
api_key_env = "SHIPPO_API_KEY"
webhook_token_env = "SHIPPO_WEBHOOK_TOKEN"
[accounts.options]
server_url = "{shippo}"
incoterm = "DDP"
duties_payor = {{ type = "RECIPIENT", account = "510087020" }}
[accounts.policy]
timeout_seconds = 0.5
max_attempts = 3
backoff_initial_seconds = 0.01
"""


async def test_accounts_from_a_carriers_file_quote_through_the_fakes_with_retries(
    tmp_path: Path, easypost_fake: EasyPostFake, shippo_fake: ShippoFake
) -> None:
    path = tmp_path / "carriers.toml"
    path.write_text(CARRIERS_TOML.format(easypost=easypost_fake.api_base, shippo=shippo_fake.server_url))
    accounts = load_accounts(path)
    configured = build_carriers(accounts, ENVIRON)
    try:
        assert configured.disabled == []
        assert isinstance(configured.adapters["easypost"], EasyPostCarrier)
        assert isinstance(configured.adapters["shippo"], ShippoCarrier)
        easypost_fake.inject(Fault.server_error(500), path="/shipments")
        shippo_fake.inject(Fault.hang(2), path="^/shipments$")
        resilient = [ResilientCarrier(configured.adapters[a.id], a.policy) for a in accounts]
        answers = await asyncio.gather(*(carrier.quote(fr_to_us()) for carrier in resilient))
        assert [len(rates) for rates in answers] == [4, 4]
        assert len(easypost_fake.requests) == 2
        assert len(shippo_fake.requests) == 2
        declaration = shippo_fake.last_request("POST", "^/shipments$").json["customs_declaration"]
        assert (declaration["incoterm"], declaration["duties_payor"]) == (
            "DDP",
            {"type": "RECIPIENT", "account": "510087020"},
        )
    finally:
        await configured.close()


def test_an_account_without_its_key_is_disabled_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "carriers.toml"
    path.write_text(CARRIERS_TOML.format(easypost="http://127.0.0.1:9/v2", shippo="http://127.0.0.1:9"))
    configured = build_carriers(load_accounts(path), {})
    assert {d.account_id for d in configured.disabled} == {"easypost", "shippo"}
    assert all("API_KEY" in d.reason for d in configured.disabled)
