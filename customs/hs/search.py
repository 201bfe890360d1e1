"""Text search over an HS edition, with a small inverted index built once per edition.

Ranking, best first:
1. code-prefix matches: the query, without dots and spaces, is all digits and a code starts with it
   ("6109" or "61.09" gives 6109, 610910, 610990); for 8 or 10 digits, the 6-digit subheading they extend;
2. description matches: every query word is the start of some word of the description, case-insensitively
   ("shirt" matches "shirts" and the parts of "T-shirts"; "t-shirt" matches "T-shirts" whole), or matches
   through one of its retail synonyms (customs/data/hs/synonyms.toml: "sweater" finds "pullovers").
Within each group: chapters, then headings, then subheadings; then (descriptions only) more description
words hit by a query word; then code.
An entry appears once, in the best group it qualifies for.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from customs.hs.editions import HsDataError, hs_data_dir
from customs.hs.nomenclature import HsEntry, HsLevel, Nomenclature, load_nomenclature, nomenclature_in_force

MAX_PAGE_SIZE = 100
SYNONYMS_FILE = "customs/data/hs/synonyms.toml"
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_APOSTROPHES = str.maketrans("", "", "'\u2019")
_CODE_QUERY = re.compile(r"[0-9][0-9. ]*")
_LEVEL_RANK = {HsLevel.CHAPTER: 0, HsLevel.HEADING: 1, HsLevel.SUBHEADING: 2}


class InvalidHsQuery(ValueError):
    """A search argument is unusable; `field` names it (query, limit, offset)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class HsMatch(StrEnum):
    CODE_PREFIX = "code_prefix"
    DESCRIPTION = "description"


@dataclass(frozen=True, slots=True)
class HsSearchHit:
    entry: HsEntry
    match: HsMatch
    word_hits: int  # description words matched by a query word (0 for a code match without word hits)


@dataclass(frozen=True, slots=True)
class HsSearchPage:
    query: str
    edition: str
    total: int  # matches over all pages
    offset: int
    hits: tuple[HsSearchHit, ...]

    @property
    def next_offset(self) -> int | None:
        """Where the next page starts, or None on the last page."""
        end = self.offset + len(self.hits)
        return end if end < self.total else None


def _fold(text: str) -> str:
    return text.casefold().translate(_APOSTROPHES)


def description_words(text: str) -> tuple[tuple[str, ...], ...]:
    """The words of a description, each with its searchable forms: a hyphenated compound is searchable
    whole and by its parts ("t-shirts", "t", "shirts") but counts as one word when ranking."""
    forms: list[tuple[str, ...]] = []
    for match in _WORD.finditer(_fold(text)):
        word = match.group()
        forms.append((word, *word.split("-")) if "-" in word else (word,))
    return tuple(forms)


def query_words(text: str) -> tuple[str, ...]:
    """Distinct words of a query, in order; compounds stay whole so "t-shirt" means T-shirts."""
    return tuple(dict.fromkeys(m.group() for m in _WORD.finditer(_fold(text))))


