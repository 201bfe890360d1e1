"""The sandbox's purchase ledger: purchases survive a restart, can be looked up, are never re-issued."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carriers.errors import UnsupportedOperation
from carriers.models import PurchaseRequest
from carriers.port import PurchaseLookup
from carriers.sandbox import SandboxCarrier, SandboxSettings
from tests.unit.carriers.sample_shipments import return_shipment


def sandbox(ledger: Path | None, seed: int = 7) -> SandboxCarrier:
    settings = SandboxSettings(seed=seed, ledger_file=str(ledger) if ledger else "")
    return SandboxCarrier("sandbox", "Sandbox", settings)


def request(key: str) -> PurchaseRequest:
    return PurchaseRequest(return_shipment("DE", "10115"), "sandbox_standard", key)


def purchases(ledger: Path) -> list[dict[str, object]]:
    entries = [json.loads(line) for line in ledger.read_text().splitlines()]
    return [entry for entry in entries if entry["event"] == "purchase"]


async def test_every_purchase_is_written_to_the_ledger_before_it_is_returned(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    carrier = sandbox(ledger)
    first = await carrier.purchase(request("k1"))
    second = await carrier.purchase(request("k2"))
    recorded = purchases(ledger)
    assert [(e["idempotency_key"], e["tracking_number"]) for e in recorded] == [
        ("k1", first.tracking_number),
        ("k2", second.tracking_number),
    ]
    assert recorded[0]["price"] == str(first.price.amount)


async def test_a_restarted_sandbox_finds_purchases_by_key_and_never_reissues_a_number(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    before = sandbox(ledger)
    bought = await before.purchase(request("k1"))
    after = sandbox(ledger)  # same seed: it would draw the same first number again
    assert isinstance(after, PurchaseLookup)
    found = await after.find_purchase(request("k1"))
    assert found is not None
    assert found.tracking_number == bought.tracking_number
    assert found.price == bought.price
    assert found.carrier_shipment_id == bought.carrier_shipment_id
    assert await after.find_purchase(request("never-bought")) is None
    again = await after.purchase(request("k2"))
    assert again.tracking_number != bought.tracking_number
    assert (await after.track(bought.tracking_number)).tracking_number == bought.tracking_number


async def test_voids_survive_a_restart(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    carrier = sandbox(ledger)
    bought = await carrier.purchase(request("k1"))
    await carrier.void(bought.reference)
    snapshot = await sandbox(ledger).track(bought.tracking_number)
    assert [event.code for event in snapshot.events] == ["VOID"]


async def test_a_torn_last_line_from_a_crash_mid_write_is_skipped(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    bought = await sandbox(ledger).purchase(request("k1"))
    with ledger.open("a") as file:
        file.write('{"event":"purchase","idempotency_key":"k2","tra')
    restarted = sandbox(ledger)
    assert (await restarted.find_purchase(request("k1"))) is not None
    assert (await restarted.find_purchase(request("k2"))) is None
    assert bought.tracking_number


async def test_without_a_ledger_purchases_cannot_be_looked_up() -> None:
    carrier = sandbox(None)
    await carrier.purchase(request("k1"))
    with pytest.raises(UnsupportedOperation):
        await carrier.find_purchase(request("k1"))
