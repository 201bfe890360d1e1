"""QuoteReturn through a real server process configured as an operator would: carriers and hubs files, and
EasyPost and Shippo accounts pointed at the loopback fakes, their API keys in the server's environment."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from backhaul.v1 import rates_pb2, rates_pb2_grpc
from service.demo import german_customer_return
from tests.e2e.server_process import ServerProcess, run_cli
from tests.fakes import EasyPostFake, Fault, ShippoFake

EASYPOST_KEY = "EZTK_e2e_quote_key"
SHIPPO_KEY = "shippo_test_e2e_quote_key"
LOCAL_PARTNERS = {"tulip-parcel", "rhein-paket"}
AGGREGATORS = ("easypost", "shippo")

HUBS_TOML = """
source = "e2e hubs"
effective_from = 2026-01-01
default_hub = "EU_HUB"

[[hubs]]
id = "EU_HUB"
name = "EU returns hub, Venlo"
countries = ["DE", "FR", "NL", "BE", "AT"]
[hubs.contact]
name = "Backhaul Returns EU"
[hubs.address]
region_code = "NL"
address_lines = ["Columbusweg 12"]
locality = "Venlo"
postal_code = "5928 LC"
"""

CARRIERS_TOML = """
[[accounts]]
id = "tulip-parcel"
adapter = "ratecard"
carrier = "Tulip Parcel"
[accounts.options]
card = "tulip_parcel_nl"

[[accounts]]
id = "rhein-paket"
adapter = "ratecard"
carrier = "Rhein Paket"
[accounts.options]
card = "rhein_paket_de"

[[accounts]]
id = "sandbox-hang"
adapter = "sandbox"
carrier = "Sandbox Hanging"
[accounts.options]
mode = "hang"
[accounts.policy]
breaker_failure_threshold = 1000

[[accounts]]
id = "sandbox-500"
adapter = "sandbox"
carrier = "Sandbox Failing"
[accounts.options]
mode = "unavailable"
[accounts.policy]
max_attempts = 2
backoff_initial_seconds = 0.01
breaker_failure_threshold = 1000

[[accounts]]
id = "easypost"
adapter = "easypost"
carrier = "EasyPost"
api_key_env = "EASYPOST_API_KEY"
[accounts.options]
api_base = "{easypost}"
[accounts.policy]
timeout_seconds = 0.5
max_attempts = 3
backoff_initial_seconds = 0.05
breaker_failure_threshold = 1000

[[accounts]]
id = "shippo"
adapter = "shippo"
carrier = "Shippo"
api_key_env = "SHIPPO_API_KEY"
[accounts.options]
server_url = "{shippo}"
[accounts.policy]
timeout_seconds = 0.5
max_attempts = 3
backoff_initial_seconds = 0.05
breaker_failure_threshold = 1000
"""


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[EasyPostFake, ShippoFake]]:
    with EasyPostFake(api_key=EASYPOST_KEY) as easypost, ShippoFake(api_key=SHIPPO_KEY) as shippo:
        yield easypost, shippo


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, fakes: tuple[EasyPostFake, ShippoFake]
) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("quote-api")
    easypost, shippo = fakes
    carriers = workdir / "carriers.toml"
    carriers.write_text(CARRIERS_TOML.format(easypost=easypost.api_base, shippo=shippo.server_url))
    hubs = workdir / "hubs.toml"
    hubs.write_text(HUBS_TOML)
    process = ServerProcess(
        workdir,
        extra_env={
            "BACKHAUL_CARRIERS_FILE": str(carriers),
            "BACKHAUL_HUBS_FILE": str(hubs),
            "BACKHAUL_AUTH_CACHE_SECONDS": "30",
            "EASYPOST_API_KEY": EASYPOST_KEY,
            "SHIPPO_API_KEY": SHIPPO_KEY,
        },
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def api_key(server: ServerProcess) -> str:
    return server.create_key("merchant-quote")


@pytest.fixture
def quote(
    server: ServerProcess, api_key: str, fakes: tuple[EasyPostFake, ShippoFake]
) -> Iterator[Callable[..., rates_pb2.QuoteReturnResponse]]:
    """Calls QuoteReturn with the merchant's key; faults injected by a test are cleared after it."""
    channel = grpc.insecure_channel(server.target)
    stub = rates_pb2_grpc.RatesServiceStub(channel)

    def call(request: rates_pb2.QuoteReturnRequest, timeout: float = 3.0) -> rates_pb2.QuoteReturnResponse:
        response: rates_pb2.QuoteReturnResponse = stub.QuoteReturn(
            request, metadata=(("authorization", f"Bearer {api_key}"),), timeout=timeout
        )
        return response

    yield call
    channel.close()
    for fake in fakes:
        fake.clear_faults()


