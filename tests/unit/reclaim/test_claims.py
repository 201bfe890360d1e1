"""The claim lifecycle: recorded with the label, moved by tracking evidence, dated by the evidence."""

from __future__ import annotations

import datetime as dt

import pytest

from customs.goods import ReturnReason
from customs.money import Money
from customs.reclaim import (
    ClaimStatus,
    ClaimTransitionError,
    ExportEvidence,
    ExportMilestone,
    ImporterType,
    ReclaimCase,
    ReclaimClaim,
    apply_export_evidence,
    cancel_claim,
    claims_from_assessment,
    expire_overdue,
    load_regime_book,
    mark_filed,
)

from .cases import assess, case, line

BERLIN = dt.timezone(dt.timedelta(hours=1))
CREATED = dt.datetime(2026, 3, 25, 9, 0, tzinfo=dt.UTC)
BOOK = load_regime_book()


def _eu_case(expected_export: dt.date = dt.date(2026, 4, 1)) -> ReclaimCase:
    lines = (line("EUR", duty="12.00", vat="21.28"),)
    return case("DE", dt.date(2026, 3, 10), expected_export, lines, expected=True, proof=False)


def _claim(reclaim: ReclaimCase, destination: str | None = "GB") -> ReclaimClaim:
    (claim,) = claims_from_assessment(assess(reclaim), reclaim, CREATED, destination)
    return claim


def scan(
    milestone: ExportMilestone, day: dt.date, country: str | None = None, hour: int = 10
) -> ExportEvidence:
    return ExportEvidence(
        milestone, dt.datetime(day.year, day.month, day.day, hour, tzinfo=BERLIN), country, "TRK1"
    )


def test_label_records_an_estimated_claim_with_its_deadline() -> None:
    claim = _claim(_eu_case())
    assert claim.status is ClaimStatus.ESTIMATED
    assert claim.regime_id == "eu-ucc118-rejected"
    assert claim.refundable_total == Money.of("33.28", "EUR")
    assert claim.filing_deadline == dt.date(2027, 3, 10)
    assert not claim.export_proven
    assert [event.status for event in claim.history] == [ClaimStatus.ESTIMATED]


def test_first_scan_then_departure_makes_the_claim_ready_to_file() -> None:
    claim = _claim(_eu_case())
    claim = apply_export_evidence(claim, scan(ExportMilestone.FIRST_SCAN, dt.date(2026, 4, 2), "DE"), BOOK)
    assert claim.status is ClaimStatus.AWAITING_EXPORT
    claim = apply_export_evidence(
        claim, scan(ExportMilestone.DEPARTED_COUNTRY, dt.date(2026, 4, 3), "DE"), BOOK
    )
    assert claim.status is ClaimStatus.READY_TO_FILE
    assert claim.export_date == dt.date(2026, 4, 3)
    assert claim.export_proven
    assert claim.filing_deadline == dt.date(2027, 3, 10)
    assert [event.status for event in claim.history] == [
        ClaimStatus.ESTIMATED,
        ClaimStatus.AWAITING_EXPORT,
        ClaimStatus.READY_TO_FILE,
    ]
    assert "file by 2027-03-10" in claim.history[-1].description


def test_repeated_evidence_changes_nothing() -> None:
    claim = _claim(_eu_case())
    evidence = scan(ExportMilestone.DEPARTED_COUNTRY, dt.date(2026, 4, 3), "DE")
    once = apply_export_evidence(claim, evidence, BOOK)
    assert apply_export_evidence(once, evidence, BOOK) == once


def test_export_anchored_deadline_is_fixed_by_the_evidenced_export_date() -> None:
    lines = (line("AUD", value="2000", duty="150.00"),)
    reclaim = case(
        "AU",
        dt.date(2026, 3, 10),
        dt.date(2026, 4, 1),
        lines,
        reason=ReturnReason.CHANGED_MIND,
        expected=True,
        proof=False,
    )
    claim = _claim(reclaim, "US")
    assert claim.filing_deadline == dt.date(2030, 4, 1)  # from the expected date
    claim = apply_export_evidence(claim, scan(ExportMilestone.DEPARTED_COUNTRY, dt.date(2026, 4, 6)), BOOK)
    assert claim.status is ClaimStatus.READY_TO_FILE
    assert claim.filing_deadline == dt.date(2030, 4, 6)


def test_arrival_at_a_hub_abroad_proves_export_and_a_later_departure_scan_corrects_the_date() -> None:
    claim = _claim(_eu_case())
    claim = apply_export_evidence(
        claim, scan(ExportMilestone.ARRIVED_AT_HUB, dt.date(2026, 4, 6), "GB"), BOOK
    )
    assert claim.status is ClaimStatus.READY_TO_FILE
    assert claim.export_date == dt.date(2026, 4, 6)
    claim = apply_export_evidence(
        claim, scan(ExportMilestone.DEPARTED_COUNTRY, dt.date(2026, 4, 4), "DE"), BOOK
    )
    assert claim.export_date == dt.date(2026, 4, 4)
    assert "export date corrected" in claim.history[-1].description


def test_arrival_at_a_hub_inside_the_customs_territory_is_not_export() -> None:
    claim = _claim(_eu_case(), destination=None)
    claim = apply_export_evidence(
        claim, scan(ExportMilestone.ARRIVED_AT_HUB, dt.date(2026, 4, 6), "NL"), BOOK
    )
    assert claim.status is ClaimStatus.AWAITING_EXPORT
    assert not claim.export_proven


