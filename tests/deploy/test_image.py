"""The container image without a container engine: hadolint, the builder stage replayed, the health probe."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.deploy.conftest import Replicas
from tests.deploy.dockerfile import (
    DOCKERFILE,
    DOCKERIGNORE,
    REPOSITORY,
    Stage,
    ignore_rules,
    in_context,
    stages,
)
from tests.e2e.server_process import free_port

HADOLINT = Path(sys.executable).with_name("hadolint")
# Shipped packages: every file git tracks under them must be in the wheel the image installs.
PACKAGE_ROOTS = {
    "customs/": "customs/",
    "carriers/": "carriers/",
    "service/": "service/",
    "protos/backhaul/": "backhaul/",
}


def _hadolint(dockerfile: str) -> list[dict[str, object]]:
    result = subprocess.run(
        [str(HADOLINT), "--format", "json", "--failure-threshold", "style", "-"],
        input=dockerfile,
        capture_output=True,
        text=True,
        timeout=60,
    )
    findings: list[dict[str, object]] = json.loads(result.stdout or "[]")
    assert (result.returncode == 0) == (not findings), result.stderr
    return findings


def _image() -> dict[str, Stage]:
    return stages(DOCKERFILE.read_text())


def test_dockerfile_has_no_hadolint_findings() -> None:
    assert _hadolint(DOCKERFILE.read_text()) == []


def test_hadolint_does_report_a_careless_dockerfile() -> None:
    findings = _hadolint("FROM python\nRUN pip install backhaul\n")
    assert {finding["code"] for finding in findings} >= {"DL3006", "DL3013", "DL3042"}


def _tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [path for path in listed if (REPOSITORY / path).is_file()]


def _build_context(target: Path) -> None:
    """The files a `docker build .` at the repository root would send, after .dockerignore."""
    rules = ignore_rules(DOCKERIGNORE.read_text())
    for path in _tracked_files():
        if in_context(path, rules):
            (target / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPOSITORY / path, target / path)


def _replay_copies(stage: Stage, context: Path, workdir: Path) -> None:
    for copy in stage.all("COPY"):
        *sources, destination = copy.arguments.split()
        assert not any(s.startswith("--") for s in sources), "the builder copies from the context only"
        for source in sources:
            origin = context / source
            assert origin.exists(), f"COPY {source}: not in the build context (see .dockerignore)"
            target = workdir / destination
            if origin.is_dir():
                shutil.copytree(origin, target, dirs_exist_ok=True)
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target / origin.name)


def test_builder_stage_makes_a_wheel_holding_every_shipped_file(tmp_path: Path) -> None:
    builder = _image()["builder"]
    (build,) = builder.all("RUN")
    assert build.arguments.startswith("pip wheel")
    assert build.arguments.endswith(" .")
    context, workdir, wheels = tmp_path / "context", tmp_path / "src", tmp_path / "wheels"
    _build_context(context)
    _replay_copies(builder, context, workdir)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            ".",
        ],
        cwd=workdir,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = wheels.glob("backhaul-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
    expected = {
        installed + path.removeprefix(root)
        for path in _tracked_files()
        for root, installed in PACKAGE_ROOTS.items()
        if path.startswith(root) and "/__pycache__/" not in path
    }
    assert expected, "no shipped files found"
    assert sorted(expected - in_wheel) == [], "files the image would lack (package-data in pyproject.toml?)"
    assert not any(name.startswith("tests/") for name in in_wheel)


def test_runtime_stage_serves_as_a_non_root_user_on_the_exposed_ports() -> None:
    runtime = _image()["runtime"]
    user = runtime.last("USER").arguments
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), "a numeric uid lets Kubernetes verify runAsNonRoot"
    assert int(uid) != 0
    assert gid.isdigit()
    assert int(gid) != 0
    assert runtime.last("ENTRYPOINT").exec_form() + runtime.last("CMD").exec_form() == ["backhaul", "serve"]
    env = runtime.env()
    listen = {env["BACKHAUL_GRPC_ADDRESS"], env["BACKHAUL_HTTP_ADDRESS"]}
    assert {address.rpartition(":")[0] for address in listen} == {"0.0.0.0"}
    exposed = {int(port) for port in runtime.last("EXPOSE").arguments.split()}
    assert exposed == {int(address.rpartition(":")[2]) for address in listen} == {50051, 8080}


def _run_probe(http_address: str) -> subprocess.CompletedProcess[str]:
    probe = _image()["runtime"].last("HEALTHCHECK").exec_form()
    assert probe[0] == "python"
    env = {**os.environ, "BACKHAUL_HTTP_ADDRESS": http_address}
    return subprocess.run([sys.executable, *probe[1:]], env=env, capture_output=True, text=True, timeout=30)


def test_health_probe_passes_against_a_serving_replica(replicas: Replicas) -> None:
    result = _run_probe(f"0.0.0.0:{replicas.servers[0].http_port}")
    assert result.returncode == 0, result.stderr


def test_health_probe_fails_when_nothing_serves() -> None:
    assert _run_probe(f"0.0.0.0:{free_port()}").returncode != 0
