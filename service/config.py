"""Service configuration: `BACKHAUL_*` environment variables over an optional TOML file over defaults.

Precedence: environment > file named by BACKHAUL_CONFIG > built-in defaults (the embedded ones: SQLite in the
working directory, in-process bus, data files shipped in service/defaults/). Everything is validated at start;
a bad value raises ConfigError naming the setting (and the file when it came from one).
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from service.collector import CollectorThresholds

ENV_PREFIX = "BACKHAUL_"
CONFIG_FILE_VARIABLE = "BACKHAUL_CONFIG"
# Read by client commands (`backhaul quote`), not by the server: the server's settings loader skips it.
CLIENT_API_KEY_VARIABLE = "BACKHAUL_API_KEY"
_NOT_SERVER_SETTINGS = frozenset({CONFIG_FILE_VARIABLE, CLIENT_API_KEY_VARIABLE})


class ConfigError(ValueError):
    def __init__(self, setting: str, message: str, *, source: str = "environment") -> None:
        super().__init__(f"{source}: {setting}: {message}")
        self.setting = setting
        self.source = source


def default_data_file(name: str) -> Path:
    """A data file shipped with the service (carrier accounts, hubs, return policies, FX rates)."""
    return Path(str(files("service.defaults").joinpath(name)))


def _parse_address(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:50051")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"port {port!r} is not a number from 0 to 65535")
    return value


def _parse_database_url(value: str) -> str:
    scheme = urlsplit(value).scheme
    if scheme not in {"sqlite+aiosqlite", "postgresql+asyncpg"}:
        raise ValueError("expected a sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db URL")
    return value


def _parse_bus_url(value: str) -> str:
    if value in {"", "memory://"}:
        return "memory://"
    if urlsplit(value).scheme not in {"nats", "tls"}:
        raise ValueError("expected memory:// (in-process) or nats://host:4222")
    return value


def _parse_positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError("must be greater than zero")
    return number


def _parse_positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be a whole number greater than zero")
    return number


def _parse_non_negative_float(value: str) -> float:
    number = float(value)
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _parse_log_format(value: str) -> str:
    if value not in {"json", "console"}:
        raise ValueError("expected 'json' or 'console'")
    return value


def _parse_log_level(value: str) -> str:
    upper = value.upper()
    if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return upper


def _parse_existing_file(value: str) -> Path:
    path = Path(value)
    if not path.is_file():
        raise ValueError(f"no such file: {value}")
    return path


def _parse_secret(value: str) -> str:
    if len(value) < 32:
        raise ValueError(
            "must be at least 32 characters; make one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
        )
    return value


def _parse_tracking_page_url(value: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise ValueError("expected an http(s) URL")
    try:
        value.format(tracking_number="RR123456785DE", label_id="label", tracking_token="bht_token")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"only {{tracking_number}}, {{label_id}} and {{tracking_token}} may be filled in: {exc}"
        ) from None
    return value


# Used when BACKHAUL_QUOTE_TOKEN_SECRET is unset: tokens then verify only in the process that signed them.
_PROCESS_TOKEN_SECRET = secrets.token_urlsafe(48)


def _meta(parse: Callable[[str], Any], doc: str) -> dict[str, Any]:
    return {"parse": parse, "doc": doc}


@dataclass(frozen=True)
class Settings:
    grpc_address: str = field(
        default="127.0.0.1:50051",
        metadata=_meta(_parse_address, "gRPC listen address (port 0 picks a free one)"),
    )
    http_address: str = field(
        default="127.0.0.1:8080",
        metadata=_meta(_parse_address, "HTTP listen address: /healthz, /metrics, webhooks"),
    )
    database_url: str = field(
        default="sqlite+aiosqlite:///backhaul.db",
        metadata=_meta(_parse_database_url, "SQLAlchemy URL: SQLite (embedded default) or PostgreSQL"),
    )
    bus_url: str = field(
        default="memory://",
        metadata=_meta(_parse_bus_url, "event bus: memory:// (in-process) or nats://host:4222 (JetStream)"),
    )
    log_level: str = field(default="INFO", metadata=_meta(_parse_log_level, "DEBUG, INFO, WARNING or ERROR"))
    log_format: str = field(
        default="json", metadata=_meta(_parse_log_format, "json (one object per line) or console")
    )
    quote_token_secret: str = field(
        default="",
        metadata=_meta(
            _parse_secret,
            "HMAC secret signing quote and tracking tokens; all replicas must share it. Unset: a random "
            "per-process secret (fine for one process, breaks tokens across replicas)",
        ),
    )
    quote_budget_seconds: float = field(
        default=5.0,
        metadata=_meta(_parse_positive_float, "time budget of a quote when the caller sets no deadline"),
    )
    auth_cache_seconds: float = field(
        default=30.0,
        metadata=_meta(
            _parse_non_negative_float,
            "how long a verified API key is trusted before it is checked again (bounds how long a key "
            "revoked on another replica keeps working); 0 checks every call",
        ),
    )
    drain_seconds: float = field(
        default=20.0,
        metadata=_meta(_parse_positive_float, "on SIGTERM, how long in-flight calls may take to finish"),
    )
    tls_cert_file: Path | None = field(
        default=None,
        metadata=_meta(_parse_existing_file, "PEM certificate chain: the gRPC port serves TLS when set"),
    )
    tls_key_file: Path | None = field(
        default=None, metadata=_meta(_parse_existing_file, "PEM private key of the TLS certificate")
    )
    tls_client_ca_file: Path | None = field(
        default=None,
        metadata=_meta(
            _parse_existing_file, "PEM CA bundle: when set, clients must show a certificate it signed (mTLS)"
        ),
    )
    carriers_file: Path = field(
        default_factory=lambda: default_data_file("carriers.toml"),
        metadata=_meta(_parse_existing_file, "carrier accounts (TOML)"),
    )
    hubs_file: Path = field(
        default_factory=lambda: default_data_file("hubs.toml"),
        metadata=_meta(_parse_existing_file, "returns hubs (TOML)"),
    )
    return_policies_file: Path = field(
        default_factory=lambda: default_data_file("return_policies.toml"),
        metadata=_meta(_parse_existing_file, "return policies per market (TOML)"),
    )
    fx_rates_file: Path = field(
        default_factory=lambda: default_data_file("fx_rates.toml"),
        metadata=_meta(_parse_existing_file, "FX reference rates with their as-of date (TOML)"),
    )
    tracking_heartbeat_seconds: float = field(
        default=15.0,
        metadata=_meta(
            _parse_positive_float, "heartbeat interval of idle tracking streams when the client asks none"
        ),
    )
    tracking_subscriber_queue: int = field(
        default=1000,
        metadata=_meta(
            _parse_positive_int,
            "live events buffered per tracking stream; a stream that falls further behind reads from the "
            "store until it catches up",
        ),
    )
    tracking_store_check_seconds: float = field(
        default=1.0,
        metadata=_meta(
            _parse_positive_float,
            "how often an idle replica compares its streamed position with the event log (covers bus "
            "messages lost between a commit and its publication)",
        ),
    )
    tracking_poll_interval_seconds: float = field(
        default=900.0,
        metadata=_meta(_parse_positive_float, "polling interval of parcels whose carrier has no webhooks"),
    )
    tracking_backstop_poll_seconds: float = field(
        default=21600.0,
        metadata=_meta(
            _parse_positive_float,
            "polling interval of parcels whose carrier sends webhooks (catches deliveries it never resends)",
        ),
    )
    tracking_poll_rate_per_account: float = field(
        default=5.0,
        metadata=_meta(_parse_positive_float, "tracking polls per second per carrier account and replica"),
    )
    tracking_poll_max_age_days: float = field(
        default=60.0,
        metadata=_meta(
            _parse_positive_float, "polling stops for parcels registered longer ago than this (days)"
        ),
    )
    tracking_refund_business_days: int = field(
        default=5,
        metadata=_meta(
            _parse_positive_int,
            "expected refund: this many business days (Mon-Fri) after a return is delivered to the merchant",
        ),
    )
    tracking_refund_terms_file: Path | None = field(
        default=None,
        metadata=_meta(
            _parse_existing_file, "per-merchant refund business days overriding the default (TOML)"
        ),
    )
    tracking_token_days: int = field(
        default=180,
        metadata=_meta(_parse_positive_int, "validity of per-label tracking tokens (days)"),
    )
    label_purchase_budget_seconds: float = field(
        default=30.0,
        metadata=_meta(
            _parse_positive_float,
            "longest a label purchase may wait for its carrier; a caller whose deadline ends first gets "
            "UNAVAILABLE and finds the label when retrying with the same idempotency key",
        ),
    )
    label_reconcile_after_seconds: float = field(
        default=300.0,
        metadata=_meta(
            _parse_positive_float,
            "age at which a label purchase without a recorded outcome (a crash) is settled with the carrier; "
            "must exceed the purchase budget",
        ),
    )
    label_reconcile_interval_seconds: float = field(
        default=60.0,
        metadata=_meta(_parse_positive_float, "how often each replica looks for label purchases to settle"),
    )
    tracking_page_url: str = field(
        default="https://track.backhaul.example/{tracking_number}",
        metadata=_meta(
            _parse_tracking_page_url,
            "tracking link printed on return instructions when the carrier has none; "
            "{tracking_number}, {label_id} and {tracking_token} are filled in "
            "(e.g. https://returns.example.com/track/{tracking_token} for Backhaul's own page)",
        ),
    )
    insights_min_delivered_returns: int = field(
        default=30,
        metadata=_meta(
            _parse_positive_int,
            "returns delivered to the hub a carrier service needs on a lane before quotes carry its on-time "
            "rate and p90 transit there (fewer: the quote says how many there are)",
        ),
    )
    insights_period_days: int = field(
        default=90,
        metadata=_meta(
            _parse_positive_int,
            "days of history behind quotes' lane figures; CompareCarriers' default period",
        ),
    )
    insights_lane_refresh_seconds: float = field(
        default=300.0,
        metadata=_meta(
            _parse_positive_float,
            "how often each replica recomputes the lane figures quotes carry (quotes read them from memory)",
        ),
    )
    insights_quote_stats_flush_seconds: float = field(
        default=60.0,
        metadata=_meta(
            _parse_positive_float,
            "how often a replica writes its in-memory quote outcome counters to the database (also at drain)",
        ),
    )
    insights_journey_refresh_seconds: float = field(
        default=5.0,
        metadata=_meta(
            _parse_positive_float,
            "how often return legs' journeys catch up with the tracking log (CompareCarriers reads them)",
        ),
    )
    insights_score_weights_file: Path | None = field(
        default=None,
        metadata=_meta(
            _parse_existing_file,
            "weights of CompareCarriers' composite score (TOML); unset: the packaged default weights",
        ),
    )
    gc_thresholds: CollectorThresholds = field(
        default=CollectorThresholds(5000, 20, 10),
        metadata=_meta(
            CollectorThresholds.parse,
            "garbage collector thresholds applied once the server is up, young,middle,old (CPython's "
            "default: 700,10,10); what start-up built is frozen out of collections then",
        ),
    )

    def __post_init__(self) -> None:
        if self.label_reconcile_after_seconds <= self.label_purchase_budget_seconds:
            raise ConfigError(
                "BACKHAUL_LABEL_RECONCILE_AFTER_SECONDS",
                "must exceed BACKHAUL_LABEL_PURCHASE_BUDGET_SECONDS (a running purchase is never settled)",
            )
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ConfigError(
                "BACKHAUL_TLS_CERT_FILE", "TLS needs both BACKHAUL_TLS_CERT_FILE and BACKHAUL_TLS_KEY_FILE"
            )
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise ConfigError(
                "BACKHAUL_TLS_CLIENT_CA_FILE", "mutual TLS needs a server certificate and key too"
            )

    @property
    def tls_enabled(self) -> bool:
        return self.tls_cert_file is not None

    @property
    def token_signing_secret(self) -> bytes:
        """HMAC secret of quote and tracking tokens: the configured one, else this process's random one."""
        return (self.quote_token_secret or _PROCESS_TOKEN_SECRET).encode()

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        config_path = environ.get(CONFIG_FILE_VARIABLE)
        if config_path:
            values.update(_read_file(Path(config_path)))
        known = {f.name for f in fields(cls)}
        for name, raw in environ.items():
            if not name.startswith(ENV_PREFIX) or name in _NOT_SERVER_SETTINGS:
                continue
            key = name.removeprefix(ENV_PREFIX).lower()
            if key not in known:
                raise ConfigError(name, f"unknown setting; known: {', '.join(sorted(_env_names()))}")
            values[key] = _parse(key, raw, source="environment", label=name)
        return cls(**values)

    def describe(self) -> dict[str, str]:
        """Settings as strings for a start-up log line, secrets masked."""
        shown = {f.name: str(getattr(self, f.name)) for f in fields(self)}
        shown["quote_token_secret"] = "set" if self.quote_token_secret else "unset (per-process random)"
        shown["database_url"] = _mask_password(self.database_url)
        shown["bus_url"] = _mask_password(self.bus_url)
        return shown


