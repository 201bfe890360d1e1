"""The documents that go with a bought label: the label itself, customs paperwork, return instructions.

- The label: the carrier's own file when it sends one; rendered here for carriers without a label API
  (rate-card partners, which return neither bytes nor a URL); fetched from the carrier's URL otherwise.
- Cross-border lanes: the CN 23 (or CN 22) and a commercial invoice, drawn from the declaration the label
  was bought with, carrying the return parcel's tracking number.
- Always: the return-instructions page in the customer's locale, with the return deadline and what the
  customer pays from the merchant's return policy, and a tracking link.

A document that cannot be produced is left out and logged: the purchase is recorded regardless.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from string import Formatter
from urllib.parse import quote

from carriers.models import Handover, LabelFormat, PurchasedLabel, ReturnShipment
from customs.money import Money
from service.documents import (
    DocumentFormat,
    InstructionsDocument,
    LabelDocument,
    RenderedDocument,
    render_commercial_invoice,
    render_customs_declaration,
    render_label,
    render_return_instructions,
    resolve_locale,
)
from service.documents import Handover as DocumentHandover
from service.documents.model import CONTENT_TYPES, DocumentKind
from service.labels.model import DocumentDraft, PurchasePlan, TrackingTokenIssuer
from service.quoting.policy import ReturnPolicyBook
from service.quoting.use_case import add_business_days

_log = logging.getLogger(__name__)

CUSTOMS_LANGUAGE = "en"


def _draft(document: RenderedDocument, language_code: str = "") -> DocumentDraft:
    return DocumentDraft(
        kind=document.kind,
        format=document.format,
        content_type=document.content_type,
        filename=document.filename,
        language_code=language_code,
        content=document.data,
    )


def carrier_label_draft(tracking_number: str, label_format: LabelFormat, content: bytes) -> DocumentDraft:
    """The carrier's own label file, in the format it was bought in."""
    document_format = DocumentFormat(label_format.value)
    return DocumentDraft(
        kind=DocumentKind.LABEL,
        format=document_format,
        content_type=CONTENT_TYPES[document_format],
        filename=f"label-{tracking_number}.{document_format.value}",
        language_code="",
        content=content,
    )


