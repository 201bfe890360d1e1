"""Application errors: what a use case can refuse, independent of the transport.

The gRPC layer maps each class to one status code with rich details (service/grpc/status.py); use cases
raise these and never build gRPC statuses themselves. `reason` is a stable UPPER_SNAKE identifier that
clients may switch on (it becomes google.rpc.ErrorInfo.reason).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One bad field of a request, by its path in the request message (e.g. `parcels[0].weight_grams`)."""

    field: str
    description: str


class ApplicationError(Exception):
    reason = "APPLICATION_ERROR"

    def __init__(
        self, message: str, *, reason: str | None = None, metadata: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        # Machine-readable facts about the error (ErrorInfo.metadata), e.g. {"problem": "wrong_length"}.
        self.metadata: dict[str, str] = dict(metadata or {})


class InvalidArgument(ApplicationError):
    reason = "INVALID_ARGUMENT"

    def __init__(
        self,
        violations: Iterable[FieldViolation],
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.violations = tuple(violations)
        if not self.violations:
            raise ValueError("InvalidArgument needs at least one field violation")
        summary = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        super().__init__(f"invalid request: {summary}", reason=reason, metadata=metadata)

    @classmethod
    def single(cls, field: str, description: str) -> InvalidArgument:
        return cls([FieldViolation(field, description)])


class NotFound(ApplicationError):
    """The resource does not exist *for this merchant*: other merchants' ids are indistinguishable."""

    reason = "NOT_FOUND"

    def __init__(self, kind: str, identifier: str) -> None:
        super().__init__(f"{kind} {identifier!r} not found", metadata={"kind": kind})
        self.kind = kind
        self.identifier = identifier


class AlreadyExists(ApplicationError):
    reason = "ALREADY_EXISTS"


class FailedPrecondition(ApplicationError):
    reason = "FAILED_PRECONDITION"


class Unauthenticated(ApplicationError):
    reason = "UNAUTHENTICATED"


class PermissionDenied(ApplicationError):
    reason = "PERMISSION_DENIED"


class Unavailable(ApplicationError):
    """A dependency is down or overloaded; `retry_after_seconds` tells the client when to try again."""

    reason = "UNAVAILABLE"

    def __init__(
        self,
        message: str,
        *,
        retry_after_seconds: float | None = None,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.retry_after_seconds = retry_after_seconds


class DeadlineExceeded(ApplicationError):
    reason = "DEADLINE_EXCEEDED"


class Unimplemented(ApplicationError):
    reason = "UNIMPLEMENTED"
