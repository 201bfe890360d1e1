"""The customer tracking page: `/track/{tracking token}` and its live updates over Server-Sent Events.

A customer holds the label's tracking token (`bht_...`), the same credential a customer app sends to
GetTracking and SubscribeTracking, and it reads that one return and nothing else. A token that is malformed,
forged, expired or names a parcel that is not tracked gets the same 404 page, so the page never tells which.

The page is rendered on the server (Jinja2 with autoescaping) in the customer's language: `?lang=` when it
names one of the catalogues, else the best match of Accept-Language, else English; texts come from the
instructions' message catalogues (keys `page_*`). It shows the four return milestones, the expected refund
date and the event history, and then follows `/track/{token}/events`: a text/event-stream fed by the same
`TrackingStreams.stream` as SubscribeTracking. Each event goes out with `id: <cursor>`, so a browser that
reconnects sends Last-Event-ID and resumes exactly after the last event it showed; after each live event the
page gets the recomputed state (milestones, refund date) from the same queries as GetTracking. Idle streams
carry heartbeats as SSE comments. `close()` ends the open streams so that the HTTP side can drain; browsers
then reconnect, to another replica when this one is gone.

Everything the page runs is served from here (no external resources), under a Content-Security-Policy that
allows this origin's script and style only; the script builds live entries with textContent.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, cast
from urllib.parse import quote

from babel import Locale
from babel.dates import format_date, format_time
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from carriers.accounts import CarrierAccount
from carriers.tracking import ExceptionReason, TrackingStatus
from service.auth import Principal
from service.documents.catalogue import MessageCatalogue, catalogues, resolve_locale
from service.errors import InvalidArgument, NotFound, PermissionDenied
from service.tracking.access import stream_selection
from service.tracking.milestones import ReturnMilestone
from service.tracking.model import LoggedEvent
from service.tracking.queries import ParcelTracking
from service.tracking.runtime import Tracking
from service.tracking.streams import Heartbeat, ReplayComplete, StreamItem

# Browsers wait this long before reconnecting a dropped event stream (the SSE `retry` field).
RECONNECT_MILLISECONDS = 3000
_MAX_LANGUAGE_TAGS = 20  # of an Accept-Language header; the rest is ignored

_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    # The token is in the URL: no Referer may carry it to another site.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
    "Cache-Control": "no-store",
}
_STREAM_HEADERS = {
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # reverse proxies must pass events on as they come
    "X-Content-Type-Options": "nosniff",
}
_ASSETS = {"tracking-page.js": "text/javascript", "tracking-page.css": "text/css"}


# -- language ---------------------------------------------------------------------------------------------


def preferred_language_tags(accept_language: str) -> list[str]:
    """The tags of an Accept-Language header, most preferred first (q=0 and malformed entries dropped)."""
    weighted: list[tuple[float, int, str]] = []
    for position, entry in enumerate(accept_language.split(",")[:_MAX_LANGUAGE_TAGS]):
        tag, _, parameters = entry.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        weight = 1.0
        name, _, value = parameters.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value)
            except ValueError:
                continue
        if weight > 0:
            weighted.append((-weight, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def page_language(requested: str | None, accept_language: str | None) -> tuple[MessageCatalogue, Locale]:
    """The catalogue and formatting locale for a page: `?lang=` when it names a catalogue, else the first
    Accept-Language tag that does, else English."""
    for tag in [requested or "", *preferred_language_tags(accept_language or "")]:
        primary = tag.replace("_", "-").split("-", 1)[0].lower()
        catalogue, locale = resolve_locale(tag)
        if primary and catalogue.language == primary:  # resolve_locale falls back to English otherwise
            return catalogue, locale
    return resolve_locale("")


# -- what the page shows ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MilestoneView:
    key: str  # ReturnMilestone value, or "refund"
    name: str
    reached: bool
    at: str  # ISO 8601 instant (a date for the refund), empty when unknown
    when: str  # `at` formatted for the page's locale; for the refund, what to show while it is unknown


@dataclass(frozen=True, slots=True)
class EventView:
    cursor: str  # a string, as uint64 cursors are in JSON clients
    at: str
    when: str
    status: str
    status_text: str
    description: str
    place: str


@dataclass(frozen=True, slots=True)
class StateView:
    status_text: str
    milestones: Sequence[MilestoneView]  # the four milestones in journey order, then the refund
    current: str  # key of the latest milestone reached, empty before the first


class PageFormatter:
    """Tracking data as the page's texts, in one language and locale."""

    def __init__(self, catalogue: MessageCatalogue, locale: Locale, carriers: Mapping[str, CarrierAccount]):
        self.catalogue = catalogue
        self.locale = locale
        self._carriers = carriers

    def text(self, key: str, **values: str) -> str:
        return self.catalogue.text(key, **values)

    def instant(self, value: dt.datetime) -> str:
        """Date and time in UTC (the script shows it in the reader's time zone)."""
        pattern = self.locale.datetime_formats["medium"]
        day = format_date(value, "medium", locale=self.locale)
        time = format_time(value, "short", tzinfo=dt.UTC, locale=self.locale)
        return f"{pattern.replace('{1}', day).replace('{0}', time)} UTC"

    def carrier(self, account_id: str) -> str:
        account = self._carriers.get(account_id)
        return account.carrier if account is not None else account_id

    def status(self, status: TrackingStatus, reason: ExceptionReason | None) -> str:
        """A held parcel is described by why it is held, when that is known."""
        if reason is not None:
            return self.text(f"page_reason_{reason.value}")
        return self.text(f"page_status_{status.value}")

    def event(self, logged: LoggedEvent) -> EventView:
        event = logged.event
        location = event.location
        country = self.locale.territories.get(location.country, location.country) if location.country else ""
        place = ", ".join(part for part in (logged.facility, location.city, country) if part)
        reason = event.reason if event.status is TrackingStatus.EXCEPTION else None
        occurred = event.occurred_at.astimezone(dt.UTC)
        return EventView(
            cursor=str(logged.cursor),
            at=occurred.isoformat(),
            when=self.instant(occurred),
            status=event.status.value,
            status_text=self.status(event.status, reason),
            description=event.description or event.substatus or event.code,
            place=place,
        )

    def state(self, parcel: ParcelTracking) -> StateView:
        if parcel.history:
            status = self.status(parcel.shipment.status, parcel.exception_reason)
        else:
            status = self.text("page_status_waiting")
        milestones = [
            MilestoneView(
                key=progress.milestone.value,
                name=self.text(f"page_milestone_{progress.milestone.value}"),
                reached=progress.reached,
                at=progress.reached_at.astimezone(dt.UTC).isoformat() if progress.reached_at else "",
                when=self.instant(progress.reached_at) if progress.reached_at else "",
            )
            for progress in parcel.milestones
        ]
        refund = parcel.expected_refund_date
        received = any(
            p.reached and p.milestone is ReturnMilestone.DELIVERED_TO_MERCHANT for p in parcel.milestones
        )
        milestones.append(
            MilestoneView(
                key="refund",
                name=self.text("page_refund"),
                reached=received and refund is not None,
                at=refund.isoformat() if refund else "",
                when=format_date(refund, self.catalogue.date_format, locale=self.locale)
                if refund
                else self.text("page_refund_unknown"),
            )
        )
        reached = [p.milestone.value for p in parcel.milestones if p.reached]
        return StateView(status_text=status, milestones=milestones, current=reached[-1] if reached else "")


