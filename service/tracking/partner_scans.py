"""Scans pushed by local partners (TrackingService.IngestTrackingEvents), mapped onto canonical tracking.

A partner may name the canonical status itself; otherwise its event code is looked up in the partner status
table (data: service/tracking/data/partner_status_codes.toml). Its own wording is always kept verbatim.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from carriers.tracking import ExceptionReason, TrackingEvent, TrackingLocation, TrackingStatus


@dataclass(frozen=True, slots=True)
class CodeMapping:
    status: TrackingStatus
    reason: ExceptionReason | None = None


@dataclass(frozen=True, slots=True)
class PartnerStatusTable:
    codes: Mapping[str, CodeMapping] = field(default_factory=dict)  # upper-case code -> canonical

    def classify(self, code: str) -> CodeMapping:
        return self.codes.get(code.strip().upper(), CodeMapping(TrackingStatus.UNKNOWN))


@dataclass(frozen=True, slots=True)
class PartnerScan:
    """One pushed scan, as the partner sent it; `status`/`reason` None when the partner left them unset."""

    tracking_number: str
    occurred_at: dt.datetime
    code: str = ""
    substatus: str = ""
    description: str = ""
    location: TrackingLocation = field(default_factory=TrackingLocation)
    facility: str = ""
    status: TrackingStatus | None = None
    reason: ExceptionReason | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


def canonical_event(account_id: str, scan: PartnerScan, table: PartnerStatusTable) -> TrackingEvent:
    """The canonical event of a partner scan: its own status when given, else its code's; an exception
    without a stated or mapped reason gets OTHER."""
    mapped = table.classify(scan.code)
    status = scan.status if scan.status is not None else mapped.status
    reason = scan.reason
    if reason is None and scan.status in (None, mapped.status):
        reason = mapped.reason
    if status is TrackingStatus.EXCEPTION and reason is None:
        reason = ExceptionReason.OTHER
    if status not in (TrackingStatus.EXCEPTION, TrackingStatus.RETURNED_TO_SENDER):
        reason = None
    return TrackingEvent(
        carrier=account_id,
        tracking_number=scan.tracking_number,
        occurred_at=scan.occurred_at,
        status=status,
        substatus=scan.substatus or scan.code,
        code=scan.code,
        description=scan.description,
        location=scan.location,
        reason=reason,
        raw=scan.raw,
    )
