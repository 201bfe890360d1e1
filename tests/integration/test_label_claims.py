"""A label's reclaim claims as LabelsService sees them, on SQLite and PostgreSQL: the estimate it carries,
and their cancellation when the label is voided."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from customs.money import Money
from customs.reclaim import ClaimStatus
from service.bus.memory import InProcessBus
from service.reclaim import Reclaim, open_reclaim
from service.reclaim.label_claims import LabelClaims
from service.reclaim.model import label_actor
from service.storage.engine import Database, create_database
from service.storage.schema import upgrade_database
from service.storage.tenancy import Tenancy
from tests.integration.test_reclaim_claims import (
    FX,
    NOW,
    RULES,
    Clock,
    audit_rows,
    claims_of,
    label_de,
    label_us,
)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    await upgrade_database(database_url)
    handle = create_database(database_url)
    for merchant in ("acme", "globex"):
        await Tenancy(handle).ensure_merchant(merchant, merchant.title())
    try:
        yield handle
    finally:
        await handle.dispose()


@pytest.fixture
async def reclaim(database: Database) -> AsyncIterator[Reclaim]:
    handle = await open_reclaim(database, InProcessBus(), RULES, FX, clock=Clock(NOW), start_follower=False)
    yield handle
    await handle.close()


async def test_the_estimate_summarises_the_labels_claims(reclaim: Reclaim) -> None:
    await reclaim.labels.record_label_estimate(label_us("lbl_us"))
    claims = LabelClaims(reclaim.claims)
    summary = await claims.of_label("acme", "lbl_us")
    stored = await claims_of(reclaim, "lbl_us")
    assert summary is not None
    assert summary.claim_ids == tuple(claim.id for claim in stored)
    assert summary.status is ClaimStatus.ESTIMATED
    assert summary.refundable_total.currency == "USD"
    assert summary.refundable_total == sum(
        (claim.refundable_total for claim in stored[1:]), stored[0].refundable_total
    )
    assert summary.refundable_total > Money.of("0", "USD")
    assert await claims.of_label("acme", "lbl_unknown") is None
    assert await claims.of_label("globex", "lbl_us") is None  # another merchant's label id


async def test_voiding_cancels_the_labels_open_claims_once_and_no_others(
    database: Database, reclaim: Reclaim
) -> None:
    await reclaim.labels.record_label_estimate(label_de("lbl_voided"))
    await reclaim.labels.record_label_estimate(label_de("lbl_kept"))
    await reclaim.labels.record_label_estimate(label_de("lbl_voided", merchant="globex"))
    claims = LabelClaims(reclaim.claims)

    assert await claims.label_voided("acme", "lbl_voided", NOW, "return label lbl_voided voided") == 1
    (voided,) = await claims_of(reclaim, "lbl_voided")
    assert voided.status is ClaimStatus.CANCELLED
    rows = await audit_rows(database, voided.id)
    assert (rows[-1].status, rows[-1].actor) == ("cancelled", label_actor("lbl_voided"))
    assert rows[-1].description == "return label lbl_voided voided"
    summary = await claims.of_label("acme", "lbl_voided")
    assert summary is not None
    assert summary.status is ClaimStatus.CANCELLED

    # Again: nothing left to cancel; the other label and the other merchant's same label id are untouched.
    assert await claims.label_voided("acme", "lbl_voided", NOW, "again") == 0
    assert [c.status for c in await claims_of(reclaim, "lbl_kept")] == [ClaimStatus.ESTIMATED]
    assert [c.status for c in await claims_of(reclaim, "lbl_voided", "globex")] == [ClaimStatus.ESTIMATED]
