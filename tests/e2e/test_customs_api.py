"""CustomsService over gRPC against the real server process: HS lookup and search, declaration previews."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2
from google.type import date_pb2, postal_address_pb2
from grpc_status import rpc_status

from backhaul.v1 import common_pb2, customs_pb2, customs_pb2_grpc
from tests.e2e.server_process import ServerProcess
from tests.unit.service.test_customs_servicer import (
    CUSTOMER_DE,
    ON,
    preview_request,
    shipment_ca_to_us_hub,
    shipment_ch_to_eu_hub,
)

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("customs"))
    process.start()
    yield process
    process.stop()


class AuthorizedCustoms:
    """The CustomsService stub with the merchant's API key on every call."""

    def __init__(self, channel: grpc.Channel, key: str) -> None:
        self._stub = customs_pb2_grpc.CustomsServiceStub(channel)
        self._metadata = (("authorization", f"Bearer {key}"),)

    def __getattr__(self, method: str) -> Callable[..., Any]:
        call = getattr(self._stub, method)
        return functools.partial(call, metadata=self._metadata, timeout=10)


@pytest.fixture(scope="module")
def customs(server: ServerProcess) -> Iterator[AuthorizedCustoms]:
    key = server.create_key("merchant-customs")
    with grpc.insecure_channel(server.target) as channel:
        yield AuthorizedCustoms(channel, key)


