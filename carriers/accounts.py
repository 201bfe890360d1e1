"""A configured carrier account: which adapter, under what name, with which credentials and options.

Credentials are never in the account: it names environment variables (`api_key_env = "EASYPOST_API_KEY"`)
and adapters read them from the environ mapping they are given, through `secret()`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from customs.datafile import DataTable, read_toml

_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ACCOUNT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_SECRET_WORDS = frozenset({"key", "secret", "token", "password"})


class MissingCredential(LookupError):
    """An environment variable the account names is not set (or empty)."""

    def __init__(self, account_id: str, secret: str, env_var: str) -> None:
        super().__init__(f"carrier account {account_id!r}: {secret} expected in env var {env_var}")
        self.account_id = account_id
        self.secret = secret
        self.env_var = env_var


@dataclass(frozen=True, slots=True)
class CallPolicy:
    """How the resilience layer treats calls to one account."""

    timeout_seconds: float = 5.0  # per attempt
    max_concurrency: int = 16
    max_attempts: int = 3
    backoff_initial_seconds: float = 0.1
    backoff_max_seconds: float = 2.0
    breaker_failure_threshold: int = 5  # consecutive failures that open the breaker
    breaker_reset_seconds: float = 30.0  # open time before one half-open probe is let through


@dataclass(frozen=True, slots=True)
class CarrierAccount:
    id: str
    adapter: str  # entry-point name in the `backhaul.carriers` group
    carrier: str  # display name shown in quotes
    secret_env: Mapping[str, str] = field(default_factory=dict)  # secret name -> environment variable
    options: Mapping[str, Any] = field(default_factory=dict)  # adapter-specific, validated by the adapter
    policy: CallPolicy = field(default_factory=CallPolicy)
    enabled: bool = True
    source: str = ""  # where the account was configured, for error messages

    def secret(self, name: str, environ: Mapping[str, str]) -> str:
        """The value of secret `name` (e.g. "api_key") from the environment, or MissingCredential."""
        env_var = self.secret_env.get(name)
        if env_var is None:
            raise MissingCredential(self.id, name, f"(none configured: set {name}_env)")
        value = environ.get(env_var, "")
        if not value:
            raise MissingCredential(self.id, name, env_var)
        return value


_ACCOUNT_FIELDS = frozenset({"id", "adapter", "carrier", "enabled", "options", "policy"})
_POLICY_FIELDS = frozenset(CallPolicy.__dataclass_fields__)


def load_accounts(path: Path | Traversable, source: str | None = None) -> tuple[CarrierAccount, ...]:
    """Carrier accounts from a TOML file with `[[accounts]]` tables; DataFileError names file and field.

    Secrets are referenced as `<name>_env = "ENV_VAR"` (e.g. `api_key_env`); a literal `api_key` is refused
    so credentials never end up in configuration files.
    """
    return parse_accounts(read_toml(path, source))


def parse_accounts(document: DataTable) -> tuple[CarrierAccount, ...]:
    accounts: list[CarrierAccount] = []
    seen: set[str] = set()
    for entry in document.tables("accounts", required=True):
        secret_env: dict[str, str] = {}
        for key in entry.field_names():
            if key.endswith("_env"):
                env_var = entry.text(key)
                if not _ENV_VAR.fullmatch(env_var):
                    raise entry.error(key, f"not an environment variable name: {env_var!r}")
                secret_env[key.removesuffix("_env")] = env_var
            elif key in _SECRET_WORDS or key.endswith(("_key", "_secret", "_token", "_password")):
                raise entry.error(key, f'credentials are never stored in files: use {key}_env = "ENV_VAR"')
            elif key not in _ACCOUNT_FIELDS:
                raise entry.error(
                    key, f"unknown field (expected one of: {', '.join(sorted(_ACCOUNT_FIELDS))})"
                )
        account_id = entry.text("id")
        if not _ACCOUNT_ID.fullmatch(account_id):
            raise entry.error("id", "use lowercase letters, digits, '-' and '_' (it appears in webhook URLs)")
        if account_id in seen:
            raise entry.error("id", f"duplicate account id {account_id!r}")
        seen.add(account_id)
        options = entry.table("options", required=False)
        accounts.append(
            CarrierAccount(
                id=account_id,
                adapter=entry.text("adapter"),
                carrier=entry.text("carrier"),
                secret_env=secret_env,
                options=dict(options.data) if options else {},
                policy=_parse_policy(entry.table("policy", required=False)),
                enabled=entry.flag("enabled", True),
                source=f"{entry.source}: {entry.path}",
            )
        )
    return tuple(accounts)


def _parse_policy(table: DataTable | None) -> CallPolicy:
    if table is None:
        return CallPolicy()
    table.reject_unknown(_POLICY_FIELDS)
    default = CallPolicy()
    return CallPolicy(
        timeout_seconds=table.number("timeout_seconds", default.timeout_seconds, minimum=0.001),
        max_concurrency=table.integer("max_concurrency", default.max_concurrency, minimum=1),
        max_attempts=table.integer("max_attempts", default.max_attempts, minimum=1),
        backoff_initial_seconds=table.number(
            "backoff_initial_seconds", default.backoff_initial_seconds, minimum=0
        ),
        backoff_max_seconds=table.number("backoff_max_seconds", default.backoff_max_seconds, minimum=0),
        breaker_failure_threshold=table.integer(
            "breaker_failure_threshold", default.breaker_failure_threshold, minimum=1
        ),
        breaker_reset_seconds=table.number("breaker_reset_seconds", default.breaker_reset_seconds, minimum=0),
    )
