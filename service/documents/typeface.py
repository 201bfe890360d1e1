"""Fonts for documents that carry names and addresses from anywhere.

Latin, Greek and Cyrillic text is set in DejaVu Sans, embedded (subset) from the copy matplotlib ships, so
a Polish or Czech name prints as written on any viewer. Kana, kanji and full-width forms use the Adobe-Japan1
font HeiseiKakuGo-W5, which reportlab references without embedding (viewers supply it, as the PDF standard
intends for its standard CJK collections). Text is split into runs, each in a font that can draw it.
"""

from __future__ import annotations

import importlib.util
import unicodedata
from enum import StrEnum
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

LATIN = "DejaVuSans"
LATIN_BOLD = "DejaVuSans-Bold"
JAPANESE = "HeiseiKakuGo-W5"
LEADING = 1.2  # line spacing as a multiple of the font size


class Script(StrEnum):
    """How a language breaks lines: Latin at spaces, Japanese between almost any two characters."""

    LATIN = "latin"
    JAPANESE = "japanese"


def _matplotlib_font(file_name: str) -> Path:
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("matplotlib is not installed; its DejaVu fonts are needed to render documents")
    path = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf" / file_name
    if not path.is_file():
        raise RuntimeError(f"font file missing: {path}")
    return path


@cache
def _latin_glyphs() -> frozenset[int]:
    register_fonts()
    font = pdfmetrics.getFont(LATIN)
    return frozenset(font.face.charToGlyph)


@cache
def register_fonts() -> None:
    """Register the document fonts with reportlab once per process."""
    pdfmetrics.registerFont(TTFont(LATIN, str(_matplotlib_font("DejaVuSans.ttf"))))
    pdfmetrics.registerFont(TTFont(LATIN_BOLD, str(_matplotlib_font("DejaVuSans-Bold.ttf"))))
    pdfmetrics.registerFont(UnicodeCIDFont(JAPANESE))


def _is_east_asian(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F", "H")


def _font_for(char: str, bold: bool) -> str:
    # Kana, kanji and full-width forms go to the Japanese font; everything else to embedded DejaVu, whose
    # Latin metrics are exact on every viewer; what DejaVu lacks falls back to the Japanese font.
    if not _is_east_asian(char) and ord(char) in _latin_glyphs():
        return LATIN_BOLD if bold else LATIN
    return JAPANESE


def font_runs(text: str, bold: bool = False) -> list[tuple[str, str]]:
    """Split text into (font name, characters) runs, each drawable by its font."""
    runs: list[tuple[str, str]] = []
    for char in text:
        font = _font_for(char, bold)
        if runs and runs[-1][0] == font:
            runs[-1] = (font, runs[-1][1] + char)
        else:
            runs.append((font, char))
    return runs


def markup(text: str, bold: bool = False) -> str:
    """Paragraph markup for plain text: escaped, each run in its font."""
    return "".join(f'<font face="{font}">{escape(chunk)}</font>' for font, chunk in font_runs(text, bold))


def text_width(text: str, size: float, bold: bool = False) -> float:
    runs = font_runs(text, bold)
    return float(sum(pdfmetrics.stringWidth(chunk, font, size) for font, chunk in runs))


def _split_long_word(word: str, width: float, size: float, bold: bool) -> list[str]:
    pieces: list[str] = []
    current = ""
    for char in word:
        if current and text_width(current + char, size, bold) > width:
            pieces.append(current)
            current = char
        else:
            current += char
    return [*pieces, current] if current else pieces


def wrap_text(text: str, width: float, size: float, bold: bool = False) -> list[str]:
    """Greedy line breaking at spaces; a word wider than the line (or unspaced CJK) breaks anywhere."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, size, bold) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        pieces = _split_long_word(word, width, size, bold)
        lines.extend(pieces[:-1])
        current = pieces[-1]
    if current:
        lines.append(current)
    return lines


def fit_lines(
    lines: list[str],
    width: float,
    height: float,
    size: float,
    min_size: float,
    bold: bool = False,
) -> tuple[float, list[str]]:
    """The largest size (stepping down by half a point) at which the wrapped lines fit a box.

    Lines are spaced at LEADING times the size. If even `min_size` is too big, the lines past the box are cut
    and the last one ends in an ellipsis: a label prints what fits rather than overprinting what is below.
    """
    current = size
    while True:
        max_lines = max(1, int(height // (current * LEADING)))
        wrapped = [piece for line in lines for piece in wrap_text(line, width, current, bold)]
        if len(wrapped) <= max_lines or current <= min_size:
            break
        current = max(min_size, current - 0.5)
    if len(wrapped) > max_lines:
        last = wrapped[max_lines - 1]
        while last and text_width(last + "…", current, bold) > width:
            last = last[:-1]
        wrapped = [*wrapped[: max_lines - 1], last + "…"]
    return current, wrapped
