"""Discovering carrier adapters (entry-point group `backhaul.carriers`) and building them per account.

A partner's adapter may live in its own distribution: it only has to declare an entry point in this group
that resolves to a `CarrierAdapterFactory` (usually the adapter class with a `from_account` classmethod).
An account that cannot be built (adapter not installed, credential variable unset, bad option) is reported
as disabled with the reason, and the others still work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from carriers.accounts import CarrierAccount, MissingCredential
from carriers.port import CarrierAdapter, CarrierAdapterFactory

ENTRY_POINT_GROUP = "backhaul.carriers"


@dataclass(frozen=True, slots=True)
class DisabledAccount:
    account_id: str
    adapter: str
    reason: str


@dataclass(slots=True)
class ConfiguredCarriers:
    """The carrier accounts of a running service: built adapters by account id, and why others are off."""

    accounts: dict[str, CarrierAccount] = field(default_factory=dict)
    adapters: dict[str, CarrierAdapter] = field(default_factory=dict)
    disabled: list[DisabledAccount] = field(default_factory=list)

    async def close(self) -> None:
        for adapter in self.adapters.values():
            await adapter.close()


def adapter_factories(group: str = ENTRY_POINT_GROUP) -> dict[str, CarrierAdapterFactory]:
    """Entry-point name -> factory, loaded lazily per name by `build_carriers`; see `load_factory`."""
    return {ep.name: _LazyFactory(ep.name, group) for ep in entry_points(group=group)}


@dataclass(frozen=True, slots=True)
class _LazyFactory:
    """Defers importing an adapter's module until an account uses it (an SDK import costs time)."""

    name: str
    group: str

    def from_account(self, account: CarrierAccount, environ: Mapping[str, str]) -> CarrierAdapter:
        return load_factory(self.name, self.group).from_account(account, environ)


class AdapterNotInstalled(LookupError):
    pass


def load_factory(name: str, group: str = ENTRY_POINT_GROUP) -> CarrierAdapterFactory:
    matches = [ep for ep in entry_points(group=group) if ep.name == name]
    if not matches:
        raise AdapterNotInstalled(f"no adapter {name!r} is installed in entry-point group {group}")
    factory = matches[0].load()
    if not callable(getattr(factory, "from_account", None)):
        raise AdapterNotInstalled(f"entry point {name!r} ({matches[0].value}) has no from_account()")
    return factory  # type: ignore[no-any-return]


def build_carriers(
    accounts: Iterable[CarrierAccount],
    environ: Mapping[str, str],
    factories: Mapping[str, CarrierAdapterFactory] | None = None,
) -> ConfiguredCarriers:
    """Build one adapter per enabled account. Never raises for one bad account: it is listed as disabled."""
    known = adapter_factories() if factories is None else factories
    result = ConfiguredCarriers()
    for account in accounts:
        result.accounts[account.id] = account
        if not account.enabled:
            result.disabled.append(DisabledAccount(account.id, account.adapter, "disabled in configuration"))
            continue
        factory = known.get(account.adapter)
        if factory is None:
            reason = f"no adapter {account.adapter!r} is installed (entry-point group {ENTRY_POINT_GROUP})"
            result.disabled.append(DisabledAccount(account.id, account.adapter, reason))
            continue
        try:
            result.adapters[account.id] = factory.from_account(account, environ)
        except MissingCredential as exc:
            result.disabled.append(DisabledAccount(account.id, account.adapter, str(exc)))
        except (AdapterNotInstalled, ImportError) as exc:
            result.disabled.append(
                DisabledAccount(account.id, account.adapter, f"adapter failed to load: {exc}")
            )
        except ValueError as exc:
            reason = f"invalid options ({account.source}): {exc}"
            result.disabled.append(DisabledAccount(account.id, account.adapter, reason))
    return result
