"""Page tokens of ListReturnLabels: opaque to clients, bound to the filters they were issued for.

A token is base64url of a small JSON object: version, the creation time and id of the last label of the
page (keyset paging in list order, so labels created meanwhile never shift later pages), and a digest of
the filters, so a token replayed with other filters is refused instead of silently skipping labels.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json

from service.errors import InvalidArgument
from service.labels.model import LabelQuery
from service.labels.repository import PageCursor

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
_VERSION = 1


def page_size(requested: int) -> int:
    """0 means the default; more than the maximum is served as the maximum."""
    if requested < 0:
        raise InvalidArgument.single("page_size", f"must not be negative, got {requested}")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def query_digest(query: LabelQuery) -> str:
    filters = {
        "statuses": sorted(s.value for s in query.statuses),
        "carriers": sorted(query.carrier_account_ids),
        "after": query.created_after.isoformat() if query.created_after else "",
        "before": query.created_before.isoformat() if query.created_before else "",
        "tracking_number": query.tracking_number,
    }
    return hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:16]


def encode_page_token(cursor: PageCursor, query: LabelQuery) -> str:
    body = {"v": _VERSION, "t": cursor.created_at.isoformat(), "i": cursor.label_id, "q": query_digest(query)}
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_page_token(token: str, query: LabelQuery) -> PageCursor | None:
    if not token:
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        version, created, label_id, digest = body["v"], body["t"], body["i"], body["q"]
        created_at = dt.datetime.fromisoformat(created)
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise InvalidArgument.single(
            "page_token", "not a page token of ListReturnLabels: pass next_page_token as is"
        ) from None
    if version != _VERSION or not isinstance(label_id, str) or created_at.tzinfo is None:
        raise InvalidArgument.single(
            "page_token", "not a page token of ListReturnLabels: pass next_page_token as is"
        )
    if digest != query_digest(query):
        raise InvalidArgument.single(
            "page_token", "was issued for other filters: repeat the filters of the first page with it"
        )
    return PageCursor(created_at, label_id)
