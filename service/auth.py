"""Who is calling: a merchant (API key) or a customer app holding one label's tracking token."""

from __future__ import annotations

import contextvars
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from service.errors import PermissionDenied, Unauthenticated


@dataclass(frozen=True, slots=True)
class Principal:
    merchant_id: str
    # Set for a per-label tracking token: the caller may read that label's tracking and nothing else.
    label_id: str | None = None

    @property
    def is_merchant(self) -> bool:
        return self.label_id is None


class Authenticator(Protocol):
    async def authenticate(self, credential: str) -> Principal | None:
        """The principal a bearer credential stands for, or None when it is unknown or revoked."""
        ...


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "backhaul_principal", default=None
)


def bind_principal(principal: Principal) -> contextvars.Token[Principal | None]:
    return _current.set(principal)


def reset_principal(token: contextvars.Token[Principal | None]) -> None:
    _current.reset(token)


def current_principal() -> Principal:
    principal = _current.get()
    if principal is None:
        raise Unauthenticated("no credentials were verified for this call")
    return principal


def current_merchant() -> str:
    """The calling merchant; refuses label-scoped tracking tokens."""
    principal = current_principal()
    if not principal.is_merchant:
        raise PermissionDenied("a tracking token can only read its own label's tracking")
    return principal.merchant_id


def bearer_credential(metadata: Iterable[tuple[str, str | bytes]]) -> str | None:
    """The credential of an `authorization: Bearer <credential>` metadata entry."""
    for key, value in metadata:
        if key.lower() != "authorization":
            continue
        text = value.decode() if isinstance(value, bytes) else value
        scheme, _, credential = text.strip().partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            return credential.strip()
    return None
