"""The customer tracking page through a real server process, and live in headless Chromium.

A label is bought over gRPC (Germany -> the EU hub with the Rhein Paket rate-card partner, which takes partner
pushes), and its tracking token opens /track/<token>. Chromium (Debian's package) is driven over the DevTools
protocol on a pipe (--remote-debugging-pipe: no port, no extra client library): the page is opened, an event
is ingested with IngestTrackingEvents after it has loaded, and the test waits for the event to show up in the
DOM. The HTTP-level checks (languages, 404s, resuming with Last-Event-ID, heartbeats, draining) use httpx.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import timestamp_pb2
from google.type import money_pb2, postal_address_pb2

from backhaul.v1 import (
    common_pb2,
    labels_pb2,
    labels_pb2_grpc,
    rates_pb2,
    rates_pb2_grpc,
    tracking_pb2,
    tracking_pb2_grpc,
)
from service.documents.catalogue import catalogues
from service.tracking.access import TrackingTokens
from tests.e2e.server_process import ServerProcess

Metadata = tuple[tuple[str, str], ...]
SECRET = "e2e-secret-" + "x" * 32  # ServerProcess's BACKHAUL_QUOTE_TOKEN_SECRET
CARRIER_ACCOUNT = "rhein-paket"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SERVER_ENV = {"BACKHAUL_TRACKING_HEARTBEAT_SECONDS": "1"}


# -- the server, a label and events --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("tracking-page"), extra_env=SERVER_ENV)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def channel(server: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.target) as opened:
        yield opened


@pytest.fixture(scope="module")
def key(server: ServerProcess) -> Metadata:
    return (("authorization", f"Bearer {server.create_key('merchant-page')}"),)


def _shipment() -> common_pb2.ReturnShipment:
    return common_pb2.ReturnShipment(
        customer=common_pb2.Party(
            contact=common_pb2.Contact(name="Lena Vogel", email="lena@example.com"),
            address=postal_address_pb2.PostalAddress(
                region_code="DE", address_lines=["Hauptstraße 5"], locality="Berlin", postal_code="10115"
            ),
        ),
        parcels=[common_pb2.Parcel(weight_grams=900, length_mm=300, width_mm=200, height_mm=100)],
        items=[
            common_pb2.ReturnedItem(
                sku="SHIRT-1",
                description="cotton shirt",
                hs_code="6205.20",
                origin_country="PT",
                quantity=1,
                unit_value=money_pb2.Money(currency_code="EUR", units=40),
                unit_weight_grams=300,
                return_reason=common_pb2.RETURN_REASON_WRONG_SIZE,
            )
        ],
    )


def buy_label(channel: grpc.Channel, key: Metadata, idempotency_key: str) -> labels_pb2.ReturnLabel:
    shipment = _shipment()
    request = rates_pb2.QuoteReturnRequest()
    request.ParseFromString(shipment.SerializeToString())  # fields 1-5 are the same
    request.preferences.carrier_account_ids.append(CARRIER_ACCOUNT)
    quotes = rates_pb2_grpc.RatesServiceStub(channel).QuoteReturn(request, metadata=key, timeout=10)
    assert quotes.quotes, quotes.errors
    bought = labels_pb2_grpc.LabelsServiceStub(channel).CreateReturnLabel(
        labels_pb2.CreateReturnLabelRequest(
            idempotency_key=idempotency_key, shipment=shipment, quote_token=quotes.quotes[0].quote_token
        ),
        metadata=key,
        timeout=20,
    )
    assert bought.label.tracking_token.startswith("bht_")
    return bought.label


def ingest(
    channel: grpc.Channel,
    key: Metadata,
    label: labels_pb2.ReturnLabel,
    *,
    code: str,
    description: str,
    minutes_ago: int,
    city: str = "Berlin",
    country: str = "DE",
    facility: str = "",
) -> int:
    """Push one partner scan for the label's parcel; its cursor."""
    occurred = timestamp_pb2.Timestamp()
    occurred.FromDatetime(dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=minutes_ago))
    response = tracking_pb2_grpc.TrackingServiceStub(channel).IngestTrackingEvents(
        tracking_pb2.IngestTrackingEventsRequest(
            carrier_account_id=label.carrier.account_id,
            events=[
                tracking_pb2.PartnerTrackingEvent(
                    tracking_number=label.tracking_number,
                    occurred_at=occurred,
                    code=code,
                    description=description,
                    location=tracking_pb2.TrackingLocation(city=city, country=country, facility=facility),
                )
            ],
        ),
        metadata=key,
        timeout=10,
    )
    assert response.accepted_count == 1
    return int(response.results[0].cursor)


