"""RatesService: QuoteReturn, a thin mapping onto the QuoteReturns use case.

The call's deadline bounds the carrier fan-out; without one, the use case's configured budget applies.
Failing or slow carriers come back as error entries of a successful answer, never as a failed call.
"""

from __future__ import annotations

from typing import Any

import grpc

from backhaul.v1 import rates_pb2
from service.auth import current_merchant
from service.grpc import convert
from service.grpc.convert import Violations
from service.quoting.request import QuoteReturnRequest
from service.quoting.use_case import QuoteReturns


class RatesServicer:
    def __init__(self, quotes: QuoteReturns) -> None:
        self._quotes = quotes

    async def QuoteReturn(
        self, request: rates_pb2.QuoteReturnRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> rates_pb2.QuoteReturnResponse:
        merchant_id = current_merchant()
        violations = Violations()
        shipment = convert.shipment_input_from_proto(request, "", violations)
        preferences = convert.quote_preferences_from_proto(request.preferences, violations)
        violations.raise_if_any()
        result = await self._quotes.execute(
            QuoteReturnRequest(merchant_id, shipment, preferences),
            time_remaining=context.time_remaining(),  # None when the caller set no deadline
        )
        return convert.quote_return_result_to_proto(result)
