"""The reclaim estimate a label carries: a summary of the claims recorded with it."""

from __future__ import annotations

import dataclasses
import datetime as dt

from customs.goods import ItemCondition, ReturnReason
from customs.money import Money
from customs.reclaim import ClaimStatus
from service.reclaim.label_summary import summarize
from service.reclaim.model import StoredClaim

CREATED = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)

BASE = StoredClaim(
    id="clm_1",
    merchant_id="m",
    label_id="lbl_1",
    group_key="wrong_size/new_unopened",
    regime_id="us-1313j1",
    status=ClaimStatus.ESTIMATED,
    revision=1,
    market="US",
    import_country="US",
    entry_number="ABC-1234567-8",
    import_date=dt.date(2026, 10, 1),
    debt_notified_on=dt.date(2026, 10, 1),
    rules_date=dt.date(2026, 10, 1),
    destination_country="CA",
    refundable=(),
    refundable_total=Money.of("31.68", "USD"),
    amounts_estimated=False,
    basis_confirmed=True,
    unconfirmed_points=(),
    export_date=None,
    export_proven=False,
    export_deadline=dt.date(2029, 10, 1),
    filing_deadline=dt.date(2031, 10, 1),
    evidence=(),
    filing_reference="",
    warnings=(),
    return_reason=ReturnReason.WRONG_SIZE,
    item_condition=ItemCondition.NEW_UNOPENED,
    skus=("JACKET-1",),
    tracking_number="SB000000000001",
    created_at=CREATED,
    updated_at=CREATED,
)


def test_a_label_without_claims_has_no_estimate() -> None:
    assert summarize([]) is None


def test_records_saying_no_regime_applies_are_not_an_estimate() -> None:
    not_eligible = dataclasses.replace(
        BASE, regime_id=None, status=ClaimStatus.NOT_ELIGIBLE, refundable_total=Money.of("0", "USD")
    )
    assert summarize([not_eligible]) is None


def test_one_claim_is_summarised_as_it_is() -> None:
    summary = summarize([BASE])
    assert summary is not None
    assert (summary.claim_id, summary.regime_id) == ("clm_1", "us-1313j1")
    assert summary.claim_ids == ("clm_1",)
    assert summary.status is ClaimStatus.ESTIMATED
    assert summary.refundable_total == Money.of("31.68", "USD")
    assert summary.filing_deadline == dt.date(2031, 10, 1)
    assert not summary.estimated


def test_several_claims_add_up_name_the_first_and_the_earliest_deadline() -> None:
    second = dataclasses.replace(
        BASE,
        id="clm_2",
        group_key="defective/defective",
        regime_id="us-1313c",
        status=ClaimStatus.READY_TO_FILE,
        refundable_total=Money.of("10.02", "USD"),
        amounts_estimated=True,
        filing_deadline=dt.date(2029, 4, 1),
    )
    not_eligible = dataclasses.replace(BASE, id="clm_3", regime_id=None, status=ClaimStatus.NOT_ELIGIBLE)
    summary = summarize([BASE, second, not_eligible])
    assert summary is not None
    assert summary.claim_ids == ("clm_1", "clm_2")
    assert summary.regime_ids == ("us-1313j1", "us-1313c")
    assert summary.status is ClaimStatus.ESTIMATED  # the first claim's
    assert summary.refundable_total == Money.of("41.70", "USD")
    assert summary.filing_deadline == dt.date(2029, 4, 1)
    assert summary.estimated  # one of them estimated what was paid
