"""Duty reclaim against the real server process: CalculateDutyReclaim answers over gRPC (worked examples,
combined regimes, field violations in the error details), and a cross-border label bought through
LabelsService records a claim that the carrier's tracking moves to ready-to-file, listed by ListReclaimClaims.

The server's only carrier is the sandbox, configured to scan every second, and parcels are polled every
half second, so a label's whole journey takes a few seconds.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from google.type import postal_address_pb2
from grpc_status import rpc_status

from backhaul.v1 import common_pb2, customs_pb2, customs_pb2_grpc, labels_pb2, labels_pb2_grpc
from tests.e2e.server_process import ServerProcess
from tests.unit.service.test_reclaim_servicer import (
    as_decimal,
    day,
    eu_request,
    example_1_request,
    example_2_request,
    money,
)

CARRIERS_TOML = """
[[accounts]]
id = "sandbox"
adapter = "sandbox"
carrier = "Sandbox Express"
[accounts.options]
seed = 1
currency = "USD"
tracking_step_seconds = 1.0
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("reclaim")
    carriers = workdir / "carriers.toml"
    carriers.write_text(CARRIERS_TOML)
    process = ServerProcess(
        workdir,
        extra_env={
            "BACKHAUL_CARRIERS_FILE": str(carriers),
            "BACKHAUL_TRACKING_POLL_INTERVAL_SECONDS": "0.5",
        },
    )
    process.start()
    yield process
    process.stop()


class Authorized:
    """A stub with the merchant's API key on every call."""

    def __init__(self, stub: object, key: str) -> None:
        self._stub = stub
        self._metadata = (("authorization", f"Bearer {key}"),)

    def __getattr__(self, method: str) -> Callable[..., Any]:
        return functools.partial(getattr(self._stub, method), metadata=self._metadata, timeout=10)


@pytest.fixture(scope="module")
def channel(server: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.target) as opened:
        yield opened


@pytest.fixture(scope="module")
def customs(server: ServerProcess, channel: grpc.Channel) -> Authorized:
    return Authorized(customs_pb2_grpc.CustomsServiceStub(channel), server.create_key("merchant-reclaim"))


