"""PDF pages to PNG, through PDFium (pypdfium2), for printers and portals that take images."""

from __future__ import annotations

import io

import pypdfium2  # type: ignore[import-untyped]


def pdf_to_png(pdf: bytes, dpi: int) -> bytes:
    """The first page of `pdf` as an 8-bit greyscale PNG at `dpi`."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[0]
        image = page.render(scale=dpi / 72, grayscale=True).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG", dpi=(dpi, dpi))
        return out.getvalue()
    finally:
        document.close()
