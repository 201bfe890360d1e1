"""Return labels for rate-card partners: PDF, PNG and ZPL output, read back with real tools."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customs.address import Address, Contact, Party
from service.documents.label import render_label
from service.documents.label_layout import (
    CUSTOMS_MARKER,
    MARGIN,
    WIDTH,
    format_weight,
    layout_label,
    qr_payload,
)
from service.documents.model import DocumentFormat, DocumentKind, InvalidDocumentInput, LabelDocument
from service.documents.typeface import text_width
from service.documents.zpl import decode_field_hex

from .conftest import LABEL_ID, TRACKING, decode_barcodes, pdf_pages_as_png, pdf_text

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _zpl_fields(zpl: str) -> list[str]:
    return re.findall(r"\^FD(.*?)\^FS", zpl)


def _zpl_text(zpl: str) -> str:
    """All text the printer would print: ^FH data decoded."""
    return "\n".join(decode_field_hex(field).decode() for field in _zpl_fields(zpl))


def test_pdf_label_is_4_by_6_inches_and_opens_in_poppler(label: LabelDocument, tmp_path: Path) -> None:
    rendered = render_label(label, DocumentFormat.PDF)
    assert rendered.kind is DocumentKind.LABEL
    assert rendered.content_type == "application/pdf"
    assert rendered.filename == f"label-{TRACKING}.pdf"
    assert rendered.data.startswith(b"%PDF-")
    assert b"/MediaBox [ 0 0 288 432 ]" in rendered.data
    pages = pdf_pages_as_png(rendered.data, tmp_path)
    assert len(pages) == 1
    assert pages[0].read_bytes().startswith(PNG_SIGNATURE)


def test_pdf_label_text_carries_every_required_element(label: LabelDocument, tmp_path: Path) -> None:
    text = pdf_text(render_label(label, DocumentFormat.PDF).data, tmp_path)
    for expected in (
        TRACKING,
        LABEL_ID,
        "Nordic Parcel Partners",
        "Return Economy",
        "RETURN",
        CUSTOMS_MARKER,
        "Łukasz Żółćik",
        "Hauptstraße 5",
        "10115 Berlin",
        "GERMANY",
        "Acme Returns Hub US-East",
        "Columbus OH 43215",
        "UNITED STATES",
        "1.250 kg",
        "1/1",
        "2026-11-01",
    ):
        assert expected in text, expected


def test_domestic_label_has_no_customs_marker(label: LabelDocument, tmp_path: Path) -> None:
    domestic = dataclasses.replace(label, cross_border=False)
    assert CUSTOMS_MARKER not in pdf_text(render_label(domestic, DocumentFormat.PDF).data, tmp_path)


def test_png_label_is_203_dpi_and_its_barcodes_scan(label: LabelDocument, tmp_path: Path) -> None:
    rendered = render_label(label, DocumentFormat.PNG)
    assert rendered.content_type == "image/png"
    assert rendered.data.startswith(PNG_SIGNATURE)
    width, height = int.from_bytes(rendered.data[16:20], "big"), int.from_bytes(rendered.data[20:24], "big")
    assert (width, height) == (812, 1218)
    image = tmp_path / "label.png"
    image.write_bytes(rendered.data)
    assert decode_barcodes(image) == {f"CODE-128:{TRACKING}", f"QR-Code:{qr_payload(label)}"}


def test_pdf_label_barcodes_scan_after_poppler_rasterises_it(label: LabelDocument, tmp_path: Path) -> None:
    (page,) = pdf_pages_as_png(render_label(label, DocumentFormat.PDF).data, tmp_path, dpi=203)
    assert f"CODE-128:{TRACKING}" in decode_barcodes(page)


def test_zpl_label_structure(label: LabelDocument) -> None:
    rendered = render_label(label, DocumentFormat.ZPL)
    zpl = rendered.data.decode("ascii")
    assert rendered.content_type == "application/x-zpl"
    assert zpl.startswith("^XA")
    assert zpl.endswith("^XZ")
    assert zpl.count("^XA") == 1
    assert zpl.count("^XZ") == 1
    assert "^PW812" in zpl
    assert "^LL1218" in zpl
    assert re.search(rf"\^BC[^\^]*\^FD{TRACKING}\^FS", zpl)
    assert re.search(rf"\^BQN,2,\d+\^FDMA,{re.escape(qr_payload(label))}\^FS", zpl)


def test_zpl_label_prints_the_same_text_as_the_pdf(label: LabelDocument, tmp_path: Path) -> None:
    printed = _zpl_text(render_label(label, DocumentFormat.ZPL).data.decode("ascii"))
    for expected in (
        "Łukasz Żółćik",
        "Hauptstraße 5",
        "Columbus OH 43215",
        CUSTOMS_MARKER,
        "1.250 kg",
        LABEL_ID,
    ):
        assert expected in printed


def test_caret_in_a_name_does_not_start_a_zpl_command(label: LabelDocument) -> None:
    hostile = Party(
        Contact("Eve^XZ^XA^FO0,0^GB812,1218,812^FS~JA"),
        dataclasses.replace(label.sender.address, lines=("Main St 1^FS^XZ",)),
    )
    zpl = render_label(dataclasses.replace(label, sender=hostile), DocumentFormat.ZPL).data.decode("ascii")
    assert zpl.count("^XA") == 1
    assert zpl.count("^XZ") == 1
    assert "~" not in zpl
    assert "^GB812,1218" not in zpl
    # The hostile text is printed literally instead.
    assert "Eve^XZ^XA^FO0,0^GB812,1218,812^FS~JA" in _zpl_text(zpl)


def test_same_input_gives_identical_bytes(label: LabelDocument) -> None:
    for document_format in DocumentFormat:
        assert render_label(label, document_format).data == render_label(label, document_format).data


def test_long_hub_address_shrinks_to_fit_its_box(label: LabelDocument) -> None:
    long_lines = tuple(f"Building {n}, Very Long Industrial Estate Road Number {n}" for n in range(1, 5))
    hub = Party(label.hub.contact, dataclasses.replace(label.hub.address, lines=long_lines))
    layout = layout_label(dataclasses.replace(label, hub=hub))
    normal = layout_label(label)
    hub_block = layout.texts[6]
    assert hub_block.size < normal.texts[6].size
    # Every line is present, none was cut short.
    assert "".join(hub_block.lines).replace(" ", "").count("VeryLongIndustrial") == 4
    assert len(hub_block.lines) * hub_block.leading <= 68


def test_japanese_sender_name_prints_in_the_pdf(label: LabelDocument, tmp_path: Path) -> None:
    sender = Party(
        Contact("山田 太郎"),
        Address(country="JP", lines=("1-2-3 Shibuya",), locality="Shibuya-ku", postal_code="150-0002"),
    )
    text = pdf_text(
        render_label(dataclasses.replace(label, sender=sender), DocumentFormat.PDF).data, tmp_path
    )
    assert "山田 太郎" in text
    assert "Shibuya-ku 150-0002" in text


@pytest.mark.parametrize(("grams", "shown"), [(1250, "1.250 kg"), (5, "0.005 kg"), (20000, "20.000 kg")])
def test_weight_is_shown_in_kilograms(grams: int, shown: str) -> None:
    assert format_weight(grams) == shown


def test_qr_payload_holds_tracking_number_and_label_id(label: LabelDocument) -> None:
    assert qr_payload(label) == f"BACKHAUL1;TN={TRACKING};LID={LABEL_ID}"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tracking_number": "AB^XZ"}, "tracking_number"),
        ({"tracking_number": ""}, "tracking_number"),
        ({"label_id": "id with space"}, "label_id"),
        ({"weight_grams": 0}, "weight_grams"),
        ({"parcel_number": 2}, "parcel_number"),
        ({"carrier_name": "  "}, "carrier_name"),
    ],
)
def test_bad_label_input_names_the_field(label: LabelDocument, change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidDocumentInput) as raised:
        dataclasses.replace(label, **change)  # type: ignore[arg-type]
    assert raised.value.field == field


def test_bad_address_is_reported_with_its_path(label: LabelDocument) -> None:
    no_postcode = Party(label.sender.contact, dataclasses.replace(label.sender.address, postal_code=""))
    with pytest.raises(InvalidDocumentInput) as raised:
        dataclasses.replace(label, sender=no_postcode)
    assert raised.value.field == "sender.address.postal_code"


def test_created_date_is_iso(label: LabelDocument, tmp_path: Path) -> None:
    later = dataclasses.replace(label, created_on=dt.date(2027, 1, 9))
    assert "2027-01-09" in pdf_text(render_label(later, DocumentFormat.PDF).data, tmp_path)


_ADDRESS_TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], max_codepoint=0x9FFF), min_size=1, max_size=60
).filter(lambda s: s.strip())


# The label fixture is frozen, so sharing it across generated inputs is safe.
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_ADDRESS_TEXT, street=_ADDRESS_TEXT, city=_ADDRESS_TEXT)
def test_any_sender_text_fits_the_label_and_never_breaks_the_zpl(
    label: LabelDocument, name: str, street: str, city: str
) -> None:
    sender = Party(Contact(name), Address(country="DE", lines=(street,), locality=city, postal_code="10115"))
    document = dataclasses.replace(label, sender=sender)
    layout = layout_label(document)
    for block in layout.texts:
        assert block.x >= MARGIN
        for line in block.lines:
            assert block.x + text_width(line, block.size, bold=block.bold) <= WIDTH - MARGIN + 0.01
    sender_block = layout.texts[4]
    assert len(sender_block.lines) * sender_block.leading <= 50 + 0.01
    zpl = render_label(document, DocumentFormat.ZPL).data.decode("ascii")
    assert zpl.count("^XA") == 1
    assert zpl.endswith("^XZ")
    assert zpl.count("^XZ") == 1
    assert "~" not in zpl
