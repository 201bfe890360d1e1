"""The tracking link printed on return instructions when the carrier gives none."""

from __future__ import annotations

import pytest

from service.config import default_data_file
from service.labels.paperwork import LabelPaperwork
from service.quoting.policy import load_return_policies

POLICIES = load_return_policies(default_data_file("return_policies.toml"))


class CountingTokens:
    def __init__(self) -> None:
        self.issued: list[tuple[str, str]] = []

    def issue(self, merchant_id: str, label_id: str) -> str:
        self.issued.append((merchant_id, label_id))
        return f"bht_{merchant_id}.{label_id}"


def test_the_link_names_the_labels_tracking_token() -> None:
    tokens = CountingTokens()
    paperwork = LabelPaperwork(
        policies=POLICIES,
        tracking_page_url="https://returns.example.com/track/{tracking_token}",
        tracking_tokens=tokens,
    )
    url = paperwork.tracking_url("merchant-a", "lbl_1", "RR123456785DE")
    assert url == "https://returns.example.com/track/bht_merchant-a.lbl_1"
    assert tokens.issued == [("merchant-a", "lbl_1")]


def test_no_token_is_issued_for_a_link_without_one() -> None:
    tokens = CountingTokens()
    paperwork = LabelPaperwork(
        policies=POLICIES,
        tracking_page_url="https://track.example.com/{tracking_number}?label={label_id}",
        tracking_tokens=tokens,
    )
    url = paperwork.tracking_url("merchant-a", "lbl/1", "RR 123")
    assert url == "https://track.example.com/RR%20123?label=lbl%2F1"
    assert tokens.issued == []


def test_a_link_naming_the_token_needs_an_issuer() -> None:
    with pytest.raises(ValueError, match="tracking token issuer"):
        LabelPaperwork(policies=POLICIES, tracking_page_url="https://t.example/{tracking_token}")
