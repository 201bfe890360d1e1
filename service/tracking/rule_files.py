"""Loading the tracking rule data: partner status codes, milestone codes and per-merchant refund terms.

Every file is validated at load; errors name the file and the field (`refund_terms.toml: merchants[2].
business_days: must be at least 0, got -1`).
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from carriers.tracking import ExceptionReason, TrackingStatus
from customs.datafile import DataTable, read_toml
from service.tracking.milestones import MilestoneRules
from service.tracking.partner_scans import CodeMapping, PartnerStatusTable
from service.tracking.refunds import RefundTerms

_MAX_BUSINESS_DAYS = 365


def _read(path: Path | Traversable | None, packaged: str) -> DataTable:
    if path is None:
        return read_toml(
            files("service.tracking.data").joinpath(packaged), f"service/tracking/data/{packaged}"
        )
    return read_toml(path)


def load_partner_status_table(path: Path | Traversable | None = None) -> PartnerStatusTable:
    document = _read(path, "partner_status_codes.toml")
    document.reject_unknown({"effective_from", "codes"})
    document.date("effective_from")
    codes: dict[str, CodeMapping] = {}
    for entry in document.tables("codes", required=True):
        entry.reject_unknown({"code", "meaning", "status", "reason"})
        code = entry.text("code").strip().upper()
        if not code:
            raise entry.error("code", "must not be empty")
        if code in codes:
            raise entry.error("code", f"duplicate code {code!r}")
        entry.text("meaning")
        status = entry.checked("status", entry.text("status"), TrackingStatus)
        reason_text = entry.text("reason", "")
        reason = entry.checked("reason", reason_text, ExceptionReason) if reason_text else None
        if reason is not None and status not in (TrackingStatus.EXCEPTION, TrackingStatus.RETURNED_TO_SENDER):
            raise entry.error("reason", "only exception and returned_to_sender events carry a reason")
        codes[code] = CodeMapping(status, reason)
    return PartnerStatusTable(codes)


def load_milestone_rules(path: Path | Traversable | None = None) -> MilestoneRules:
    document = _read(path, "milestones.toml")
    document.reject_unknown({"effective_from", "merchant_receipt_codes"})
    document.date("effective_from")
    codes = [code.strip().upper() for code in document.strings("merchant_receipt_codes", required=True)]
    if not all(codes):
        raise document.error("merchant_receipt_codes", "codes must not be empty")
    return MilestoneRules(frozenset(codes))


def load_refund_terms(default_business_days: int, path: Path | None) -> RefundTerms:
    """Refund terms: `default_business_days` for every merchant, overridden by `path` when given.

    File format: `[[merchants]]` tables with `merchant_id` and `business_days`.
    """
    if path is None:
        return RefundTerms(default_business_days)
    document = read_toml(path)
    document.reject_unknown({"merchants"})
    overrides: dict[str, int] = {}
    for entry in document.tables("merchants", required=True):
        entry.reject_unknown({"merchant_id", "business_days"})
        merchant_id = entry.text("merchant_id")
        if merchant_id in overrides:
            raise entry.error("merchant_id", f"duplicate merchant {merchant_id!r}")
        days = entry.integer("business_days", minimum=0)
        if days > _MAX_BUSINESS_DAYS:
            raise entry.error("business_days", f"must be at most {_MAX_BUSINESS_DAYS}, got {days}")
        overrides[merchant_id] = days
    return RefundTerms(default_business_days, overrides)
