"""The HTTP side: liveness/readiness, Prometheus metrics, carrier webhooks and the customer tracking page.

Webhooks: `POST /webhooks/{carrier_account_id}` is verified by that account's adapter (401 and nothing
stored when the signature is wrong), and answered 200 only once its events are committed, so a carrier that
gets no 200 retries, and a retried or replayed delivery is recognised as duplicates.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from carriers.errors import CarrierError, UnsupportedOperation, WebhookVerificationFailed
from service.errors import Unavailable
from service.http.tracking_page import TrackingPage
from service.metrics import ServiceMetrics
from service.tracking.ingestion import TrackingIngestion, UnknownCarrierAccount

# Carriers send one tracker per delivery; anything this large is not a webhook.
MAX_WEBHOOK_BYTES = 1024 * 1024


def create_http_app(
    metrics: ServiceMetrics,
    readiness: Callable[[], str],
    *,
    tracking: TrackingIngestion | None = None,
    tracking_page: TrackingPage | None = None,
) -> Starlette:
    """`readiness()` returns SERVING, NOT_SERVING (starting or draining); `tracking` enables webhooks,
    `tracking_page` the customer tracking page (/track/{tracking token})."""

    async def healthz(_: Request) -> Response:
        state = readiness()
        return JSONResponse({"status": state}, status_code=200 if state == "SERVING" else 503)

    async def prometheus(_: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    async def webhook(request: Request) -> Response:
        assert tracking is not None
        account_id = request.path_params["carrier_account_id"]
        body = await request.body()
        if len(body) > MAX_WEBHOOK_BYTES:
            return JSONResponse({"error": "body too large"}, status_code=413)
        try:
            receipt = await tracking.ingest_webhook(account_id, dict(request.headers), body)
        except (UnknownCarrierAccount, UnsupportedOperation):
            return JSONResponse({"error": f"no webhook endpoint for {account_id!r}"}, status_code=404)
        except WebhookVerificationFailed:
            return JSONResponse({"error": "signature verification failed"}, status_code=401)
        except CarrierError as exc:
            return JSONResponse({"error": f"unreadable delivery: {exc.message}"}, status_code=400)
        except Unavailable as exc:
            retry = str(round(exc.retry_after_seconds or 1))
            return JSONResponse({"error": exc.message}, status_code=503, headers={"Retry-After": retry})
        return JSONResponse(
            {"accepted": receipt.accepted, "duplicates": receipt.duplicates, "unmatched": receipt.unmatched}
        )

    routes = [Route("/healthz", healthz), Route("/metrics", prometheus)]
    if tracking is not None:
        routes.append(Route("/webhooks/{carrier_account_id}", webhook, methods=["POST"]))
    if tracking_page is not None:
        routes.extend(tracking_page.routes())
    return Starlette(routes=routes)