def _env_names() -> list[str]:
    return [ENV_PREFIX + f.name.upper() for f in fields(Settings)]


def _parse(key: str, raw: str, *, source: str, label: str) -> Any:
    meta = next(f for f in fields(Settings) if f.name == key).metadata
    try:
        return meta["parse"](raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(label, f"{raw!r} is invalid: {exc}", source=source) from None


def _read_file(path: Path) -> dict[str, Any]:
    source = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(CONFIG_FILE_VARIABLE, f"no such file: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(CONFIG_FILE_VARIABLE, f"not valid TOML: {exc}", source=source) from None
    known = {f.name for f in fields(Settings)}
    values: dict[str, Any] = {}
    for key, raw in data.items():
        if key not in known:
            raise ConfigError(key, f"unknown setting; known: {', '.join(sorted(known))}", source=source)
        values[key] = _parse(key, str(raw), source=source, label=key)
    return values


def _mask_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def reference() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) rows for the README and `backhaul config`."""
    rows = []
    defaults = Settings()
    for f in fields(Settings):
        default = getattr(defaults, f.name)
        if isinstance(default, Path):
            default = f"service/defaults/{default.name}"
        elif default is None:
            default = ""
        rows.append((ENV_PREFIX + f.name.upper(), str(default) or "(unset)", f.metadata["doc"]))
    return rows
