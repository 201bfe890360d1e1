"""The label layout drawn as a one-page 4×6 inch PDF."""

from __future__ import annotations

import io

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.code128 import Code128
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.colors import black, white

from service.documents.label_layout import (
    HEIGHT,
    QR_ERROR_CORRECTION,
    QR_QUIET_MODULES,
    WIDTH,
    LabelLayout,
    dots_to_points,
)
from service.documents.pdf_canvas import draw_line, new_canvas

# The baseline of a line sits this far below the line's top, as a share of the font size.
_ASCENT = 0.8


def label_pdf(layout: LabelLayout) -> bytes:
    buffer = io.BytesIO()
    canvas = new_canvas(buffer, WIDTH, HEIGHT, layout.title)
    canvas.setFillColor(black)
    for rect in layout.filled:
        canvas.rect(rect.x, HEIGHT - rect.top - rect.height, rect.width, rect.height, stroke=0, fill=1)
    for block in layout.texts:
        for index, line in enumerate(block.lines):
            baseline = HEIGHT - block.top - block.size * _ASCENT - index * block.leading
            color = white if block.inverse else black
            draw_line(canvas, block.x, baseline, line, block.size, bold=block.bold, color=color)

    barcode = layout.barcode
    module = dots_to_points(barcode.module_dots)
    bars = Code128(barcode.value, barWidth=module, barHeight=barcode.height, quiet=0)
    bars.drawOn(canvas, barcode.x, HEIGHT - barcode.top - barcode.height)

    qr = layout.qr
    module = dots_to_points(qr.module_dots)
    side = (qr.modules + 2 * QR_QUIET_MODULES) * module
    widget = QrCodeWidget(qr.payload, barLevel=QR_ERROR_CORRECTION, barWidth=side, barHeight=side)
    drawing = Drawing(side, side)
    drawing.add(widget)
    quiet = QR_QUIET_MODULES * module
    renderPDF.draw(drawing, canvas, qr.x - quiet, HEIGHT - qr.top - qr.modules * module - quiet)

    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
