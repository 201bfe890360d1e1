"""Fetching label files that carriers host (EasyPost and Shippo answer a purchase with a URL)."""

from __future__ import annotations

from typing import Protocol

import httpx

MAX_LABEL_BYTES = 10 * 1024 * 1024


class LabelFileUnavailable(Exception):
    """The carrier's label file could not be fetched now; it is asked for again on the next full read."""


class LabelFiles(Protocol):
    async def fetch(self, url: str) -> bytes: ...

    async def close(self) -> None: ...


class HttpLabelFiles:
    def __init__(
        self,
        *,
        timeout_seconds: float = 10.0,
        max_bytes: int = MAX_LABEL_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=True, transport=transport)
        self._max_bytes = max_bytes

    async def fetch(self, url: str) -> bytes:
        if not url.startswith(("https://", "http://")):
            raise LabelFileUnavailable(f"not an http(s) URL: {url[:80]!r}")
        try:
            async with self._client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise LabelFileUnavailable(f"HTTP {response.status_code} for the label file")
                content = bytearray()
                async for chunk in response.aiter_bytes():
                    content.extend(chunk)
                    if len(content) > self._max_bytes:
                        raise LabelFileUnavailable(f"label file larger than {self._max_bytes} bytes")
                return bytes(content)
        except httpx.HTTPError as exc:
            raise LabelFileUnavailable(f"label file not fetched: {type(exc).__name__}") from exc

    async def close(self) -> None:
        await self._client.aclose()
