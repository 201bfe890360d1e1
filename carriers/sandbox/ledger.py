"""The sandbox's durable purchase ledger: what the simulated carrier has sold, kept across restarts.

A real carrier remembers its purchases; the sandbox does when `ledger_file` is set. Each purchase and void
is one JSON line, appended and fsynced before the call returns, so a purchase the caller never saw (the
caller crashed first) is still on record, can be looked up by its idempotency key, and is never issued a
second time under another tracking number by a restarted sandbox. Tests count carrier-side purchases here.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from carriers.models import LabelFormat, PurchasedLabel
from customs.money import Money


@dataclass(frozen=True, slots=True)
class LedgerPurchase:
    label: PurchasedLabel
    idempotency_key: str
    purchased_at: dt.datetime
    cross_border: bool
    origin: tuple[str, str]  # city, country
    destination: tuple[str, str]


@dataclass(frozen=True, slots=True)
class LedgerVoid:
    tracking_number: str


class PurchaseLedger:
    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self) -> Iterator[LedgerPurchase | LedgerVoid]:
        """Every entry in the order written; a torn last line (a crash mid-write) is skipped."""
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as ledger:
            for line in ledger:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("event") == "void":
                    yield LedgerVoid(str(entry["tracking_number"]))
                elif entry.get("event") == "purchase":
                    yield _purchase(entry)

    def record_purchase(self, purchase: LedgerPurchase) -> None:
        label = purchase.label
        self._append(
            {
                "event": "purchase",
                "idempotency_key": purchase.idempotency_key,
                "account_id": label.account_id,
                "carrier": label.carrier,
                "service_code": label.service_code,
                "tracking_number": label.tracking_number,
                "price": str(label.price.amount),
                "currency": label.price.currency,
                "label_format": label.label_format.value,
                "purchased_at": purchase.purchased_at.isoformat(),
                "cross_border": purchase.cross_border,
                "origin": list(purchase.origin),
                "destination": list(purchase.destination),
            }
        )

    def record_void(self, tracking_number: str) -> None:
        self._append({"event": "void", "tracking_number": tracking_number})

    def _append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        with self.path.open("a", encoding="utf-8") as ledger:
            ledger.write(line)
            ledger.flush()
            os.fsync(ledger.fileno())


def sandbox_label(
    account_id: str,
    carrier: str,
    service_code: str,
    tracking_number: str,
    price: Money,
    label_format: LabelFormat,
    idempotency_key: str,
) -> PurchasedLabel:
    """The label the sandbox hands out (also rebuilt from the ledger, so both are the same).

    Like a partner without a label API it returns no label file: the labels use case renders a real one,
    so demos and tests handle a printable document rather than a placeholder.
    """
    return PurchasedLabel(
        account_id=account_id,
        carrier=carrier,
        service_code=service_code,
        tracking_number=tracking_number,
        price=price,
        label_format=label_format,
        carrier_shipment_id=f"shp_{tracking_number}",
        carrier_label_id=f"lbl_{tracking_number}",
        raw={"idempotency_key": idempotency_key},
    )


def _purchase(entry: dict[str, Any]) -> LedgerPurchase:
    key = str(entry["idempotency_key"])
    label = sandbox_label(
        str(entry["account_id"]),
        str(entry["carrier"]),
        str(entry["service_code"]),
        str(entry["tracking_number"]),
        Money(Decimal(str(entry["price"])), str(entry["currency"])),
        LabelFormat(entry["label_format"]),
        key,
    )
    origin, destination = entry["origin"], entry["destination"]
    return LedgerPurchase(
        label=label,
        idempotency_key=key,
        purchased_at=dt.datetime.fromisoformat(str(entry["purchased_at"])),
        cross_border=bool(entry["cross_border"]),
        origin=(str(origin[0]), str(origin[1])),
        destination=(str(destination[0]), str(destination[1])),
    )