def _refused(call: Callable[..., Any], request: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(request)
    return caught.value


def _details(error: grpc.RpcError) -> tuple[dict[str, str], str]:
    """(BadRequest field violations, ErrorInfo reason) of a refused call."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    fields: dict[str, str] = {}
    reason = ""
    for detail in status.details:
        bad_request, info = error_details_pb2.BadRequest(), error_details_pb2.ErrorInfo()
        if detail.Unpack(bad_request):
            fields.update({v.field: v.description for v in bad_request.field_violations})
        elif detail.Unpack(info):
            reason = info.reason
    return fields, reason


@pytest.mark.parametrize(
    ("code", "section", "chapter", "heading", "subheading"),
    [
        ("6109.10", "XI", "61", "6109", "610910"),
        ("0101.21", "I", "01", "0101", "010121"),
        ("8471 30", "XVI", "84", "8471", "847130"),
        ("9403.60.10", "XX", "94", "9403", "940360"),
    ],
)
def test_lookup_returns_the_full_hierarchy(
    customs: AuthorizedCustoms,
    code: str,
    section: str,
    chapter: str,
    heading: str,
    subheading: str,
) -> None:
    found = customs.LookupHsCode(customs_pb2.LookupHsCodeRequest(code=code, date=ON)).hs_code
    assert (found.section.code, found.chapter.code, found.heading.code, found.subheading.code) == (
        section,
        chapter,
        heading,
        subheading,
    )
    assert all(node.description for node in (found.section, found.chapter, found.heading, found.subheading))
    assert found.edition.name == "HS2022"


@pytest.mark.parametrize(
    ("code", "reason_part"),
    [
        ("770110", "chapter 77 is reserved"),
        ("7701.90", "chapter 77 is reserved"),
        ("990000", "reserved for national use"),
        ("61A910", "only the digits"),
        ("61091", "has 5 digits"),
        ("610910000", "has 9 digits"),
    ],
)
def test_malformed_codes_are_invalid_argument_with_the_reason(
    customs: AuthorizedCustoms, code: str, reason_part: str
) -> None:
    error = _refused(customs.LookupHsCode, customs_pb2.LookupHsCodeRequest(code=code))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    fields, reason = _details(error)
    assert reason == "HS_CODE_INVALID"
    assert reason_part in fields["code"]


def test_absent_code_is_not_found_and_future_edition_a_failed_precondition(
    customs: AuthorizedCustoms,
) -> None:
    missing = _refused(customs.LookupHsCode, customs_pb2.LookupHsCodeRequest(code="6106.99"))
    assert missing.code() is grpc.StatusCode.NOT_FOUND
    assert _details(missing)[1] == "HS_CODE_NOT_FOUND"
    future = customs_pb2.LookupHsCodeRequest(code="610910", date=date_pb2.Date(year=2028, month=1, day=1))
    unavailable = _refused(customs.LookupHsCode, future)
    assert unavailable.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "HS2028" in (unavailable.details() or "")


def test_search_ranks_code_prefixes_then_headings_and_pages_through(
    customs: AuthorizedCustoms,
) -> None:
    by_code = customs.SearchHsCodes(customs_pb2.SearchHsCodesRequest(query="6109", date=ON))
    assert [c.code for c in by_code.hs_codes] == ["6109", "610910", "610990"]
    by_words = customs.SearchHsCodes(customs_pb2.SearchHsCodesRequest(query="silk", date=ON, page_size=100))
    levels = [c.level for c in by_words.hs_codes]
    assert levels == sorted(levels), "chapters, then headings, then subheadings"
    collected: list[str] = []
    token = ""
    while True:
        page = customs.SearchHsCodes(
            customs_pb2.SearchHsCodesRequest(query="silk", date=ON, page_size=5, page_token=token)
        )
        collected.extend(c.code for c in page.hs_codes)
        token = page.next_page_token
        if not token:
            break
    assert collected == [c.code for c in by_words.hs_codes]
    other = customs_pb2.SearchHsCodesRequest(
        query="wool", date=ON, page_token=by_code.next_page_token or "eA"
    )
    error = _refused(customs.SearchHsCodes, other)
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token" in _details(error)[0]
    too_big = _refused(customs.SearchHsCodes, customs_pb2.SearchHsCodesRequest(query="silk", page_size=101))
    assert "page_size" in _details(too_big)[0]


@pytest.mark.parametrize(
    ("shipment", "currency", "total_units", "hub_country"),
    [(shipment_ch_to_eu_hub(), "CHF", 239, "NL"), (shipment_ca_to_us_hub(), "USD", 188, "US")],
    ids=["CH-to-EU-hub", "CA-to-US-hub"],
)
def test_cross_border_preview_is_a_cn23_matching_the_request(
    customs: AuthorizedCustoms,
    shipment: common_pb2.ReturnShipment,
    currency: str,
    total_units: int,
    hub_country: str,
) -> None:
    reply = customs.PreviewCustomsDeclaration(preview_request(shipment))
    assert reply.customs_required
    assert list(reply.problems) == []
    declaration = reply.declaration
    assert declaration.form == customs_pb2.CUSTOMS_FORM_CN23
    assert declaration.category == customs_pb2.CUSTOMS_CATEGORY_RETURNED_GOODS
    assert declaration.addressee.address.region_code == hub_country
    assert [line.sku for line in declaration.lines] == [i.sku for i in shipment.items]
    assert [line.quantity for line in declaration.lines] == [i.quantity for i in shipment.items]
    assert [line.unit_value for line in declaration.lines] == [i.unit_value for i in shipment.items]
    assert [line.origin_country for line in declaration.lines] == [i.origin_country for i in shipment.items]
    assert [line.hs_code for line in declaration.lines] == [
        re.sub(r"[ .]", "", i.hs_code) for i in shipment.items
    ]
    assert (declaration.total_value.currency_code, declaration.total_value.units) == (currency, total_units)
    assert declaration.total_net_weight_grams == sum(i.quantity * i.unit_weight_grams for i in shipment.items)
    assert declaration.total_gross_weight_grams == sum(p.weight_grams for p in shipment.parcels)
    order = shipment.original_order
    assert declaration.references.invoice_number == order.invoice_number
    assert declaration.references.outbound_tracking_number == order.outbound_tracking_number
    assert declaration.references.import_entry_number == order.import_entry_number
    assert declaration.sender.contact.name == shipment.customer.contact.name


def test_domestic_return_needs_no_declaration(customs: AuthorizedCustoms) -> None:
    shipment = common_pb2.ReturnShipment(
        customer=CUSTOMER_DE,
        destination=common_pb2.ReturnDestination(
            address=postal_address_pb2.PostalAddress(
                region_code="DE", address_lines=["Zeil 10"], locality="Frankfurt", postal_code="60313"
            )
        ),
        parcels=[common_pb2.Parcel(weight_grams=800, length_mm=300, width_mm=200, height_mm=100)],
    )
    reply = customs.PreviewCustomsDeclaration(preview_request(shipment))
    assert not reply.customs_required
    assert not reply.HasField("declaration")
    assert list(reply.problems) == []


def test_several_missing_fields_come_back_in_one_answer(customs: AuthorizedCustoms) -> None:
    shipment = shipment_ch_to_eu_hub()
    shipment.items[0].hs_code = ""
    shipment.items[1].origin_country = ""
    shipment.items[1].ClearField("unit_value")
    shipment.original_order.outbound_tracking_number = ""
    reply = customs.PreviewCustomsDeclaration(preview_request(shipment))
    assert reply.customs_required
    assert not reply.HasField("declaration")
    assert {p.field: p.code for p in reply.problems} == {
        "shipment.items[0].hs_code": "HS_CODE_MISSING",
        "shipment.items[1].origin_country": "ORIGIN_COUNTRY_MISSING",
        "shipment.items[1].unit_value": "UNIT_VALUE_MISSING",
        "shipment.original_order.outbound_tracking_number": "OUTBOUND_TRACKING_NUMBER_MISSING",
    }


def test_readme_grpcurl_lookup_example_works(customs: AuthorizedCustoms) -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"-d '(\{[^']*\})' \\\s*\n\s*\S+ backhaul\.v1\.CustomsService/LookupHsCode", text)
    assert match is not None, "README shows a LookupHsCode call with grpcurl"
    request = json_format.Parse(match.group(1), customs_pb2.LookupHsCodeRequest())
    assert customs.LookupHsCode(request).hs_code.code == "610910"
