"""ZPL field escaping: customer text must never turn into printer commands."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from service.documents.zpl import decode_field_hex, field_hex, filled_box, printable, text_field


def test_caret_and_tilde_become_hex_escapes() -> None:
    assert field_hex("Evil^XZ^XA~JA") == "Evil_5EXZ_5EXA_7EJA"


def test_hex_indicator_and_backslash_are_escaped_too() -> None:
    assert field_hex("a_b\\c") == "a_5Fb_5Cc"


def test_non_ascii_is_written_as_utf8_bytes() -> None:
    assert field_hex("Straße") == "Stra_C3_9Fe"
    assert field_hex("東京") == "_E6_9D_B1_E4_BA_AC"


def test_control_characters_and_newlines_collapse_to_single_spaces() -> None:
    assert printable("  Anna\r\n^XA\tMüller\x00 ") == "Anna ^XA Müller"


def test_text_field_wraps_escaped_data_in_one_field() -> None:
    field = text_field(10, 20, 30, "A^B", reverse=True)
    assert field == "^FO10,20^A0N,30,30^FR^FH_^FDA_5EB^FS"


def test_filled_box_border_is_as_thick_as_the_smaller_side() -> None:
    assert filled_box(1, 2, 300, 40) == "^FO1,2^GB300,40,40^FS"


@settings(max_examples=200)
@given(st.text())
def test_escaped_text_has_no_command_prefix_and_decodes_back(text: str) -> None:
    escaped = field_hex(text)
    assert "^" not in escaped
    assert "~" not in escaped
    assert escaped.isascii()
    assert all(0x20 <= ord(c) < 0x7F for c in escaped)
    assert decode_field_hex(escaped).decode("utf-8") == printable(text)
