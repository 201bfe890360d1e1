"""A configured carrier account: which adapter, under what name, with which credentials and options.

Credentials are never in the account: it names environment variables (`api_key_env = "EASYPOST_API_KEY"`)
and adapters read them from the environ mapping they are given, through `secret()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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