def page_url(server: ServerProcess, token: str) -> str:
    return f"http://127.0.0.1:{server.http_port}/track/{token}"


# -- HTTP ----------------------------------------------------------------------------------------------------


def test_the_page_is_in_the_customers_language(
    server: ServerProcess, channel: grpc.Channel, key: Metadata
) -> None:
    label = buy_label(channel, key, "page-languages")
    url = page_url(server, label.tracking_token)
    texts = catalogues()
    assert sorted(texts) == ["de", "en", "es", "fr", "it", "ja", "nl"]
    with httpx.Client(timeout=10) as http:
        for language, catalogue in texts.items():
            page = http.get(url, headers={"Accept-Language": f"{language}-XX, en;q=0.5"})
            assert page.status_code == 200
            assert f'<html lang="{language}">' in page.text
            assert f"<h1>{catalogue.messages['page_title']}</h1>" in page.text
            assert catalogue.messages["page_status_waiting"] in page.text
        chosen = {
            "?lang=it": ("de", "it"),  # ?lang= wins over the header
            "": ("sv, nl;q=0.2, fr;q=0.8, ja;q=0", "fr"),  # weights decide; q=0 means "not this one"
            "?lang=xx": ("pt-BR, sv", "en"),  # nothing available: English
        }
        for query, (accept, language) in chosen.items():
            page = http.get(url + query, headers={"Accept-Language": accept})
            assert f'<html lang="{language}">' in page.text, (query, accept)
        headers = http.get(url).headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"  # the token must not leak through Referer


def test_unknown_forged_expired_or_foreign_tokens_get_the_same_404(
    server: ServerProcess, channel: grpc.Channel, key: Metadata
) -> None:
    label = buy_label(channel, key, "page-404")
    genuine = label.tracking_token
    payload, _, signature = genuine.partition(".")
    server_tokens = TrackingTokens(SECRET.encode(), validity=dt.timedelta(days=1))
    expired = TrackingTokens(
        SECRET.encode(),
        validity=dt.timedelta(days=1),
        clock=lambda: dt.datetime.now(dt.UTC) - dt.timedelta(days=2),
    )
    other_secret = TrackingTokens(b"another-secret-" + b"y" * 32, validity=dt.timedelta(days=1))
    merchant = "merchant-page"
    bad = {
        "malformed": "bht_not-a-token",
        "no prefix": genuine.removeprefix("bht_"),
        "tampered signature": f"{payload}.{signature[::-1]}",
        "another label's id": server_tokens.issue(merchant, "no-such-label"),
        "expired": expired.issue(merchant, label.id),
        "signed with another secret": other_secret.issue(merchant, label.id),
        "markup": "<img src=x onerror=alert(1)>",
    }
    with httpx.Client(timeout=10) as http:
        assert http.get(page_url(server, genuine)).status_code == 200
        bodies = set()
        for reason, token in bad.items():
            page = http.get(page_url(server, token), headers={"Accept-Language": "en"})
            assert page.status_code == 404, reason
            assert token not in page.text, reason
            assert label.tracking_number not in page.text, reason
            bodies.add(page.text)
            assert http.get(page_url(server, token) + "/events").status_code == 404, reason
    assert len(bodies) == 1  # nothing tells one failure from another
    assert catalogues()["en"].messages["page_not_found_title"] in bodies.pop()


def _read_stream(stream: Iterator[str], until: str, timeout: float = 10) -> list[str]:
    """Lines of an event stream up to and including the first line starting with `until`."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    for line in stream:
        lines.append(line)
        if line.startswith(until):
            return lines
        assert time.monotonic() < deadline, lines
    raise AssertionError(f"stream ended before {until!r}: {lines}")


def _events(lines: list[str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, event type, data) of each message with data among `lines`."""
    found = []
    fields: dict[str, str] = {}
    for line in lines:
        if not line:
            if "data" in fields:
                found.append(
                    (fields.get("id", ""), fields.get("event", "message"), json.loads(fields["data"]))
                )
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
    return found


