"""Merchants and their API keys: creation, revocation, listing and per-call authentication."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from service.errors import InvalidArgument, NotFound
from service.storage.authentication_cache import AuthenticationCache
from service.storage.credentials import ApiKeyCredential, is_key_id
from service.storage.engine import Database
from service.storage.repositories import ApiKey, Merchant
from service.storage.tables import MERCHANT_ID_LENGTH, NAME_LENGTH
from service.storage.unit_of_work import UnitOfWork

# last_used_at is kept to this resolution, so a busy key costs one write a minute, not one per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)

_MERCHANT_ID_PATTERN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:-]{{0,{MERCHANT_ID_LENGTH - 1}}}")


def utc_now() -> datetime:
    return datetime.now(UTC)


def validate_merchant_id(merchant_id: str) -> str:
    if _MERCHANT_ID_PATTERN.fullmatch(merchant_id) is None:
        raise InvalidArgument.single(
            "merchant_id",
            f"must be 1 to {MERCHANT_ID_LENGTH} letters, digits, '.', '_', ':' or '-', "
            "starting with a letter or digit",
        )
    return merchant_id


def _validate_name(field: str, name: str, *, required: bool) -> str:
    name = name.strip()
    if required and not name:
        raise InvalidArgument.single(field, "must not be empty")
    if len(name) > NAME_LENGTH:
        raise InvalidArgument.single(field, f"must be at most {NAME_LENGTH} characters")
    return name


class Tenancy:
    def __init__(
        self,
        database: Database,
        *,
        cache_ttl: timedelta = timedelta(seconds=30),
        cache_max_entries: int = 10_000,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """`cache_ttl` bounds how long another replica may still accept a revoked key; zero disables it."""
        self._database = database
        self._clock = clock
        self._cache = AuthenticationCache(ttl=cache_ttl, max_entries=cache_max_entries, clock=clock)

    async def ensure_merchant(self, merchant_id: str, name: str) -> Merchant:
        """The merchant with this id, created with `name` if absent (an existing name is kept)."""
        merchant = Merchant(
            id=validate_merchant_id(merchant_id),
            name=_validate_name("name", name, required=True),
            created_at=self._clock(),
        )
        async with UnitOfWork(self._database, write=True) as uow:
            await uow.merchants.add_if_absent(merchant)
            stored = await uow.merchants.get(merchant_id)
            await uow.commit()
        if stored is None:
            raise RuntimeError(f"merchant {merchant_id!r} vanished right after it was ensured")
        return stored

    async def get_merchant(self, merchant_id: str) -> Merchant | None:
        async with UnitOfWork(self._database) as uow:
            return await uow.merchants.get(merchant_id)

    async def create_api_key(self, merchant_id: str, name: str = "") -> tuple[ApiKey, str]:
        """A new key for the merchant and its plaintext, which exists only in this return value."""
        name = _validate_name("name", name, required=False)
        credential = ApiKeyCredential.generate()
        key = ApiKey(
            id=credential.key_id,
            merchant_id=merchant_id,
            name=name,
            created_at=self._clock(),
            revoked_at=None,
            last_used_at=None,
        )
        async with UnitOfWork(self._database, write=True) as uow:
            if await uow.merchants.get(merchant_id) is None:
                raise NotFound("merchant", merchant_id)
            await uow.api_keys.add(key, credential.secret_digest())
            await uow.commit()
        return key, credential.plaintext

    async def revoke_api_key(self, key: str, *, merchant_id: str | None = None) -> bool:
        """Revoke by key id or by the whole key; False when no such active key (of that merchant) exists."""
        credential = ApiKeyCredential.parse(key)
        key_id = credential.key_id if credential is not None else key
        if not is_key_id(key_id):
            return False
        async with UnitOfWork(self._database) as uow:
            revoked = await uow.api_keys.revoke(key_id, self._clock(), merchant_id=merchant_id)
            await uow.commit()
        if revoked:
            self._cache.forget_key(key_id)
        return revoked

    async def list_api_keys(self, merchant_id: str, *, include_revoked: bool = True) -> list[ApiKey]:
        async with UnitOfWork(self._database) as uow:
            return await uow.api_keys.list_for_merchant(merchant_id, include_revoked=include_revoked)

    async def authenticate(self, plaintext: str) -> str | None:
        """The merchant id a key belongs to; None for a malformed, unknown, wrong or revoked key."""
        credential = ApiKeyCredential.parse(plaintext)
        if credential is None:
            return None
        cached = self._cache.merchant_for(plaintext)
        if cached is not None:
            return cached
        generation = self._cache.generation
        async with UnitOfWork(self._database) as uow:
            stored = await uow.api_keys.get_verifiable(credential.key_id)
        if stored is None or stored.key.revoked or not credential.matches(stored.secret_sha256):
            return None
        now = self._clock()
        last_used = stored.key.last_used_at
        if last_used is None or now - last_used >= LAST_USED_RESOLUTION:
            async with UnitOfWork(self._database) as uow:
                await uow.api_keys.record_use(
                    credential.key_id, now, unless_used_after=now - LAST_USED_RESOLUTION
                )
                await uow.commit()
        merchant_id = stored.key.merchant_id
        self._cache.remember(
            plaintext, key_id=credential.key_id, merchant_id=merchant_id, generation=generation
        )
        return merchant_id
