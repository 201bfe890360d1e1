"""Settings and carrier accounts for tracking tests that build the real application."""

from __future__ import annotations

import socket
from pathlib import Path

from service.config import Settings

WEBHOOK_SECRET_ENV = "BACKHAUL_TEST_SANDBOX_WEBHOOK_SECRET"
WEBHOOK_SECRET = "sandbox-webhook-secret-for-tests"
EASYPOST_KEY_ENV = "BACKHAUL_TEST_EASYPOST_API_KEY"
EASYPOST_SECRET_ENV = "BACKHAUL_TEST_EASYPOST_WEBHOOK_SECRET"
EASYPOST_SECRET = "easypost-webhook-secret"

# A sandbox account with signed webhooks, one polled without them, a rate-card partner that pushes scans,
# and an EasyPost account (never called: only its webhook verification and parsing run).
CARRIERS = f"""
[[accounts]]
id = "sandbox-hooks"
adapter = "sandbox"
carrier = "Sandbox Express"
webhook_secret_env = "{WEBHOOK_SECRET_ENV}"

[[accounts]]
id = "sandbox-polled"
adapter = "sandbox"
carrier = "Sandbox Ground"

[[accounts]]
id = "tulip-parcel"
adapter = "ratecard"
carrier = "Tulip Parcel"
[accounts.options]
card = "tulip_parcel_nl"

[[accounts]]
id = "easypost-main"
adapter = "easypost"
carrier = "EasyPost"
api_key_env = "{EASYPOST_KEY_ENV}"
webhook_secret_env = "{EASYPOST_SECRET_ENV}"
[accounts.options]
api_base = "http://127.0.0.1:9/v2"
"""

CARRIER_ENVIRONMENT = {
    WEBHOOK_SECRET_ENV: WEBHOOK_SECRET,
    EASYPOST_KEY_ENV: "EZTK_test_key_not_used",
    EASYPOST_SECRET_ENV: EASYPOST_SECRET,
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tracking_settings(workdir: Path, database_url: str, **overrides: str) -> Settings:
    carriers = workdir / "carriers.toml"
    carriers.write_text(CARRIERS)
    environ = {
        "BACKHAUL_DATABASE_URL": database_url,
        "BACKHAUL_GRPC_ADDRESS": f"127.0.0.1:{free_port()}",
        "BACKHAUL_HTTP_ADDRESS": f"127.0.0.1:{free_port()}",
        "BACKHAUL_CARRIERS_FILE": str(carriers),
        "BACKHAUL_QUOTE_TOKEN_SECRET": "tracking-tests-" + "s" * 32,
        "BACKHAUL_DRAIN_SECONDS": "2",
    }
    environ.update({f"BACKHAUL_{key.upper()}": value for key, value in overrides.items()})
    return Settings.load(environ)
