"""Per-language message catalogues for customer-facing documents, and choosing one from a locale.

Each language is one TOML file in messages/, named by its ISO 639-1 code. English is the reference: every
other file must have exactly its keys and, per key, the same {placeholders}. Problems are reported at load
with the file and the key, so a bad translation fails the first test run instead of a customer's page.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from babel import Locale, UnknownLocaleError

from service.documents.typeface import Script

REFERENCE_LANGUAGE = "en"
_DIRECTORY = "messages"
_DATE_FORMATS = frozenset({"short", "medium", "long", "full"})


class CatalogueError(ValueError):
    """A message catalogue is malformed; the message starts with the file and the key."""


@dataclass(frozen=True, slots=True)
class MessageCatalogue:
    language: str
    script: Script
    date_format: str
    messages: Mapping[str, str]

    def text(self, key: str, **values: str) -> str:
        return self.messages[key].format(**values)


def _placeholders(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name is not None)


def _parse_one(path: str, source: str) -> MessageCatalogue:
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path}: {exc}") from exc
    meta = data.get("meta")
    texts = data.get("text")
    if not isinstance(meta, dict):
        raise CatalogueError(f"{path}: meta: missing table")
    if not isinstance(texts, dict):
        raise CatalogueError(f"{path}: text: missing table")
    language = meta.get("language")
    expected = path.rsplit("/", 1)[-1].removesuffix(".toml")
    if language != expected:
        raise CatalogueError(f"{path}: meta.language: {language!r} does not match the file name")
    try:
        script = Script(str(meta.get("script")))
    except ValueError as exc:
        choices = ", ".join(s.value for s in Script)
        raise CatalogueError(f"{path}: meta.script: expected one of {choices}") from exc
    date_format = meta.get("date_format")
    if date_format not in _DATE_FORMATS:
        raise CatalogueError(f"{path}: meta.date_format: expected one of {', '.join(sorted(_DATE_FORMATS))}")
    messages: dict[str, str] = {}
    for key, value in texts.items():
        if not isinstance(value, str) or not value.strip():
            raise CatalogueError(f"{path}: text.{key}: expected a non-empty string")
        try:
            _placeholders(value)
        except ValueError as exc:
            raise CatalogueError(f"{path}: text.{key}: {exc}") from exc
        messages[key] = value
    return MessageCatalogue(language, script, date_format, messages)


def _check_against_reference(catalogue: MessageCatalogue, path: str, reference: MessageCatalogue) -> None:
    for key, template in reference.messages.items():
        if key not in catalogue.messages:
            raise CatalogueError(f"{path}: text.{key}: missing")
        expected, found = _placeholders(template), _placeholders(catalogue.messages[key])
        if expected != found:
            raise CatalogueError(
                f"{path}: text.{key}: placeholders {_listed(found)} "
                f"differ from the reference {_listed(expected)}"
            )
    for key in catalogue.messages.keys() - reference.messages.keys():
        raise CatalogueError(f"{path}: text.{key}: not in the reference catalogue {REFERENCE_LANGUAGE}.toml")


def _listed(names: frozenset[str]) -> str:
    return ", ".join(f"{{{name}}}" for name in sorted(names)) or "(none)"


def parse_catalogues(sources: Mapping[str, str]) -> dict[str, MessageCatalogue]:
    """Parse and cross-check catalogues given as {path: TOML text}; CatalogueError on the first fault."""
    parsed = {path: _parse_one(path, source) for path, source in sorted(sources.items())}
    by_language = {catalogue.language: (path, catalogue) for path, catalogue in parsed.items()}
    if REFERENCE_LANGUAGE not in by_language:
        raise CatalogueError(f"{_DIRECTORY}/{REFERENCE_LANGUAGE}.toml: missing reference catalogue")
    _, reference = by_language[REFERENCE_LANGUAGE]
    for path, catalogue in parsed.items():
        _check_against_reference(catalogue, path, reference)
    return {language: catalogue for language, (_, catalogue) in by_language.items()}


@cache
def catalogues() -> dict[str, MessageCatalogue]:
    """The packaged catalogues by language code."""
    directory = files("service.documents").joinpath(_DIRECTORY)
    sources: dict[str, str] = {}
    for entry in directory.iterdir():
        if entry.name.endswith(".toml"):
            sources[f"{_DIRECTORY}/{entry.name}"] = entry.read_text(encoding="utf-8")
    return parse_catalogues(sources)


def supported_languages() -> tuple[str, ...]:
    return tuple(sorted(catalogues()))


def _parse_locale(tag: str) -> Locale | None:
    identifier = tag.strip().replace("-", "_")
    if not identifier:
        return None
    try:
        return Locale.parse(identifier)
    except (ValueError, UnknownLocaleError):
        pass
    try:  # an unknown region or script: the language alone still says which text to use
        return Locale.parse(identifier.split("_", 1)[0])
    except (ValueError, UnknownLocaleError):
        return None


def resolve_locale(tag: str) -> tuple[MessageCatalogue, Locale]:
    """The catalogue for the customer's language and the babel locale to format dates and money with.

    The full locale formats (de-AT writes "€ 12,50", de-DE "12,50 €"); a language without a catalogue falls
    back to English text formatted as English, so words and numbers on the page agree.
    """
    available = catalogues()
    locale = _parse_locale(tag)
    if locale is not None and locale.language in available:
        return available[locale.language], locale
    return available[REFERENCE_LANGUAGE], Locale.parse(REFERENCE_LANGUAGE)