class LabelPaperwork:
    def __init__(
        self,
        *,
        policies: ReturnPolicyBook,
        tracking_page_url: str,
        tracking_tokens: TrackingTokenIssuer | None = None,
    ) -> None:
        """`tracking_page_url`: a template with {tracking_number}, {label_id} and/or {tracking_token} (used
        when the carrier gives no tracking page of its own); {tracking_token} needs `tracking_tokens`."""
        names_token = "tracking_token" in {name for _, name, _, _ in Formatter().parse(tracking_page_url)}
        if names_token and tracking_tokens is None:
            raise ValueError("a tracking page URL naming {tracking_token} needs a tracking token issuer")
        self._policies = policies
        self._tracking_page_url = tracking_page_url
        # Issued only when the page asks for one: it grants reading the label's tracking.
        self._tracking_tokens = tracking_tokens if names_token else None

    def render(
        self,
        merchant_id: str,
        label_id: str,
        plan: PurchasePlan,
        shipment: ReturnShipment,
        purchased: PurchasedLabel,
        issued_on: dt.date,
    ) -> list[DocumentDraft]:
        """Every document this label needs that can be made locally, in listing order."""
        steps: list[tuple[str, Callable[[], Sequence[DocumentDraft]]]] = [
            ("label", lambda: self._label(label_id, plan, shipment, purchased, issued_on)),
            ("customs documents", lambda: self._customs(shipment, purchased.tracking_number)),
            (
                "return instructions",
                lambda: [self._instructions(merchant_id, label_id, plan, shipment, purchased, issued_on)],
            ),
        ]
        drafts: list[DocumentDraft] = []
        for name, make in steps:
            try:
                drafts.extend(make())
            except Exception:
                _log.exception("label %s: the %s could not be rendered", label_id, name)
        return drafts

    @staticmethod
    def _label(
        label_id: str,
        plan: PurchasePlan,
        shipment: ReturnShipment,
        purchased: PurchasedLabel,
        issued_on: dt.date,
    ) -> list[DocumentDraft]:
        if purchased.label_document:
            return [
                carrier_label_draft(
                    purchased.tracking_number, purchased.label_format, purchased.label_document
                )
            ]
        if purchased.label_url:
            return []  # fetched from the carrier (LabelFiles)
        service_name = plan.service_name or str(purchased.raw.get("service_name") or plan.service_code)
        document = LabelDocument(
            label_id=label_id,
            tracking_number=purchased.tracking_number,
            carrier_name=purchased.carrier,
            service_name=service_name,
            sender=shipment.customer,
            hub=shipment.destination,
            weight_grams=shipment.total_weight_grams,
            created_on=issued_on,
            cross_border=plan.cross_border,
        )
        return [_draft(render_label(document, DocumentFormat(plan.label_format.value)))]

    @staticmethod
    def _customs(shipment: ReturnShipment, tracking_number: str) -> list[DocumentDraft]:
        declaration = shipment.customs_declaration
        if declaration is None:
            return []
        return [  # both in English (service/documents/customs_documents.py)
            _draft(render_customs_declaration(declaration, tracking_number), CUSTOMS_LANGUAGE),
            _draft(render_commercial_invoice(declaration, tracking_number), CUSTOMS_LANGUAGE),
        ]

    def _instructions(
        self,
        merchant_id: str,
        label_id: str,
        plan: PurchasePlan,
        shipment: ReturnShipment,
        purchased: PurchasedLabel,
        issued_on: dt.date,
    ) -> DocumentDraft:
        deadline, cost = self._terms(shipment, issued_on)
        pickup = plan.handover is Handover.PICKUP
        document = InstructionsDocument(
            locale=plan.customer_locale,
            customer_name=shipment.customer.contact.name,
            tracking_number=purchased.tracking_number,
            tracking_url=purchased.tracking_url
            or self.tracking_url(merchant_id, label_id, purchased.tracking_number),
            carrier_name=purchased.carrier,
            hub=shipment.destination,
            handover=DocumentHandover.PICKUP if pickup else DocumentHandover.DROP_OFF,
            return_deadline=deadline,
            customer_cost=cost,
            cross_border=plan.cross_border,
            issued_on=issued_on,
            pickup_date=add_business_days(issued_on, 1) if pickup else None,
        )
        catalogue, _ = resolve_locale(plan.customer_locale)
        return _draft(render_return_instructions(document), catalogue.language)

    def tracking_url(self, merchant_id: str, label_id: str, tracking_number: str) -> str:
        """The configured tracking page of a label; a {tracking_token} in it opens Backhaul's own page
        (/track/<token>) for this label only, as the customer's app would."""
        token = self._tracking_tokens.issue(merchant_id, label_id) if self._tracking_tokens else ""
        return self._tracking_page_url.format(
            tracking_number=quote(tracking_number, safe=""),
            label_id=quote(label_id, safe=""),
            tracking_token=quote(token, safe=""),
        )

    def _terms(self, shipment: ReturnShipment, issued_on: dt.date) -> tuple[dt.date, Money]:
        """The last day to send the return and what the customer pays, from the market's return policy
        (NoReturnPolicy when none covers the country: the page is then left out)."""
        decision = self._policies.decide(
            shipment.origin_country,
            shipment.original_order,
            [item.return_reason for item in shipment.items],
            issued_on,
        )
        # Without order or delivery dates the window was not checked: it runs from the day of the label.
        window = dt.timedelta(days=self._policies.policy_for(shipment.origin_country, issued_on).window_days)
        deadline = decision.window_end or issued_on + window
        return max(deadline, issued_on), decision.customer_fee
