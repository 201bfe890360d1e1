"""InsightsService: CompareCarriers, a thin mapping onto the CarrierComparisons use case (service/insights).

Conversions specific to the comparison live here; shared ones (money, dates, timestamps, carriers, return
reasons) come from service/grpc/convert.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from backhaul.v1 import common_pb2, insights_pb2
from service.auth import current_merchant
from service.errors import InvalidArgument
from service.grpc import convert
from service.insights.comparison import CarrierComparisons
from service.insights.model import (
    CarrierComparison,
    CarrierComparisonResult,
    ComparisonQuery,
    Distribution,
    GroupBy,
    Lane,
    Proportion,
    ReasonShare,
)

_GROUP_BY = {
    insights_pb2.COMPARE_CARRIERS_GROUP_BY_UNSPECIFIED: GroupBy.CARRIER_SERVICE_LANE,
    insights_pb2.COMPARE_CARRIERS_GROUP_BY_CARRIER: GroupBy.CARRIER,
    insights_pb2.COMPARE_CARRIERS_GROUP_BY_CARRIER_SERVICE: GroupBy.CARRIER_SERVICE,
    insights_pb2.COMPARE_CARRIERS_GROUP_BY_CARRIER_LANE: GroupBy.CARRIER_LANE,
    insights_pb2.COMPARE_CARRIERS_GROUP_BY_CARRIER_SERVICE_LANE: GroupBy.CARRIER_SERVICE_LANE,
}


class InsightsServicer:
    def __init__(self, comparisons: CarrierComparisons) -> None:
        self._comparisons = comparisons

    async def CompareCarriers(
        self, request: insights_pb2.CompareCarriersRequest, context: Any
    ) -> insights_pb2.CompareCarriersResponse:
        query = comparison_query_from_proto(request, current_merchant())
        return comparison_result_to_proto(await self._comparisons.compare(query))


def _instant(request: insights_pb2.CompareCarriersRequest, field: str) -> dt.datetime | None:
    if not request.HasField(field):  # type: ignore[arg-type]
        return None
    value: dt.datetime = getattr(request, field).ToDatetime(tzinfo=dt.UTC)
    return value


def comparison_query_from_proto(
    request: insights_pb2.CompareCarriersRequest, merchant_id: str
) -> ComparisonQuery:
    group_by = _GROUP_BY.get(request.group_by)
    if group_by is None:
        raise InvalidArgument.single("group_by", f"unknown value {request.group_by}")
    return ComparisonQuery(
        merchant_id=merchant_id,
        since=_instant(request, "since"),
        until=_instant(request, "until"),
        currency=request.currency,
        lane=Lane(request.lane.customer_country.strip().upper(), request.lane.hub_id.strip().upper()),
        group_by=group_by,
        carrier_account_ids=frozenset(a.strip() for a in request.carrier_account_ids if a.strip()),
        top_skus=request.top_skus,
    )


def _distribution(value: Distribution) -> insights_pb2.Distribution:
    return insights_pb2.Distribution(
        count=value.count, p50=value.p50 or 0.0, p90=value.p90 or 0.0, mean=value.mean or 0.0
    )


def _proportion(value: Proportion) -> insights_pb2.Proportion:
    return insights_pb2.Proportion(count=value.count, total=value.total, rate=value.rate)


def _lane(value: Lane) -> common_pb2.Lane:
    return common_pb2.Lane(customer_country=value.customer_country, hub_id=value.destination)


def _row(row: CarrierComparison) -> insights_pb2.CarrierComparisonRow:
    message = insights_pb2.CarrierComparisonRow(
        carrier=convert.carrier_to_proto(row.account_id, row.carrier_name, row.provider),
        service_code=row.service_code,
        service_name=row.service_name,
        returns_count=row.returns_count,
        total_cost=convert.money_to_proto(row.total_cost),
        label_to_drop_off_days=_distribution(row.label_to_drop_off_days),
        transit_days=_distribution(row.transit_days),
        on_time=_proportion(row.on_time),
        exception_rates=[
            insights_pb2.ExceptionRate(
                reason=convert.EXCEPTION_REASON_TO_PROTO[e.reason], share=_proportion(e.share)
            )
            for e in row.exception_rates
        ],
        exceptions=_proportion(row.exceptions),
        customs_holds=_proportion(row.customs_holds),
        returned_to_sender=_proportion(row.returned_to_sender),
        voided=_proportion(row.voided),
        quote_errors=_proportion(row.quote_errors),
        quote_timeouts=_proportion(row.quote_timeouts),
        quote_latency_ms=_distribution(row.quote_latency_ms),
        transit_days_histogram=row.transit_days_histogram,
    )
    if row.lane is not None:
        message.lane.CopyFrom(_lane(row.lane))
    if row.cost_per_parcel is not None:
        message.cost_per_parcel.CopyFrom(convert.money_to_proto(row.cost_per_parcel))
    if row.cost_per_kg is not None:
        message.cost_per_kg.CopyFrom(convert.money_to_proto(row.cost_per_kg))
    if row.score is not None:
        message.score.CopyFrom(
            insights_pb2.CompositeScore(
                value=row.score.value,
                contributions=[
                    insights_pb2.ScoreContribution(metric=c.metric, normalized=c.normalized, points=c.points)
                    for c in row.score.contributions
                ],
            )
        )
    return message


def _reasons(shares: tuple[ReasonShare, ...]) -> list[insights_pb2.ReturnReasonShare]:
    return [
        insights_pb2.ReturnReasonShare(
            reason=convert.return_reason_to_proto(s.reason), share=_proportion(s.share)
        )
        for s in shares
    ]


def comparison_result_to_proto(result: CarrierComparisonResult) -> insights_pb2.CompareCarriersResponse:
    return insights_pb2.CompareCarriersResponse(
        rows=[_row(row) for row in result.rows],
        score_weights=[
            insights_pb2.ScoreWeight(metric=w.metric, weight=w.weight, description=w.description)
            for w in result.weights
        ],
        return_reasons=[
            insights_pb2.LaneReturnReasons(
                lane=_lane(lane.lane),
                reasons=_reasons(lane.reasons),
                skus=[
                    insights_pb2.SkuReturnReasons(sku=s.sku, reasons=_reasons(s.reasons)) for s in lane.skus
                ],
            )
            for lane in result.return_reasons
        ],
        since=convert.timestamp_to_proto(result.since),
        until=convert.timestamp_to_proto(result.until),
        currency=result.currency,
        fx_as_of=convert.date_to_proto(result.fx_as_of),
        score_weights_source=result.weights_source,
    )
