"""Customs paperwork for a cross-border return: the CN 22 / CN 23 declaration and a commercial invoice.

Both are drawn from one customs.declaration.CustomsDeclaration, so they cannot disagree on lines, totals
or references. They are in English, which every customs administration of the lanes we serve accepts.
The return parcel's own tracking number is passed in: the declaration is built before the label is bought.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from babel import Locale
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.colors import HexColor, black
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from customs.address import Party
from customs.declaration import (
    ContentsCategory,
    CustomsDeclaration,
    DeclarationForm,
    DutyPayer,
    NonDeliveryOption,
)
from customs.money import Money
from service.documents.address_format import party_lines
from service.documents.measures import kilograms
from service.documents.model import (
    CONTENT_TYPES,
    DocumentFormat,
    DocumentKind,
    RenderedDocument,
    check_tracking_number,
)
from service.documents.pdf_canvas import AUTHOR
from service.documents.typeface import LATIN, LATIN_BOLD, markup, register_fonts

_MARGIN = 15 * mm
_CONTENT_WIDTH = A4[0] - 2 * _MARGIN - 12  # less the frame's default 6 pt padding on each side
_GRID = HexColor("#777777")
_SHADE = HexColor("#E8E8E8")
_EMPTY = "—"
_ENGLISH = Locale.parse("en")

CATEGORY_NAMES = {
    ContentsCategory.GIFT: "Gift",
    ContentsCategory.DOCUMENTS: "Documents",
    ContentsCategory.COMMERCIAL_SAMPLE: "Commercial sample",
    ContentsCategory.RETURNED_GOODS: "Returned goods",
    ContentsCategory.SALE_OF_GOODS: "Sale of goods",
    ContentsCategory.OTHER: "Other",
}
DUTY_PAYER_NAMES = {
    DutyPayer.SENDER: "Sender",
    DutyPayer.ADDRESSEE: "Addressee (importer)",
    DutyPayer.THIRD_PARTY: "Third party",
}
NON_DELIVERY_NAMES = {
    NonDeliveryOption.RETURN: "Return to sender",
    NonDeliveryOption.ABANDON: "Treat as abandoned",
}
TICKED, UNTICKED = "☒", "☐"

# In our own words, the sender's certification that CN 22 / CN 23 ask for.
CERTIFICATION = (
    "I, the undersigned, whose name and address are given on this declaration, certify that the particulars "
    "given in it are correct and that this item contains no dangerous article and no article prohibited by "
    "law or by postal or customs regulations."
)
INVOICE_DECLARATION = (
    "These goods are returned to the seller after an earlier sale and delivery (see the original shipment "
    "references). The values are those of the original invoice. I declare that the information on this "
    "invoice is true and correct."
)


class _Styles:
    def __init__(self) -> None:
        base = ParagraphStyle("cell", fontName=LATIN, fontSize=8, leading=10)
        self.cell = base
        self.small = ParagraphStyle(
            "small", parent=base, fontSize=6.5, leading=8, textColor=HexColor("#444444")
        )
        self.caption = ParagraphStyle("caption", parent=base, fontName=LATIN_BOLD, fontSize=6.5, leading=8)
        self.title = ParagraphStyle("title", parent=base, fontName=LATIN_BOLD, fontSize=15, leading=19)
        self.number = ParagraphStyle("number", parent=base, alignment=2)  # right-aligned


_STYLES = _Styles()


def _p(text: str, style: ParagraphStyle | None = None, *, bold: bool = False) -> Paragraph:
    return Paragraph(markup(text, bold), style or _STYLES.cell)


def _lines(lines: Sequence[str], style: ParagraphStyle | None = None) -> Paragraph:
    return Paragraph("<br/>".join(markup(line) for line in lines), style or _STYLES.cell)


def _amount(money: Money) -> str:
    return f"{money.rounded().amount:,}"


def _or_empty(value: str) -> str:
    return value.strip() or _EMPTY


def _party_block(caption: str, party: Party, tax_caption: str) -> list[Flowable]:
    lines = party_lines(party, _ENGLISH, upper_country=True)
    contact = party.contact
    if contact.phone:
        lines.append(f"Tel. {contact.phone}")
    if contact.email:
        lines.append(f"E-mail {contact.email}")
    tax_ids = [f"{scheme}: {number}" for scheme, number in sorted(contact.tax_ids.items())]
    block: list[Flowable] = [_p(caption, _STYLES.caption), _lines(lines)]
    if tax_ids:
        block += [Spacer(1, 2), _p(tax_caption, _STYLES.caption), _lines(tax_ids)]
    return block


def _boxed(rows: list[list[object]], widths: list[float], *, header: bool = False) -> Table:
    table = Table(rows, colWidths=widths, hAlign="LEFT", repeatRows=1 if header else 0)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.5, _GRID),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), _SHADE))
    table.setStyle(TableStyle(style))
    return table


def _tracking_barcode(tracking_number: str) -> Flowable:
    """The return parcel's tracking number as Code 128, so the form can be matched to its parcel."""
    barcode = Code128(tracking_number, barWidth=0.9, barHeight=28, humanReadable=False, quiet=0)
    return Table(
        [[barcode], [_p(tracking_number, bold=True)]],
        hAlign="RIGHT",
        style=[("ALIGN", (0, 0), (-1, -1), "CENTER"), ("LEFTPADDING", (0, 0), (-1, -1), 0)],
    )


