"""Writing ZPL II safely: text from customers never becomes a printer command.

ZPL starts a format command with ^ and a control command with ~, anywhere in the stream, even inside field
data. Every text field is therefore written with ^FH (field hexadecimal): the text is encoded as UTF-8
(the printer is switched to UTF-8 with ^CI28) and every byte that is not plain printable ASCII, and every
^ ~ _ (the hex indicator itself) and backslash, is written as _XX. Control characters become spaces.
"""

from __future__ import annotations

import re
import unicodedata

HEX_INDICATOR = "_"
_PASSES_AS_IS = frozenset(range(0x20, 0x7F)) - {ord("^"), ord("~"), ord(HEX_INDICATOR), ord("\\")}
_WHITESPACE = re.compile(r"\s+")


def printable(text: str) -> str:
    """One line of text: control and format characters replaced by spaces, runs of whitespace collapsed."""
    cleaned = "".join(" " if unicodedata.category(char).startswith("C") else char for char in text)
    return _WHITESPACE.sub(" ", cleaned).strip()


def field_hex(text: str) -> str:
    """Field data for a ^FH field: printable ASCII as is, everything else as _XX per UTF-8 byte."""
    return "".join(
        chr(byte) if byte in _PASSES_AS_IS else f"{HEX_INDICATOR}{byte:02X}"
        for byte in printable(text).encode()
    )


def decode_field_hex(data: str) -> bytes:
    """What the printer makes of ^FH field data: the inverse of field_hex, for checking it."""
    out = bytearray()
    index = 0
    while index < len(data):
        if data[index] == HEX_INDICATOR:
            out.append(int(data[index + 1 : index + 3], 16))
            index += 3
        else:
            out.append(ord(data[index]))
            index += 1
    return bytes(out)


def text_field(x: int, y: int, height: int, text: str, *, reverse: bool = False) -> str:
    """A text field in the printer's scalable font 0 at (x, y) dots, `height` dots tall."""
    width = height  # font 0 is already condensed; equal height and width keep its designed proportions
    reverse_command = "^FR" if reverse else ""
    return f"^FO{x},{y}^A0N,{height},{width}{reverse_command}^FH{HEX_INDICATOR}^FD{field_hex(text)}^FS"


def filled_box(x: int, y: int, width: int, height: int) -> str:
    # A border as thick as the box's smaller side fills it.
    return f"^FO{x},{y}^GB{width},{height},{min(width, height)}^FS"
