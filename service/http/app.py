"""The HTTP side: liveness/readiness and Prometheus metrics (webhooks and the tracking page join it later)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.metrics import ServiceMetrics


def create_http_app(metrics: ServiceMetrics, readiness: Callable[[], str]) -> Starlette:
    """`readiness()` returns SERVING, NOT_SERVING (starting or draining)."""

    async def healthz(_: Request) -> Response:
        state = readiness()
        return JSONResponse({"status": state}, status_code=200 if state == "SERVING" else 503)

    async def prometheus(_: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/healthz", healthz), Route("/metrics", prometheus)])
