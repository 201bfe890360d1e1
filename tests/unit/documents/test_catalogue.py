"""Message catalogues: complete, consistent, and chosen from the customer's locale."""

from __future__ import annotations

from importlib.resources import files

import pytest

from service.documents.catalogue import (
    CatalogueError,
    catalogues,
    parse_catalogues,
    resolve_locale,
    supported_languages,
)

REQUIRED_LANGUAGES = {"en", "de", "fr", "es", "it", "nl", "ja"}


def _packaged_sources() -> dict[str, str]:
    directory = files("service.documents").joinpath("messages")
    return {
        f"messages/{entry.name}": entry.read_text(encoding="utf-8")
        for entry in directory.iterdir()
        if entry.name.endswith(".toml")
    }


def test_required_languages_are_shipped() -> None:
    assert set(supported_languages()) >= REQUIRED_LANGUAGES


def test_every_language_has_every_key_of_english() -> None:
    reference = set(catalogues()["en"].messages)
    for language, catalogue in catalogues().items():
        assert set(catalogue.messages) == reference, language


def test_translations_differ_from_english() -> None:
    english = catalogues()["en"].messages
    for language, catalogue in catalogues().items():
        if language == "en":
            continue
        same = [key for key, text in catalogue.messages.items() if text == english[key]]
        assert same == [], f"{language} leaves {same} in English"


def _with(sources: dict[str, str], path: str, old: str, new: str) -> dict[str, str]:
    assert old in sources[path]
    return {**sources, path: sources[path].replace(old, new)}


def test_missing_key_is_reported_with_file_and_key() -> None:
    sources = _packaged_sources()
    broken = _with(
        sources, "messages/de.toml", 'cost_free = "Diese Rücksendung ist für Sie kostenlos."\n', ""
    )
    with pytest.raises(CatalogueError, match=r"^messages/de\.toml: text\.cost_free: missing$"):
        parse_catalogues(broken)


def test_unknown_key_is_reported() -> None:
    sources = _packaged_sources()
    broken = _with(sources, "messages/it.toml", "[text]\n", '[text]\nsurprise = "Sorpresa"\n')
    with pytest.raises(CatalogueError, match=r"^messages/it\.toml: text\.surprise: not in the reference"):
        parse_catalogues(broken)


def test_renamed_placeholder_is_reported() -> None:
    sources = _packaged_sources()
    broken = _with(sources, "messages/fr.toml", "vous coûte {amount}", "vous coûte {montant}")
    with pytest.raises(
        CatalogueError,
        match=r"^messages/fr\.toml: text\.cost_paid: placeholders \{montant\} differ .*\{amount\}",
    ):
        parse_catalogues(broken)


def test_language_must_match_file_name() -> None:
    sources = _packaged_sources()
    broken = _with(sources, "messages/nl.toml", 'language = "nl"', 'language = "de"')
    with pytest.raises(CatalogueError, match=r"^messages/nl\.toml: meta\.language: 'de' does not match"):
        parse_catalogues(broken)


def test_unknown_date_format_is_reported() -> None:
    sources = _packaged_sources()
    broken = _with(sources, "messages/es.toml", 'date_format = "long"', 'date_format = "fancy"')
    with pytest.raises(CatalogueError, match=r"^messages/es\.toml: meta\.date_format: expected one of"):
        parse_catalogues(broken)


def test_toml_syntax_error_names_the_file() -> None:
    sources = {**_packaged_sources(), "messages/ja.toml": "[meta\n"}
    with pytest.raises(CatalogueError, match=r"^messages/ja\.toml: "):
        parse_catalogues(sources)


@pytest.mark.parametrize(
    ("tag", "language", "formatting"),
    [
        ("de-AT", "de", "de_AT"),
        ("de_DE", "de", "de_DE"),
        ("ja-JP", "ja", "ja_JP"),
        ("fr-CA", "fr", "fr_CA"),
        ("nl-BE", "nl", "nl_BE"),
        ("es", "es", "es"),
        ("it-CH", "it", "it_CH"),
        ("fr-XX", "fr", "fr"),  # unknown region: the language still counts
        ("pt-BR", "en", "en"),  # no Portuguese catalogue: English, formatted as English
        ("zz", "en", "en"),
        ("", "en", "en"),
    ],
)
def test_locale_resolution(tag: str, language: str, formatting: str) -> None:
    catalogue, locale = resolve_locale(tag)
    assert catalogue.language == language
    assert str(locale) == formatting
