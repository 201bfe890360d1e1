"""A reportlab canvas set up the same way for every document: deterministic bytes, metadata, our fonts."""

from __future__ import annotations

import io

from reportlab.lib.colors import Color
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from service.documents.typeface import font_runs, register_fonts

AUTHOR = "Backhaul"


def new_canvas(buffer: io.BytesIO, width: float, height: float, title: str) -> Canvas:
    register_fonts()
    # invariant: no creation timestamp or random document id, so the same input gives the same bytes.
    canvas = Canvas(buffer, pagesize=(width, height), invariant=1, pageCompression=1)
    canvas.setTitle(title)
    canvas.setAuthor(AUTHOR)
    canvas.setCreator(AUTHOR)
    return canvas


def draw_line(
    canvas: Canvas,
    x: float,
    baseline: float,
    text: str,
    size: float,
    *,
    bold: bool = False,
    color: Color | None = None,
) -> float:
    """Draw one line run by run, each in a font that has its glyphs; return the x where it ends."""
    canvas.saveState()
    if color is not None:
        canvas.setFillColor(color)
    for font, chunk in font_runs(text, bold):
        canvas.setFont(font, size)
        canvas.drawString(x, baseline, chunk)
        x += pdfmetrics.stringWidth(chunk, font, size)
    canvas.restoreState()
    return x
