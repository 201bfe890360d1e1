"""Killing the server with SIGKILL in the middle of a burst of label purchases loses none and buys none twice.

The server buys from the sandbox carrier (with latency, and a durable purchase ledger: the carrier's own
record of what it sold). Purchases under distinct idempotency keys are sent in a staggered burst and the
server is killed while some are done, some are between the carrier and the commit, and some are not sent.
After a restart (reconciliation settles intents older than its grace period) the client re-sends every
key until it gets its label. Then:
- every key has one label, and keys answered before the crash get the same label again;
- the carrier sold exactly one label per key: one ledger entry per label, same tracking numbers;
- no label is left pending.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from google.type import money_pb2, postal_address_pb2

from backhaul.v1 import common_pb2, labels_pb2, labels_pb2_grpc, rates_pb2, rates_pb2_grpc
from tests.e2e.server_process import ServerProcess

KEYS = [f"rma-{index:03d}" for index in range(40)]
SEND_EVERY_SECONDS = 0.03
KILL_AFTER_ANSWERS = 3  # kill once this many purchases were answered ...
KILL_WITH_UNCOMMITTED_SALES = 1  # ... while the carrier has sold this many more than the server has recorded
RETRY_FOR_SECONDS = 40.0

CARRIERS_TOML = """
[[accounts]]
id = "sandbox"
adapter = "sandbox"
carrier = "Sandbox Express"
[accounts.options]
latency_ms = 250
jitter_ms = 100
seed = 11
currency = "USD"
ledger_file = "{ledger}"
[accounts.policy]
max_concurrency = 64
"""

SHIPMENT = common_pb2.ReturnShipment(
    customer=common_pb2.Party(
        contact=common_pb2.Contact(name="Lena Fischer", email="lena@example.com"),
        address=postal_address_pb2.PostalAddress(
            region_code="DE", address_lines=["Torstraße 1"], locality="Berlin", postal_code="10115"
        ),
    ),
    destination=common_pb2.ReturnDestination(hub_id="EU_HUB"),
    parcels=[common_pb2.Parcel(weight_grams=900, length_mm=300, width_mm=200, height_mm=80)],
    items=[
        common_pb2.ReturnedItem(
            sku="SHOE-42",
            description="leather sneakers",
            hs_code="6403.99",
            origin_country="PT",
            quantity=1,
            unit_value=money_pb2.Money(currency_code="EUR", units=89),
            unit_weight_grams=700,
        )
    ],
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    carriers = tmp_path / "carriers.toml"
    carriers.write_text(CARRIERS_TOML.format(ledger=tmp_path / "sandbox-ledger.jsonl"))
    process = ServerProcess(
        tmp_path,
        extra_env={
            "BACKHAUL_CARRIERS_FILE": str(carriers),
            "BACKHAUL_LABEL_PURCHASE_BUDGET_SECONDS": "2",
            "BACKHAUL_LABEL_RECONCILE_AFTER_SECONDS": "3",
            "BACKHAUL_LABEL_RECONCILE_INTERVAL_SECONDS": "0.5",
            "BACKHAUL_LOG_LEVEL": "INFO",
        },
    )
    process.start()
    yield process
    process.stop()


def _request(key: str, token: str) -> labels_pb2.CreateReturnLabelRequest:
    return labels_pb2.CreateReturnLabelRequest(idempotency_key=key, shipment=SHIPMENT, quote_token=token)


def _ledger(path: Path) -> list[dict[str, str]]:
    """The carrier's sales; a line torn by the kill was never a sale."""
    sales = []
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry["event"] == "purchase":
            sales.append(entry)
    return sales


def _bought(database: Path) -> int:
    """Labels the server has committed as bought (read beside the running server: SQLite in WAL mode)."""
    try:
        return _label_states(database).get("purchased", 0)
    except sqlite3.OperationalError:  # not created yet, or busy for a moment
        return 0


