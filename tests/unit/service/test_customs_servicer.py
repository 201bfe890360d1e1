"""CustomsService servicer: HS lookup and search mapping, page tokens, declaration previews and their errors.

The servicer is called directly (it does not use its context); the calling principal is bound as the RPC
pipeline would. Shipment builders here are shared with the end-to-end tests.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from google.type import date_pb2, money_pb2, postal_address_pb2

from backhaul.v1 import common_pb2, customs_pb2
from customs.hs import lookup_hs_code
from service.auth import Principal, bind_principal, reset_principal
from service.config import default_data_file
from service.customs_declarations import CustomsDeclarations
from service.documents.customs_documents import CERTIFICATION
from service.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from service.grpc import convert
from service.grpc.customs_servicer import CustomsServicer
from service.quoting.fx import load_fx_table
from service.quoting.hubs import load_hubs

TODAY = dt.date(2026, 11, 26)
ON = date_pb2.Date(year=2026, month=11, day=20)


# Request builders (also used by tests/e2e/test_customs_api.py) ------------------------------------------


def money(amount: str, currency: str) -> money_pb2.Money:
    units, _, fraction = amount.partition(".")
    return money_pb2.Money(
        currency_code=currency, units=int(units), nanos=int((fraction + "000000000")[:9]) if fraction else 0
    )


def party(
    name: str,
    country: str,
    lines: list[str],
    locality: str,
    postal_code: str = "",
    area: str = "",
    organization: str = "",
    tax_ids: list[common_pb2.TaxId] | None = None,
) -> common_pb2.Party:
    return common_pb2.Party(
        contact=common_pb2.Contact(name=name, email="customer@example.com", tax_ids=tax_ids or []),
        address=postal_address_pb2.PostalAddress(
            region_code=country,
            address_lines=lines,
            locality=locality,
            postal_code=postal_code,
            administrative_area=area,
            organization=organization,
        ),
    )


CUSTOMER_CH = party("Anna Muster", "CH", ["Bahnhofstrasse 1"], "Zürich", "8001")
CUSTOMER_CA = party("Chloé Tremblay", "CA", ["12 Rue Sainte-Catherine"], "Montréal", "H2X 1Z4", "QC")
CUSTOMER_DE = party("Jonas Weber", "DE", ["Hauptstraße 3"], "Köln", "50667")
CUSTOMER_US = party("Sam Lee", "US", ["1 Main St"], "Austin", "78701", "TX")


def item(
    sku: str,
    description: str,
    hs_code: str,
    origin: str,
    quantity: int,
    unit_value: money_pb2.Money | None,
    unit_weight_grams: int,
) -> common_pb2.ReturnedItem:
    message = common_pb2.ReturnedItem(
        sku=sku,
        description=description,
        hs_code=hs_code,
        origin_country=origin,
        quantity=quantity,
        unit_weight_grams=unit_weight_grams,
        condition=common_pb2.ITEM_CONDITION_NEW_OPENED,
        return_reason=common_pb2.RETURN_REASON_WRONG_SIZE,
    )
    if unit_value is not None:
        message.unit_value.CopyFrom(unit_value)
    return message


def order(**changes: str) -> common_pb2.OriginalOrder:
    message = common_pb2.OriginalOrder(
        order_id="O-1001",
        order_date=date_pb2.Date(year=2026, month=10, day=2),
        delivery_date=date_pb2.Date(year=2026, month=10, day=6),
        outbound_tracking_number="RR123456785DE",
        invoice_number="INV-2026-1001",
        export_reference="26DE123456789012E1",
        import_entry_number="CH-IMP-77",
    )
    for name, value in changes.items():
        setattr(message, name, value)
    return message


def shipment_ch_to_eu_hub() -> common_pb2.ReturnShipment:
    return common_pb2.ReturnShipment(
        customer=CUSTOMER_CH,
        destination=common_pb2.ReturnDestination(hub_id="EU_HUB"),
        parcels=[common_pb2.Parcel(weight_grams=1500, length_mm=400, width_mm=300, height_mm=120)],
        items=[
            item("TS-1", "Cotton T-shirt", "6109.10", "PT", 2, money("25.00", "CHF"), 180),
            item("JK-9", "Wool jacket", "6103 31 00", "IT", 1, money("189.90", "CHF"), 900),
        ],
        original_order=order(),
    )


def shipment_ca_to_us_hub() -> common_pb2.ReturnShipment:
    return common_pb2.ReturnShipment(
        customer=CUSTOMER_CA,
        destination=common_pb2.ReturnDestination(hub_id="US_HUB"),
        parcels=[common_pb2.Parcel(weight_grams=2100, length_mm=500, width_mm=350, height_mm=150)],
        items=[
            item("SN-42", "Leather sneakers", "6403.99", "VN", 1, money("129.00", "USD"), 1100),
            item("CP-3", "Cotton cap", "6505.00", "CN", 3, money("19.99", "USD"), 90),
        ],
        original_order=order(
            invoice_number="US-INV-88",
            outbound_tracking_number="1Z999AA10123456784",
            export_reference="",
            import_entry_number="CA-B3-123",
        ),
    )


def preview_request(
    shipment: common_pb2.ReturnShipment, **options: object
) -> customs_pb2.PreviewCustomsDeclarationRequest:
    request = customs_pb2.PreviewCustomsDeclarationRequest(shipment=shipment, declaration_date=ON)
    for name, value in options.items():
        if isinstance(value, date_pb2.Date):
            getattr(request, name).CopyFrom(value)
        else:
            setattr(request, name, value)
    return request


# Fixtures ------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def merchant() -> Iterator[None]:
    token = bind_principal(Principal("merchant-a"))
    yield
    reset_principal(token)


def make_servicer(today: dt.date = TODAY) -> CustomsServicer:
    declarations = CustomsDeclarations(
        fx=load_fx_table(default_data_file("fx_rates.toml")),
        hubs=load_hubs(default_data_file("hubs.toml")),
        carrier_account_ids=["tulip-parcel", "sandbox", "maple-post"],
        certification_statement=CERTIFICATION,
    )
    return CustomsServicer(declarations, today=lambda: today)


@pytest.fixture
def servicer() -> CustomsServicer:
    return make_servicer()


def violations(error: InvalidArgument) -> dict[str, str]:
    return {v.field: v.description for v in error.violations}


# LookupHsCode --------------------------------------------------------------------------------------------


async def test_lookup_returns_the_full_hierarchy(servicer: CustomsServicer) -> None:
    reply = await servicer.LookupHsCode(customs_pb2.LookupHsCodeRequest(code="6109.10", date=ON), None)
    code = reply.hs_code
    assert code.code == "610910"
    assert code.level == customs_pb2.HS_CODE_LEVEL_SUBHEADING
    assert (code.section.code, code.section.description) == ("XI", "Textiles and textile articles")
    assert code.chapter.code == "61"
    assert code.heading.code == "6109"
    assert code.subheading.code == "610910"
    assert "of cotton" in code.description
    assert code.description == code.subheading.description
    assert code.edition.name == "HS2022"
    assert (code.edition.effective_from.year, code.edition.effective_from.month) == (2022, 1)
    # in force until the day before HS2028 starts
    assert (
        code.edition.effective_to.year,
        code.edition.effective_to.month,
        code.edition.effective_to.day,
    ) == (
        2027,
        12,
        31,
    )


async def test_national_digits_are_kept_and_levelled_national(servicer: CustomsServicer) -> None:
    reply = await servicer.LookupHsCode(customs_pb2.LookupHsCodeRequest(code="6109.10.00.12"), None)
    assert reply.hs_code.code == "6109100012"
    assert reply.hs_code.level == customs_pb2.HS_CODE_LEVEL_NATIONAL
    assert reply.hs_code.subheading.code == "610910"


@pytest.mark.parametrize(
    ("code", "reason_part"),
    [
        ("7701.10", "chapter 77 is reserved"),
        ("990000", "reserved for national use"),
        ("61O910", "only the digits"),
        ("6109", "has 4 digits"),
        ("6109100", "has 7 digits"),
        ("", "no digits"),
    ],
)
async def test_malformed_codes_are_invalid_argument_on_field_code(
    servicer: CustomsServicer, code: str, reason_part: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await servicer.LookupHsCode(customs_pb2.LookupHsCodeRequest(code=code), None)
    assert caught.value.reason == "HS_CODE_INVALID"
    assert list(violations(caught.value)) == ["code"]
    assert reason_part in violations(caught.value)["code"]


async def test_well_formed_code_absent_from_the_edition_is_not_found(servicer: CustomsServicer) -> None:
    with pytest.raises(NotFound) as caught:
        await servicer.LookupHsCode(customs_pb2.LookupHsCodeRequest(code="6106.99"), None)
    assert caught.value.reason == "HS_CODE_NOT_FOUND"
    assert "subheading 6106.99 does not exist in HS2022" in caught.value.message


@pytest.mark.parametrize(
    ("date", "edition"),
    [
        (date_pb2.Date(year=2028, month=3, day=1), "HS2028"),
        (date_pb2.Date(year=2019, month=5, day=1), "HS2017"),
    ],
)
async def test_edition_not_shipped_is_failed_precondition_naming_it(
    servicer: CustomsServicer, date: date_pb2.Date, edition: str
) -> None:
    with pytest.raises(FailedPrecondition) as caught:
        await servicer.LookupHsCode(customs_pb2.LookupHsCodeRequest(code="610910", date=date), None)
    assert caught.value.reason == "HS_EDITION_UNAVAILABLE"
    assert edition in caught.value.message


async def test_unset_date_means_today_utc() -> None:
    in_2028 = make_servicer(today=dt.date(2028, 2, 1))
    with pytest.raises(FailedPrecondition):
        await in_2028.LookupHsCode(customs_pb2.LookupHsCodeRequest(code="610910"), None)
    reply = await in_2028.LookupHsCode(customs_pb2.LookupHsCodeRequest(code="610910", date=ON), None)
    assert reply.hs_code.edition.name == "HS2022"


async def test_impossible_date_is_invalid_argument(servicer: CustomsServicer) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await servicer.LookupHsCode(
            customs_pb2.LookupHsCodeRequest(code="610910", date=date_pb2.Date(year=2026, month=2, day=30)),
            None,
        )
    assert list(violations(caught.value)) == ["date"]


async def test_tracking_tokens_cannot_use_customs(servicer: CustomsServicer) -> None:
    token = bind_principal(Principal("merchant-a", label_id="label-1"))
    try:
        with pytest.raises(PermissionDenied):
            await servicer.LookupHsCode(customs_pb2.LookupHsCodeRequest(code="610910"), None)
    finally:
        reset_principal(token)


def test_a_thousand_lookups_average_well_under_a_millisecond() -> None:
    on = dt.date(2026, 11, 20)
    codes = ["610910", "6403.99", "8471.30", "0101.21", "9403.60"]
    for code in codes:  # load the edition first: only the steady state is measured
        convert.hs_classification_to_proto(lookup_hs_code(code, on))
    started = time.perf_counter()
    for index in range(1000):
        convert.hs_classification_to_proto(lookup_hs_code(codes[index % len(codes)], on))
    average = (time.perf_counter() - started) / 1000
    assert average < 0.001, f"{average * 1e6:.0f} µs per lookup"


# SearchHsCodes -------------------------------------------------------------------------------------------


async def search(
    servicer: CustomsServicer, query: str, **fields: object
) -> customs_pb2.SearchHsCodesResponse:
    request = customs_pb2.SearchHsCodesRequest(query=query, date=ON)
    for name, value in fields.items():
        setattr(request, name, value)
    return await servicer.SearchHsCodes(request, None)


async def test_code_prefix_comes_first_heading_before_subheadings(servicer: CustomsServicer) -> None:
    reply = await search(servicer, "61.10", page_size=4)
    assert [c.code for c in reply.hs_codes] == ["6110", "611011", "611012", "611019"]
    assert reply.hs_codes[0].level == customs_pb2.HS_CODE_LEVEL_HEADING
    assert not reply.hs_codes[0].HasField("subheading")
    assert reply.hs_codes[1].subheading.code == "611011"
    assert all(c.section.code == "XI" and c.chapter.code == "61" for c in reply.hs_codes)


async def test_words_rank_headings_before_subheadings(servicer: CustomsServicer) -> None:
    reply = await search(servicer, "t-shirt")
    assert [c.code for c in reply.hs_codes] == ["6109", "610910", "610990"]
    assert reply.next_page_token == ""


async def test_default_page_size_is_twenty(servicer: CustomsServicer) -> None:
    reply = await search(servicer, "cotton")
    assert len(reply.hs_codes) == 20
    assert reply.next_page_token


async def test_pages_join_up_to_the_single_page_listing(servicer: CustomsServicer) -> None:
    whole = await search(servicer, "leather", page_size=100)
    assert whole.next_page_token == "", "the oracle must fit one page"
    pages: list[str] = []
    token = ""
    while True:
        reply = await search(servicer, "Leather ", page_size=7, page_token=token)
        assert 0 < len(reply.hs_codes) <= 7
        pages.extend(c.code for c in reply.hs_codes)
        token = reply.next_page_token
        if not token:
            break
    assert len(pages) == 62  # every match, once
    assert pages == [c.code for c in whole.hs_codes]


@pytest.mark.parametrize("page_size", [101, -1])
async def test_page_size_out_of_range_is_invalid_argument(servicer: CustomsServicer, page_size: int) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await search(servicer, "cotton", page_size=page_size)
    assert list(violations(caught.value)) == ["page_size"]


async def test_token_of_another_query_or_date_is_refused(servicer: CustomsServicer) -> None:
    token = (await search(servicer, "cotton", page_size=5)).next_page_token
    with pytest.raises(InvalidArgument) as caught:
        await search(servicer, "wool", page_size=5, page_token=token)
    assert "another query or date" in violations(caught.value)["page_token"]
    other_date = customs_pb2.SearchHsCodesRequest(
        query="cotton", page_size=5, page_token=token, date=date_pb2.Date(year=2026, month=11, day=21)
    )
    with pytest.raises(InvalidArgument):
        await servicer.SearchHsCodes(other_date, None)


@pytest.mark.parametrize("token", ["garbage!", "aDE6LTE6YWJj", "x"])
async def test_unreadable_token_is_refused(servicer: CustomsServicer, token: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await search(servicer, "cotton", page_token=token)
    assert list(violations(caught.value)) == ["page_token"]


async def test_empty_query_is_invalid_argument(servicer: CustomsServicer) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await search(servicer, "  ")
    assert list(violations(caught.value)) == ["query"]


async def test_search_on_a_date_without_shipped_edition_is_failed_precondition(
    servicer: CustomsServicer,
) -> None:
    request = customs_pb2.SearchHsCodesRequest(query="cotton", date=date_pb2.Date(year=2028, month=1, day=1))
    with pytest.raises(FailedPrecondition) as caught:
        await servicer.SearchHsCodes(request, None)
    assert "HS2028" in caught.value.message


# PreviewCustomsDeclaration -------------------------------------------------------------------------------


def problems(reply: customs_pb2.PreviewCustomsDeclarationResponse) -> dict[str, str]:
    return {p.field: p.code for p in reply.problems}


async def test_ch_to_eu_hub_is_a_cn23_matching_the_request(servicer: CustomsServicer) -> None:
    reply = await servicer.PreviewCustomsDeclaration(preview_request(shipment_ch_to_eu_hub()), None)
    assert reply.customs_required
    assert list(reply.problems) == []
    declaration = reply.declaration
    assert declaration.form == customs_pb2.CUSTOMS_FORM_CN23
    assert declaration.category == customs_pb2.CUSTOMS_CATEGORY_RETURNED_GOODS
    assert [(line.sku, line.hs_code, line.origin_country, line.quantity) for line in declaration.lines] == [
        ("TS-1", "610910", "PT", 2),
        ("JK-9", "61033100", "IT", 1),
    ]
    assert [(line.value.units, line.value.nanos) for line in declaration.lines] == [
        (50, 0),
        (189, 900_000_000),
    ]
    assert [line.net_weight_grams for line in declaration.lines] == [360, 900]
    assert (declaration.total_value.currency_code, declaration.total_value.units) == ("CHF", 239)
    assert declaration.total_value.nanos == 900_000_000
    assert (declaration.total_net_weight_grams, declaration.total_gross_weight_grams) == (1260, 1500)
    references = declaration.references
    assert (references.order_id, references.invoice_number, references.outbound_tracking_number) == (
        "O-1001",
        "INV-2026-1001",
        "RR123456785DE",
    )
    assert (references.export_reference, references.import_entry_number) == (
        "26DE123456789012E1",
        "CH-IMP-77",
    )
    assert declaration.sender.contact.name == "Anna Muster"
    assert declaration.addressee.address.region_code == "NL"
    assert [(t.scheme, t.value) for t in declaration.addressee.contact.tax_ids] == [
        (common_pb2.TAX_ID_SCHEME_EORI, "NL000000000")
    ]
    assert declaration.importer_reference == "NL000000000"  # the EU import EORI rule applied
    assert declaration.incoterm == customs_pb2.INCOTERM_DAP
    assert declaration.duty_payer == customs_pb2.DUTY_PAYER_RECIPIENT
    assert declaration.non_delivery_option == customs_pb2.NON_DELIVERY_OPTION_RETURN
    assert declaration.certification.certified
    assert declaration.certification.signer == "Anna Muster"
    assert declaration.certification.date == ON
    assert declaration.certification.statement == CERTIFICATION
    assert declaration.declaration_date == ON
    assert declaration.hs_edition == "HS2022"


async def test_ca_to_us_hub_is_a_cn23_without_importer_reference(servicer: CustomsServicer) -> None:
    reply = await servicer.PreviewCustomsDeclaration(preview_request(shipment_ca_to_us_hub()), None)
    assert list(reply.problems) == []
    declaration = reply.declaration
    assert declaration.form == customs_pb2.CUSTOMS_FORM_CN23
    assert declaration.addressee.address.region_code == "US"
    assert [line.hs_code for line in declaration.lines] == ["640399", "650500"]
    assert (declaration.total_value.currency_code, declaration.total_value.units) == ("USD", 188)
    assert declaration.total_value.nanos == 970_000_000
    assert declaration.references.invoice_number == "US-INV-88"
    assert declaration.references.outbound_tracking_number == "1Z999AA10123456784"
    assert declaration.importer_reference == ""


async def test_incoterm_and_duty_payer_are_kept_independent(servicer: CustomsServicer) -> None:
    request = preview_request(
        shipment_ch_to_eu_hub(),
        incoterm=customs_pb2.INCOTERM_DDP,
        duty_payer=customs_pb2.DUTY_PAYER_THIRD_PARTY,
        non_delivery_option=customs_pb2.NON_DELIVERY_OPTION_ABANDON,
    )
    declaration = (await servicer.PreviewCustomsDeclaration(request, None)).declaration
    assert declaration.incoterm == customs_pb2.INCOTERM_DDP
    assert declaration.duty_payer == customs_pb2.DUTY_PAYER_THIRD_PARTY
    assert declaration.non_delivery_option == customs_pb2.NON_DELIVERY_OPTION_ABANDON


async def test_ddu_cannot_be_declared(servicer: CustomsServicer) -> None:
    request = preview_request(shipment_ch_to_eu_hub(), incoterm=customs_pb2.INCOTERM_DDU)
    reply = await servicer.PreviewCustomsDeclaration(request, None)
    assert problems(reply) == {"incoterm": "INCOTERM_INVALID"}
    assert not reply.HasField("declaration")


async def test_domestic_returns_need_no_declaration(servicer: CustomsServicer) -> None:
    routed = common_pb2.ReturnShipment(customer=CUSTOMER_DE, parcels=[common_pb2.Parcel(weight_grams=500)])
    to_store = common_pb2.ReturnShipment(
        customer=CUSTOMER_DE,
        destination=common_pb2.ReturnDestination(
            address=postal_address_pb2.PostalAddress(
                region_code="DE", address_lines=["Zeil 10"], locality="Frankfurt", postal_code="60313"
            )
        ),
        parcels=[common_pb2.Parcel(weight_grams=500)],
    )
    for shipment in (routed, to_store):  # routed to the EU hub in NL: one customs territory with DE
        reply = await servicer.PreviewCustomsDeclaration(preview_request(shipment), None)
        assert not reply.customs_required
        assert not reply.HasField("declaration")
        assert list(reply.problems) == []


async def test_every_missing_field_is_reported_at_once_with_request_paths(servicer: CustomsServicer) -> None:
    shipment = shipment_ch_to_eu_hub()
    shipment.items[0].origin_country = ""
    shipment.items[1].hs_code = ""
    shipment.items[1].description = ""
    shipment.items[1].ClearField("unit_value")
    shipment.original_order.invoice_number = ""
    del shipment.parcels[:]
    reply = await servicer.PreviewCustomsDeclaration(preview_request(shipment), None)
    assert reply.customs_required
    assert not reply.HasField("declaration")
    assert problems(reply) == {
        "shipment.items[1].unit_value": "UNIT_VALUE_MISSING",
        "shipment.items[0].origin_country": "ORIGIN_COUNTRY_MISSING",
        "shipment.items[1].description": "DESCRIPTION_MISSING",
        "shipment.items[1].hs_code": "HS_CODE_MISSING",
        "shipment.parcels": "PARCELS_MISSING",
        "shipment.original_order.invoice_number": "INVOICE_NUMBER_MISSING",
    }
    assert all(p.message for p in reply.problems)


async def test_customer_address_problems_name_the_customer_fields(servicer: CustomsServicer) -> None:
    shipment = shipment_ch_to_eu_hub()
    shipment.customer.address.postal_code = ""
    shipment.customer.contact.name = ""
    reply = await servicer.PreviewCustomsDeclaration(preview_request(shipment), None)
    assert problems(reply) == {
        "shipment.customer.contact.name": "NAME_MISSING",
        "shipment.customer.address.postal_code": "POSTAL_CODE_MISSING",
    }


async def test_wrong_values_are_reported_with_their_kind(servicer: CustomsServicer) -> None:
    shipment = shipment_ch_to_eu_hub()
    shipment.items[0].hs_code = "6106.99"
    shipment.items[1].hs_code = "7701.10"
    shipment.items[1].unit_value.currency_code = "EUR"
    shipment.parcels[0].weight_grams = -5
    reply = await servicer.PreviewCustomsDeclaration(preview_request(shipment), None)
    assert problems(reply) == {
        "shipment.parcels[0].weight_grams": "WEIGHT_GRAMS_INVALID",
        "shipment.items[0].hs_code": "HS_CODE_UNKNOWN",
        "shipment.items[1].hs_code": "HS_CODE_INVALID",
        "shipment.items[1].unit_value.currency_code": "CURRENCY_INVALID",
    }


async def test_exporter_eori_is_asked_of_a_business_customer(servicer: CustomsServicer) -> None:
    business = party("Lena Koch", "DE", ["Hauptstraße 3"], "Köln", "50667", organization="Koch Textil GmbH")
    shipment = shipment_ch_to_eu_hub()
    shipment.customer.CopyFrom(business)
    shipment.destination.hub_id = "UK_HUB"
    reply = await servicer.PreviewCustomsDeclaration(preview_request(shipment), None)
    assert problems(reply) == {"shipment.customer.contact.tax_ids": "EORI_REQUIRED"}
    assert "eu-export-eori" in reply.problems[0].message
    shipment.customer.contact.tax_ids.add(scheme=common_pb2.TAX_ID_SCHEME_EORI, value="DE123456789012345")
    reply = await servicer.PreviewCustomsDeclaration(preview_request(shipment), None)
    assert list(reply.problems) == []
    assert reply.declaration.importer_reference == "GB000000000000"


async def test_address_destination_cannot_carry_the_importers_eori(servicer: CustomsServicer) -> None:
    shipment = shipment_ch_to_eu_hub()
    shipment.destination.address.CopyFrom(
        postal_address_pb2.PostalAddress(
            region_code="DE",
            address_lines=["Zeil 10"],
            locality="Frankfurt",
            postal_code="60313",
            organization="Acme Store GmbH",
        )
    )
    reply = await servicer.PreviewCustomsDeclaration(preview_request(shipment), None)
    assert problems(reply) == {"shipment.destination": "EORI_REQUIRED"}
    assert "configured returns hub" in reply.problems[0].message


async def test_address_destination_of_a_person_is_declared_to_them(servicer: CustomsServicer) -> None:
    shipment = shipment_ch_to_eu_hub()
    shipment.destination.address.CopyFrom(
        postal_address_pb2.PostalAddress(
            region_code="DE",
            address_lines=["Zeil 10"],
            locality="Frankfurt",
            postal_code="60313",
            recipients=["Eva Repair"],
        )
    )
    reply = await servicer.PreviewCustomsDeclaration(preview_request(shipment), None)
    assert list(reply.problems) == []
    assert reply.declaration.addressee.contact.name == "Eva Repair"
    shipment.destination.address.ClearField("recipients")
    reply = await servicer.PreviewCustomsDeclaration(preview_request(shipment), None)
    assert problems(reply) == {"shipment.destination.address.recipients": "NAME_MISSING"}


async def test_unknown_hub_is_a_problem_of_hub_id(servicer: CustomsServicer) -> None:
    shipment = shipment_ch_to_eu_hub()
    shipment.destination.hub_id = "MOON_HUB"
    reply = await servicer.PreviewCustomsDeclaration(preview_request(shipment), None)
    assert reply.customs_required
    assert problems(reply) == {"shipment.destination.hub_id": "HUB_ID_INVALID"}


async def test_carrier_account_must_exist_and_be_taken_by_the_hub(servicer: CustomsServicer) -> None:
    unknown = preview_request(shipment_ca_to_us_hub(), carrier_account_id="pigeon-post")
    reply = await servicer.PreviewCustomsDeclaration(unknown, None)
    assert problems(reply) == {"carrier_account_id": "CARRIER_ACCOUNT_ID_INVALID"}
    refused = preview_request(shipment_ca_to_us_hub(), carrier_account_id="maple-post")
    reply = await servicer.PreviewCustomsDeclaration(refused, None)
    assert problems(reply) == {"carrier_account_id": "CARRIER_ACCOUNT_NOT_ACCEPTED"}
    accepted = preview_request(shipment_ca_to_us_hub(), carrier_account_id="sandbox")
    assert list((await servicer.PreviewCustomsDeclaration(accepted, None)).problems) == []


async def test_us_export_above_the_eei_threshold_points_at_the_items(servicer: CustomsServicer) -> None:
    shipment = common_pb2.ReturnShipment(
        customer=CUSTOMER_US,
        destination=common_pb2.ReturnDestination(hub_id="EU_HUB"),
        parcels=[common_pb2.Parcel(weight_grams=3000)],
        items=[item("WT-1", "Wrist watch, gold case", "9101.11", "CH", 1, money("2600.00", "USD"), 150)],
        original_order=order(),
    )
    reply = await servicer.PreviewCustomsDeclaration(preview_request(shipment), None)
    assert problems(reply) == {"shipment.items": "AES_ITN_MISSING"}
    assert "2,500" in reply.problems[0].message


async def test_declaration_date_without_shipped_edition_is_a_problem(servicer: CustomsServicer) -> None:
    request = preview_request(
        shipment_ch_to_eu_hub(), declaration_date=date_pb2.Date(year=2028, month=6, day=1)
    )
    reply = await servicer.PreviewCustomsDeclaration(request, None)
    assert problems(reply) == {"declaration_date": "DECLARATION_DATE_INVALID"}
    assert "HS2028" in reply.problems[0].message


async def test_unset_declaration_date_is_today(servicer: CustomsServicer) -> None:
    request = customs_pb2.PreviewCustomsDeclarationRequest(shipment=shipment_ch_to_eu_hub())
    declaration = (await servicer.PreviewCustomsDeclaration(request, None)).declaration
    assert declaration.declaration_date == convert.date_to_proto(TODAY)
    assert declaration.certification.date == convert.date_to_proto(TODAY)


async def test_missing_fx_rate_is_a_failed_precondition(servicer: CustomsServicer) -> None:
    shipment = common_pb2.ReturnShipment(
        customer=CUSTOMER_US,
        destination=common_pb2.ReturnDestination(hub_id="EU_HUB"),
        parcels=[common_pb2.Parcel(weight_grams=400)],
        items=[item("TS-1", "Cotton T-shirt", "6109.10", "US", 1, money("300.00", "ZAR"), 180)],
        original_order=order(),
    )
    with pytest.raises(FailedPrecondition) as caught:
        await servicer.PreviewCustomsDeclaration(preview_request(shipment), None)
    assert caught.value.reason == "FX_RATE_MISSING"
    assert "ZAR" in caught.value.message


def test_enum_conversions_round_trip() -> None:
    found = convert.Violations()
    for value in customs_pb2.Incoterm.values():
        domain = convert.incoterm_from_proto(value, "incoterm", found)
        if domain is not None:
            assert convert.incoterm_to_proto(domain) == value
    assert [v.field for v in found.items] == ["incoterm"]  # DDU only
    for payer in customs_pb2.DutyPayer.values():
        domain_payer = convert.duty_payer_from_proto(payer)
        assert domain_payer is None or convert.duty_payer_to_proto(domain_payer) == payer
    for option in customs_pb2.NonDeliveryOption.values():
        domain_option = convert.non_delivery_option_from_proto(option)
        assert domain_option is None or convert.non_delivery_option_to_proto(domain_option) == option
