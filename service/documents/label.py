"""Shipping labels for rate-card partners, which have no API to print one: PDF, PNG or ZPL."""

from __future__ import annotations

from service.documents.label_layout import ZPL_DPI, layout_label
from service.documents.label_pdf import label_pdf
from service.documents.label_zpl import label_zpl
from service.documents.model import (
    CONTENT_TYPES,
    DocumentFormat,
    DocumentKind,
    LabelDocument,
    RenderedDocument,
)
from service.documents.raster import pdf_to_png


def render_label(label: LabelDocument, document_format: DocumentFormat) -> RenderedDocument:
    """The label as PDF (vector), PNG (203 dpi raster of the PDF) or ZPL (203 dpi thermal printers)."""
    layout = layout_label(label)
    if document_format is DocumentFormat.PDF:
        data = label_pdf(layout)
    elif document_format is DocumentFormat.PNG:
        data = pdf_to_png(label_pdf(layout), ZPL_DPI)
    else:
        data = label_zpl(layout).encode("ascii")
    return RenderedDocument(
        kind=DocumentKind.LABEL,
        content_type=CONTENT_TYPES[document_format],
        format=document_format,
        data=data,
        filename=f"label-{label.tracking_number}.{document_format.value}",
    )
