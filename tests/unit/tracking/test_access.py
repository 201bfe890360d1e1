"""Tracking tokens and what a caller may stream."""

from __future__ import annotations

import datetime as dt

import pytest

from service.auth import Principal
from service.errors import InvalidArgument, PermissionDenied
from service.tracking.access import TOKEN_PREFIX, TrackingTokens, stream_selection

SECRET = b"s" * 48
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _tokens(secret: bytes = SECRET, now: dt.datetime = NOW) -> TrackingTokens:
    return TrackingTokens(secret, validity=dt.timedelta(days=30), clock=lambda: now)


def test_a_token_verifies_to_its_label_scoped_principal() -> None:
    token = _tokens().issue("acme", "lbl_123")
    assert token.startswith(TOKEN_PREFIX)
    assert _tokens().verify(token) == Principal("acme", "lbl_123")


def test_tampered_foreign_and_expired_tokens_are_refused() -> None:
    token = _tokens().issue("acme", "lbl_123")
    _, _, signature = token.removeprefix(TOKEN_PREFIX).partition(".")
    other = _tokens().issue("evil", "lbl_123").removeprefix(TOKEN_PREFIX).partition(".")[0]
    assert _tokens().verify(f"{TOKEN_PREFIX}{other}.{signature}") is None  # payload swapped
    assert _tokens().verify(token[:-2] + ("AA" if token[-2:] != "AA" else "BB")) is None
    assert _tokens(secret=b"t" * 48).verify(token) is None
    assert _tokens(now=NOW + dt.timedelta(days=31)).verify(token) is None
    assert _tokens(now=NOW + dt.timedelta(days=29)).verify(token) is not None
    for junk in ("", "bht_", "bht_abc", "bht_!!.??", "bh_key_secret", TOKEN_PREFIX + "x" * 2000):
        assert _tokens().verify(junk) is None


def test_ids_with_the_separator_are_refused_at_issue() -> None:
    with pytest.raises(ValueError, match="control"):
        _tokens().issue("acme", "lbl\x1fother")


MERCHANT = Principal("acme")
TOKEN = Principal("acme", "lbl_1")


def test_a_token_streams_its_own_label_only() -> None:
    assert stream_selection(TOKEN).label_ids == {"lbl_1"}
    assert stream_selection(TOKEN, label_ids=["lbl_1"]).label_ids == {"lbl_1"}
    for request in ({"label_ids": ["lbl_2"]}, {"tracking_numbers": ["X"]}, {"whole_merchant": True}):
        with pytest.raises(PermissionDenied):
            stream_selection(TOKEN, **request)


def test_a_merchant_picks_labels_numbers_or_everything_of_its_own() -> None:
    assert stream_selection(MERCHANT, label_ids=["a", "b"]).label_ids == {"a", "b"}
    assert stream_selection(MERCHANT, tracking_numbers=["rr 123 de"]).tracking_numbers == {"RR123DE"}
    everything = stream_selection(MERCHANT, whole_merchant=True)
    assert everything.whole_merchant
    assert everything.merchant_id == "acme"
    with pytest.raises(InvalidArgument):
        stream_selection(MERCHANT)