def test_the_event_stream_resumes_after_last_event_id_and_sends_heartbeats(
    server: ServerProcess, channel: grpc.Channel, key: Metadata
) -> None:
    label = buy_label(channel, key, "page-stream")
    first = ingest(channel, key, label, code="EMA", description="Posted", minutes_ago=30)
    second = ingest(channel, key, label, code="EMB", description="At the exchange office", minutes_ago=20)
    url = page_url(server, label.tracking_token) + "/events?lang=de"
    with httpx.Client(timeout=10) as http:
        # A reconnecting browser's Last-Event-ID wins over the ?after= of the page it first rendered.
        resumed = {"Last-Event-ID": str(first)}
        with http.stream("GET", f"{url}&after={second}", headers=resumed) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = _read_stream(response.iter_lines(), ": heartbeat")  # the server's heartbeat is 1 s
        replayed = _events(lines)
        assert [(event_id, kind) for event_id, kind, _ in replayed] == [
            (str(second), "tracking"),
            ("", "state"),
            ("", "live"),
        ]
        event = replayed[0][2]
        assert event["description"] == "At the exchange office"
        assert event["status_text"] == catalogues()["de"].messages["page_status_in_transit"]
        assert event["place"] == "Berlin, Deutschland"
        state = replayed[1][2]
        reached = [m["key"] for m in state["milestones"] if m["reached"]]
        assert reached == ["dropped_off", "in_transit_to_hub"]
        assert state["current"] == "in_transit_to_hub"

        with http.stream("GET", f"{url}&after={second}") as response:
            assert [kind for _, kind, _ in _events(_read_stream(response.iter_lines(), ": heartbeat"))] == [
                "live"
            ]
        assert http.get(url, headers={"Last-Event-ID": "soon"}).status_code == 400
        assert http.get(url, headers={"Last-Event-ID": str(10**12)}).status_code == 400
        # Closed pages leave no subscription behind.
        metrics = f"http://127.0.0.1:{server.http_port}/metrics"
        deadline = time.monotonic() + 10
        while "backhaul_tracking_subscribers 0.0" not in http.get(metrics).text:
            assert time.monotonic() < deadline, "event streams still subscribed after their clients left"
            time.sleep(0.1)


def test_draining_ends_open_event_streams(tmp_path: Path) -> None:
    process = ServerProcess(tmp_path, extra_env={"BACKHAUL_TRACKING_HEARTBEAT_SECONDS": "30"})
    process.start()
    try:
        with grpc.insecure_channel(process.target) as own_channel:
            own_key = (("authorization", f"Bearer {process.create_key('merchant-drain')}"),)
            label = buy_label(own_channel, own_key, "drain")
        url = page_url(process, label.tracking_token) + "/events"
        with httpx.Client(timeout=20) as http, http.stream("GET", url) as response:
            stream = response.iter_lines()
            _read_stream(stream, "event: live")
            started = time.monotonic()
            assert process.process is not None
            process.process.terminate()
            rest = list(stream)  # ends when the server closes the stream
            ended = time.monotonic() - started
        assert process.process.wait(timeout=20) == 0
        assert not any(line.startswith("event: tracking") for line in rest)
        assert ended < 10, f"the stream stayed open {ended:.1f}s into the drain (heartbeat 30 s)"
    finally:
        process.stop()


# -- Chromium ------------------------------------------------------------------------------------------------


class DevToolsError(RuntimeError):
    pass


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe: JSON messages ending in NUL bytes,
    written to the browser's fd 3 and read from its fd 4."""

    def __init__(self, executable: str, workdir: Path) -> None:
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        # Numbers from 10 up, so bash's redirections to 3 and 4 cannot overwrite them (dash takes one digit).
        child_read = fcntl.fcntl(to_browser_read, fcntl.F_DUPFD_CLOEXEC, 10)
        child_write = fcntl.fcntl(from_browser_write, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_browser_read)
        os.close(from_browser_write)
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={workdir / 'profile'}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self.log_path = workdir / "chromium.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    "/bin/bash",
                    "-c",
                    f'exec "$@" 3<&{child_read} 4>&{child_write}',
                    "bash",
                    executable,
                    *flags,
                ],
                pass_fds=(child_read, child_write),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        os.close(child_read)
        os.close(child_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, *, session: str = "") -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._to_browser, data) :]
        deadline = time.monotonic() + 15
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise DevToolsError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no answer from Chromium:\n{self.log()}")
            readable, _, _ = select.select([self._from_browser], [], [], remaining)
            if readable:
                chunk = os.read(self._from_browser, 1 << 16)
                if not chunk:
                    raise DevToolsError(f"Chromium closed the pipe:\n{self.log()}")
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def close(self) -> None:
        os.close(self._to_browser)  # Chromium exits when its pipe closes
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._from_browser)