def _label_states(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT state, count(*) FROM return_labels GROUP BY state").fetchall()
    return {state: count for state, count in rows}


def test_sigkill_during_a_burst_of_purchases_loses_none_and_buys_none_twice(
    server: ServerProcess, tmp_path: Path
) -> None:
    metadata = (("authorization", f"Bearer {server.create_key('merchant-crash')}"),)
    with grpc.insecure_channel(server.target) as channel:
        quote_request = rates_pb2.QuoteReturnRequest()
        quote_request.ParseFromString(SHIPMENT.SerializeToString())
        quote_request.preferences.carrier_account_ids.append("sandbox")
        quotes = rates_pb2_grpc.RatesServiceStub(channel).QuoteReturn(
            quote_request, metadata=metadata, timeout=10
        )
        token = quotes.quotes[0].quote_token
        stub = labels_pb2_grpc.LabelsServiceStub(channel)
        before_crash: dict[str, labels_pb2.ReturnLabel] = {}
        lock = threading.Lock()

        def buy(key: str) -> None:
            try:
                # A generous deadline: the burst's documents are rendered one label at a time, which on a slow
                # machine takes seconds; a call that gave up would not count as answered before the crash.
                label = stub.CreateReturnLabel(_request(key, token), metadata=metadata, timeout=60).label
            except grpc.RpcError:
                return  # the server died under this call
            with lock:
                before_crash[key] = label

        ledger = tmp_path / "sandbox-ledger.jsonl"
        database = tmp_path / "backhaul.db"
        stop_sending = threading.Event()

        def send(pool: ThreadPoolExecutor) -> None:
            for key in KEYS:
                if stop_sending.is_set():
                    return  # the rest is sent after the restart only
                pool.submit(buy, key)
                time.sleep(SEND_EVERY_SECONDS)

        with ThreadPoolExecutor(max_workers=len(KEYS)) as pool:
            sender = threading.Thread(target=send, args=(pool,))
            sender.start()
            # Kill while the carrier has sold labels the server has not recorded as bought yet: those are
            # between the carrier's answer and the commit (watched in the ledger and the database itself,
            # not guessed from the answers, whose timing varies with the machine).
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                sold = len(_ledger(ledger)) if ledger.exists() else 0
                with lock:
                    answered = len(before_crash)
                if answered >= KILL_AFTER_ANSWERS and sold - _bought(database) >= KILL_WITH_UNCOMMITTED_SALES:
                    break
                time.sleep(0.002)
            assert server.process is not None
            server.process.send_signal(signal.SIGKILL)
            stop_sending.set()
            server.process.wait(timeout=10)
            sender.join()
    assert 0 < len(before_crash) < len(KEYS), "the kill must land in the middle of the burst"
    states = _label_states(database)
    assert states.get("pending", 0) > 0, f"no purchase was interrupted: {states}"

    server.start()  # reconciliation runs at start and then every 0.5 s
    after: dict[str, labels_pb2.ReturnLabel] = {}
    with grpc.insecure_channel(server.target) as channel:
        stub = labels_pb2_grpc.LabelsServiceStub(channel)

        def rebuy(key: str) -> tuple[str, labels_pb2.ReturnLabel]:
            deadline = time.monotonic() + RETRY_FOR_SECONDS
            while True:
                try:
                    return key, stub.CreateReturnLabel(
                        _request(key, token), metadata=metadata, timeout=5
                    ).label
                except grpc.RpcError as error:
                    if error.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                        raise
                    time.sleep(0.3)

        with ThreadPoolExecutor(max_workers=len(KEYS)) as pool:
            after = dict(pool.map(rebuy, KEYS))

        pending = stub.ListReturnLabels(
            labels_pb2.ListReturnLabelsRequest(
                statuses=[labels_pb2.RETURN_LABEL_STATUS_PENDING, labels_pb2.RETURN_LABEL_STATUS_NEEDS_REVIEW]
            ),
            metadata=metadata,
        )
    assert list(pending.labels) == []
    assert all(label.status == labels_pb2.RETURN_LABEL_STATUS_PURCHASED for label in after.values())
    for key, label in before_crash.items():
        assert (after[key].id, after[key].tracking_number) == (label.id, label.tracking_number)
    labels = {label.id: label.tracking_number for label in after.values()}
    assert len(labels) == len(KEYS)

    sales = _ledger(tmp_path / "sandbox-ledger.jsonl")
    sold_labels = [str(sale["idempotency_key"]).split(".")[0] for sale in sales]
    assert len(sold_labels) == len(set(sold_labels)), "a label was bought twice"
    assert sorted(sold_labels) == sorted(labels)
    assert sorted(str(sale["tracking_number"]) for sale in sales) == sorted(labels.values())
    # Reconciliation found purchases the crash had left uncommitted in the carrier's records.
    recovered = sum(
        int(count)
        for count in re.findall(r"ReconciliationReport\(examined=\d+, purchased=(\d+)", server.logs())
    )
    assert recovered >= 1
