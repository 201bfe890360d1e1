"""ListReturnLabels page tokens and page sizes."""

from __future__ import annotations

import datetime as dt

import pytest

from service.errors import InvalidArgument
from service.labels.model import LabelQuery, LabelStatus
from service.labels.paging import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    decode_page_token,
    encode_page_token,
    page_size,
)
from service.labels.repository import PageCursor

QUERY = LabelQuery(statuses=frozenset({LabelStatus.PURCHASED}), carrier_account_ids=frozenset({"sandbox"}))
CURSOR = PageCursor(dt.datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=dt.UTC), "a" * 32)


def test_a_token_names_the_last_label_of_its_page() -> None:
    assert decode_page_token(encode_page_token(CURSOR, QUERY), QUERY) == CURSOR
    assert decode_page_token("", QUERY) is None


def test_a_token_is_refused_with_other_filters() -> None:
    token = encode_page_token(CURSOR, QUERY)
    other = LabelQuery(statuses=frozenset({LabelStatus.VOIDED}), carrier_account_ids=frozenset({"sandbox"}))
    with pytest.raises(InvalidArgument) as refused:
        decode_page_token(token, other)
    assert refused.value.violations[0].field == "page_token"
    assert "other filters" in refused.value.violations[0].description


@pytest.mark.parametrize("token", ["garbage", "eyJ2IjoyfQ", encode_page_token(CURSOR, QUERY)[:-3]])
def test_a_malformed_token_is_refused(token: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        decode_page_token(token, QUERY)
    assert refused.value.violations[0].field == "page_token"


def test_page_sizes_default_cap_and_refuse_negatives() -> None:
    assert page_size(0) == DEFAULT_PAGE_SIZE == 50
    assert page_size(7) == 7
    assert page_size(10_000) == MAX_PAGE_SIZE == 500
    with pytest.raises(InvalidArgument):
        page_size(-1)
