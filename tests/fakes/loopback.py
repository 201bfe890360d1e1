"""A loopback HTTP server that fake carrier APIs build on: routing, request recording and fault injection.

Real sockets on 127.0.0.1 with an ephemeral port, one thread per connection (ThreadingHTTPServer), HTTP/1.1
keep-alive so SDK connection pools behave as against the real API. Every response is written in one
`write` with TCP_NODELAY: a stock handler that writes headers and body separately adds ~44 ms per call on
loopback (Nagle + delayed ACK, see research/carrier-apis.md).

Use it synchronously (`with Fake() as fake:`) or from async code (`async with Fake() as fake:`); the server
always runs in its own background thread, so a test's event loop is never blocked by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from requests.structures import CaseInsensitiveDict

JsonBody = Any  # what json.loads returns


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str  # without the query string
    query: Mapping[str, list[str]]
    headers: CaseInsensitiveDict[str]
    body: bytes
    received_at: float  # time.monotonic()

    @property
    def json(self) -> JsonBody:
        """The parsed JSON body, or None when there is no body or it is not JSON."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass(frozen=True)
class Response:
    status: int
    body: JsonBody = None
    headers: Mapping[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent verbatim instead of `body` (labels, malformed JSON)
    content_type: str = "application/json"


class FaultKind(StrEnum):
    STATUS = "status"  # answer with a status and body (429, 500, 503, provider error bodies)
    HANG = "hang"  # read the request, say nothing for `seconds`, then drop the connection
    RESET = "reset"  # read the request, then reset the TCP connection (RST)
    MALFORMED_JSON = "malformed_json"  # 200 with a body that is not JSON
    MISSING_FIELDS = "missing_fields"  # the normal answer with some fields removed


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    status: int = 0
    body: JsonBody = None
    headers: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    fields: tuple[str, ...] = ()  # dotted paths into the JSON answer, list indexes as numbers: "rates.0.rate"

    @classmethod
    def rate_limited(cls, retry_after: str = "1", body: JsonBody = None) -> Fault:
        """429 with a Retry-After header (seconds or an HTTP date, passed through verbatim)."""
        return cls(FaultKind.STATUS, 429, body, {"Retry-After": retry_after})

    @classmethod
    def server_error(cls, status: int = 500, body: JsonBody = None) -> Fault:
        """A 5xx; `body` None means the provider's error format, bytes are sent verbatim as HTML."""
        return cls(FaultKind.STATUS, status, body)

    @classmethod
    def error(cls, status: int, body: JsonBody, headers: Mapping[str, str] | None = None) -> Fault:
        """Any provider error answer (401, 404, 422 with field errors...)."""
        return cls(FaultKind.STATUS, status, body, dict(headers or {}))

    @classmethod
    def hang(cls, seconds: float) -> Fault:
        return cls(FaultKind.HANG, seconds=seconds)

    @classmethod
    def reset(cls) -> Fault:
        return cls(FaultKind.RESET)

    @classmethod
    def malformed_json(cls) -> Fault:
        return cls(FaultKind.MALFORMED_JSON)

    @classmethod
    def missing_fields(cls, *paths: str) -> Fault:
        return cls(FaultKind.MISSING_FIELDS, fields=paths)


@dataclass
class _Armed:
    fault: Fault
    method: str | None
    path: re.Pattern[str] | None
    remaining: int | None  # None: every matching request

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path is None or self.path.search(path) is not None


Handler = Callable[[RecordedRequest, "re.Match[str]"], Response]


class ProviderError(Exception):
    """Raised by a route handler to answer with a provider-formatted error."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _drop_path(document: JsonBody, path: str) -> None:
    *parents, last = path.split(".")
    node = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        del node[int(last)]
    else:
        node.pop(last, None)


class LoopbackServer:
    """Base of the fake carrier servers: subclasses register routes with `route()` in `__init__`."""

    poll_interval = 0.02  # how quickly stop() returns

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._faults: list[_Armed] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.latency_seconds = 0.0  # added to every answer (benchmarks, demo)

    # -- routes ---------------------------------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, re.compile(f"^{pattern}$"), handler))

    def not_found(self, request: RecordedRequest) -> Response:
        """Answer for a path no route matches; subclasses use the provider's 404 format."""
        return Response(404, {"error": f"no route for {request.method} {request.path}"})

    def error_body(self, status: int) -> JsonBody:
        """The provider's JSON error body for a bare status fault (subclasses use the provider format)."""
        return {"error": HTTPStatus(status).phrase}

    def authenticate(self, request: RecordedRequest) -> Response | None:
        """Return an error answer when the request's credentials are wrong (subclasses)."""
        return None

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self, port: int = 0) -> Self:
        """Serve on 127.0.0.1:`port` (0: an ephemeral port) from a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = ThreadingHTTPServer(("127.0.0.1", port), _handler_class(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": self.poll_interval},
            name=f"{type(self).__name__}:{server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # releases hanging handlers
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        """http://127.0.0.1:PORT, without a path."""
        return f"http://127.0.0.1:{self.port}"

    # -- recording ------------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, method: str, path_pattern: str) -> list[RecordedRequest]:
        """Requests whose method matches and whose path matches the regular expression (search)."""
        compiled = re.compile(path_pattern)
        return [r for r in self.requests if r.method == method and compiled.search(r.path)]

    def last_request(self, method: str, path_pattern: str) -> RecordedRequest:
        found = self.requests_to(method, path_pattern)
        if not found:
            raise AssertionError(f"no {method} request matching {path_pattern!r}; got {self.requests!r}")
        return found[-1]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- faults ---------------------------------------------------------------------------------------------

    def inject(
        self, fault: Fault, *, method: str | None = None, path: str | None = None, times: int | None = 1
    ) -> None:
        """Answer the next `times` matching requests (None: all of them) with `fault`.

        `path` is a regular expression searched in the request path. Faults are tried in injection order.
        """
        armed = _Armed(fault, method, re.compile(path) if path else None, times)
        with self._lock:
            self._faults.append(armed)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for armed in self._faults:
                if armed.matches(method, path):
                    if armed.remaining is not None:
                        armed.remaining -= 1
                        if armed.remaining <= 0:
                            self._faults.remove(armed)
                    return armed.fault
        return None

    # -- dispatch -------------------------------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _dispatch(self, request: RecordedRequest) -> Response:
        denied = self.authenticate(request)
        if denied is not None:
            return denied
        for method, pattern, handler in self._routes:
            if method != request.method:
                continue
            match = pattern.match(request.path)
            if match is not None:
                try:
                    return handler(request, match)
                except ProviderError as error:
                    return error.response
                except (
                    Exception
                ) as error:  # a bug in the fake: answer it visibly instead of dropping the line
                    return Response(500, {"fake_server_bug": f"{type(error).__name__}: {error}"})
        return self.not_found(request)

    def _wait_while_hanging(self, seconds: float) -> None:
        self._stopping.wait(seconds)