def _violations(error: grpc.RpcError) -> dict[str, str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    found: dict[str, str] = {}
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            found.update({v.field: v.description for v in bad_request.field_violations})
    return found


def test_example_1_over_grpc_is_99_percent_of_the_duty(customs: Authorized) -> None:
    response = customs.CalculateDutyReclaim(example_1_request())
    assert as_decimal(response.total_refundable_amount) == Decimal("990.00")
    assert response.best_regime_id == response.best_regime_ids[0]
    assert response.filing_deadline == day("2031-01-10")
    (lost,) = response.not_refundable
    assert as_decimal(lost.amount) == Decimal("10.00")


def test_example_2_over_grpc_apportions_mpf_with_lines_in_request_order(customs: Authorized) -> None:
    response = customs.CalculateDutyReclaim(example_2_request({"1": 1000}, order="231"))
    assert [line.line_id for line in response.lines] == ["2", "3", "1"]
    assert as_decimal(response.total_refundable_amount) == Decimal("14.10")
    unused = next(r for r in response.regimes if r.regime.id == "us-1313j1-unused")
    assert unused.lines[0].refunds[0].unit_eligible == "0.0141"


def test_combined_regimes_with_display_amounts_from_the_servers_fx_table(customs: Authorized) -> None:
    response = customs.CalculateDutyReclaim(eu_request())
    assert set(response.best_regime_ids) == {"eu-ucc118-rejected", "eu-ioss-vat-adjustment"}
    assert response.total_refundable_display_amount.currency_code == "GBP"
    assert response.fx_as_of.year > 0
    assert response.fx_source


def test_bad_requests_are_invalid_argument_naming_every_field(customs: Authorized) -> None:
    request = example_2_request({"1": 10})
    request.ClearField("import_date")
    request.lines[1].hs_code = "77AB"  # reported once the structure is sound: import_date first
    request.display_currency = "XYZ"
    with pytest.raises(grpc.RpcError) as caught:
        customs.CalculateDutyReclaim(request)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(_violations(caught.value)) == {"import_date", "display_currency"}
    request.import_date.CopyFrom(day("2026-01-10"))
    request.display_currency = ""
    with pytest.raises(grpc.RpcError) as caught:
        customs.CalculateDutyReclaim(request)
    assert set(_violations(caught.value)) == {"lines[1].hs_code"}


def test_an_unknown_label_is_not_found(customs: Authorized) -> None:
    request = example_1_request()
    request.label_id = "lbl_nobody"
    with pytest.raises(grpc.RpcError) as caught:
        customs.CalculateDutyReclaim(request)
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND


def _us_return_to_the_canadian_hub(today: dt.date) -> common_pb2.ReturnShipment:
    address = postal_address_pb2.PostalAddress(
        region_code="US",
        address_lines=["1 Main St"],
        locality="Buffalo",
        administrative_area="NY",
        postal_code="14202",
    )
    delivered = today - dt.timedelta(days=30)
    return common_pb2.ReturnShipment(
        customer=common_pb2.Party(
            contact=common_pb2.Contact(name="Sam Lee", email="sam@example.com", phone="+1 716 555 0100"),
            address=address,
        ),
        destination=common_pb2.ReturnDestination(hub_id="CA_HUB"),
        parcels=[common_pb2.Parcel(weight_grams=900, length_mm=400, width_mm=300, height_mm=100)],
        items=[
            common_pb2.ReturnedItem(
                sku="JACKET-1",
                description="Men's wool jacket",
                hs_code="6201.40",
                origin_country="CA",
                quantity=1,
                unit_value=money("200.00", "USD"),
                unit_weight_grams=800,
                condition=common_pb2.ITEM_CONDITION_DEFECTIVE,
                return_reason=common_pb2.RETURN_REASON_DEFECTIVE,
            )
        ],
        original_order=common_pb2.OriginalOrder(
            order_id="O-1001",
            order_date=day((delivered - dt.timedelta(days=4)).isoformat()),
            delivery_date=day(delivered.isoformat()),
            outbound_tracking_number="1Z999AA10123456784",
            invoice_number="INV-1001",
            import_entry_number="ABC-1234567-8",
            duties_paid=money("32.00", "USD"),
            taxes_paid=money("0", "USD"),
        ),
    )


def _buy_us_return_to_the_canadian_hub(labels: Authorized, idempotency_key: str) -> labels_pb2.ReturnLabel:
    """A cross-border label from the sandbox carrier, recorded with a US drawback claim."""
    request = labels_pb2.CreateReturnLabelRequest(
        idempotency_key=idempotency_key,
        shipment=_us_return_to_the_canadian_hub(dt.datetime.now(dt.UTC).date()),
        explicit_rate=labels_pb2.ExplicitRate(carrier_account_id="sandbox", service_code="sandbox_standard"),
    )
    return labels.CreateReturnLabel(request).label  # type: ignore[no-any-return]


def test_a_cross_border_label_records_a_claim_that_tracking_makes_ready_to_file(
    server: ServerProcess, channel: grpc.Channel, customs: Authorized
) -> None:
    labels = Authorized(labels_pb2_grpc.LabelsServiceStub(channel), server.create_key("merchant-reclaim"))
    bought = _buy_us_return_to_the_canadian_hub(labels, "reclaim-e2e-1")
    listed = customs.ListReclaimClaims(customs_pb2.ListReclaimClaimsRequest(label_id=bought.id)).claims
    assert listed, server.logs()[-3000:]
    assert all(claim.regime.jurisdiction == "US" for claim in listed)
    assert listed[0].audit_trail[0].actor == f"label:{bought.id}"

    # The label carries the estimate recorded with it: the same claims, their total and first deadline.
    by_id = {claim.id: claim for claim in listed}
    for label in (
        bought,
        labels.GetReturnLabel(labels_pb2.GetReturnLabelRequest(label_id=bought.id)).label,
    ):
        estimate = label.reclaim_estimate
        assert set(estimate.claim_ids) == set(by_id)
        assert estimate.claim_id == estimate.claim_ids[0]
        assert list(estimate.regime_ids) == [by_id[i].regime.id for i in estimate.claim_ids]
        assert estimate.refundable_total.currency_code == "USD"
        cents = sum(c.refundable_total.units * 100 + c.refundable_total.nanos // 10**7 for c in listed)
        assert estimate.refundable_total.units * 100 + estimate.refundable_total.nanos // 10**7 == cents > 0
        assert estimate.filing_deadline == min(
            (c.filing_deadline for c in listed), key=lambda d: (d.year, d.month, d.day)
        )

    deadline = time.monotonic() + 45
    ready = customs_pb2.RECLAIM_CLAIM_STATUS_READY_TO_FILE
    while time.monotonic() < deadline:
        listed = customs.ListReclaimClaims(customs_pb2.ListReclaimClaimsRequest(label_id=bought.id)).claims
        if all(claim.status == ready for claim in listed):
            break
        time.sleep(0.5)
    claim = listed[0]
    assert claim.status == ready, [c.audit_trail for c in listed]
    assert claim.export_proven
    assert claim.proof_of_export.reference == bought.tracking_number
    assert claim.filing_deadline.year >= dt.datetime.now(dt.UTC).year + 4  # US drawback: 5 years from import
    trail = [(e.status, e.actor) for e in claim.audit_trail]
    assert trail[0] == (customs_pb2.RECLAIM_CLAIM_STATUS_ESTIMATED, f"label:{bought.id}")
    assert trail[-1] == (ready, "tracking")
    assert claim.audit_trail[-1].tracking_cursor > 0
    assert claim.audit_trail[-1].evidence.country == "CA"

    # The calculation follows the label: its export date and the tracking proof.
    request = example_1_request()
    request.ClearField("export_date")
    request.ClearField("proof_of_export")
    request.import_date.CopyFrom(claim.import_date)
    request.label_id = bought.id
    response = customs.CalculateDutyReclaim(request)
    assert not any(w.code in {"NOT_YET_EXPORTED", "PROOF_OF_EXPORT_MISSING"} for w in response.warnings)


def test_voiding_a_label_cancels_its_claims(
    server: ServerProcess, channel: grpc.Channel, customs: Authorized
) -> None:
    labels = Authorized(labels_pb2_grpc.LabelsServiceStub(channel), server.create_key("merchant-reclaim"))
    bought = _buy_us_return_to_the_canadian_hub(labels, "reclaim-e2e-void")
    assert bought.reclaim_estimate.status == customs_pb2.RECLAIM_CLAIM_STATUS_ESTIMATED

    voided = labels.VoidReturnLabel(
        labels_pb2.VoidReturnLabelRequest(label_id=bought.id, reason="customer kept the jacket")
    ).label
    assert voided.status == labels_pb2.RETURN_LABEL_STATUS_VOIDED
    cancelled = customs_pb2.RECLAIM_CLAIM_STATUS_CANCELLED
    assert voided.reclaim_estimate.status == cancelled
    listed = customs.ListReclaimClaims(customs_pb2.ListReclaimClaimsRequest(label_id=bought.id)).claims
    assert listed
    assert all(claim.status == cancelled for claim in listed)
    for claim in listed:
        last = claim.audit_trail[-1]
        assert (last.status, last.actor) == (cancelled, f"label:{bought.id}")
        assert "voided" in last.description


def test_claims_are_invisible_to_other_merchants(server: ServerProcess, channel: grpc.Channel) -> None:
    other = Authorized(customs_pb2_grpc.CustomsServiceStub(channel), server.create_key("merchant-other"))
    assert list(other.ListReclaimClaims(customs_pb2.ListReclaimClaimsRequest()).claims) == []
