"""The return-instructions page: how to pack, hand over and track the return, in the customer's language.

Text comes from the language's message catalogue; dates and amounts are formatted by babel for the customer's
full locale, so an Austrian customer reads "€ 12,50" and a German one "12,50 €".
"""

from __future__ import annotations

import datetime as dt
import io
from xml.sax.saxutils import escape, quoteattr

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from service.documents.address_format import party_lines
from service.documents.catalogue import MessageCatalogue, resolve_locale
from service.documents.model import (
    CONTENT_TYPES,
    DocumentFormat,
    DocumentKind,
    Handover,
    InstructionsDocument,
    RenderedDocument,
)
from service.documents.pdf_canvas import AUTHOR
from service.documents.typeface import LATIN, Script, markup, register_fonts

# A4 with side margins wide enough that the text also fits US Letter when printed there.
_PAGE = A4
_SIDE_MARGIN = 22 * mm
_FRAME_PADDING = 6  # reportlab's default frame padding, in points
_CONTENT_WIDTH = _PAGE[0] - 2 * _SIDE_MARGIN - 2 * _FRAME_PADDING
_ACCENT = HexColor("#1F4E79")
_QR_SIDE = 30 * mm


class _Styles:
    def __init__(self, script: Script) -> None:
        # Runs carry their own fonts (see typeface.markup); the style's font only sets the default.
        wrap = "CJK" if script is Script.JAPANESE else None
        base = ParagraphStyle("body", fontName=LATIN, fontSize=10.5, leading=15, wordWrap=wrap, spaceAfter=4)
        self.body = base
        self.title = ParagraphStyle(
            "title", parent=base, fontSize=20, leading=26, textColor=_ACCENT, spaceAfter=10
        )
        self.heading = ParagraphStyle(
            "heading", parent=base, fontSize=12.5, leading=17, textColor=_ACCENT, spaceBefore=10, spaceAfter=4
        )
        self.emphasis = ParagraphStyle("emphasis", parent=base, fontSize=12, leading=17)
        self.small = ParagraphStyle(
            "small", parent=base, fontSize=8.5, leading=11, textColor=HexColor("#555555")
        )


class _Page:
    """Builds the flowables of one page, formatting values for the customer's locale."""

    def __init__(self, document: InstructionsDocument, catalogue: MessageCatalogue, locale: Locale) -> None:
        self.document = document
        self.catalogue = catalogue
        self.locale = locale
        self.styles = _Styles(catalogue.script)

    def date(self, value: dt.date) -> str:
        return str(format_date(value, format=self.catalogue.date_format, locale=self.locale))

    def money(self) -> str:
        cost = self.document.customer_cost.rounded()
        return str(format_currency(cost.amount, cost.currency, locale=self.locale))

    def paragraph(self, text: str, style: ParagraphStyle, *, bold: bool = False) -> Paragraph:
        # The Japanese font has one weight; bold Latin digits beside regular kanji would look patchy.
        return Paragraph(markup(text, bold and self.catalogue.script is Script.LATIN), style)

    def says(
        self, key: str, style: ParagraphStyle | None = None, *, bold: bool = False, **values: str
    ) -> Paragraph:
        return self.paragraph(self.catalogue.text(key, **values), style or self.styles.body, bold=bold)

    def flowables(self) -> list[Flowable]:
        doc, styles = self.document, self.styles
        story: list[Flowable] = [
            self.says("title", styles.title),
            self.says("greeting", customer_name=doc.customer_name),
            self.says("intro"),
            self.says("pack_heading", styles.heading),
            self.says("pack_box"),
            self.says("pack_label"),
        ]
        if doc.cross_border:
            story.append(self.says("pack_customs"))
        story.append(self.says("handover_heading", styles.heading))
        if doc.handover is Handover.PICKUP:
            assert doc.pickup_date is not None  # checked by InstructionsDocument
            story.append(
                self.says("handover_pickup", carrier=doc.carrier_name, pickup_date=self.date(doc.pickup_date))
            )
        else:
            story.append(self.says("handover_drop_off", carrier=doc.carrier_name))
        story.append(
            self.says("deadline", styles.emphasis, bold=True, deadline=self.date(doc.return_deadline))
        )
        story.append(self.says("cost_heading", styles.heading))
        if doc.customer_cost.is_zero():
            story.append(self.says("cost_free"))
        else:
            story.append(self.says("cost_paid", amount=self.money()))
        story.append(KeepTogether([self.says("tracking_heading", styles.heading), self.tracking_table()]))
        story.append(KeepTogether(self.destination()))
        story.append(Spacer(1, 8 * mm))
        story.append(self.says("footer", styles.small, issued_on=self.date(doc.issued_on)))
        return story

    def tracking_table(self) -> Table:
        doc, styles = self.document, self.styles
        href, color = quoteattr(doc.tracking_url), quoteattr(_ACCENT.hexval())
        link = f"<a href={href} color={color}>{escape(doc.tracking_url)}</a>"
        text = [
            self.says("tracking_number", styles.emphasis, bold=True, tracking_number=doc.tracking_number),
            self.says("tracking_link"),
            Paragraph(link, styles.body),
        ]
        qr = [_qr_drawing(doc.tracking_url), self.says("tracking_scan", styles.small)]
        qr_column = _QR_SIDE + 6 * mm
        table = Table([[text, qr]], colWidths=[_CONTENT_WIDTH - qr_column, qr_column], hAlign="LEFT")
        table.setStyle(
            TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])
        )
        return table

    def destination(self) -> list[Flowable]:
        lines = party_lines(self.document.hub, Locale.parse(self.catalogue.language))
        address = Paragraph("<br/>".join(markup(line) for line in lines), self.styles.body)
        return [self.says("destination_heading", self.styles.heading), address]


def _qr_drawing(payload: str) -> Drawing:
    widget = QrCodeWidget(payload, barLevel="M", barWidth=_QR_SIDE, barHeight=_QR_SIDE)
    drawing = Drawing(_QR_SIDE, _QR_SIDE)
    drawing.add(widget)
    return drawing


def render_return_instructions(document: InstructionsDocument) -> RenderedDocument:
    """The instructions page as PDF, in the language of `document.locale` (English when there is none)."""
    register_fonts()
    catalogue, locale = resolve_locale(document.locale)
    page = _Page(document, catalogue, locale)
    buffer = io.BytesIO()
    template = SimpleDocTemplate(
        buffer,
        pagesize=_PAGE,
        leftMargin=_SIDE_MARGIN,
        rightMargin=_SIDE_MARGIN,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=catalogue.text("title"),
        author=AUTHOR,
        creator=AUTHOR,
        lang=catalogue.language,
        invariant=1,
        pageCompression=1,
    )
    template.build(page.flowables())
    return RenderedDocument(
        kind=DocumentKind.RETURN_INSTRUCTIONS,
        content_type=CONTENT_TYPES[DocumentFormat.PDF],
        format=DocumentFormat.PDF,
        data=buffer.getvalue(),
        filename=f"return-instructions-{document.tracking_number}-{catalogue.language}.pdf",
    )
