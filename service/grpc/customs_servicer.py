"""CustomsService: HS code lookup and search, customs declaration previews, duty reclaim calculations and
the merchant's reclaim claims.

CalculateDutyReclaim maps the request to a ReclaimCase (every bad field reported with its request path),
calculates with the rules loaded at start-up and answers per line in request order; a `label_id` supplies
the export date (and, once tracking evidenced it, the proof) recorded with that label's claims.
ListReclaimClaims lists claims by status and deadline (service/reclaim/listing.py).

Errors: a malformed HS code is INVALID_ARGUMENT (field `code`, reason HS_CODE_INVALID), a well-formed code
absent from the edition NOT_FOUND (HS_CODE_NOT_FOUND), a date whose edition is not shipped
FAILED_PRECONDITION (HS_EDITION_UNAVAILABLE, naming the edition). Search pages are addressed by an opaque
token holding the offset and a digest of the query and date, so a token is refused for any other search.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

from backhaul.v1 import common_pb2, customs_pb2
from customs.declaration import DutyPayer, Incoterm, NonDeliveryOption
from customs.hs import (
    MAX_PAGE_SIZE,
    HsCode,
    HsEditionUnavailable,
    HsSearchPage,
    InvalidHsCode,
    InvalidHsQuery,
    lookup_hs_code,
    nomenclature_in_force,
    normalize_hs_digits,
    search_hs_codes,
)
from customs.hs.search import search_index
from customs.reclaim import ProofOfExport, ProofOfExportKind, WarningCode
from service.auth import current_merchant
from service.customs_declarations import (
    CustomsDeclarations,
    DeclarationOptions,
    DeclarationPreview,
    ReturnForCustoms,
)
from service.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, Unimplemented
from service.grpc import convert
from service.grpc.convert import Violations
from service.reclaim import Reclaim
from service.reclaim.model import UNSTATED_CONDITION

DEFAULT_PAGE_SIZE = 20
_PAGE_TOKEN_VERSION = "h1"


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def warm_hs_search(on: dt.date) -> None:
    """Load the edition in force on `on` and build its search index (a few hundred ms, once per process)."""
    try:
        edition = nomenclature_in_force(on).edition.name
    except HsEditionUnavailable:
        return  # nothing to warm; lookups on such dates are refused anyway
    search_index(edition)


class HsCodeNotFound(NotFound):
    reason = "HS_CODE_NOT_FOUND"

    def __init__(self, code: str, why: str) -> None:
        super().__init__("HS code", code)
        self.message = f"HS code {code!r} not found: {why}"
        self.args = (self.message,)


def _edition_unavailable(exc: HsEditionUnavailable) -> FailedPrecondition:
    return FailedPrecondition(str(exc), reason="HS_EDITION_UNAVAILABLE")


def _search_digest(query: str, date: dt.date | None) -> str:
    """Identifies a search: the query as the index reads it (case and spacing aside) and the date asked."""
    text = " ".join(query.split()).casefold() + "\n" + (date.isoformat() if date else "")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _page_token(offset: int, digest: str) -> str:
    raw = f"{_PAGE_TOKEN_VERSION}:{offset}:{digest}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _page_offset(token: str, digest: str) -> int:
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        version, offset_text, found = raw.split(":")
        offset = int(offset_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        offset, version, found = -1, "", ""
    if version != _PAGE_TOKEN_VERSION or offset < 0:
        raise InvalidArgument.single(
            "page_token", "not a page token of SearchHsCodes: pass next_page_token as is"
        )
    if found != digest:
        raise InvalidArgument.single(
            "page_token",
            "belongs to a search with another query or date: repeat the query and date it came with",
        )
    return offset


def _search_page(
    query: str, on: dt.date, size: int, offset: int
) -> tuple[HsSearchPage, list[customs_pb2.HsCode]]:
    page = search_hs_codes(query, on, limit=size, offset=offset)
    return page, [convert.hs_classification_to_proto(lookup_hs_code(hit.entry.code, on)) for hit in page.hits]


def _return_from_proto(message: common_pb2.ReturnShipment, violations: Violations) -> ReturnForCustoms:
    target = message.destination.WhichOneof("target")
    return ReturnForCustoms(
        customer=convert.party_from_proto(message.customer, "shipment.customer", violations),
        parcels=tuple(convert.parcel_from_proto(parcel) for parcel in message.parcels),
        items=convert.declared_items_from_proto(message.items, "shipment.items", violations),
        original_order=convert.original_order_from_proto(
            message.original_order, "shipment.original_order", violations
        ),
        destination_hub_id=message.destination.hub_id.strip() if target == "hub_id" else "",
        destination_address=convert.address_from_proto(message.destination.address)
        if target == "address"
        else None,
    )


def _preview_to_proto(
    preview: DeclarationPreview, certification_statement: str
) -> customs_pb2.PreviewCustomsDeclarationResponse:
    response = customs_pb2.PreviewCustomsDeclarationResponse(
        customs_required=preview.customs_required,
        problems=[
            customs_pb2.CustomsDeclarationProblem(field=p.field, code=p.code, message=p.message)
            for p in preview.problems
        ],
    )
    if preview.declaration is not None:
        response.declaration.CopyFrom(
            convert.customs_declaration_to_proto(
                preview.declaration,
                importer_reference=preview.importer_reference,
                certification_statement=certification_statement,
            )
        )
    return response


class CustomsServicer:
    def __init__(
        self,
        declarations: CustomsDeclarations,
        *,
        today: Callable[[], dt.date] = utc_today,
        reclaim: Reclaim | None = None,
    ) -> None:
        self._declarations = declarations
        self._today = today
        self._reclaim = reclaim

    def start_warming(self) -> asyncio.Task[None]:
        """Build the HS search index off the event loop, so start-up does not wait for it."""
        return asyncio.get_running_loop().create_task(asyncio.to_thread(warm_hs_search, self._today()))

    def _date(self, message: Any, path: str) -> tuple[dt.date | None, dt.date]:
        """(the date as given or None, the date to use: today (UTC) when unset)."""
        violations = Violations()
        given = convert.date_from_proto(message, path, violations)
        violations.raise_if_any()
        return given, given or self._today()

    async def LookupHsCode(
        self, request: customs_pb2.LookupHsCodeRequest, context: object
    ) -> customs_pb2.LookupHsCodeResponse:
        current_merchant()
        _, on = self._date(request.date, "date")
        try:
            code = HsCode(normalize_hs_digits(request.code))
        except InvalidHsCode as exc:
            raise InvalidArgument(
                [FieldViolation("code", exc.reason)],
                reason="HS_CODE_INVALID",
                metadata={"problem": exc.problem},
            ) from exc
        try:
            found = lookup_hs_code(code, on)
        except InvalidHsCode as exc:
            raise HsCodeNotFound(code.digits, exc.reason) from exc
        except HsEditionUnavailable as exc:
            raise _edition_unavailable(exc) from exc
        return customs_pb2.LookupHsCodeResponse(hs_code=convert.hs_classification_to_proto(found))

    async def SearchHsCodes(
        self, request: customs_pb2.SearchHsCodesRequest, context: object
    ) -> customs_pb2.SearchHsCodesResponse:
        current_merchant()
        given, on = self._date(request.date, "date")
        page_size = request.page_size or DEFAULT_PAGE_SIZE
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidArgument.single(
                "page_size",
                f"must be between 1 and {MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE}), got {page_size}",
            )
        digest = _search_digest(request.query, given)
        offset = _page_offset(request.page_token, digest)
        try:
            # A broad query ranks thousands of entries (tens of ms): keep the event loop free meanwhile.
            page, codes = await asyncio.to_thread(_search_page, request.query, on, page_size, offset)
        except InvalidHsQuery as exc:
            raise InvalidArgument.single(
                "query" if exc.field == "query" else "page_size", exc.message
            ) from exc
        except HsEditionUnavailable as exc:
            raise _edition_unavailable(exc) from exc
        next_offset = page.next_offset
        return customs_pb2.SearchHsCodesResponse(
            hs_codes=codes,
            next_page_token=_page_token(next_offset, digest) if next_offset is not None else "",
        )

    async def PreviewCustomsDeclaration(
        self, request: customs_pb2.PreviewCustomsDeclarationRequest, context: object
    ) -> customs_pb2.PreviewCustomsDeclarationResponse:
        current_merchant()
        violations = Violations()
        on = (
            convert.date_from_proto(request.declaration_date, "declaration_date", violations) or self._today()
        )
        shipment = _return_from_proto(request.shipment, violations)
        incoterm = convert.incoterm_from_proto(request.incoterm, "incoterm", violations)
        options = DeclarationOptions(
            declaration_date=on,
            incoterm=Incoterm.DAP if request.incoterm == customs_pb2.INCOTERM_UNSPECIFIED else incoterm,
            duty_payer=convert.duty_payer_from_proto(request.duty_payer) or DutyPayer.ADDRESSEE,
            non_delivery_option=convert.non_delivery_option_from_proto(request.non_delivery_option)
            or NonDeliveryOption.RETURN,
            carrier_account_id=request.carrier_account_id.strip(),
        )
        preview = self._declarations.preview(shipment, options, violations.items)
        return _preview_to_proto(preview, self._declarations.certification_statement)

    def _reclaim_capability(self) -> Reclaim:
        if self._reclaim is None:
            raise Unimplemented("duty reclaim is not configured on this server")
        return self._reclaim

    async def _label_export(
        self, reclaim: Reclaim, merchant_id: str, label_id: str
    ) -> tuple[dt.date | None, ProofOfExport | None]:
        """The export date recorded with a label's claims, with tracking proof once evidenced."""
        claims = await reclaim.claims.claims_of_label(merchant_id, label_id)
        if not claims:
            raise NotFound("reclaim record of return label", label_id)
        proven = next((c for c in claims if c.export_proven and c.export_date is not None), None)
        if proven is not None and proven.export_date is not None:
            proof = ProofOfExport(
                ProofOfExportKind.CARRIER_TRACKING, proven.tracking_number, proven.export_date
            )
            return proven.export_date, proof
        return claims[0].export_date, None

    async def CalculateDutyReclaim(
        self, request: customs_pb2.CalculateDutyReclaimRequest, context: object
    ) -> customs_pb2.CalculateDutyReclaimResponse:
        merchant_id = current_merchant()
        reclaim = self._reclaim_capability()
        export_date, proof = None, None
        if request.label_id.strip():
            export_date, proof = await self._label_export(reclaim, merchant_id, request.label_id.strip())
        violations = Violations()
        display_currency = convert.reclaim_display_currency(request, violations)
        case = convert.reclaim_case_from_proto(
            request, violations, today=self._today(), export_date=export_date, proof_of_export=proof
        )
        violations.raise_if_any()
        assert case is not None
        assessment = reclaim.calculator.calculate(case, display_currency)
        response = convert.reclaim_assessment_to_proto(assessment, case)
        if request.condition == common_pb2.ITEM_CONDITION_UNSPECIFIED and not request.HasField("goods_used"):
            response.warnings.append(
                customs_pb2.ReclaimWarning(code=WarningCode.ASSUMPTION.value, message=UNSTATED_CONDITION)
            )
        return response

    async def ListReclaimClaims(
        self, request: customs_pb2.ListReclaimClaimsRequest, context: object
    ) -> customs_pb2.ListReclaimClaimsResponse:
        merchant_id = current_merchant()
        reclaim = self._reclaim_capability()
        violations = Violations()
        query = convert.claim_query_from_proto(request, merchant_id, violations)
        violations.raise_if_any()
        listing = await reclaim.lister.list_claims(query, request.page_size, request.page_token)
        return customs_pb2.ListReclaimClaimsResponse(
            claims=[
                convert.reclaim_claim_to_proto(
                    claim,
                    reclaim.calculator.regime(claim.regime_id, claim.rules_date) if claim.regime_id else None,
                )
                for claim in listing.claims
            ],
            next_page_token=listing.next_page_token,
        )