def test_evidence_after_the_filing_deadline_expires_the_claim_by_its_own_date() -> None:
    claim = _claim(_eu_case(dt.date(2027, 3, 1)))
    late = scan(ExportMilestone.FIRST_SCAN, dt.date(2027, 3, 11), "DE")
    expired = apply_export_evidence(claim, late, BOOK)
    assert expired.status is ClaimStatus.EXPIRED
    assert "2027-03-10" in expired.history[-1].description
    on_time = apply_export_evidence(
        claim, scan(ExportMilestone.DEPARTED_COUNTRY, dt.date(2027, 3, 10), "DE"), BOOK
    )
    assert on_time.status is ClaimStatus.READY_TO_FILE


def test_departure_after_the_export_window_expires_the_claim() -> None:
    reclaim = case(
        "JP",
        dt.date(2026, 1, 31),
        dt.date(2026, 7, 1),
        (line("JPY", value="20000", duty="1480"),),
        expected=True,
        proof=False,
    )
    claim = _claim(reclaim, "US")
    late = apply_export_evidence(claim, scan(ExportMilestone.DEPARTED_COUNTRY, dt.date(2026, 8, 1)), BOOK)
    assert late.status is ClaimStatus.EXPIRED
    assert "after the last day 2026-07-31" in late.history[-1].description


def test_evidence_on_a_closed_claim_is_kept_without_changing_it() -> None:
    claim = expire_overdue(_claim(_eu_case()), dt.date(2027, 3, 11), CREATED)
    assert claim.status is ClaimStatus.EXPIRED
    later = apply_export_evidence(claim, scan(ExportMilestone.DEPARTED_COUNTRY, dt.date(2027, 3, 12)), BOOK)
    assert later.status is ClaimStatus.EXPIRED
    assert len(later.evidence) == 1
    assert later.history == claim.history


def test_expire_overdue_uses_the_given_date() -> None:
    claim = _claim(_eu_case())
    assert expire_overdue(claim, dt.date(2027, 3, 10), CREATED) == claim
    assert expire_overdue(claim, dt.date(2027, 3, 11), CREATED).status is ClaimStatus.EXPIRED


def test_filing_and_cancelling() -> None:
    claim = _claim(_eu_case())
    with pytest.raises(ClaimTransitionError):
        mark_filed(claim, CREATED, "NDRC-1")
    ready = apply_export_evidence(claim, scan(ExportMilestone.DEPARTED_COUNTRY, dt.date(2026, 4, 3)), BOOK)
    filed = mark_filed(ready, dt.datetime(2026, 5, 1, tzinfo=dt.UTC), "REF-1")
    assert filed.status is ClaimStatus.FILED
    assert filed.filing_reference == "REF-1"
    with pytest.raises(ClaimTransitionError, match="has passed"):
        mark_filed(ready, dt.datetime(2027, 3, 11, tzinfo=dt.UTC), "REF-2")
    with pytest.raises(ClaimTransitionError):
        cancel_claim(filed, CREATED, "label voided")
    assert cancel_claim(claim, CREATED, "label voided").status is ClaimStatus.CANCELLED


def test_regime_without_export_is_ready_at_once_and_combined_regimes_get_one_claim_each() -> None:
    lines = (line("GBP", value="250", duty="30.00", vat="56.00"),)
    reclaim = case(
        "GB",
        dt.date(2026, 3, 10),
        dt.date(2026, 4, 1),
        lines,
        importer=ImporterType.VAT_REGISTERED_BUSINESS,
        expected=True,
        proof=False,
    )
    claims = claims_from_assessment(assess(reclaim), reclaim, CREATED, "DE")
    by_regime = {claim.regime_id: claim for claim in claims}
    assert by_regime["gb-vat-return-adjustment"].status is ClaimStatus.READY_TO_FILE
    assert by_regime["gb-vat-return-adjustment"].filing_deadline == dt.date(2030, 3, 10)
    assert by_regime["gb-ce1179-rejected"].status is ClaimStatus.ESTIMATED


def test_proven_export_at_calculation_makes_the_claim_ready_to_file() -> None:
    reclaim = case("DE", dt.date(2026, 3, 10), dt.date(2026, 4, 1), (line("EUR", duty="12.00"),))
    assert _claim(reclaim).status is ClaimStatus.READY_TO_FILE


def test_no_regime_or_a_return_inside_the_territory_is_not_eligible() -> None:
    changed = case(
        "DE",
        dt.date(2026, 3, 10),
        dt.date(2026, 4, 1),
        (line("EUR", duty="12"),),
        reason=ReturnReason.CHANGED_MIND,
    )
    (record,) = claims_from_assessment(assess(changed), changed, CREATED)
    assert record.status is ClaimStatus.NOT_ELIGIBLE
    assert record.regime_id is None
    assert "no reclaim regime of EU" in record.history[0].description
    inside = _claim(_eu_case(), destination="FR")
    assert inside.status is ClaimStatus.NOT_ELIGIBLE


def test_evidence_needs_a_timezone() -> None:
    with pytest.raises(ValueError, match="timezone"):
        ExportEvidence(ExportMilestone.FIRST_SCAN, dt.datetime(2026, 4, 1, 10))
