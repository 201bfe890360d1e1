"""Listing a merchant's claims: by status and deadline, nearest filing deadline first by default, in
keyset pages addressed by opaque tokens bound to the filters they were issued for."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from service.errors import InvalidArgument
from service.reclaim.expiry import ClaimExpiry
from service.reclaim.model import ClaimOrder, ClaimQuery, StoredClaim
from service.reclaim.repository import ClaimRepository

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
_TOKEN_VERSION = 1


@dataclass(frozen=True, slots=True)
class ClaimListing:
    claims: tuple[StoredClaim, ...]
    next_page_token: str


def _digest(query: ClaimQuery) -> str:
    text = "\n".join(
        (
            query.merchant_id,
            ",".join(sorted(status.value for status in query.statuses)),
            query.deadline_on_or_before.isoformat() if query.deadline_on_or_before else "",
            query.label_id,
            query.order.value,
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _token(query: ClaimQuery, after: tuple[str, str]) -> str:
    raw = json.dumps({"v": _TOKEN_VERSION, "k": list(after), "f": _digest(query)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode("ascii")


def _after(token: str, query: ClaimQuery) -> tuple[str, str] | None:
    if not token:
        return None
    try:
        document = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        key, claim_id = document["k"]
        valid = document["v"] == _TOKEN_VERSION and isinstance(key, str) and isinstance(claim_id, str)
        if valid:  # the key must parse as what the order sorts by
            parse = (
                dt.date.fromisoformat
                if query.order is ClaimOrder.FILING_DEADLINE
                else dt.datetime.fromisoformat
            )
            parse(key)
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        valid = False
    if not valid:
        raise InvalidArgument.single(
            "page_token", "not a page token of ListReclaimClaims: pass next_page_token as is"
        )
    if document["f"] != _digest(query):
        raise InvalidArgument.single(
            "page_token", "belongs to a listing with other filters or order: repeat the filters it came with"
        )
    return (key, claim_id)


class ClaimLister:
    def __init__(
        self, repository: ClaimRepository, expiry: ClaimExpiry, today: Callable[[], dt.date]
    ) -> None:
        self._repository = repository
        self._expiry = expiry
        self._today = today

    async def list_claims(self, query: ClaimQuery, page_size: int, page_token: str) -> ClaimListing:
        """A page of the merchant's claims, after expiring those of its claims already overdue today.
        InvalidArgument for a page size outside 1..500 (0: 50) or a token of another listing."""
        size = page_size or DEFAULT_PAGE_SIZE
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidArgument.single(
                "page_size",
                f"must be between 1 and {MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE}), got {page_size}",
            )
        after = _after(page_token, query)
        await self._expiry.expire_overdue(self._today(), query.merchant_id)
        page = await self._repository.page(query, after, size)
        return ClaimListing(page.claims, _token(query, page.next_after) if page.next_after else "")
