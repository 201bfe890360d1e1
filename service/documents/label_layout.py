"""The 4×6 inch shipping label of a rate-card partner, laid out once for every output format.

The layout is computed once, in points from the top-left corner, with the text already fitted into its
boxes; the PDF and ZPL writers only draw it, so the two formats carry the same lines and break them alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from babel import Locale
from reportlab.graphics.barcode.code128 import Code128
from reportlab.graphics.barcode.qr import QrCodeWidget

from service.documents.address_format import party_lines
from service.documents.measures import kilograms
from service.documents.model import LabelDocument
from service.documents.typeface import LEADING, fit_lines, register_fonts, text_width

WIDTH = 288.0  # 4 in
HEIGHT = 432.0  # 6 in
MARGIN = 10.0
ZPL_DPI = 203
RETURN_MARKER = "RETURN"
CUSTOMS_MARKER = "CUSTOMS DECLARATION ATTACHED / CN23"

_ENGLISH = Locale.parse("en")
# Code 128 needs a quiet zone of 10 modules on each side; QR codes one of 4 modules all round.
_QUIET_MODULES = 10
QR_QUIET_MODULES = 4
QR_ERROR_CORRECTION = "M"  # 15 % of the symbol may be scuffed and it still reads


@dataclass(frozen=True, slots=True)
class TextBlock:
    x: float
    top: float  # top of the first line
    size: float
    leading: float
    lines: tuple[str, ...]
    bold: bool = False
    inverse: bool = False  # white on a filled box drawn beneath


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    top: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Barcode:
    x: float  # where the bars start (the quiet zone lies to the left of it)
    top: float
    height: float
    module_dots: int  # printed X-dimension in 203 dpi dots; the PDF uses the same physical width
    value: str


@dataclass(frozen=True, slots=True)
class QrCode:
    x: float  # where the symbol starts (the quiet zone lies around it)
    top: float
    module_dots: int
    modules: int  # symbol width in modules, without the quiet zone
    payload: str


@dataclass(frozen=True, slots=True)
class LabelLayout:
    title: str
    filled: tuple[Rect, ...]  # rules and marker backgrounds
    texts: tuple[TextBlock, ...]
    barcode: Barcode
    qr: QrCode


def dots_to_points(dots: float) -> float:
    return dots * 72 / ZPL_DPI


def points_to_dots(points: float) -> int:
    return round(points * ZPL_DPI / 72)


def qr_payload(label: LabelDocument) -> str:
    """What the QR code holds: a versioned, semicolon-separated record a hub scanner can split."""
    return f"BACKHAUL1;TN={label.tracking_number};LID={label.label_id}"


def format_weight(grams: int) -> str:
    return f"{kilograms(grams)} kg"


def _barcode(value: str, top: float, height: float) -> Barcode:
    """Centred Code 128 with the widest whole-dot module (2 to 4 dots) at which it and its quiet zones fit."""
    bars = int(Code128(value, barWidth=1, quiet=0).width)
    for dots in (4, 3, 2):
        width = dots_to_points((bars + 2 * _QUIET_MODULES) * dots)
        if width <= WIDTH - 2 * MARGIN:
            return Barcode(
                (WIDTH - width) / 2 + dots_to_points(_QUIET_MODULES * dots), top, height, dots, value
            )
    raise ValueError(f"tracking number {value!r} is too long for a Code 128 barcode on a 4 in label")


def _qr(payload: str, x: float, top: float, side: float) -> QrCode:
    """The largest whole-dot module at which the symbol and its 4-module quiet zone fit a square of `side`."""
    encoder = QrCodeWidget(payload, barLevel=QR_ERROR_CORRECTION).qr
    encoder.make()
    modules = int(encoder.getModuleCount())
    module_dots = max(2, points_to_dots(side) // (modules + 2 * QR_QUIET_MODULES))
    quiet = dots_to_points(QR_QUIET_MODULES * module_dots)
    return QrCode(x + quiet, top + quiet, module_dots, modules, payload)


def _block(
    x: float, top: float, width: float, height: float, lines: list[str], size: float, bold: bool
) -> TextBlock:
    fitted_size, fitted = fit_lines(lines, width, height, size, 6.0, bold=bold)
    return TextBlock(x, top, fitted_size, fitted_size * LEADING, tuple(fitted), bold=bold)


def _caption(x: float, top: float, text: str) -> TextBlock:
    return TextBlock(x, top, 6.5, 8, (text,), bold=True)


def layout_label(label: LabelDocument) -> LabelLayout:
    register_fonts()
    inner = WIDTH - 2 * MARGIN
    rule = 1.2
    filled: list[Rect] = []
    texts: list[TextBlock] = []

    # Header: partner and service on the left, the RETURN marker on the right.
    marker = Rect(WIDTH - MARGIN - 86, MARGIN, 86, 34)
    header_width = marker.x - MARGIN - 8
    texts.append(_block(MARGIN, MARGIN, header_width, 19, [label.carrier_name], 15, True))
    texts.append(_block(MARGIN, MARGIN + 20, header_width, 20, [label.service_name], 9, False))
    filled.append(marker)
    marker_x = marker.x + (marker.width - text_width(RETURN_MARKER, 16, bold=True)) / 2
    texts.append(TextBlock(marker_x, marker.top + 9, 16, 19, (RETURN_MARKER,), bold=True, inverse=True))
    filled.append(Rect(MARGIN, 49, inner, rule))

    # Sender (the customer) and destination hub, the hub larger: it is where the parcel goes.
    texts.append(_caption(MARGIN, 54, "FROM (SENDER)"))
    sender = party_lines(label.sender, _ENGLISH, upper_country=True)
    texts.append(_block(MARGIN, 63, inner, 50, sender, 8, False))
    filled.append(Rect(MARGIN, 115, inner, rule))
    texts.append(_caption(MARGIN, 119, "TO (RETURNS HUB)"))
    hub = party_lines(label.hub, _ENGLISH, upper_country=True)
    texts.append(_block(MARGIN, 128, inner, 68, hub, 11, True))
    filled.append(Rect(MARGIN, 199, inner, rule))

    # Weight, parcel count and date.
    column = inner / 3
    facts = (
        ("WEIGHT", format_weight(label.weight_grams)),
        ("PARCEL", f"{label.parcel_number}/{label.parcel_count}"),
        ("DATE", label.created_on.isoformat()),
    )
    for index, (caption, value) in enumerate(facts):
        x = MARGIN + index * column
        texts.append(_caption(x, 203, caption))
        texts.append(TextBlock(x, 212, 11, 13, (value,), bold=True))
    filled.append(Rect(MARGIN, 229, inner, rule))

    if label.cross_border:
        band = Rect(MARGIN, 233, inner, 20)
        filled.append(band)
        customs_x = (WIDTH - text_width(CUSTOMS_MARKER, 10, bold=True)) / 2
        texts.append(TextBlock(customs_x, band.top + 5, 10, 12, (CUSTOMS_MARKER,), bold=True, inverse=True))

    barcode = _barcode(label.tracking_number, 260, 56)
    number_x = (WIDTH - text_width(label.tracking_number, 12, bold=True)) / 2
    texts.append(TextBlock(number_x, 320, 12, 14, (label.tracking_number,), bold=True))
    filled.append(Rect(MARGIN, 339, inner, rule))

    qr = _qr(qr_payload(label), MARGIN, 341, HEIGHT - MARGIN - 341)
    details_x = MARGIN + 92
    details_width = WIDTH - MARGIN - details_x
    texts.append(_caption(details_x, 352, "LABEL ID"))
    texts.append(_block(details_x, 361, details_width, 20, [label.label_id], 8, False))
    texts.append(_caption(details_x, 386, "QR: TRACKING NUMBER + LABEL ID"))

    return LabelLayout(f"Return label {label.tracking_number}", tuple(filled), tuple(texts), barcode, qr)
