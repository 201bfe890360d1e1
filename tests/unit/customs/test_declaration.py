"""Customs declarations for returns: forms, lines, totals, references, lane rules and problem paths."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from customs.address import Address, Contact, Party
from customs.countries import UnknownCountry
from customs.declaration import (
    Certification,
    ContentsCategory,
    DeclarationForm,
    DeclarationInvalid,
    DeclarationRequest,
    DutyPayer,
    Incoterm,
    MailClass,
    NonDeliveryOption,
    build_customs_declaration,
    declaration_required,
)
from customs.goods import OriginalOrder, ReturnedItem
from customs.hs import HsCode
from customs.money import FxTable, MissingFxRate, Money

ON = dt.date(2026, 11, 20)
# 1 EUR buys: rates as of the day before the declaration
FX = FxTable(
    base="EUR",
    as_of=dt.date(2026, 11, 19),
    rates={"CHF": Decimal("0.94"), "USD": Decimal("1.08"), "CAD": Decimal("1.50"), "XDR": Decimal("0.80")},
)

CUSTOMER_CH = Party(Contact("Anna Muster"), Address("ch", (" Bahnhofstrasse 1 ",), "Zürich", "8001"))
CUSTOMER_DE = Party(Contact("Jonas Weber"), Address("DE", ("Hauptstraße 3",), "Köln", "50667"))
CUSTOMER_CA = Party(
    Contact("Chloé Tremblay"), Address("CA", ("12 Rue Sainte-Catherine",), "Montréal", "H2X 1Z4", "QC")
)
CUSTOMER_US = Party(Contact("Sam Lee"), Address("US", ("1 Main St",), "Austin", "78701", "TX"))
EU_HUB = Party(
    Contact("Returns desk", tax_ids={"EORI": "DE123456789012345"}),
    Address("DE", ("Rückweg 5",), "Leipzig", "04103", organization="Acme Returns GmbH"),
)
US_HUB = Party(
    Contact("Returns desk"),
    Address("US", ("500 Dock Rd",), "Buffalo", "14201", "NY", organization="Acme Returns Inc"),
)
ORDER = OriginalOrder(
    order_id="O-1001",
    order_date=dt.date(2026, 10, 2),
    delivery_date=dt.date(2026, 10, 6),
    outbound_tracking_number="RR123456785DE",
    invoice_number="INV-2026-1001",
    export_reference="26DE123456789012E1",
    import_entry_number="CH-IMP-77",
)


def _item(sku: str = "TS-1", **changes: object) -> ReturnedItem:
    item = ReturnedItem(
        sku=sku,
        description="Cotton T-shirt",
        quantity=2,
        unit_value=Money.of("25.00", "CHF"),
        unit_weight_grams=180,
        origin_country="PT",
        hs_code="6109.10",
    )
    return dataclasses.replace(item, **changes)  # type: ignore[arg-type]


def _request(**changes: object) -> DeclarationRequest:
    request = DeclarationRequest(
        sender=CUSTOMER_CH,
        addressee=EU_HUB,
        items=(
            _item(),
            _item(
                "JK-9",
                description="Wool jacket",
                quantity=1,
                unit_value=Money.of("189.90", "CHF"),
                unit_weight_grams=900,
                origin_country="it",
                hs_code="6103 31 00",
            ),
        ),
        original_order=ORDER,
        declaration_date=ON,
        gross_weight_grams=1500,
        incoterm=Incoterm.DAP,
        duty_payer=DutyPayer.ADDRESSEE,
        non_delivery_option=NonDeliveryOption.RETURN,
        certification=Certification("Anna Muster", ON),
    )
    return dataclasses.replace(request, **changes)  # type: ignore[arg-type]


def _paths(request: DeclarationRequest, fx: FxTable = FX) -> set[str]:
    with pytest.raises(DeclarationInvalid) as caught:
        build_customs_declaration(request, fx)
    assert len(caught.value.paths) == len(set(caught.value.paths))
    return set(caught.value.paths)


def _message(request: DeclarationRequest, path: str) -> str:
    with pytest.raises(DeclarationInvalid) as caught:
        build_customs_declaration(request, FX)
    return next(p.message for p in caught.value.problems if p.path == path)


# Customs territories


@pytest.mark.parametrize(
    ("sender", "addressee", "required"),
    [
        ("DE", "FR", False),
        ("DE", "DE", False),
        ("de", "mc", False),  # Monaco is inside the EU customs territory
        ("CH", "LI", False),
        ("US", "PR", False),
        ("GB", "IM", False),
        ("CA", "CA", False),
        ("CH", "DE", True),
        ("GB", "FR", True),
        ("NO", "SE", True),
        ("CA", "US", True),
        ("JE", "GB", True),
        ("RE", "FR", True),  # outermost region: outside the VAT territory, declared anyway
    ],
)
def test_declaration_required_follows_customs_territories(
    sender: str, addressee: str, required: bool
) -> None:
    assert declaration_required(sender, addressee, ON) is required


@pytest.mark.parametrize(
    ("sender", "addressee", "on", "required"),
    [
        ("GB", "FR", dt.date(2020, 12, 31), False),  # last day of the transition period
        ("GB", "FR", dt.date(2021, 1, 1), True),
        ("IM", "IE", dt.date(2020, 12, 31), False),
        ("IM", "GB", dt.date(2021, 1, 1), False),
        ("HR", "SI", dt.date(2013, 6, 30), True),
        ("HR", "SI", dt.date(2013, 7, 1), False),  # Croatia's accession
    ],
)
def test_declaration_required_follows_membership_dates(
    sender: str, addressee: str, on: dt.date, required: bool
) -> None:
    assert declaration_required(sender, addressee, on) is required


def test_a_return_from_gb_into_the_eu_was_inside_one_territory_until_2020() -> None:
    day = dt.date(2020, 12, 31)
    customer_gb = Party(Contact("Amelia Jones"), Address("GB", ("1 High Street",), "London", "SW1A 1AA"))
    request = _request(
        sender=customer_gb, declaration_date=day, certification=Certification("Amelia Jones", day)
    )
    assert "addressee.address.region_code" in _paths(request)
    assert (
        "GB to DE stays inside one customs territory (Customs territory of the European Union)"
        in _message(request, "addressee.address.region_code")
    )
    after = dataclasses.replace(request, declaration_date=ON, certification=Certification("Amelia Jones", ON))
    assert build_customs_declaration(after, FX).rules_applied[0] == "eu-import-eori"


def test_unknown_countries_are_refused() -> None:
    with pytest.raises(UnknownCountry):
        declaration_required("XX", "DE")


# Whole declarations


def test_a_return_inside_the_eu_needs_no_declaration() -> None:
    request = _request(sender=CUSTOMER_DE, items=(_item(unit_value=Money.of("25.00", "EUR")),))
    assert declaration_required(CUSTOMER_DE.address.country, EU_HUB.address.country) is False
    assert _paths(request) == {"addressee.address.region_code"}
    assert "one customs territory (Customs territory of the European Union)" in _message(
        request, "addressee.address.region_code"
    )


def test_switzerland_to_the_eu_hub_gives_a_cn23_with_lines_totals_and_references() -> None:
    declaration = build_customs_declaration(_request(), FX)
    assert declaration.form is DeclarationForm.CN23
    assert declaration.category is ContentsCategory.RETURNED_GOODS
    assert declaration.hs_edition == "HS2022"
    assert declaration.fx_as_of == dt.date(2026, 11, 19)
    tshirt, jacket = declaration.lines
    assert (tshirt.description, tshirt.quantity, tshirt.net_weight_grams) == ("Cotton T-shirt", 2, 360)
    assert (tshirt.value, tshirt.hs_code, tshirt.origin_country, tshirt.sku) == (
        Money.of("50.00", "CHF"),
        HsCode("610910"),
        "PT",
        "TS-1",
    )
    assert (jacket.value, jacket.hs_code, jacket.origin_country) == (
        Money.of("189.90", "CHF"),
        HsCode("61033100"),
        "IT",
    )
    totals = declaration.totals
    assert totals.value == Money.of("239.90", "CHF")
    assert totals.value_sdr == Money.of("204.17", "XDR")  # 239.90 CHF / 0.94 * 0.80
    assert (totals.net_weight_grams, totals.gross_weight_grams, totals.quantity) == (1260, 1500, 3)
    refs = declaration.references
    assert (refs.order_id, refs.outbound_tracking_number, refs.invoice_number) == (
        "O-1001",
        "RR123456785DE",
        "INV-2026-1001",
    )
    assert (refs.export_reference, refs.import_entry_number, refs.aes_itn, refs.eel_pfc) == (
        "26DE123456789012E1",
        "CH-IMP-77",
        "",
        "",
    )
    assert declaration.sender.address.country == "CH"
    assert declaration.sender.address.lines == ("Bahnhofstrasse 1",)
    assert declaration.addressee.contact.tax_ids == {"EORI": "DE123456789012345"}
    assert (declaration.incoterm, declaration.duty_payer, declaration.non_delivery_option) == (
        Incoterm.DAP,
        DutyPayer.ADDRESSEE,
        NonDeliveryOption.RETURN,
    )
    assert declaration.certification == Certification("Anna Muster", ON)
    assert declaration.rules_applied == ("eu-import-eori", "returned-goods-original-sale")


def test_incoterm_and_duty_payer_are_kept_as_given_in_any_combination() -> None:
    for incoterm in Incoterm:
        for payer in DutyPayer:
            declaration = build_customs_declaration(_request(incoterm=incoterm, duty_payer=payer), FX)
            assert (declaration.incoterm, declaration.duty_payer) == (incoterm, payer)


def _canada_request(**changes: object) -> DeclarationRequest:
    base = _request(
        sender=CUSTOMER_CA,
        addressee=US_HUB,
        items=(
            _item(unit_value=Money.of("40.00", "USD"), origin_country="US", hs_code="6109.10.0012"),
            _item(
                "MUG-2",
                description="Ceramic mug",
                quantity=3,
                unit_value=Money.of("12.50", "USD"),
                unit_weight_grams=350,
                origin_country="CN",
                hs_code="691200",
            ),
        ),
        original_order=dataclasses.replace(ORDER, export_reference="X20261002123456", import_entry_number=""),
        gross_weight_grams=1800,
        incoterm=Incoterm.DDP,
        duty_payer=DutyPayer.ADDRESSEE,
        certification=Certification("Chloé Tremblay", ON),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_canada_to_the_us_hub_with_american_goods_cites_the_export() -> None:
    declaration = build_customs_declaration(_canada_request(), FX)
    assert declaration.form is DeclarationForm.CN23
    assert [(line.hs_code.digits, line.value) for line in declaration.lines] == [
        ("6109100012", Money.of("80.00", "USD")),
        ("691200", Money.of("37.50", "USD")),
    ]
    assert declaration.totals.value == Money.of("117.50", "USD")
    assert declaration.totals.value_sdr == Money.of("87.04", "XDR")  # 117.50 / 1.08 * 0.80
    assert (declaration.totals.net_weight_grams, declaration.totals.quantity) == (1410, 5)
    assert declaration.references.export_reference == "X20261002123456"
    assert declaration.references.eel_pfc == ""  # goods enter the US: no US export filing
    assert declaration.rules_applied == ("returned-goods-original-sale", "us-american-goods-returned")
    assert declaration.addressee.address.administrative_area == "US-NY"


def test_american_goods_returning_need_an_aes_itn_as_export_reference() -> None:
    missing = _canada_request(original_order=dataclasses.replace(ORDER, export_reference=""))
    assert _paths(missing) == {"original_order.export_reference"}
    assert "HTSUS 9801.00.10" in _message(missing, "original_order.export_reference")
    wrong = _canada_request(original_order=ORDER)  # an EU MRN is no AES ITN
    assert "X followed by 14 digits" in _message(wrong, "original_order.export_reference")


def test_foreign_goods_returning_to_the_us_need_no_export_reference() -> None:
    request = _canada_request(
        items=(_item(unit_value=Money.of("40.00", "USD"), origin_country="CN"),),
        original_order=dataclasses.replace(ORDER, export_reference=""),
    )
    assert build_customs_declaration(request, FX).rules_applied == ("returned-goods-original-sale",)


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    request = _request(
        sender=Party(Contact(" "), CUSTOMER_CH.address),
        addressee=dataclasses.replace(EU_HUB, contact=Contact("Returns desk")),
        items=(
            _item(),
            _item("B", quantity=0, unit_value=Money.of("10", "EUR"), origin_country="XX", hs_code="770100"),
            _item("C", description=" ", hs_code=""),
            _item("D", unit_value=Money.of("0", "CHF"), unit_weight_grams=0, hs_code="6109.30"),
        ),
        original_order=OriginalOrder(order_date=dt.date(2026, 12, 1)),
        gross_weight_grams=0,
        incoterm=None,
        duty_payer=None,
        non_delivery_option=None,
        certification=Certification("", dt.date(2026, 11, 21)),
    )
    assert _paths(request) == {
        "sender.contact.name",
        "addressee.contact.tax_ids.EORI",
        "items[1].quantity",
        "items[1].unit_value.currency",
        "items[1].origin_country",
        "items[1].hs_code",
        "items[2].description",
        "items[2].hs_code",
        "items[3].unit_value",
        "items[3].unit_weight_grams",
        "items[3].hs_code",
        "gross_weight_grams",
        "incoterm",
        "duty_payer",
        "non_delivery_option",
        "certification.signer_name",
        "certification.signed_on",
        "original_order.order_date",
        "original_order.invoice_number",
        "original_order.outbound_tracking_number",
    }
    assert "chapter 77 is reserved" in _message(request, "items[1].hs_code")
    assert "subheading 6109.30 does not exist in HS2022" in _message(request, "items[3].hs_code")
    assert "EUR differs from CHF" in _message(request, "items[1].unit_value.currency")


def test_address_problems_carry_the_party_and_field() -> None:
    request = _request(
        sender=Party(CUSTOMER_CH.contact, dataclasses.replace(CUSTOMER_CH.address, postal_code="")),
        addressee=Party(EU_HUB.contact, dataclasses.replace(EU_HUB.address, locality=" ")),
        certification=None,
        items=(),
    )
    assert _paths(request) == {
        "sender.address.postal_code",
        "addressee.address.locality",
        "certification",
        "items",
    }


def test_gross_weight_below_the_net_weight_is_inconsistent() -> None:
    request = _request(gross_weight_grams=1000)
    assert _paths(request) == {"gross_weight_grams"}
    assert "less than the lines' net weight of 1260 g" in _message(request, "gross_weight_grams")


def test_a_delivery_before_the_order_is_inconsistent() -> None:
    order = dataclasses.replace(ORDER, order_date=dt.date(2026, 10, 6), delivery_date=dt.date(2026, 10, 2))
    assert _paths(_request(original_order=order)) == {"original_order.delivery_date"}


def test_declaration_dates_under_an_edition_not_shipped_are_reported_with_code_structure_still_checked() -> (
    None
):
    later = dt.date(2028, 2, 1)
    request = _request(
        declaration_date=later,
        certification=Certification("Anna Muster", later),
        items=(_item(), _item("B", hs_code="61A910")),
    )
    assert _paths(request) == {"declaration_date", "items[1].hs_code"}
    assert "HS2028" in _message(request, "declaration_date")


# CN 22 / CN 23


def _letter(value: str, **changes: object) -> DeclarationRequest:
    request = _request(
        items=(_item(quantity=1, unit_value=Money.of(value, "EUR"), unit_weight_grams=150),),
        gross_weight_grams=200,
        mail_class=MailClass.LETTER_POST,
    )
    return dataclasses.replace(request, **changes)  # type: ignore[arg-type]


SDR_AT_1_2_EUR = FxTable(base="XDR", as_of=ON, rates={"EUR": Decimal("1.2")})


@pytest.mark.parametrize(
    ("value", "sdr", "form"),
    [
        ("360.00", "300.00", DeclarationForm.CN22),
        ("360.01", "300.01", DeclarationForm.CN23),
        ("12.00", "10.00", DeclarationForm.CN22),
    ],
)
def test_letter_post_is_cn22_up_to_300_sdr(value: str, sdr: str, form: DeclarationForm) -> None:
    declaration = build_customs_declaration(_letter(value), SDR_AT_1_2_EUR)
    assert declaration.totals.value_sdr == Money.of(sdr, "XDR")
    assert declaration.form is form


def test_a_parcel_is_always_cn23() -> None:
    declaration = build_customs_declaration(_letter("12.00", mail_class=MailClass.PARCEL), SDR_AT_1_2_EUR)
    assert declaration.form is DeclarationForm.CN23


def test_letter_post_over_2_kg_is_refused() -> None:
    request = _letter("12.00", gross_weight_grams=2001)
    assert _paths(request, SDR_AT_1_2_EUR) == {"mail_class"}


def test_letter_post_without_an_sdr_rate_cannot_choose_its_form() -> None:
    no_sdr = FxTable(base="EUR", as_of=ON, rates={"CHF": Decimal("0.94")})
    with pytest.raises(MissingFxRate):
        build_customs_declaration(_letter("12.00"), no_sdr)
    parcel = build_customs_declaration(_letter("12.00", mail_class=MailClass.PARCEL), no_sdr)
    assert parcel.totals.value_sdr is None
    assert parcel.form is DeclarationForm.CN23


# Tax ids


def test_a_consumer_addressee_needs_no_eori() -> None:
    consumer_hub = Party(Contact("Lena"), dataclasses.replace(EU_HUB.address, organization=""))
    declaration = build_customs_declaration(_request(addressee=consumer_hub), FX)
    assert "eu-import-eori" not in declaration.rules_applied


def test_a_business_exporting_from_the_eu_needs_its_eori() -> None:
    shop = Party(Contact("Shop"), dataclasses.replace(CUSTOMER_DE.address, organization="Laden GmbH"))
    swiss_hub = Party(
        Contact("Hub"), Address("CH", ("Hafenstrasse 1",), "Basel", "4057", organization="Acme AG")
    )
    request = _request(sender=shop, addressee=swiss_hub, items=(_item(unit_value=Money.of("25.00", "EUR")),))
    assert _paths(request) == {"sender.contact.tax_ids.EORI"}
    assert "eu-export-eori" in _message(request, "sender.contact.tax_ids.EORI")
    with_eori = dataclasses.replace(
        request, sender=Party(Contact("Shop", tax_ids={"EORI": "DE98765"}), shop.address)
    )
    assert "eu-export-eori" in build_customs_declaration(with_eori, FX).rules_applied


def test_an_eori_is_checked_even_where_the_lane_does_not_need_it_under_the_key_given() -> None:
    sender = Party(Contact("Anna", tax_ids={"eori": "CH12345"}), CUSTOMER_CH.address)
    request = _request(sender=sender)
    assert _paths(request) == {"sender.contact.tax_ids.eori"}
    assert "CH does not issue EORI numbers" in _message(request, "sender.contact.tax_ids.eori")


def _gb_hub(eori: str) -> Party:
    return Party(
        Contact("Returns desk", tax_ids={"EORI": eori}),
        Address("GB", ("1 Dock Lane",), "Manchester", "M1 1AA", organization="Acme Returns Ltd"),
    )


def test_imports_into_gb_need_a_gb_or_xi_eori_and_evidence_of_the_export() -> None:
    def gb(eori: str, export_reference: str = "26DE123456789012E1") -> DeclarationRequest:
        return _request(
            addressee=_gb_hub(eori),
            original_order=dataclasses.replace(ORDER, export_reference=export_reference),
        )

    assert build_customs_declaration(gb("GB123456789000"), FX).rules_applied == (
        "gb-import-eori",
        "returned-goods-original-sale",
        "gb-returned-goods-relief-evidence",
    )
    assert build_customs_declaration(gb("XI123456789000"), FX).form is DeclarationForm.CN23
    assert _paths(gb("DE123456789012345")) == {"addressee.contact.tax_ids.EORI"}
    assert "GB or XI (Northern Ireland) followed by 12 digits" in _message(
        gb("GB12345678"), "addressee.contact.tax_ids.EORI"
    )
    assert _paths(gb("GB123456789000", export_reference="")) == {"original_order.export_reference"}


def test_a_gb_eori_does_not_serve_an_eu_import() -> None:
    hub = dataclasses.replace(EU_HUB, contact=Contact("Returns desk", tax_ids={"EORI": "GB123456789000"}))
    request = _request(addressee=hub)
    assert _paths(request) == {"addressee.contact.tax_ids.EORI"}
    assert "issued under GB does not serve here" in _message(request, "addressee.contact.tax_ids.EORI")


# US export filing (EEI)


def _us_export(*items: ReturnedItem, addressee: Party = EU_HUB, aes_itn: str = "") -> DeclarationRequest:
    return _request(
        sender=CUSTOMER_US, addressee=addressee, items=items, gross_weight_grams=5000, aes_itn=aes_itn
    )


def _usd_item(value: str, hs_code: str = "847130", quantity: int = 1) -> ReturnedItem:
    return _item(
        "LAP",
        description="Laptop",
        quantity=quantity,
        unit_value=Money.of(value, "USD"),
        unit_weight_grams=1500,
        origin_country="CN",
        hs_code=hs_code,
    )


def test_us_exports_up_to_2500_per_code_carry_the_low_value_exemption() -> None:
    declaration = build_customs_declaration(
        _us_export(_usd_item("2500.00"), _usd_item("2000.00", "851713")), FX
    )
    assert declaration.references.eel_pfc == "NOEEI 30.37(a)"
    assert "us-eei" in declaration.rules_applied


def test_us_exports_over_2500_per_code_need_an_aes_itn_summed_over_lines() -> None:
    request = _us_export(_usd_item("1500.00"), _usd_item("1000.01"))
    assert _paths(request) == {"aes_itn"}
    assert "847130 totals 2500.01 USD" in _message(request, "aes_itn")
    filed = build_customs_declaration(dataclasses.replace(request, aes_itn="X20261120123456"), FX)
    assert (filed.references.aes_itn, filed.references.eel_pfc) == ("X20261120123456", "AES X20261120123456")
    assert _paths(dataclasses.replace(request, aes_itn="20261120123456")) == {"aes_itn"}


def test_us_exports_to_canada_are_exempt_whatever_the_value() -> None:
    ca_hub = Party(
        Contact("Hub"), Address("CA", ("9 Quai",), "Montréal", "H3C 0A1", organization="Acme Canada")
    )
    declaration = build_customs_declaration(_us_export(_usd_item("9000.00"), addressee=ca_hub), FX)
    assert declaration.references.eel_pfc == "NOEEI 30.36"


def test_an_aes_itn_off_a_us_export_is_inconsistent() -> None:
    assert _paths(_request(aes_itn="X20261120123456")) == {"aes_itn"}


# Properties


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 5), st.decimals("0.01", "400.00", places=2), st.integers(1, 400)),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from(list(MailClass)),
)
def test_totals_add_up_and_the_form_follows_the_upu_rule(
    lines: list[tuple[int, Decimal, int]], mail_class: MailClass
) -> None:
    items = tuple(
        _item(f"S{i}", quantity=q, unit_value=Money.of(v, "EUR"), unit_weight_grams=g)
        for i, (q, v, g) in enumerate(lines)
    )
    net = sum(q * g for q, _, g in lines)
    request = _request(
        items=items,
        gross_weight_grams=net + 50,
        mail_class=mail_class,
    )
    if mail_class is MailClass.LETTER_POST and request.gross_weight_grams > 2000:
        assert _paths(request, SDR_AT_1_2_EUR) == {"mail_class"}
        return
    declaration = build_customs_declaration(request, SDR_AT_1_2_EUR)
    expected = sum((q * v for q, v, _ in lines), Decimal(0))
    assert declaration.totals.value == Money.of(expected, "EUR")
    assert declaration.totals.quantity == sum(q for q, _, _ in lines)
    assert declaration.totals.net_weight_grams == net
    sdr = (expected / Decimal("1.2")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert declaration.totals.value_sdr == Money.of(sdr, "XDR")
    small_letter = mail_class is MailClass.LETTER_POST and sdr <= 300
    assert declaration.form is (DeclarationForm.CN22 if small_letter else DeclarationForm.CN23)
