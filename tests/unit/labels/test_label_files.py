"""Fetching carrier-hosted label files."""

from __future__ import annotations

import httpx
import pytest

from service.labels.label_files import HttpLabelFiles, LabelFileUnavailable

PDF = b"%PDF-1.4 label"


def files(max_bytes: int = 1024) -> HttpLabelFiles:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/label.pdf":
            return httpx.Response(200, content=PDF)
        if request.url.path == "/moved":
            return httpx.Response(302, headers={"location": "https://labels.example.test/label.pdf"})
        if request.url.path == "/big":
            return httpx.Response(200, content=b"x" * 4096)
        return httpx.Response(404)

    return HttpLabelFiles(max_bytes=max_bytes, transport=httpx.MockTransport(answer))


async def test_a_label_file_is_fetched_following_redirects() -> None:
    fetcher = files()
    assert await fetcher.fetch("https://labels.example.test/label.pdf") == PDF
    assert await fetcher.fetch("https://labels.example.test/moved") == PDF
    await fetcher.close()


@pytest.mark.parametrize(
    "url", ["https://labels.example.test/missing", "https://labels.example.test/big", "file:///etc/passwd"]
)
async def test_missing_oversized_and_non_http_files_are_unavailable(url: str) -> None:
    fetcher = files()
    with pytest.raises(LabelFileUnavailable):
        await fetcher.fetch(url)
    await fetcher.close()
