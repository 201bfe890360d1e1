"""Typed carrier errors: every adapter failure is one of these, never a raw SDK or HTTP exception.

`retryable` tells the resilience layer whether trying again can help; `code` is a stable UPPER_SNAKE
identifier that ends up in a quote's per-carrier error entry and in gRPC error details.
"""

from __future__ import annotations


class CarrierError(Exception):
    """Base of all carrier failures. `carrier` names the account or adapter that failed."""

    code = "CARRIER_ERROR"
    default_retryable = False

    def __init__(self, message: str, *, carrier: str = "", retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.carrier = carrier
        self.retryable = self.default_retryable if retryable is None else retryable

    def __str__(self) -> str:
        return f"{self.carrier}: {self.message}" if self.carrier else self.message


class AuthenticationFailed(CarrierError):
    """Credentials missing, wrong or revoked."""

    code = "AUTHENTICATION_FAILED"


class InvalidRequest(CarrierError):
    """The carrier refused the request's content; `field` names the offending field in canonical terms
    (e.g. `customer.address.postal_code`, `parcels[0].weight_grams`) when the carrier says which."""

    code = "INVALID_REQUEST"

    def __init__(self, message: str, *, field: str = "", carrier: str = "") -> None:
        super().__init__(message, carrier=carrier)
        self.field = field


class NotFound(CarrierError):
    """The shipment, label or tracking number is unknown to the carrier."""

    code = "NOT_FOUND"


class RateLimited(CarrierError):
    """The carrier throttled us; `retry_after_seconds` is its Retry-After when it sent one."""

    code = "RATE_LIMITED"
    default_retryable = True

    def __init__(self, message: str, *, retry_after_seconds: float | None = None, carrier: str = "") -> None:
        super().__init__(message, carrier=carrier)
        self.retry_after_seconds = retry_after_seconds


class Unavailable(CarrierError):
    """The carrier is down, answered 5xx, timed out, reset the connection, or its circuit breaker is open."""

    code = "UNAVAILABLE"
    default_retryable = True


class TimedOut(Unavailable):
    """No answer within the per-call timeout or the caller's deadline."""

    code = "TIMEOUT"


class CircuitOpen(Unavailable):
    """Refused without calling: the account's circuit breaker is open after repeated failures.

    Still `retryable` for the client (later), but the resilience layer does not retry it within a call.
    """

    code = "CIRCUIT_OPEN"

    def __init__(self, message: str, *, retry_after_seconds: float | None = None, carrier: str = "") -> None:
        super().__init__(message, carrier=carrier)
        self.retry_after_seconds = retry_after_seconds


class MalformedResponse(CarrierError):
    """The carrier answered something we cannot read (bad JSON, missing fields)."""

    code = "MALFORMED_RESPONSE"


class UnsupportedLane(CarrierError):
    """The carrier does not serve this origin/destination, service or handover."""

    code = "UNSUPPORTED_LANE"


class UnsupportedOperation(CarrierError):
    """The adapter does not offer this operation (see its Capabilities)."""

    code = "UNSUPPORTED_OPERATION"


class WebhookVerificationFailed(CarrierError):
    """A webhook's signature or token is missing or wrong: the body must not be trusted or stored."""

    code = "WEBHOOK_VERIFICATION_FAILED"