def german_return(*accounts: str) -> rates_pb2.QuoteReturnRequest:
    request = german_customer_return(dt.datetime.now(dt.UTC).date())
    request.preferences.carrier_account_ids.extend(accounts)
    return request


def test_a_german_customer_gets_quotes_to_the_eu_hub_despite_a_hanging_and_a_failing_carrier(
    quote: Callable[..., rates_pb2.QuoteReturnResponse],
) -> None:
    started = time.monotonic()
    response = quote(german_return(), timeout=2.0)
    assert time.monotonic() - started < 2.0
    accounts = {q.carrier.account_id for q in response.quotes}
    assert accounts == {*LOCAL_PARTNERS, *AGGREGATORS}
    assert len(response.quotes) >= 2
    assert {q.destination_hub.id for q in response.quotes} == {"EU_HUB"}
    errors = {e.carrier.account_id: e for e in response.errors}
    assert set(errors) == {"sandbox-hang", "sandbox-500"}
    assert errors["sandbox-hang"].code == rates_pb2.CARRIER_ERROR_CODE_TIMEOUT
    assert errors["sandbox-500"].code == rates_pb2.CARRIER_ERROR_CODE_UNAVAILABLE
    assert "500" in errors["sandbox-500"].message
    assert response.return_policy.eligible


def test_both_aggregators_quote_beside_the_local_partners(
    quote: Callable[..., rates_pb2.QuoteReturnResponse],
) -> None:
    response = quote(german_return(*LOCAL_PARTNERS, *AGGREGATORS))
    assert not response.errors
    by_account: dict[str, list[rates_pb2.Quote]] = {}
    for q in response.quotes:
        by_account.setdefault(q.carrier.account_id, []).append(q)
    assert set(by_account) == {*LOCAL_PARTNERS, *AGGREGATORS}
    assert {q.carrier.provider for q in by_account["easypost"]} == {"easypost"}
    assert {q.carrier.provider for q in by_account["shippo"]} == {"shippo"}
    assert all(q.price.currency_code == "USD" for name in AGGREGATORS for q in by_account[name])
    assert all(q.display_price.currency_code == "EUR" for q in response.quotes)  # a German customer
    assert all(q.quote_token.startswith("q1.") for q in response.quotes)


FAULTS: dict[str, tuple[Fault, Fault, set[int]]] = {
    # name: (EasyPost fault, Shippo fault, acceptable error codes when every attempt meets the fault)
    "429 with Retry-After": (
        Fault.rate_limited("1"),
        Fault.rate_limited("1"),
        {rates_pb2.CARRIER_ERROR_CODE_RATE_LIMITED},
    ),
    "500": (Fault.server_error(500), Fault.server_error(500), {rates_pb2.CARRIER_ERROR_CODE_UNAVAILABLE}),
    "hang": (
        Fault.hang(3),
        Fault.hang(3),
        {rates_pb2.CARRIER_ERROR_CODE_TIMEOUT, rates_pb2.CARRIER_ERROR_CODE_UNAVAILABLE},
    ),
    "reset": (Fault.reset(), Fault.reset(), {rates_pb2.CARRIER_ERROR_CODE_UNAVAILABLE}),
    "malformed JSON": (
        Fault.malformed_json(),
        Fault.malformed_json(),
        {rates_pb2.CARRIER_ERROR_CODE_MALFORMED_RESPONSE},
    ),
    "missing fields": (
        Fault.missing_fields("rates.0.rate"),
        Fault.missing_fields("rates.0.amount"),
        {rates_pb2.CARRIER_ERROR_CODE_MALFORMED_RESPONSE},
    ),
}


def _inject(fakes: tuple[EasyPostFake, ShippoFake], name: str, times: int | None) -> set[int]:
    easypost, shippo = fakes
    easypost_fault, shippo_fault, codes = FAULTS[name]
    easypost.inject(easypost_fault, method="POST", path="/shipments$", times=times)
    shippo.inject(shippo_fault, method="POST", path="^/shipments$", times=times)
    return codes