def _header(title: str, subtitle: str, tracking_number: str) -> Table:
    left = [_p(title, _STYLES.title), _p(subtitle, _STYLES.small)]
    return Table(
        [[left, _tracking_barcode(tracking_number)]],
        colWidths=[_CONTENT_WIDTH * 0.55, _CONTENT_WIDTH * 0.45],
        style=[("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)],
        hAlign="LEFT",
    )


def _parties(declaration: CustomsDeclaration, sender_caption: str, addressee_caption: str) -> Table:
    half = _CONTENT_WIDTH / 2
    return _boxed(
        [
            [
                _party_block(sender_caption, declaration.sender, "Tax references (EORI, VAT)"),
                _party_block(
                    addressee_caption, declaration.addressee, "Importer reference (EORI, VAT, tax id)"
                ),
            ]
        ],
        [half, half],
    )


def _categories(declaration: CustomsDeclaration) -> Table:
    cells = [
        _p(f"{TICKED if category is declaration.category else UNTICKED} {name}")
        for category, name in CATEGORY_NAMES.items()
    ]
    width = _CONTENT_WIDTH / len(cells)
    caption_row = [_p("Category of item", _STYLES.caption), *([""] * (len(cells) - 1))]
    table = _boxed([caption_row, cells], [width] * len(cells))
    table.setStyle(TableStyle([("SPAN", (0, 0), (-1, 0))]))
    return table


def _contents(declaration: CustomsDeclaration, *, unit_values: bool) -> Table:
    currency = declaration.totals.value.currency
    header = ["#", "Detailed description of contents", "Qty", "Net weight (kg)"]
    if unit_values:
        header.append(f"Unit value ({currency})")
    header += [f"Value ({currency})", "HS tariff number", "Country of origin"]
    rows: list[list[object]] = [[_p(text, _STYLES.caption) for text in header]]
    for index, line in enumerate(declaration.lines, start=1):
        row: list[object] = [
            _p(str(index)),
            _lines([line.description, f"SKU {line.sku}"] if line.sku else [line.description]),
            _p(str(line.quantity), _STYLES.number),
            _p(kilograms(line.net_weight_grams), _STYLES.number),
        ]
        if unit_values:
            row.append(_p(_amount(line.unit_value), _STYLES.number))
        row += [_p(_amount(line.value), _STYLES.number), _p(line.hs_code.dotted()), _p(line.origin_country)]
        rows.append(row)
    totals = declaration.totals
    total_row: list[object] = [
        "",
        _p("Total", bold=True),
        _p(str(totals.quantity), _STYLES.number, bold=True),
        _p(kilograms(totals.net_weight_grams), _STYLES.number, bold=True),
    ]
    if unit_values:
        total_row.append("")
    total_row += [_p(_amount(totals.value), _STYLES.number, bold=True), "", ""]
    rows.append(total_row)
    fixed = [8 * mm, 0.0, 11 * mm, 18 * mm, *([20 * mm] if unit_values else []), 22 * mm, 24 * mm, 17 * mm]
    fixed[1] = _CONTENT_WIDTH - sum(fixed)
    table = _boxed(rows, fixed, header=True)
    table.setStyle(TableStyle([("BACKGROUND", (0, -1), (-1, -1), _SHADE)]))
    return table


def _facts(rows: Sequence[tuple[str, str]], columns: int = 2) -> Table:
    """Caption/value pairs in a grid, `columns` pairs per row."""
    cells: list[object] = []
    for caption, value in rows:
        cells += [_p(caption, _STYLES.caption), _p(value)]
    while len(cells) % (2 * columns):
        cells.append("")
    grid = [cells[i : i + 2 * columns] for i in range(0, len(cells), 2 * columns)]
    pair = _CONTENT_WIDTH / columns
    return _boxed(grid, [pair * 0.45, pair * 0.55] * columns)


def _references(declaration: CustomsDeclaration) -> list[tuple[str, str]]:
    refs = declaration.references
    return [
        ("Original order", _or_empty(refs.order_id)),
        ("Original invoice number", _or_empty(refs.invoice_number)),
        ("Original outbound tracking number", _or_empty(refs.outbound_tracking_number)),
        ("Export declaration of the original shipment (MRN / AES ITN)", _or_empty(refs.export_reference)),
        ("Import entry number of the original shipment", _or_empty(refs.import_entry_number)),
        ("Export filing of this return (AES ITN / exemption)", _or_empty(refs.aes_itn or refs.eel_pfc)),
    ]


def _terms(declaration: CustomsDeclaration) -> list[tuple[str, str]]:
    totals = declaration.totals
    sdr = f"{_amount(totals.value_sdr)} XDR" if totals.value_sdr is not None else _EMPTY
    return [
        ("Incoterm", f"{declaration.incoterm.value} (Incoterms 2020)"),
        ("Duties and taxes paid by", DUTY_PAYER_NAMES[declaration.duty_payer]),
        ("If undeliverable", NON_DELIVERY_NAMES[declaration.non_delivery_option]),
        ("Total gross weight (kg)", kilograms(totals.gross_weight_grams)),
        ("Total value", f"{_amount(totals.value)} {totals.value.currency}"),
        ("Total value in SDR", sdr),
    ]


def _signature(declaration: CustomsDeclaration, statement: str) -> KeepTogether:
    certification = declaration.certification
    rows = [
        [_p(statement)],
        [
            Table(
                [
                    [
                        _p("Name of signatory", _STYLES.caption),
                        _p("Date", _STYLES.caption),
                        _p("Signature", _STYLES.caption),
                    ],
                    [_p(certification.signer_name), _p(certification.signed_on.isoformat()), ""],
                ],
                colWidths=[_CONTENT_WIDTH * 0.4, _CONTENT_WIDTH * 0.2, _CONTENT_WIDTH * 0.4 - 6],
                rowHeights=[None, 12 * mm],
                style=[("LINEBELOW", (2, 1), (2, 1), 0.8, black), ("VALIGN", (0, 1), (-1, 1), "BOTTOM")],
            )
        ],
    ]
    return KeepTogether([_boxed(rows, [_CONTENT_WIDTH])])


def _provenance(declaration: CustomsDeclaration) -> Paragraph:
    rules = ", ".join(declaration.rules_applied) or _EMPTY
    return _p(
        f"Declared on {declaration.declaration_date.isoformat()} · HS edition {declaration.hs_edition} · "
        f"FX rates as of {declaration.fx_as_of.isoformat()} · lane rules applied: {rules}",
        _STYLES.small,
    )


def _build(story: list[Flowable], title: str, tracking_number: str) -> bytes:
    register_fonts()

    def footer(canvas: Canvas, document: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(LATIN, 6.5)
        canvas.drawString(_MARGIN + 6, 9 * mm, f"{title} · {tracking_number} · page {document.page}")
        canvas.restoreState()

    buffer = io.BytesIO()
    template = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN,
        bottomMargin=16 * mm,
        title=f"{title} {tracking_number}",
        author=AUTHOR,
        creator=AUTHOR,
        lang="en",
        invariant=1,
        pageCompression=1,
    )
    template.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _gap() -> Spacer:
    return Spacer(1, 3 * mm)


def render_customs_declaration(declaration: CustomsDeclaration, tracking_number: str) -> RenderedDocument:
    """The CN 23 (or CN 22, as the declaration's form says) for the return parcel `tracking_number`."""
    check_tracking_number(tracking_number)
    form = "CN 23" if declaration.form is DeclarationForm.CN23 else "CN 22"
    title = f"CUSTOMS DECLARATION {form}"
    story: list[Flowable] = [
        _header(title, "May be opened officially · Customs declaration for a returned item", tracking_number),
        _gap(),
        _parties(declaration, "From (sender)", "To (addressee, importer)"),
        _gap(),
        _categories(declaration),
        _gap(),
        _contents(declaration, unit_values=False),
        _gap(),
        _facts(_terms(declaration)),
        _gap(),
        _facts(_references(declaration)),
        _gap(),
        _signature(declaration, CERTIFICATION),
        _gap(),
        _provenance(declaration),
    ]
    kind = DocumentKind.CN23 if declaration.form is DeclarationForm.CN23 else DocumentKind.CN22
    return RenderedDocument(
        kind=kind,
        content_type=CONTENT_TYPES[DocumentFormat.PDF],
        format=DocumentFormat.PDF,
        data=_build(story, title, tracking_number),
        filename=f"{kind.value}-{tracking_number}.pdf",
    )


def render_commercial_invoice(declaration: CustomsDeclaration, tracking_number: str) -> RenderedDocument:
    """A commercial invoice for the returned goods, for couriers and customs brokers that ask for one."""
    check_tracking_number(tracking_number)
    title = "COMMERCIAL INVOICE"
    refs = declaration.references
    invoice_facts = [
        ("Invoice date", declaration.declaration_date.isoformat()),
        ("Return shipment tracking number", tracking_number),
        ("Reason for export", "Returned goods (return to the original seller)"),
        ("Original order", _or_empty(refs.order_id)),
    ]
    story: list[Flowable] = [
        _header(title, "Returned goods · values as originally invoiced", tracking_number),
        _gap(),
        _facts(invoice_facts),
        _gap(),
        _parties(declaration, "Exporter (shipper)", "Importer of record (consignee)"),
        _gap(),
        _contents(declaration, unit_values=True),
        _gap(),
        _facts(_terms(declaration)),
        _gap(),
        _facts(_references(declaration)),
        _gap(),
        _signature(declaration, INVOICE_DECLARATION),
        _gap(),
        _provenance(declaration),
    ]
    return RenderedDocument(
        kind=DocumentKind.COMMERCIAL_INVOICE,
        content_type=CONTENT_TYPES[DocumentFormat.PDF],
        format=DocumentFormat.PDF,
        data=_build(story, title, tracking_number),
        filename=f"commercial-invoice-{tracking_number}.pdf",
    )
