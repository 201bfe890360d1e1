"""Shared inputs and the external checkers (poppler, zbar) the document tests open the output with."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from customs.address import Address, Contact, Party
from customs.declaration import (
    Certification,
    ContentsCategory,
    CustomsDeclaration,
    DeclarationForm,
    DeclarationLine,
    DeclarationReferences,
    DeclarationTotals,
    DutyPayer,
    Incoterm,
    MailClass,
    NonDeliveryOption,
)
from customs.hs import HsCode
from customs.money import Money
from service.documents.model import Handover, InstructionsDocument, LabelDocument

TRACKING = "BH1Z999AA10123456784"
LABEL_ID = "lbl_01JC3W8X9Q2M4N6P8R0T"


def require_tool(name: str, package: str) -> str:
    """The tool's path; a missing tool skips locally and fails under CI, where it must be installed."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not found: install the Debian package {package}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def pdf_text(pdf: bytes, tmp_path: Path, *, layout: bool = False) -> str:
    """The PDF's text; `layout` keeps each printed row on one line (table rows that span pages)."""
    tool = require_tool("pdftotext", "poppler-utils")
    source = tmp_path / "in.pdf"
    source.write_bytes(pdf)
    options = ["-layout"] if layout else []
    result = subprocess.run(
        [tool, "-enc", "UTF-8", *options, str(source), "-"], capture_output=True, check=True, timeout=30
    )
    # Money and dates carry no-break spaces; tests compare with plain ones.
    return result.stdout.decode("utf-8").replace("\u00a0", " ").replace("\u202f", " ")


def pdf_pages_as_png(pdf: bytes, tmp_path: Path, dpi: int = 50) -> list[Path]:
    """Rasterise every page with pdftoppm: proof that a real PDF reader opens the file."""
    tool = require_tool("pdftoppm", "poppler-utils")
    source = tmp_path / "doc.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        [tool, "-r", str(dpi), "-png", str(source), str(tmp_path / "page")], check=True, timeout=60
    )
    return sorted(tmp_path.glob("page-*.png"))


def decode_barcodes(png: Path) -> set[str]:
    """Every barcode zbar finds in the image, as 'TYPE:data'."""
    tool = require_tool("zbarimg", "zbar-tools")
    result = subprocess.run([tool, "-q", str(png)], capture_output=True, timeout=60)
    return {line for line in result.stdout.decode().splitlines() if line}


@pytest.fixture
def customer() -> Party:
    return Party(
        Contact("Łukasz Żółćik", email="lukasz@example.com", phone="+49 30 1234567"),
        Address(
            country="DE", lines=("Hauptstraße 5", "Hinterhaus, 3. OG"), locality="Berlin", postal_code="10115"
        ),
    )


@pytest.fixture
def us_hub() -> Party:
    return Party(
        Contact("Returns Desk", tax_ids={"EIN": "12-3456789"}),
        Address(
            country="US",
            lines=("1200 Commerce Way", "Dock 4"),
            locality="Columbus",
            postal_code="43215",
            administrative_area="OH",
            organization="Acme Returns Hub US-East",
        ),
    )


@pytest.fixture
def eu_hub() -> Party:
    return Party(
        Contact("Returns Desk", tax_ids={"EORI": "DE123456789012345"}),
        Address(
            country="DE",
            lines=("Logistikallee 7",),
            locality="Leipzig",
            postal_code="04109",
            organization="Backhaul EU Returns Hub",
        ),
    )


@pytest.fixture
def label(customer: Party, us_hub: Party) -> LabelDocument:
    return LabelDocument(
        label_id=LABEL_ID,
        tracking_number=TRACKING,
        carrier_name="Nordic Parcel Partners",
        service_name="Return Economy",
        sender=customer,
        hub=us_hub,
        weight_grams=1250,
        created_on=dt.date(2026, 11, 1),
        cross_border=True,
    )


@pytest.fixture
def instructions(eu_hub: Party) -> InstructionsDocument:
    return InstructionsDocument(
        locale="en-GB",
        customer_name="Jane Doe",
        tracking_number=TRACKING,
        tracking_url=f"https://track.example.com/t/{TRACKING}",
        carrier_name="Nordic Parcel Partners",
        hub=eu_hub,
        handover=Handover.DROP_OFF,
        return_deadline=dt.date(2026, 12, 31),
        customer_cost=Money.of("12.50", "EUR"),
        cross_border=True,
        issued_on=dt.date(2026, 11, 1),
    )


@pytest.fixture
def declaration(eu_hub: Party) -> CustomsDeclaration:
    """A return from a customer in London to the EU hub in Leipzig: two lines, every reference filled."""
    sender = Party(
        Contact("Oliver Smith", email="oliver@example.co.uk", phone="+44 20 7946 0000"),
        Address(country="GB", lines=("221B Baker Street",), locality="London", postal_code="NW1 6XE"),
    )
    lines = (
        DeclarationLine(
            description="Men's cotton T-shirt, knitted",
            quantity=2,
            net_weight_grams=400,
            unit_value=Money.of("19.95", "EUR"),
            value=Money.of("39.90", "EUR"),
            hs_code=HsCode("610910"),
            origin_country="PT",
            sku="TS-100-M",
        ),
        DeclarationLine(
            description="Leather belt",
            quantity=1,
            net_weight_grams=250,
            unit_value=Money.of("45.00", "EUR"),
            value=Money.of("45.00", "EUR"),
            hs_code=HsCode("42033000"),
            origin_country="IT",
            sku="BLT-7",
        ),
    )
    return CustomsDeclaration(
        form=DeclarationForm.CN23,
        category=ContentsCategory.RETURNED_GOODS,
        mail_class=MailClass.PARCEL,
        lines=lines,
        totals=DeclarationTotals(
            value=Money.of("84.90", "EUR"),
            value_sdr=Money.of("71.12", "XDR"),
            net_weight_grams=650,
            gross_weight_grams=900,
            quantity=3,
        ),
        references=DeclarationReferences(
            order_id="ORD-2026-0815",
            outbound_tracking_number="CX123456789DE",
            invoice_number="INV-2026-44817",
            export_reference="26DE000000123456E1",
            import_entry_number="26GB0000987654321",
            aes_itn="",
            eel_pfc="",
        ),
        sender=sender,
        addressee=eu_hub,
        incoterm=Incoterm.DAP,
        duty_payer=DutyPayer.ADDRESSEE,
        non_delivery_option=NonDeliveryOption.RETURN,
        certification=Certification(signer_name="Oliver Smith", signed_on=dt.date(2026, 11, 2)),
        declaration_date=dt.date(2026, 11, 2),
        hs_edition="HS2022",
        fx_as_of=dt.date(2026, 10, 31),
        rules_applied=("gb-to-eu-eori",),
    )