class BrowserPage:
    def __init__(self, browser: Chromium, *, accept_language: str, timezone: str) -> None:
        self.browser = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        user_agent = browser.send("Browser.getVersion")["userAgent"]
        for method, params in (
            ("Runtime.enable", {}),
            ("Log.enable", {}),
            ("Page.enable", {}),
            ("Emulation.setUserAgentOverride", {"userAgent": user_agent, "acceptLanguage": accept_language}),
            ("Emulation.setTimezoneOverride", {"timezoneId": timezone}),
            (
                "Emulation.setDeviceMetricsOverride",
                {"width": 820, "height": 1180, "deviceScaleFactor": 1, "mobile": False},
            ),
        ):
            self.send(method, params)

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.send(method, params, session=self.session)

    def evaluate(self, expression: str) -> Any:
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in reply:
            raise DevToolsError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 15) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression} still false after {timeout}s")
            time.sleep(0.1)

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"]))

    def problems(self) -> list[dict[str, Any]]:
        """Script exceptions and errors logged by the page (a blocked resource, a CSP violation)."""
        mine = [event for event in self.browser.events if event.get("sessionId") == self.session]
        return [
            event
            for event in mine
            if event["method"] == "Runtime.exceptionThrown"
            or (event["method"] == "Log.entryAdded" and event["params"]["entry"]["level"] == "error")
            or (event["method"] == "Runtime.consoleAPICalled" and event["params"]["type"] == "error")
        ]


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Chromium]:
    if not Path(CHROMIUM).is_file():
        reason = "chromium is not installed (make system-deps installs Debian's package)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    browser = Chromium(CHROMIUM, tmp_path)
    try:
        yield browser
    finally:
        browser.close()


HISTORY_CURSORS = "Array.from(document.querySelectorAll('#history li')).map(li => li.dataset.cursor)"
MILESTONES = (
    "Array.from(document.querySelectorAll('#milestones li')).map(li => "
    "[li.dataset.milestone, li.classList.contains('reached'), li.getAttribute('aria-current')])"
)


def test_an_event_ingested_after_the_page_loaded_appears_in_chromium(
    server: ServerProcess, channel: grpc.Channel, key: Metadata, chromium: Chromium, tmp_path: Path
) -> None:
    french = catalogues()["fr"].messages
    label = buy_label(channel, key, "page-chromium")
    posted = ingest(channel, key, label, code="EMA", description="Colis déposé", minutes_ago=90)
    page = BrowserPage(chromium, accept_language="fr-FR,fr;q=0.9", timezone="Europe/Paris")
    page.send("Page.navigate", {"url": page_url(server, label.tracking_token)})
    page.wait_for("document.getElementById('tracking')?.dataset.live === 'true'")
    assert page.evaluate("document.documentElement.lang") == "fr"
    assert page.evaluate("document.querySelector('h1').textContent") == french["page_title"]
    assert page.evaluate(HISTORY_CURSORS) == [str(posted)]
    assert page.evaluate(MILESTONES)[:2] == [
        ["dropped_off", True, "step"],
        ["in_transit_to_hub", False, None],
    ]
    assert page.evaluate("document.getElementById('live-status').textContent") == french["page_live"]
    # The script shows times in the reader's zone; the server wrote UTC.
    assert not page.evaluate("document.querySelector('#history time').textContent").endswith("UTC")

    hostile = "Arrivé au centre de tri <img src=x onerror=\"document.title='pwned'\">"
    moved = ingest(
        channel,
        key,
        label,
        code="EMC",
        description=hostile,
        minutes_ago=5,
        city="Venlo",
        country="NL",
        facility="Sorteercentrum Venlo",
    )
    page.wait_for(f"{HISTORY_CURSORS}.includes('{moved}')")
    assert page.evaluate(HISTORY_CURSORS) == [str(moved), str(posted)]  # newest first
    newest = "document.querySelector('#history li')"
    assert page.evaluate(f"{newest}.querySelector('.description').textContent") == hostile
    assert (
        page.evaluate(f"{newest}.querySelector('.place').textContent")
        == "Sorteercentrum Venlo, Venlo, Pays-Bas"
    )
    assert page.evaluate("document.querySelectorAll('img').length") == 0  # text, never markup
    assert page.evaluate("document.title") != "pwned"

    # The recomputed state follows the event: the parcel moved on towards the hub.
    page.wait_for(f"{MILESTONES}[1][1]")
    assert page.evaluate("document.getElementById('status').textContent") == french["page_status_in_transit"]
    assert page.evaluate(MILESTONES) == [
        ["dropped_off", True, None],
        ["in_transit_to_hub", True, "step"],
        ["arrived_at_hub", False, None],
        ["delivered_to_merchant", False, None],
        ["refund", False, None],
    ]
    shot = tmp_path / "tracking-page-fr.png"
    page.screenshot(shot)
    assert shot.read_bytes().startswith(b"\x89PNG")
    assert page.problems() == []
