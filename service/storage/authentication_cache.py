"""In-process cache of recent successful API key checks, because authentication runs on every RPC.

Only successes are cached, keyed by SHA-256 of the whole key so the plaintext is not kept in memory.
Revoking a key in this process drops its entries at once; another replica keeps accepting a revoked key
until its entry expires, so the TTL is the bound on how late a revocation takes effect everywhere.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class _Entry:
    key_id: str
    merchant_id: str
    expires_at: datetime


class AuthenticationCache:
    def __init__(self, *, ttl: timedelta, max_entries: int, clock: Callable[[], datetime]) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        # Bumped by every forget_key(); a check that started before a revocation must not cache its result.
        self._generation = 0

    @property
    def generation(self) -> int:
        return self._generation

    def __len__(self) -> int:
        return len(self._entries)

    def merchant_for(self, plaintext: str) -> str | None:
        fingerprint = _fingerprint(plaintext)
        entry = self._entries.get(fingerprint)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            del self._entries[fingerprint]
            return None
        self._entries.move_to_end(fingerprint)
        return entry.merchant_id

    def remember(self, plaintext: str, *, key_id: str, merchant_id: str, generation: int) -> None:
        """Cache a success found by a check that began when `generation` was current."""
        if self._ttl <= timedelta(0) or generation != self._generation:
            return
        fingerprint = _fingerprint(plaintext)
        self._entries[fingerprint] = _Entry(key_id, merchant_id, self._clock() + self._ttl)
        self._entries.move_to_end(fingerprint)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def forget_key(self, key_id: str) -> None:
        self._generation += 1
        for fingerprint in [f for f, entry in self._entries.items() if entry.key_id == key_id]:
            del self._entries[fingerprint]


def _fingerprint(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()
