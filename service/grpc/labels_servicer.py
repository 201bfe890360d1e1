"""LabelsService: buy, read, list and void return labels (service/labels does the work).

CreateReturnLabel answers in the FULL view (documents with content). GetReturnLabel returns BASIC unless
FULL is asked; documents are retrievable by id through it (each Document carries its stored id), which is
why the contract needs no separate document endpoint. ListReturnLabels pages in the BASIC view.
"""

from __future__ import annotations

from typing import Any

from backhaul.v1 import labels_pb2
from service.auth import current_merchant
from service.errors import InvalidArgument
from service.grpc import convert
from service.labels.model import PageRequest
from service.labels.use_case import ReturnLabels


def _time_remaining(context: Any) -> float | None:
    remaining = context.time_remaining() if context is not None else None
    return float(remaining) if remaining is not None else None


class LabelsServicer:
    def __init__(self, labels: ReturnLabels) -> None:
        self._labels = labels

    async def CreateReturnLabel(
        self, request: labels_pb2.CreateReturnLabelRequest, context: Any
    ) -> labels_pb2.CreateReturnLabelResponse:
        create = convert.create_label_request_from_proto(request, current_merchant())
        view = await self._labels.create(create, time_remaining=_time_remaining(context))
        return labels_pb2.CreateReturnLabelResponse(label=convert.return_label_to_proto(view))

    async def GetReturnLabel(
        self, request: labels_pb2.GetReturnLabelRequest, context: Any
    ) -> labels_pb2.GetReturnLabelResponse:
        merchant_id = current_merchant()
        if request.view not in labels_pb2.ReturnLabelView.values():
            raise InvalidArgument.single("view", f"unknown value {request.view}")
        view = await self._labels.get(
            merchant_id, request.label_id.strip(), full=request.view == labels_pb2.RETURN_LABEL_VIEW_FULL
        )
        return labels_pb2.GetReturnLabelResponse(label=convert.return_label_to_proto(view))

    async def ListReturnLabels(
        self, request: labels_pb2.ListReturnLabelsRequest, context: Any
    ) -> labels_pb2.ListReturnLabelsResponse:
        merchant_id = current_merchant()
        page = await self._labels.list_labels(
            merchant_id,
            convert.label_query_from_proto(request),
            PageRequest(page_size=request.page_size, page_token=request.page_token),
        )
        return labels_pb2.ListReturnLabelsResponse(
            labels=[convert.return_label_to_proto(view) for view in page.labels],
            next_page_token=page.next_page_token,
        )

    async def VoidReturnLabel(
        self, request: labels_pb2.VoidReturnLabelRequest, context: Any
    ) -> labels_pb2.VoidReturnLabelResponse:
        merchant_id = current_merchant()
        view = await self._labels.void(
            merchant_id, request.label_id.strip(), request.reason, time_remaining=_time_remaining(context)
        )
        return labels_pb2.VoidReturnLabelResponse(label=convert.return_label_to_proto(view))
