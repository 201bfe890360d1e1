"""The duty reclaim estimate a return label carries (`ReturnLabel.reclaim_estimate`): a summary of the claims
recorded with it.

A label's claims are one per regime of the best option and per group of items with the same return reason
and condition (label_estimates.py), listed oldest first; the first is the one the summary names. Records
that say why no regime applies (NOT_ELIGIBLE, without a regime) are not an estimate: a label with only
those has none. The refundable total adds up every claim's (they share the import country, hence its
currency); the filing deadline is the earliest, the first that can be missed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from customs.money import Money
from customs.reclaim import ClaimStatus
from service.reclaim.model import StoredClaim


@dataclass(frozen=True, slots=True)
class LabelReclaimSummary:
    claim_ids: tuple[str, ...]  # oldest first; never empty
    regime_ids: tuple[str, ...]  # the claims' regimes, in the same order
    status: ClaimStatus  # the first claim's
    refundable_total: Money
    filing_deadline: dt.date | None  # the earliest; None when no claim has one yet
    estimated: bool  # some paid amount was estimated rather than taken from the order

    @property
    def claim_id(self) -> str:
        return self.claim_ids[0]

    @property
    def regime_id(self) -> str:
        return self.regime_ids[0]


def summarize(claims: list[StoredClaim]) -> LabelReclaimSummary | None:
    """The summary of one label's claims (oldest first), or None when no regime applies to it."""
    estimates = [claim for claim in claims if claim.regime_id is not None]
    if not estimates:
        return None
    total = estimates[0].refundable_total
    for claim in estimates[1:]:
        total += claim.refundable_total
    deadlines = [claim.filing_deadline for claim in estimates if claim.filing_deadline is not None]
    return LabelReclaimSummary(
        claim_ids=tuple(claim.id for claim in estimates),
        regime_ids=tuple(claim.regime_id for claim in estimates if claim.regime_id is not None),
        status=estimates[0].status,
        refundable_total=total,
        filing_deadline=min(deadlines, default=None),
        estimated=any(claim.amounts_estimated for claim in estimates),
    )
