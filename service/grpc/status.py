"""One mapping from application and carrier errors to gRPC statuses with google.rpc rich details.

BadRequest carries field violations, ErrorInfo a stable reason (domain `backhaul.v1`), RetryInfo the delay
when a retry helps. Clients decode them from the `grpc-status-details-bin` trailer (grpcio-status).
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from carriers.errors import CarrierError, RateLimited
from service import errors

ERROR_DOMAIN = "backhaul.v1"

_CODES: tuple[tuple[type[errors.ApplicationError], grpc.StatusCode], ...] = (
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (errors.Unavailable, grpc.StatusCode.UNAVAILABLE),
    (errors.DeadlineExceeded, grpc.StatusCode.DEADLINE_EXCEEDED),
    (errors.Unimplemented, grpc.StatusCode.UNIMPLEMENTED),
)


@dataclass(frozen=True, slots=True)
class MappedStatus:
    code: grpc.StatusCode
    status: grpc.Status


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def _retry_delay(seconds: float) -> duration_pb2.Duration:
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(int(seconds * 1e9))
    return delay


def to_grpc_status(error: errors.ApplicationError | CarrierError) -> MappedStatus:
    """The status a client sees for a refused call."""
    if isinstance(error, CarrierError):
        # A carrier failure reaching the transport means no fallback was possible: the dependency is
        # unavailable, never an internal error of ours.
        retry_after = error.retry_after_seconds if isinstance(error, RateLimited) else None
        error = errors.Unavailable(
            f"carrier {error.carrier}: {error}",
            retry_after_seconds=retry_after,
            reason="CARRIER_UNAVAILABLE",
            metadata={"carrier": error.carrier, "carrier_error": error.code},
        )
    code = next((c for cls, c in _CODES if isinstance(error, cls)), grpc.StatusCode.INTERNAL)
    details: list[any_pb2.Any] = []
    if isinstance(error, errors.InvalidArgument):
        details.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                        for v in error.violations
                    ]
                )
            )
        )
    details.append(
        _pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata))
    )
    if isinstance(error, errors.Unavailable) and error.retry_after_seconds is not None:
        details.append(
            _pack(error_details_pb2.RetryInfo(retry_delay=_retry_delay(error.retry_after_seconds)))
        )
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=error.message, details=details)
    return MappedStatus(code, rpc_status.to_status(status))


def internal_status(correlation_id: str) -> MappedStatus:
    """An unexpected failure: the client gets the correlation id, never internals."""
    message = f"internal error; correlation id {correlation_id}"
    status = status_pb2.Status(
        code=code_pb2.INTERNAL,
        message=message,
        details=[
            _pack(
                error_details_pb2.ErrorInfo(
                    reason="INTERNAL", domain=ERROR_DOMAIN, metadata={"correlation_id": correlation_id}
                )
            )
        ],
    )
    return MappedStatus(grpc.StatusCode.INTERNAL, rpc_status.to_status(status))
