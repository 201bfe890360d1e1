from datetime import UTC, datetime, timedelta

import pytest

from service.storage.authentication_cache import AuthenticationCache


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_cache(clock: FakeClock, *, ttl_seconds: float = 30, max_entries: int = 100) -> AuthenticationCache:
    return AuthenticationCache(ttl=timedelta(seconds=ttl_seconds), max_entries=max_entries, clock=clock)


def test_entry_lives_for_the_ttl() -> None:
    clock = FakeClock()
    cache = make_cache(clock)
    cache.remember("bh_k1_s", key_id="k1", merchant_id="acme", generation=cache.generation)
    clock.advance(29.9)
    assert cache.merchant_for("bh_k1_s") == "acme"
    clock.advance(0.1)
    assert cache.merchant_for("bh_k1_s") is None
    assert len(cache) == 0


def test_other_plaintext_misses() -> None:
    cache = make_cache(FakeClock())
    cache.remember("bh_k1_s", key_id="k1", merchant_id="acme", generation=cache.generation)
    assert cache.merchant_for("bh_k1_t") is None


def test_forget_key_drops_only_that_keys_entries() -> None:
    cache = make_cache(FakeClock())
    cache.remember("bh_k1_s", key_id="k1", merchant_id="acme", generation=cache.generation)
    cache.remember("bh_k2_s", key_id="k2", merchant_id="acme", generation=cache.generation)
    cache.forget_key("k1")
    assert cache.merchant_for("bh_k1_s") is None
    assert cache.merchant_for("bh_k2_s") == "acme"


def test_a_check_that_began_before_a_revocation_is_not_cached() -> None:
    cache = make_cache(FakeClock())
    generation = cache.generation
    cache.forget_key("k1")
    cache.remember("bh_k1_s", key_id="k1", merchant_id="acme", generation=generation)
    assert cache.merchant_for("bh_k1_s") is None


def test_zero_ttl_disables_caching() -> None:
    cache = make_cache(FakeClock(), ttl_seconds=0)
    cache.remember("bh_k1_s", key_id="k1", merchant_id="acme", generation=cache.generation)
    assert cache.merchant_for("bh_k1_s") is None


def test_least_recently_used_entry_is_evicted_at_capacity() -> None:
    cache = make_cache(FakeClock(), max_entries=2)
    cache.remember("a", key_id="ka", merchant_id="m", generation=cache.generation)
    cache.remember("b", key_id="kb", merchant_id="m", generation=cache.generation)
    assert cache.merchant_for("a") == "m"  # "b" is now the least recently used
    cache.remember("c", key_id="kc", merchant_id="m", generation=cache.generation)
    assert len(cache) == 2
    assert cache.merchant_for("b") is None
    assert cache.merchant_for("a") == "m"
    assert cache.merchant_for("c") == "m"


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        make_cache(FakeClock(), max_entries=0)
