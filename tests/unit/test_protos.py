"""The API contract: committed modules are fresh, buf lint is clean, every RPC has its agreed shape."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import FieldDescriptor

from backhaul.v1 import common_pb2, rates_pb2

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATE = REPO_ROOT / "protos" / "generate.py"
BUF = REPO_ROOT / "node_modules" / ".bin" / "buf"

# service -> rpc -> (request, response, server streaming). No RPC streams from the client.
EXPECTED_RPCS: dict[str, dict[str, tuple[str, str, bool]]] = {
    "RatesService": {
        "QuoteReturn": ("QuoteReturnRequest", "QuoteReturnResponse", False),
    },
    "LabelsService": {
        "CreateReturnLabel": ("CreateReturnLabelRequest", "CreateReturnLabelResponse", False),
        "GetReturnLabel": ("GetReturnLabelRequest", "GetReturnLabelResponse", False),
        "ListReturnLabels": ("ListReturnLabelsRequest", "ListReturnLabelsResponse", False),
        "VoidReturnLabel": ("VoidReturnLabelRequest", "VoidReturnLabelResponse", False),
    },
    "CustomsService": {
        "LookupHsCode": ("LookupHsCodeRequest", "LookupHsCodeResponse", False),
        "SearchHsCodes": ("SearchHsCodesRequest", "SearchHsCodesResponse", False),
        "PreviewCustomsDeclaration": (
            "PreviewCustomsDeclarationRequest",
            "PreviewCustomsDeclarationResponse",
            False,
        ),
        "CalculateDutyReclaim": ("CalculateDutyReclaimRequest", "CalculateDutyReclaimResponse", False),
        "ListReclaimClaims": ("ListReclaimClaimsRequest", "ListReclaimClaimsResponse", False),
    },
    "TrackingService": {
        "GetTracking": ("GetTrackingRequest", "GetTrackingResponse", False),
        "SubscribeTracking": ("SubscribeTrackingRequest", "SubscribeTrackingResponse", True),
        "IngestTrackingEvents": ("IngestTrackingEventsRequest", "IngestTrackingEventsResponse", False),
    },
    "InsightsService": {
        "CompareCarriers": ("CompareCarriersRequest", "CompareCarriersResponse", False),
    },
}
SERVICE_MODULES = {
    "RatesService": "rates",
    "LabelsService": "labels",
    "CustomsService": "customs",
    "TrackingService": "tracking",
    "InsightsService": "insights",
}


def run_generate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GENERATE), *args], capture_output=True, text=True, timeout=120, check=False
    )


def copy_protos(tmp_path: Path) -> Path:
    """A copy of protos/backhaul (sources and committed modules) to edit without touching the checkout."""
    root = tmp_path / "protos"
    shutil.copytree(
        REPO_ROOT / "protos" / "backhaul", root / "backhaul", ignore=shutil.ignore_patterns("__pycache__")
    )
    return root


def check(proto_root: Path) -> subprocess.CompletedProcess[str]:
    return run_generate("--check", "--proto-root", str(proto_root))


def test_committed_modules_match_a_fresh_generation() -> None:
    result = check(REPO_ROOT / "protos")
    assert result.returncode == 0, f"regenerate with .venv/bin/python protos/generate.py\n{result.stderr}"
    assert "up to date" in result.stdout


def test_check_reports_a_proto_edited_without_regeneration(tmp_path: Path) -> None:
    root = copy_protos(tmp_path)
    assert check(root).returncode == 0, "an untouched copy must be fresh"
    rates = root / "backhaul" / "v1" / "rates.proto"
    source = rates.read_text(encoding="utf-8")
    anchor = "  int32 max_transit_days = 4;\n"
    assert anchor in source
    rates.write_text(source.replace(anchor, anchor + "  // Added without regenerating.\n  bool extra = 7;\n"))

    result = check(root)

    assert result.returncode == 1
    stale = {line.strip().split(":")[0] for line in result.stderr.splitlines() if line.startswith("  ")}
    assert stale == {"backhaul/v1/rates_pb2.py", "backhaul/v1/rates_pb2.pyi"}


def test_check_reports_modules_whose_proto_is_gone(tmp_path: Path) -> None:
    root = copy_protos(tmp_path)
    (root / "backhaul" / "v1" / "insights.proto").unlink()

    result = check(root)

    assert result.returncode == 1
    assert "backhaul/v1/insights_pb2.py: no .proto generates it" in result.stderr
    assert "backhaul/v1/insights_pb2_grpc.pyi: no .proto generates it" in result.stderr


def buf_or_skip() -> Path:
    if BUF.is_file():
        return BUF
    reason = f"{BUF.relative_to(REPO_ROOT)} is absent: run `npm ci` at the repository root"
    if os.environ.get("CI") == "true":
        pytest.fail(f"buf is required under CI: {reason}")
    pytest.skip(reason)


def buf_lint(workspace: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(buf_or_skip()), "lint"], cwd=workspace, capture_output=True, text=True, timeout=120, check=False
    )


def test_buf_lint_is_clean() -> None:
    buf_or_skip()
    staged = run_generate("--deps-only")
    assert staged.returncode == 0, staged.stderr

    result = buf_lint(REPO_ROOT)

    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_lint_rejects_a_violation(tmp_path: Path) -> None:
    buf_or_skip()
    root = copy_protos(tmp_path)
    shutil.copyfile(REPO_ROOT / "buf.yaml", tmp_path / "buf.yaml")
    staged = run_generate(
        "--deps-only", "--proto-root", str(root), "--deps-dir", str(tmp_path / "build/proto-deps")
    )
    assert staged.returncode == 0, staged.stderr
    assert buf_lint(tmp_path).returncode == 0
    common = root / "backhaul" / "v1" / "common.proto"
    common.write_text(
        common.read_text(encoding="utf-8") + "\nenum Shade {\n  SHADE_UNSPECIFIED = 0;\n  DARK = 1;\n}\n"
    )

    result = buf_lint(tmp_path)

    assert result.returncode != 0
    assert 'Enum value name "DARK" should be prefixed with "SHADE_"' in result.stdout
    assert 'Enum "Shade" should have a non-empty comment' in result.stdout


@pytest.mark.parametrize("service", sorted(EXPECTED_RPCS))
def test_every_rpc_has_its_agreed_types_and_streaming(service: str) -> None:
    module = SERVICE_MODULES[service]
    importlib.import_module(f"backhaul.v1.{module}_pb2")
    grpc_module = importlib.import_module(f"backhaul.v1.{module}_pb2_grpc")
    descriptor = descriptor_pool.Default().FindServiceByName(f"backhaul.v1.{service}")

    found = {
        method.name: (
            method.input_type.full_name,
            method.output_type.full_name,
            method.client_streaming,
            method.server_streaming,
        )
        for method in descriptor.methods
    }

    expected = {
        name: (f"backhaul.v1.{request}", f"backhaul.v1.{response}", False, streams)
        for name, (request, response, streams) in EXPECTED_RPCS[service].items()
    }
    assert found == expected
    assert descriptor.file.name == f"backhaul/v1/{module}.proto"
    for attribute in (f"{service}Stub", f"{service}Servicer", f"add_{service}Servicer_to_server"):
        assert hasattr(grpc_module, attribute), attribute


def test_return_shipment_mirrors_the_quoted_fields() -> None:
    """CreateReturnLabel takes QuoteReturnRequest fields 1-5 back as a ReturnShipment: same names, numbers."""
    shipment_fields = common_pb2.ReturnShipment.DESCRIPTOR.fields
    request_fields = rates_pb2.QuoteReturnRequest.DESCRIPTOR.fields_by_number

    def shape(field: FieldDescriptor) -> tuple[str, int, bool, str]:
        message = field.message_type.full_name if field.message_type else ""
        return field.name, field.type, field.is_repeated, message

    assert sorted(field.number for field in shipment_fields) == [1, 2, 3, 4, 5]
    for field in shipment_fields:
        assert shape(request_fields[field.number]) == shape(field)

    request = rates_pb2.QuoteReturnRequest(
        customer=common_pb2.Party(contact=common_pb2.Contact(name="Ana Ruiz")),
        destination=common_pb2.ReturnDestination(hub_id="EU_HUB"),
        parcels=[common_pb2.Parcel(weight_grams=1200, length_mm=300, width_mm=200, height_mm=100)],
        items=[common_pb2.ReturnedItem(sku="BL-1", quantity=2, hs_code="610610")],
        original_order=common_pb2.OriginalOrder(order_id="SO-1"),
        preferences=rates_pb2.QuotePreferences(display_currency="EUR"),
    )
    shipment = common_pb2.ReturnShipment.FromString(request.SerializeToString())
    assert shipment.customer.contact.name == "Ana Ruiz"
    assert shipment.destination.hub_id == "EU_HUB"
    assert shipment.parcels[0].weight_grams == 1200
    assert shipment.items[0].hs_code == "610610"
    assert shipment.original_order.order_id == "SO-1"