class HsSearchIndex:
    """Word -> entries postings over one edition, with a sorted vocabulary for prefix matching."""

    def __init__(
        self, nomenclature: Nomenclature, synonyms: Mapping[str, tuple[str, ...]] | None = None
    ) -> None:
        # query word -> alternatives, each alternative a tuple of words that must all match
        self._synonyms = {
            word: tuple(query_words(alt) for alt in alts) for word, alts in (synonyms or {}).items()
        }
        self.edition = nomenclature.edition.name
        self._entries = tuple(nomenclature.entries.values())
        self._codes = sorted(e.code for e in self._entries)
        self._position = {e.code: i for i, e in enumerate(self._entries)}
        self._words = tuple(description_words(e.description) for e in self._entries)
        postings: dict[str, set[int]] = {}
        for index, words in enumerate(self._words):
            for forms in words:
                for form in forms:
                    postings.setdefault(form, set()).add(index)
        self._vocabulary = sorted(postings)
        self._postings = {word: frozenset(ids) for word, ids in postings.items()}

    def _vocabulary_with_prefix(self, prefix: str) -> list[str]:
        start = bisect.bisect_left(self._vocabulary, prefix)
        end = start
        while end < len(self._vocabulary) and self._vocabulary[end].startswith(prefix):
            end += 1
        return self._vocabulary[start:end]

    def _entries_with(self, vocabulary: Iterable[str]) -> set[int]:
        found: set[int] = set()
        for word in vocabulary:
            found |= self._postings[word]
        return found

    def _code_matches(self, digits: str) -> list[HsEntry]:
        if len(digits) > 6:
            position = self._position.get(digits[:6])
            return [] if position is None else [self._entries[position]]
        start = bisect.bisect_left(self._codes, digits)
        matches: list[HsEntry] = []
        for code in self._codes[start:]:
            if not code.startswith(digits):
                break
            matches.append(self._entries[self._position[code]])
        return matches

    def _word_matches(self, word: str) -> tuple[set[int], list[str]]:
        """Entries a query word matches (itself or through a synonym), and the vocabulary it matched."""
        vocabulary = self._vocabulary_with_prefix(word)
        ids = self._entries_with(vocabulary)
        for alternative in self._synonyms.get(word, ()):
            per_part = [self._vocabulary_with_prefix(part) for part in alternative]
            alternative_ids = self._entries_with(per_part[0])
            for part_vocabulary in per_part[1:]:
                alternative_ids &= self._entries_with(part_vocabulary)
            if alternative_ids:
                ids |= alternative_ids
                vocabulary.extend(v for part_vocabulary in per_part for v in part_vocabulary)
        return ids, vocabulary

    def _word_hits(self, index: int, matched: frozenset[str]) -> int:
        """Description words of the entry that some query word matched (a compound counts once)."""
        return sum(1 for forms in self._words[index] if not matched.isdisjoint(forms))

    def search(self, query: str) -> list[HsSearchHit]:
        """Every match, ranked (see the module docstring)."""
        code_query = _CODE_QUERY.fullmatch(query.strip()) is not None
        words = (query.replace(".", "").replace(" ", ""),) if code_query else query_words(query)
        code_hits = self._code_matches(words[0]) if code_query else []
        per_word = [self._word_matches(word) for word in words]
        matched = frozenset(v for _, vocabulary in per_word for v in vocabulary)
        word_ids = set(per_word[0][0]) if per_word else set()
        for ids, _ in per_word[1:]:
            word_ids &= ids
        code_set = {e.code for e in code_hits}

        def rank(hit: HsSearchHit) -> tuple[int, int, int, str]:
            if hit.match is HsMatch.CODE_PREFIX:
                return (0, _LEVEL_RANK[hit.entry.level], 0, hit.entry.code)
            return (1, _LEVEL_RANK[hit.entry.level], -hit.word_hits, hit.entry.code)

        hits = [
            HsSearchHit(e, HsMatch.CODE_PREFIX, self._word_hits(self._position[e.code], matched))
            for e in code_hits
        ]
        hits.extend(
            HsSearchHit(self._entries[i], HsMatch.DESCRIPTION, self._word_hits(i, matched))
            for i in word_ids
            if self._entries[i].code not in code_set
        )
        return sorted(hits, key=rank)


@cache
def retail_synonyms() -> dict[str, tuple[str, ...]]:
    """customs/data/hs/synonyms.toml, validated: query word -> alternatives."""
    data = tomllib.loads(hs_data_dir().joinpath("synonyms.toml").read_text(encoding="utf-8"))
    words = data.get("words")
    if not isinstance(words, dict):
        raise HsDataError(f"{SYNONYMS_FILE}: words: must be a table of word = [alternatives]")
    synonyms: dict[str, tuple[str, ...]] = {}
    for word, alternatives in words.items():
        if query_words(word) != (word,):
            raise HsDataError(f"{SYNONYMS_FILE}: words.{word}: a key must be one lower-case word")
        if (
            not isinstance(alternatives, list)
            or not alternatives
            or not all(isinstance(a, str) and query_words(a) for a in alternatives)
        ):
            raise HsDataError(f"{SYNONYMS_FILE}: words.{word}: must be a non-empty list of words or phrases")
        synonyms[word] = tuple(alternatives)
    return synonyms


@cache
def search_index(edition_name: str) -> HsSearchIndex:
    return HsSearchIndex(load_nomenclature(edition_name), retail_synonyms())


def search_hs_codes(query: str, on: dt.date, *, limit: int = 20, offset: int = 0) -> HsSearchPage:
    """One page of entries of the edition in force on `on` matching `query`, best first."""
    if not query_words(query):
        raise InvalidHsQuery("query", "give words of a description or the start of a code")
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidHsQuery("limit", f"must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    if offset < 0:
        raise InvalidHsQuery("offset", f"must not be negative, got {offset}")
    index = search_index(nomenclature_in_force(on).edition.name)
    ranked = index.search(query)
    return HsSearchPage(
        query=query,
        edition=index.edition,
        total=len(ranked),
        offset=offset,
        hits=tuple(ranked[offset : offset + limit]),
    )
