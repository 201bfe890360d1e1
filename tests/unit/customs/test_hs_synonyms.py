from __future__ import annotations

import datetime as dt

import pytest

from customs.hs.nomenclature import load_nomenclature
from customs.hs.search import HsSearchIndex, query_words, retail_synonyms, search_hs_codes, search_index

ON = dt.date(2026, 11, 1)


@pytest.mark.parametrize(
    ("query", "expected_code"),
    [
        ("wool sweater", "611011"),
        ("laptop", "847130"),
        ("smartphone", "851713"),
        ("lipstick", "330410"),
        ("cotton tshirt", "610910"),
    ],
)
def test_retail_words_find_the_nomenclature_entry(query: str, expected_code: str) -> None:
    codes = [hit.entry.code for hit in search_hs_codes(query, ON, limit=100).hits]
    assert expected_code in codes


def test_every_alternative_of_every_synonym_finds_something_in_hs_2022() -> None:
    index = search_index("HS2022")
    bare = HsSearchIndex(load_nomenclature("HS2022"))
    for word, alternatives in retail_synonyms().items():
        for alternative in alternatives:
            assert bare.search(alternative), f"synonyms.toml: words.{word}: {alternative!r} matches nothing"
        assert index.search(word), word


def test_a_multi_word_alternative_needs_all_its_words() -> None:
    # "laptop" means portable data processing machines, not every entry mentioning "portable".
    codes = {hit.entry.code for hit in search_hs_codes("laptop", ON, limit=100).hits}
    assert codes == {"847130"}


def test_synonyms_widen_but_never_narrow_a_search() -> None:
    with_synonyms = {hit.entry.code for hit in search_index("HS2022").search("shoes")}
    without = {hit.entry.code for hit in HsSearchIndex(load_nomenclature("HS2022")).search("shoes")}
    assert without <= with_synonyms
    assert len(with_synonyms) > len(without)


def test_keys_are_single_query_words() -> None:
    for word in retail_synonyms():
        assert query_words(word) == (word,)
