"""The return-instructions page in the customer's language, read back with poppler."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pytest

from customs.money import Money
from service.documents.instructions import render_return_instructions
from service.documents.model import DocumentKind, Handover, InstructionsDocument, InvalidDocumentInput

from .conftest import TRACKING, pdf_pages_as_png, pdf_text


def _squeezed(text: str) -> str:
    # Line breaks fall anywhere (inside dates, between kanji); compare without any whitespace.
    return re.sub(r"\s+", "", text)


def _text(document: InstructionsDocument, tmp_path: Path) -> str:
    return _squeezed(pdf_text(render_return_instructions(document).data, tmp_path))


# Deadline 2026-12-31 and a cost of EUR 12.50, as each locale writes them.
LANGUAGES = [
    ("en-GB", "Track your parcel", "31 December 2026", "€12.50"),
    ("de-DE", "Sendung verfolgen", "31.12.2026", "12,50 €"),
    ("de-AT", "Sendung verfolgen", "31.12.2026", "€ 12,50"),
    ("fr-FR", "Suivre le colis", "31 décembre 2026", "12,50 €"),
    ("es-ES", "Sigue tu paquete", "31 de diciembre de 2026", "12,50 €"),
    ("it-IT", "Segui il pacco", "31 dicembre 2026", "12,50 €"),
    ("nl-NL", "Pakket volgen", "31 december 2026", "€ 12,50"),
    ("ja-JP", "配送状況の確認", "2026年12月31日", "€12.50"),
]


@pytest.mark.parametrize(("locale", "word", "deadline", "amount"), LANGUAGES)
def test_page_is_in_the_customers_language_with_local_formats(
    instructions: InstructionsDocument, tmp_path: Path, locale: str, word: str, deadline: str, amount: str
) -> None:
    rendered = render_return_instructions(dataclasses.replace(instructions, locale=locale))
    assert rendered.kind is DocumentKind.RETURN_INSTRUCTIONS
    assert rendered.filename == f"return-instructions-{TRACKING}-{locale[:2]}.pdf"
    pages = pdf_pages_as_png(rendered.data, tmp_path)
    assert len(pages) == 1, "the instructions must fit one printed page"
    text = _squeezed(pdf_text(rendered.data, tmp_path))
    assert _squeezed(word) in text
    assert _squeezed(deadline) in text
    assert _squeezed(amount) in text
    assert TRACKING in text
    assert f"https://track.example.com/t/{TRACKING}" in text


def test_japanese_page_is_written_in_japanese(instructions: InstructionsDocument, tmp_path: Path) -> None:
    text = _text(dataclasses.replace(instructions, locale="ja-JP", customer_name="山田 太郎"), tmp_path)
    assert "返品のご案内" in text
    assert "山田太郎様" in text
    assert "ドイツ" in text  # the hub's country, named in Japanese
    assert sum("\u3040" <= char <= "\u30ff" for char in text) > 100  # kana


def test_yen_amounts_have_no_decimals_in_japanese(instructions: InstructionsDocument, tmp_path: Path) -> None:
    yen = dataclasses.replace(instructions, locale="ja-JP", customer_cost=Money.of("1250", "JPY"))
    assert "￥1,250" in _text(yen, tmp_path)


def test_unsupported_language_falls_back_to_english(
    instructions: InstructionsDocument, tmp_path: Path
) -> None:
    rendered = render_return_instructions(dataclasses.replace(instructions, locale="pt-BR"))
    assert rendered.filename.endswith("-en.pdf")
    text = _squeezed(pdf_text(rendered.data, tmp_path))
    assert "Trackyourparcel" in text
    assert "December31,2026" in text


def test_free_return_says_so(instructions: InstructionsDocument, tmp_path: Path) -> None:
    free = dataclasses.replace(instructions, locale="de-DE", customer_cost=Money.zero("EUR"))
    text = _text(free, tmp_path)
    assert "DieseRücksendungistfürSiekostenlos." in text
    assert "kostetSie" not in text


def test_booked_pickup_replaces_the_drop_off(instructions: InstructionsDocument, tmp_path: Path) -> None:
    pickup = dataclasses.replace(
        instructions, locale="de-DE", handover=Handover.PICKUP, pickup_date=dt.date(2026, 11, 20)
    )
    text = _text(pickup, tmp_path)
    assert "NordicParcelPartnersholtdasPaketam20.11.2026beiIhnenab." in text
    assert "Annahmestelle" not in text


def test_drop_off_names_the_carrier(instructions: InstructionsDocument, tmp_path: Path) -> None:
    text = _text(dataclasses.replace(instructions, locale="fr-FR"), tmp_path)
    assert "Déposezlecolisdansunpointdedépôt" in text
    assert "NordicParcelPartners" in text


def test_customs_pouch_paragraph_only_for_cross_border(
    instructions: InstructionsDocument, tmp_path: Path
) -> None:
    assert "CN23" in _text(instructions, tmp_path)
    assert "CN23" not in _text(dataclasses.replace(instructions, cross_border=False), tmp_path)


def test_destination_hub_address_is_printed(instructions: InstructionsDocument, tmp_path: Path) -> None:
    text = _text(dataclasses.replace(instructions, locale="en-GB"), tmp_path)
    assert "BackhaulEUReturnsHub" in text
    assert "04109Leipzig" in text
    assert "Germany" in text


def test_customer_text_cannot_inject_markup(instructions: InstructionsDocument, tmp_path: Path) -> None:
    hostile = dataclasses.replace(instructions, customer_name='<font size="40">Big</font> & <b>Co</b>')
    assert _squeezed('<font size="40">Big</font> & <b>Co</b>') in _text(hostile, tmp_path)


def test_same_input_gives_identical_bytes(instructions: InstructionsDocument) -> None:
    assert render_return_instructions(instructions).data == render_return_instructions(instructions).data


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"handover": Handover.PICKUP}, "pickup_date"),
        ({"pickup_date": dt.date(2026, 11, 20)}, "pickup_date"),
        ({"tracking_url": "javascript:alert(1)"}, "tracking_url"),
        ({"customer_cost": Money.of("-1", "EUR")}, "customer_cost"),
        ({"tracking_number": "A B"}, "tracking_number"),
    ],
)
def test_bad_instructions_input_names_the_field(
    instructions: InstructionsDocument, change: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidDocumentInput) as raised:
        dataclasses.replace(instructions, **change)  # type: ignore[arg-type]
    assert raised.value.field == field
