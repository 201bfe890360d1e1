"""A simulated API carrier with configurable latency, failures and seed."""

from carriers.sandbox.adapter import SandboxCarrier, SandboxMode, SandboxSettings, sign_webhook

__all__ = ["SandboxCarrier", "SandboxMode", "SandboxSettings", "sign_webhook"]