@pytest.mark.parametrize("name", list(FAULTS))
def test_a_persistent_fault_is_that_carriers_error_entry(
    name: str,
    quote: Callable[..., rates_pb2.QuoteReturnResponse],
    fakes: tuple[EasyPostFake, ShippoFake],
) -> None:
    codes = _inject(fakes, name, times=None)
    response = quote(german_return(*LOCAL_PARTNERS, *AGGREGATORS))
    assert {q.carrier.account_id for q in response.quotes} == LOCAL_PARTNERS
    errors = {e.carrier.account_id: e for e in response.errors}
    assert set(errors) == set(AGGREGATORS)
    for account in AGGREGATORS:
        assert errors[account].code in codes, (account, errors[account])
        assert errors[account].carrier.provider == account
    if name == "429 with Retry-After":
        assert all(errors[a].retryable and errors[a].retry_after.seconds == 1 for a in AGGREGATORS)


@pytest.mark.parametrize("name", list(FAULTS))
def test_a_passing_fault_is_retried_into_a_success(
    name: str,
    quote: Callable[..., rates_pb2.QuoteReturnResponse],
    fakes: tuple[EasyPostFake, ShippoFake],
) -> None:
    easypost, shippo = fakes
    _inject(fakes, name, times=1)
    before = (
        len(easypost.requests_to("POST", "/shipments$")),
        len(shippo.requests_to("POST", "^/shipments$")),
    )
    response = quote(german_return(*LOCAL_PARTNERS, *AGGREGATORS))
    accounts = {q.carrier.account_id for q in response.quotes}
    errors = {e.carrier.account_id: e for e in response.errors}
    # Retryable faults are retried into a success; an unreadable answer is no reason to ask again.
    retryable = name in {"429 with Retry-After", "500", "hang", "reset"}
    for account, fake, path, sent_before in (
        ("easypost", easypost, "/shipments$", before[0]),
        ("shippo", shippo, "^/shipments$", before[1]),
    ):
        if retryable:
            assert account in accounts, errors.get(account)
            assert len(fake.requests_to("POST", path)) - sent_before == 2
        else:
            assert account in accounts or errors[account].code in FAULTS[name][2]
    assert accounts >= LOCAL_PARTNERS


def _bad_request(error: grpc.RpcError) -> list[str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    fields: list[str] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            fields.extend(v.field for v in bad_request.field_violations)
    return fields


def _unknown_country(request: rates_pb2.QuoteReturnRequest) -> None:
    request.customer.address.region_code = "XX"


def _negative_weight(request: rates_pb2.QuoteReturnRequest) -> None:
    request.parcels[0].weight_grams = -100


def _unknown_item_currency(request: rates_pb2.QuoteReturnRequest) -> None:
    request.items[0].unit_value.currency_code = "EUX"


def _unknown_display_currency(request: rates_pb2.QuoteReturnRequest) -> None:
    request.preferences.display_currency = "QQQ"


@pytest.mark.parametrize(
    ("spoil", "field"),
    [
        (_unknown_country, "customer.address.region_code"),
        (_negative_weight, "parcels[0].weight_grams"),
        (_unknown_item_currency, "items[0].unit_value.currency_code"),
        (_unknown_display_currency, "preferences.display_currency"),
    ],
)
def test_bad_input_is_invalid_argument_with_a_field_violation(
    spoil: Callable[[rates_pb2.QuoteReturnRequest], None],
    field: str,
    quote: Callable[..., rates_pb2.QuoteReturnResponse],
) -> None:
    request = german_return(*LOCAL_PARTNERS)
    spoil(request)
    with pytest.raises(grpc.RpcError) as caught:
        quote(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in _bad_request(caught.value)


def test_the_quote_command_prints_the_answer_of_a_running_server(
    server: ServerProcess, api_key: str, tmp_path: Path
) -> None:
    request_file = tmp_path / "return.json"
    request_file.write_text(json_format.MessageToJson(german_return(*LOCAL_PARTNERS, "sandbox-500")))
    env = {**server.env, "BACKHAUL_API_KEY": api_key, "COLUMNS": "200"}
    result = run_cli(["quote", str(request_file), "--target", server.target], env)
    assert "EU_HUB" in result.stdout
    assert "Tulip Parcel" in result.stdout
    assert "Rhein Paket" in result.stdout
    assert "sandbox-500" in result.stdout
    assert "UNAVAILABLE" in result.stdout
    assert "eu-default" in result.stdout
