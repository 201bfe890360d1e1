"""Documents for a return: shipping labels, customs paperwork and the customer's instructions page.

Renderers are pure functions from frozen inputs to RenderedDocument bytes; storing them is the caller's job.
"""

from service.documents.catalogue import CatalogueError, resolve_locale, supported_languages
from service.documents.customs_documents import render_commercial_invoice, render_customs_declaration
from service.documents.instructions import render_return_instructions
from service.documents.label import render_label
from service.documents.model import (
    CONTENT_TYPES,
    DocumentFormat,
    DocumentKind,
    Handover,
    InstructionsDocument,
    InvalidDocumentInput,
    LabelDocument,
    RenderedDocument,
)

__all__ = [
    "CONTENT_TYPES",
    "CatalogueError",
    "DocumentFormat",
    "DocumentKind",
    "Handover",
    "InstructionsDocument",
    "InvalidDocumentInput",
    "LabelDocument",
    "RenderedDocument",
    "render_commercial_invoice",
    "render_customs_declaration",
    "render_label",
    "render_return_instructions",
    "resolve_locale",
    "supported_languages",
]