def _json(view: EventView | StateView) -> str:
    return json.dumps(dataclasses.asdict(view), ensure_ascii=False, separators=(",", ":"))


def sse_message(data: str, *, event: str = "", event_id: str = "") -> str:
    """One Server-Sent Events message (the data split over `data:` lines, as the format requires)."""
    lines = [f"id: {event_id}"] if event_id else []
    if event:
        lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return "\n".join(lines) + "\n\n"


def resume_cursor(last_event_id: str | None, after: str | None) -> int:
    """Where a stream starts: after Last-Event-ID (a reconnecting browser), else after `?after=` (the
    cursor the page was rendered at), else from the beginning. ValueError for anything but a cursor."""
    for value in (last_event_id, after):
        if value is not None and value.strip():
            cursor = int(value.strip())
            if cursor < 0:
                raise ValueError("a cursor is not negative")
            return cursor
    return 0


# -- the HTTP endpoints -----------------------------------------------------------------------------------


class TrackingPage:
    def __init__(self, tracking: Tracking, carriers: Mapping[str, CarrierAccount]) -> None:
        self._tracking = tracking
        self._carriers = carriers
        self._templates = Environment(
            loader=PackageLoader("service.http", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        static = files("service.http").joinpath("static")
        self._assets = {name: static.joinpath(name).read_bytes() for name in _ASSETS}
        self._versions = {name: hashlib.sha256(body).hexdigest()[:12] for name, body in self._assets.items()}
        self._closing = asyncio.Event()

    def routes(self) -> list[Route]:
        return [
            Route("/track/{token}", self.page, methods=["GET"], name="tracking_page"),
            Route("/track/{token}/events", self.events, methods=["GET"], name="tracking_events"),
            Route("/static/{name}", self.asset, methods=["GET"], name="tracking_assets"),
        ]

    def close(self) -> None:
        """End every open event stream (browsers reconnect, with Last-Event-ID, wherever they are sent)."""
        self._closing.set()

    async def _parcel(self, token: str) -> tuple[Principal, ParcelTracking] | None:
        principal = self._tracking.tokens.verify(token)
        if principal is None:
            return None
        try:
            return principal, await self._tracking.queries.parcel(principal)
        except (NotFound, PermissionDenied):
            return None

    def _formatter(self, request: Request) -> PageFormatter:
        catalogue, locale = page_language(
            request.query_params.get("lang"), request.headers.get("accept-language")
        )
        return PageFormatter(catalogue, locale, self._carriers)

    def _render(self, template: str, formatter: PageFormatter, status_code: int, **values: Any) -> Response:
        body = self._templates.get_template(template).render(
            text=formatter.text,
            lang=formatter.catalogue.language,
            languages=[
                (code, _language_name(code))
                for code in sorted(catalogues())
                if code != formatter.catalogue.language
            ],
            assets=self._versions,
            **values,
        )
        headers = {**_PAGE_HEADERS, "Vary": "Accept-Language"}
        return HTMLResponse(body, status_code=status_code, headers=headers)

    async def page(self, request: Request) -> Response:
        token = request.path_params["token"]
        formatter = self._formatter(request)
        found = await self._parcel(token)
        if found is None:
            return self._render("tracking_not_found.html", formatter, 404)
        _, parcel = found
        shipment = parcel.shipment
        history = sorted(parcel.history, key=lambda e: (e.event.occurred_at, e.cursor), reverse=True)
        events_url = (
            f"{quote(token, safe='')}/events?lang={formatter.catalogue.language}&after={parcel.last_cursor}"
        )
        return self._render(
            "tracking_page.html",
            formatter,
            200,
            tracking_number=shipment.tracking_number,
            carrier=formatter.carrier(shipment.carrier_account_id),
            state=formatter.state(parcel),
            history=[formatter.event(event) for event in history],
            events_url=events_url,
        )

    async def events(self, request: Request) -> Response:
        found = await self._parcel(request.path_params["token"])
        if found is None:
            return PlainTextResponse("not found", status_code=404)
        principal, _ = found
        try:
            resume = resume_cursor(request.headers.get("last-event-id"), request.query_params.get("after"))
        except ValueError:
            return PlainTextResponse("Last-Event-ID and ?after= take an event cursor", status_code=400)
        items = cast(
            AsyncGenerator[StreamItem, None],
            self._tracking.streams.stream(
                stream_selection(principal), resume, self._tracking.heartbeat_seconds
            ),
        )
        try:
            # Replay starts at once (at the latest with the replay-complete marker): a cursor beyond the end
            # of the log is refused here, before the response has begun.
            first = await anext(items)
        except InvalidArgument as exc:
            await items.aclose()
            return PlainTextResponse(exc.message, status_code=400)
        body = self._messages(principal, self._formatter(request), first, items)
        return StreamingResponse(body, media_type="text/event-stream", headers=_STREAM_HEADERS)

    async def _messages(
        self,
        principal: Principal,
        formatter: PageFormatter,
        first: StreamItem,
        items: AsyncGenerator[StreamItem, None],
    ) -> AsyncIterator[str]:
        yield f"retry: {RECONNECT_MILLISECONDS}\n\n"
        live = False
        async with contextlib.aclosing(_until(self._closing, first, items)) as stream:
            async for item in stream:
                if isinstance(item, Heartbeat):
                    yield f": heartbeat {item.last_cursor}\n\n"
                elif isinstance(item, ReplayComplete):
                    live = True
                    if item.replayed:
                        yield await self._state_message(principal, formatter)
                    yield sse_message(json.dumps({"last_cursor": str(item.last_cursor)}), event="live")
                else:
                    yield sse_message(
                        _json(formatter.event(item)), event="tracking", event_id=str(item.cursor)
                    )
                    if live:
                        yield await self._state_message(principal, formatter)

    async def _state_message(self, principal: Principal, formatter: PageFormatter) -> str:
        parcel = await self._tracking.queries.parcel(principal)
        return sse_message(_json(formatter.state(parcel)), event="state")

    async def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self._assets:
            return PlainTextResponse("not found", status_code=404)
        # The page links each file with its digest (?v=), so a new release is fetched at once.
        headers = {
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
        }
        return Response(self._assets[name], media_type=_ASSETS[name], headers=headers)


def _language_name(code: str) -> str:
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


async def _until(
    closing: asyncio.Event, first: StreamItem, items: AsyncGenerator[StreamItem, None]
) -> AsyncGenerator[StreamItem, None]:
    """`first`, then the items of `items` until `closing` is set; the stream is closed either way."""
    stop = asyncio.ensure_future(closing.wait())
    step: asyncio.Future[StreamItem] | None = None
    try:
        yield first
        while not closing.is_set():
            step = asyncio.ensure_future(anext(items))
            await asyncio.wait({step, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not step.done():
                return
            try:
                item = step.result()
            except StopAsyncIteration:
                return
            step = None
            yield item
    finally:
        stop.cancel()
        if step is not None and not step.done():
            step.cancel()  # the cancellation reaches the stream where it waits, and the stream closes itself
        else:
            await items.aclose()
