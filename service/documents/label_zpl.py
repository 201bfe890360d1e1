"""The label layout as ZPL II for 203 dpi thermal printers with 4×6 inch stock.

Text uses the printer's resident font 0 in UTF-8 mode, which prints Latin, Greek and Cyrillic; CJK names need
a CJK font loaded on the printer (the PDF and PNG labels print them without one).
"""

from __future__ import annotations

from service.documents.label_layout import HEIGHT, WIDTH, LabelLayout, points_to_dots
from service.documents.zpl import filled_box, text_field


def label_zpl(layout: LabelLayout) -> str:
    commands = [
        "^XA",
        "^CI28",  # field data is UTF-8
        f"^PW{points_to_dots(WIDTH)}",
        f"^LL{points_to_dots(HEIGHT)}",
        "^LH0,0",
    ]
    for rect in layout.filled:
        commands.append(
            filled_box(
                points_to_dots(rect.x),
                points_to_dots(rect.top),
                max(1, points_to_dots(rect.width)),
                max(1, points_to_dots(rect.height)),
            )
        )
    for block in layout.texts:
        for index, line in enumerate(block.lines):
            top = block.top + index * block.leading
            commands.append(
                text_field(
                    points_to_dots(block.x),
                    points_to_dots(top),
                    points_to_dots(block.size),
                    line,
                    reverse=block.inverse,
                )
            )
    barcode = layout.barcode
    height = points_to_dots(barcode.height)
    # Tracking numbers are letters, digits and dashes (checked by LabelDocument), so they need no ^FH.
    # Mode A lets the printer pick Code 128 subsets, as reportlab does for the PDF.
    commands.append(
        f"^FO{points_to_dots(barcode.x)},{points_to_dots(barcode.top)}"
        f"^BY{barcode.module_dots},3,{height}^BCN,{height},N,N,N,A^FD{barcode.value}^FS"
    )
    qr = layout.qr
    # "MA,": error correction M, automatic data mode; the payload holds only id characters.
    commands.append(
        f"^FO{points_to_dots(qr.x)},{points_to_dots(qr.top)}^BQN,2,{qr.module_dots}^FDMA,{qr.payload}^FS"
    )
    commands.extend(["^PQ1", "^XZ"])
    return "\n".join(commands)