def _handler_class(fake: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        wbufsize = -1  # buffered: one send per response

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            request = RecordedRequest(
                method=self.command,
                path=split.path,
                query=parse_qs(split.query),
                headers=CaseInsensitiveDict(dict(self.headers.items())),
                body=body,
                received_at=time.monotonic(),
            )
            fake._record(request)
            if fake.latency_seconds:
                fake._wait_while_hanging(fake.latency_seconds)
            fault = fake._take_fault(request.method, request.path)
            if fault is not None and fault.kind is FaultKind.HANG:
                fake._wait_while_hanging(fault.seconds)
                self.close_connection = True
                return
            if fault is not None and fault.kind is FaultKind.RESET:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
                return
            if fault is not None and fault.kind is FaultKind.STATUS:
                if isinstance(fault.body, bytes):
                    self._send(Response(fault.status, None, fault.headers, fault.body, "text/html"))
                else:
                    body = fault.body if fault.body is not None else fake.error_body(fault.status)
                    self._send(Response(fault.status, body, fault.headers))
                return
            if fault is not None and fault.kind is FaultKind.MALFORMED_JSON:
                self._send(Response(200, raw=b'{"id": "truncated", "rates": [{"id": '))
                return
            response = fake._dispatch(request)
            if fault is not None and fault.kind is FaultKind.MISSING_FIELDS:
                document = json.loads(json.dumps(response.body))
                for dotted in fault.fields:
                    _drop_path(document, dotted)
                response = Response(response.status, document, response.headers)
            self._send(response)

        def _send(self, response: Response) -> None:
            if response.raw is not None:
                payload = response.raw
            elif response.body is None:
                payload = b""
            else:
                payload = json.dumps(response.body).encode()
            try:
                reason = HTTPStatus(response.status).phrase
            except ValueError:
                reason = ""
            lines = [f"HTTP/1.1 {response.status} {reason}"]
            headers = {"Content-Type": response.content_type, **response.headers}
            headers["Content-Length"] = str(len(payload))
            lines.extend(f"{name}: {value}" for name, value in headers.items())
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
            try:
                self.wfile.write(head + payload)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def finish(self) -> None:
            with contextlib.suppress(OSError):  # the connection was reset on purpose
                super().finish()

        do_GET = _handle
        do_POST = _handle
        do_PUT = _handle
        do_PATCH = _handle
        do_DELETE = _handle

    return _Handler
