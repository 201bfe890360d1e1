"""What the labels use cases take in and hand back: requests, stored labels and documents, list queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from carriers.models import Handover, LabelFormat
from customs.money import Money
from service.documents import DocumentFormat, DocumentKind
from service.quoting.hubs import Hub
from service.quoting.request import ShipmentInput
from service.reclaim.label_summary import LabelReclaimSummary


class LabelState(StrEnum):
    """What the labels store records; SHIPPED and DELIVERED are read from tracking on top of PURCHASED."""

    PENDING = "pending"  # intent stored, the carrier's answer not yet recorded
    PURCHASED = "purchased"
    VOID_REQUESTED = "void_requested"
    VOIDED = "voided"
    NEEDS_REVIEW = "needs_review"  # the outcome at the carrier is unknown and cannot be looked up
    FAILED = "failed"  # the carrier certainly sold nothing under this attempt


class LabelStatus(StrEnum):
    """The status a caller sees (ReturnLabelStatus)."""

    PENDING = "pending"
    PURCHASED = "purchased"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    VOID_REQUESTED = "void_requested"
    VOIDED = "voided"
    NEEDS_REVIEW = "needs_review"
    FAILED = "failed"


class ScanProgress(StrEnum):
    """How far tracking has seen the parcel go, from the label's point of view."""

    NOT_SCANNED = "not_scanned"
    SCANNED = "scanned"  # the carrier has it (first scan seen)
    DELIVERED = "delivered"  # arrived at the hub or the merchant


@dataclass(frozen=True, slots=True)
class QuotedRate:
    quote_token: str


@dataclass(frozen=True, slots=True)
class ExplicitRate:
    carrier_account_id: str
    service_code: str


@dataclass(frozen=True, slots=True)
class CreateLabelRequest:
    merchant_id: str
    idempotency_key: str
    shipment: ShipmentInput
    rate: QuotedRate | ExplicitRate | None  # None: the caller set neither (refused)
    label_format: LabelFormat | None = None  # None: the carrier's default (PDF where offered)
    customer_locale: str = ""


@dataclass(frozen=True, slots=True)
class DeclarationSummary:
    form: str  # "CN22" or "CN23"
    category: str  # customs.declaration.ContentsCategory value
    total_value: Money
    total_net_weight_grams: int
    line_count: int


class TrackingTokenIssuer(Protocol):
    """Per-label tracking tokens (service.tracking.access.TrackingTokens)."""

    def issue(self, merchant_id: str, label_id: str) -> str: ...


@dataclass(frozen=True, slots=True)
class PurchasePlan:
    """Which carrier service a label is bought with, and how; fixed when a purchase attempt starts."""

    carrier_account_id: str
    carrier_name: str
    provider: str  # the account's adapter: ratecard, sandbox, easypost, ...
    service_code: str
    service_name: str
    handover: Handover
    label_format: LabelFormat
    customer_locale: str
    destination_hub_id: str  # "" for an explicit destination address
    cross_border: bool
    purchase_date: dt.date  # also the customs declaration's date
    quoted_price: Money | None  # what the caller was quoted; the carrier may not charge more
    declaration: DeclarationSummary | None


@dataclass(frozen=True, slots=True)
class LabelFailure:
    code: str  # a carriers.errors code, or PURCHASE_NOT_MADE / PURCHASE_UNCONFIRMED
    message: str
    field: str = ""  # for INVALID_REQUEST: the carrier's field, in canonical terms


@dataclass(frozen=True, slots=True)
class LabelRecord:
    """A stored label, whatever its state."""

    id: str
    merchant_id: str
    idempotency_key: str
    request_digest: str
    request: dict[str, object]
    state: LabelState
    attempt: int
    attempt_started_at: dt.datetime
    plan: PurchasePlan
    tracking_number: str | None
    price: Money | None
    carrier_shipment_id: str
    carrier_label_id: str
    label_url: str
    failure: LabelFailure | None
    tracking_registered: bool
    void_reason: str
    voided_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    scan: ScanProgress = ScanProgress.NOT_SCANNED

    @property
    def status(self) -> LabelStatus:
        if self.state is LabelState.PURCHASED and self.scan is ScanProgress.DELIVERED:
            return LabelStatus.DELIVERED
        if self.state is LabelState.PURCHASED and self.scan is ScanProgress.SCANNED:
            return LabelStatus.SHIPPED
        return LabelStatus(self.state.value)

    @property
    def bought(self) -> bool:
        """The carrier sold this label (whatever happened to it since)."""
        return self.state in {LabelState.PURCHASED, LabelState.VOID_REQUESTED, LabelState.VOIDED}


@dataclass(frozen=True, slots=True)
class StoredDocument:
    id: str
    kind: DocumentKind
    format: DocumentFormat
    content_type: str
    filename: str
    language_code: str
    size_bytes: int
    content: bytes | None  # None in views without content


@dataclass(frozen=True, slots=True)
class LabelView:
    """A label as the API returns it."""

    record: LabelRecord
    shipment: ShipmentInput
    documents: tuple[StoredDocument, ...]
    hub: Hub | None
    tracking_token: str  # "" while the label is not bought
    reclaim_estimate: LabelReclaimSummary | None = None  # cross-border labels a reclaim regime may apply to

    def document(self, kind: DocumentKind) -> StoredDocument | None:
        return next((d for d in self.documents if d.kind is kind), None)

    @property
    def customs_documents(self) -> tuple[StoredDocument, ...]:
        customs = {DocumentKind.CN22, DocumentKind.CN23, DocumentKind.COMMERCIAL_INVOICE}
        return tuple(d for d in self.documents if d.kind in customs)


@dataclass(frozen=True, slots=True)
class LabelQuery:
    """ListReturnLabels filters; empty collections and None mean no filter."""

    statuses: frozenset[LabelStatus] = frozenset()
    carrier_account_ids: frozenset[str] = frozenset()
    created_after: dt.datetime | None = None  # inclusive
    created_before: dt.datetime | None = None  # exclusive
    tracking_number: str = ""


@dataclass(frozen=True, slots=True)
class LabelPage:
    labels: Sequence[LabelView]
    next_page_token: str = ""


@dataclass(frozen=True, slots=True)
class PageRequest:
    page_size: int = 0  # 0: the default
    page_token: str = ""


@dataclass(frozen=True, slots=True)
class DocumentDraft:
    """A rendered document on its way into the store."""

    kind: DocumentKind
    format: DocumentFormat
    content_type: str
    filename: str
    language_code: str
    content: bytes
