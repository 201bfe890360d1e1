from __future__ import annotations

import grpc
from google.rpc import error_details_pb2, status_pb2

from carriers.errors import RateLimited
from service import errors
from service.grpc.status import ERROR_DOMAIN, internal_status, to_grpc_status


def _details(status: grpc.Status) -> status_pb2.Status:
    trailer = dict(status.trailing_metadata)["grpc-status-details-bin"]
    return status_pb2.Status.FromString(trailer)


def _unpack(status: status_pb2.Status, kind: type) -> object | None:
    for detail in status.details:
        message = kind()
        if detail.Unpack(message):
            return message
    return None


def test_invalid_argument_carries_every_field_violation() -> None:
    mapped = to_grpc_status(
        errors.InvalidArgument(
            [
                errors.FieldViolation("parcels[0].weight_grams", "must be positive"),
                errors.FieldViolation("customer.address.region_code", "unknown country 'XX'"),
            ]
        )
    )
    assert mapped.code is grpc.StatusCode.INVALID_ARGUMENT
    rich = _details(mapped.status)
    bad_request = _unpack(rich, error_details_pb2.BadRequest)
    assert isinstance(bad_request, error_details_pb2.BadRequest)
    assert [v.field for v in bad_request.field_violations] == [
        "parcels[0].weight_grams",
        "customer.address.region_code",
    ]
    info = _unpack(rich, error_details_pb2.ErrorInfo)
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert (info.reason, info.domain) == ("INVALID_ARGUMENT", ERROR_DOMAIN)


def test_not_found_keeps_a_stable_reason() -> None:
    mapped = to_grpc_status(errors.NotFound("return label", "lbl_1"))
    assert mapped.code is grpc.StatusCode.NOT_FOUND
    info = _unpack(_details(mapped.status), error_details_pb2.ErrorInfo)
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert info.metadata["kind"] == "return label"


def test_carrier_failure_is_unavailable_with_retry_info_never_internal() -> None:
    mapped = to_grpc_status(RateLimited("slow down", retry_after_seconds=2.5, carrier="easypost"))
    assert mapped.code is grpc.StatusCode.UNAVAILABLE
    retry = _unpack(_details(mapped.status), error_details_pb2.RetryInfo)
    assert isinstance(retry, error_details_pb2.RetryInfo)
    assert retry.retry_delay.ToNanoseconds() == 2_500_000_000


def test_internal_status_reveals_only_the_correlation_id() -> None:
    mapped = internal_status("c0ffee")
    assert mapped.code is grpc.StatusCode.INTERNAL
    assert mapped.status.details == "internal error; correlation id c0ffee"


def test_error_metadata_reaches_error_info() -> None:
    mapped = to_grpc_status(
        errors.InvalidArgument(
            [errors.FieldViolation("code", "letters are not allowed")],
            reason="HS_CODE_INVALID",
            metadata={"problem": "not_digits"},
        )
    )
    info = _unpack(_details(mapped.status), error_details_pb2.ErrorInfo)
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert info.reason == "HS_CODE_INVALID"
    assert dict(info.metadata) == {"problem": "not_digits"}
