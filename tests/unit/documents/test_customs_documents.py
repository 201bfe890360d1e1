"""CN 23 and commercial invoice rendered from a CustomsDeclaration, read back with poppler and zbar."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from customs.declaration import ContentsCategory, CustomsDeclaration, DeclarationForm, DeclarationReferences
from customs.hs import HsCode
from customs.money import Money
from service.documents.customs_documents import render_commercial_invoice, render_customs_declaration
from service.documents.model import DocumentKind, InvalidDocumentInput

from .conftest import TRACKING, decode_barcodes, pdf_pages_as_png, pdf_text


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_cn23_opens_on_one_page(declaration: CustomsDeclaration, tmp_path: Path) -> None:
    rendered = render_customs_declaration(declaration, TRACKING)
    assert rendered.kind is DocumentKind.CN23
    assert rendered.filename == f"cn23-{TRACKING}.pdf"
    assert rendered.content_type == "application/pdf"
    assert len(pdf_pages_as_png(rendered.data, tmp_path)) == 1


def test_cn23_states_every_declared_particular(declaration: CustomsDeclaration, tmp_path: Path) -> None:
    text = _words(pdf_text(render_customs_declaration(declaration, TRACKING).data, tmp_path))
    for expected in (
        "CUSTOMS DECLARATION CN 23",
        TRACKING,
        "☒ Returned goods",
        "☐ Gift",
        "☐ Sale of goods",
        # sender and addressee, with the importer's EORI
        "Oliver Smith",
        "NW1 6XE",
        "UNITED KINGDOM",
        "Backhaul EU Returns Hub",
        "04109 Leipzig",
        "EORI: DE123456789012345",
        # lines: description, quantity, net weight, value, HS code, origin
        "Men's cotton T-shirt, knitted",
        "2 0.400 39.90 6109.10 PT",
        "Leather belt",
        "1 0.250 45.00 4203.30.00 IT",
        # totals
        "Total 3 0.650 84.90",
        "84.90 EUR",
        "71.12 XDR",
        # references to the original shipment
        "ORD-2026-0815",
        "INV-2026-44817",
        "CX123456789DE",
        "26DE000000123456E1",
        "26GB0000987654321",
        # terms and certification
        "DAP (Incoterms 2020)",
        "Addressee (importer)",
        "Return to sender",
        "certify that the particulars",
        "2026-11-02",
        "HS edition HS2022",
    ):
        assert expected in text, expected


def test_cn23_barcode_scans_to_the_return_tracking_number(
    declaration: CustomsDeclaration, tmp_path: Path
) -> None:
    (page,) = pdf_pages_as_png(render_customs_declaration(declaration, TRACKING).data, tmp_path, dpi=200)
    assert decode_barcodes(page) == {f"CODE-128:{TRACKING}"}


def test_commercial_invoice_lists_unit_and_line_values(
    declaration: CustomsDeclaration, tmp_path: Path
) -> None:
    rendered = render_commercial_invoice(declaration, TRACKING)
    assert rendered.kind is DocumentKind.COMMERCIAL_INVOICE
    assert rendered.filename == f"commercial-invoice-{TRACKING}.pdf"
    assert len(pdf_pages_as_png(rendered.data, tmp_path)) == 1
    text = _words(pdf_text(rendered.data, tmp_path))
    assert "COMMERCIAL INVOICE" in text
    assert "2 0.400 19.95 39.90 6109.10 PT" in text
    assert "1 0.250 45.00 45.00 4203.30.00 IT" in text
    assert "Total 3 0.650 84.90" in text
    assert "Returned goods (return to the original seller)" in text
    assert "EORI: DE123456789012345" in text
    assert "INV-2026-44817" in text


def test_cn22_form_is_titled_and_filed_as_cn22(declaration: CustomsDeclaration, tmp_path: Path) -> None:
    rendered = render_customs_declaration(
        dataclasses.replace(declaration, form=DeclarationForm.CN22), TRACKING
    )
    assert rendered.kind is DocumentKind.CN22
    assert rendered.filename == f"cn22-{TRACKING}.pdf"
    assert "CUSTOMS DECLARATION CN 22" in pdf_text(rendered.data, tmp_path)


def test_the_declared_category_is_the_one_ticked(declaration: CustomsDeclaration, tmp_path: Path) -> None:
    other = dataclasses.replace(declaration, category=ContentsCategory.OTHER)
    text = pdf_text(render_customs_declaration(other, TRACKING).data, tmp_path)
    assert "☒ Other" in text
    assert "☐ Returned goods" in text
    assert text.count("☒") == 1


def test_absent_references_are_shown_as_a_dash(declaration: CustomsDeclaration, tmp_path: Path) -> None:
    bare = dataclasses.replace(declaration, references=DeclarationReferences("", "", "", "", "", "", ""))
    text = pdf_text(render_customs_declaration(bare, TRACKING).data, tmp_path)
    assert text.count("—") >= 6
    assert "INV-2026-44817" not in text


def test_us_export_filing_of_the_return_is_printed(declaration: CustomsDeclaration, tmp_path: Path) -> None:
    references = dataclasses.replace(declaration.references, aes_itn="X20261102123456")
    text = pdf_text(
        render_customs_declaration(dataclasses.replace(declaration, references=references), TRACKING).data,
        tmp_path,
    )
    assert "X20261102123456" in text


def test_many_lines_flow_onto_further_pages_with_every_line(
    declaration: CustomsDeclaration, tmp_path: Path
) -> None:
    line = declaration.lines[0]
    lines = tuple(
        dataclasses.replace(line, description=f"Item number {n:02d}", sku=f"SKU-{n:02d}") for n in range(40)
    )
    totals = dataclasses.replace(
        declaration.totals, value=Money.of("1596.00", "EUR"), quantity=80, net_weight_grams=16000
    )
    many = dataclasses.replace(declaration, lines=lines, totals=totals)
    rendered = render_customs_declaration(many, TRACKING)
    assert len(pdf_pages_as_png(rendered.data, tmp_path)) >= 2
    text = _words(pdf_text(rendered.data, tmp_path, layout=True))
    assert all(f"Item number {n:02d}" in text for n in range(40))
    assert "Total 80 16.000 1,596.00" in text


def test_eight_and_ten_digit_codes_print_dotted(declaration: CustomsDeclaration, tmp_path: Path) -> None:
    ten = dataclasses.replace(declaration.lines[0], hs_code=HsCode("6109100012"))
    text = pdf_text(
        render_customs_declaration(dataclasses.replace(declaration, lines=(ten,)), TRACKING).data, tmp_path
    )
    assert "6109.10.00.12" in text


def test_same_declaration_gives_identical_bytes(declaration: CustomsDeclaration) -> None:
    assert (
        render_customs_declaration(declaration, TRACKING).data
        == render_customs_declaration(declaration, TRACKING).data
    )
    assert (
        render_commercial_invoice(declaration, TRACKING).data
        == render_commercial_invoice(declaration, TRACKING).data
    )


def test_tracking_number_is_checked(declaration: CustomsDeclaration) -> None:
    with pytest.raises(InvalidDocumentInput) as raised:
        render_customs_declaration(declaration, "NOT A TRACKING^NUMBER")
    assert raised.value.field == "tracking_number"
