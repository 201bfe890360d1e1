"""The Harmonized System nomenclature by edition: code validation, hierarchy lookup and text search."""

from customs.hs.code import DECLARABLE_LENGTHS, HsCode, HsCodeProblem, InvalidHsCode, normalize_hs_digits
from customs.hs.editions import HsDataError, HsEdition, HsEditionUnavailable, edition_in_force, hs_editions
from customs.hs.nomenclature import (
    HsClassification,
    HsEntry,
    HsLevel,
    HsSection,
    Nomenclature,
    load_nomenclature,
    lookup_hs_code,
    nomenclature_in_force,
    validate_hs_code,
)
from customs.hs.search import (
    MAX_PAGE_SIZE,
    HsMatch,
    HsSearchHit,
    HsSearchPage,
    InvalidHsQuery,
    search_hs_codes,
)

__all__ = [
    "DECLARABLE_LENGTHS",
    "MAX_PAGE_SIZE",
    "HsClassification",
    "HsCode",
    "HsCodeProblem",
    "HsDataError",
    "HsEdition",
    "HsEditionUnavailable",
    "HsEntry",
    "HsLevel",
    "HsMatch",
    "HsSearchHit",
    "HsSearchPage",
    "HsSection",
    "InvalidHsCode",
    "InvalidHsQuery",
    "Nomenclature",
    "edition_in_force",
    "hs_editions",
    "load_nomenclature",
    "lookup_hs_code",
    "nomenclature_in_force",
    "normalize_hs_digits",
    "search_hs_codes",
    "validate_hs_code",
]
