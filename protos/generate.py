"""Generate the Python modules of the backhaul.v1 API contract beside its .proto files.

    .venv/bin/python protos/generate.py              # regenerate protos/backhaul/v1/*_pb2*.py(i)
    .venv/bin/python protos/generate.py --check      # exit 1 and list the generated files that are stale
    .venv/bin/python protos/generate.py --deps-only  # only stage google/type/*.proto in build/proto-deps

The google/type protos (Money, PostalAddress, Date) come from the installed googleapis-common-protos
package and are staged in build/proto-deps, which buf.yaml names as a second module: buf and protoc then
compile against the same files, and nothing is downloaded. The google/protobuf well-known types come with
grpcio-tools (protoc) and are built into buf.

Output: *_pb2.py and *_pb2_grpc.py (grpcio-tools), *_pb2.pyi and *_pb2_grpc.pyi (mypy-protobuf). protoc is run
with protos/ as the include root, so the modules import each other as `backhaul.v1.<name>_pb2`, the package
the project installs from protos/backhaul.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

from google.type import date_pb2
from grpc_tools import protoc  # type: ignore[import-untyped]

REPO_ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = REPO_ROOT / "protos"
DEPS_DIR = REPO_ROOT / "build" / "proto-deps"
API_PACKAGE = Path("backhaul") / "v1"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")
# Only googleapis imports are staged; google/protobuf/* ship with protoc and buf.
_GOOGLEAPIS_IMPORT = re.compile(
    r'^\s*import\s+(?:public\s+|weak\s+)?"(google/(?!protobuf/)[^"]+\.proto)"\s*;', re.MULTILINE
)


class GenerationError(RuntimeError):
    """protoc or a plugin failed, or an input is missing."""


def api_protos(proto_root: Path) -> list[Path]:
    """The contract's .proto files, relative to `proto_root`, in a stable order."""
    files = sorted(path.relative_to(proto_root) for path in (proto_root / API_PACKAGE).glob("*.proto"))
    if not files:
        raise GenerationError(f"no .proto files under {proto_root / API_PACKAGE}")
    return files


def googleapis_root() -> Path:
    """Directory holding google/type/*.proto of the installed googleapis-common-protos package."""
    root = Path(date_pb2.__file__).resolve().parent.parent.parent
    if not (root / "google" / "type" / "date.proto").is_file():
        raise GenerationError(f"googleapis-common-protos ships no .proto files under {root}")
    return root


def well_known_root() -> Path:
    """Directory holding google/protobuf/*.proto as shipped with grpcio-tools."""
    return Path(protoc.__file__).resolve().parent / "_proto"


def required_googleapis(proto_root: Path, source_root: Path) -> list[str]:
    """googleapis files imported by the contract, directly or through each other."""
    pending = [proto_root / name for name in api_protos(proto_root)]
    found: set[str] = set()
    while pending:
        for name in _GOOGLEAPIS_IMPORT.findall(pending.pop().read_text(encoding="utf-8")):
            if name in found:
                continue
            if not (source_root / name).is_file():
                raise GenerationError(f"{name} is imported but not shipped by googleapis-common-protos")
            found.add(name)
            pending.append(source_root / name)
    return sorted(found)


def stage_dependencies(proto_root: Path, deps_dir: Path) -> list[str]:
    """Copy the googleapis protos the contract imports into `deps_dir`; remove any others left there."""
    source_root = googleapis_root()
    needed = required_googleapis(proto_root, source_root)
    for name in needed:
        target = deps_dir / name
        if not target.is_file() or not filecmp.cmp(source_root / name, target, shallow=False):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source_root / name, target)
    for leftover in deps_dir.rglob("*.proto") if deps_dir.is_dir() else ():
        if leftover.relative_to(deps_dir).as_posix() not in needed:
            leftover.unlink()
    return needed


def _plugin(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.is_file() else shutil.which(name)
    if found is None:
        raise GenerationError(f"{name} not found (install the test extras: pip install -e '.[test]')")
    return found


def generate(proto_root: Path, out_root: Path, deps_dir: Path) -> list[Path]:
    """Run protoc over the contract into `out_root`; returns the generated files relative to it."""
    stage_dependencies(proto_root, deps_dir)
    protos = [name.as_posix() for name in api_protos(proto_root)]
    out = str(out_root)
    args = [
        "grpc_tools.protoc",
        f"--proto_path={proto_root}",
        f"--proto_path={deps_dir}",
        f"--proto_path={well_known_root()}",
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out=quiet:{out}",
        f"--mypy_grpc_out=quiet:{out}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise GenerationError(f"protoc failed for {', '.join(protos)}")
    return sorted(path.relative_to(out_root) for path in out_root.rglob("*") if _is_generated(path))


def _is_generated(path: Path) -> bool:
    return path.is_file() and path.name.endswith(GENERATED_SUFFIXES)


def committed_modules(proto_root: Path) -> list[Path]:
    """Generated modules currently beside the .proto files, relative to `proto_root`."""
    package_dir = proto_root / API_PACKAGE
    return sorted(path.relative_to(proto_root) for path in package_dir.iterdir() if _is_generated(path))


def stale_files(proto_root: Path) -> list[str]:
    """Regenerate into a temporary directory and compare byte for byte with the committed modules.

    Returns one line per problem: a module that differs, one that is missing, one without a .proto.
    """
    with tempfile.TemporaryDirectory(prefix="backhaul-protos-") as tmp:
        fresh_root = Path(tmp) / "out"
        fresh_root.mkdir()
        fresh = generate(proto_root, fresh_root, Path(tmp) / "deps")
        committed = committed_modules(proto_root)
        problems = []
        for name in fresh:
            current = proto_root / name
            if not current.is_file():
                problems.append(f"{name}: missing")
            elif current.read_bytes() != (fresh_root / name).read_bytes():
                problems.append(f"{name}: differs from a fresh generation")
        problems.extend(f"{name}: no .proto generates it" for name in committed if name not in fresh)
        return sorted(problems)


def write(proto_root: Path, deps_dir: Path) -> list[Path]:
    """Regenerate the committed modules in place, removing generated modules whose .proto is gone."""
    generated = generate(proto_root, proto_root, deps_dir)
    for orphan in set(committed_modules(proto_root)) - set(generated):
        (proto_root / orphan).unlink()
    return generated


def _print_lines(lines: Iterable[str], file: TextIO = sys.stdout) -> None:
    for line in lines:
        print(line, file=file)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="list stale generated modules; exit 1 if any")
    mode.add_argument("--deps-only", action="store_true", help="only stage the google/type protos")
    parser.add_argument(
        "--proto-root",
        type=Path,
        default=PROTO_ROOT,
        help="directory holding backhaul/v1/*.proto and the generated modules (default: %(default)s)",
    )
    parser.add_argument(
        "--deps-dir",
        type=Path,
        default=DEPS_DIR,
        help="where to stage the google/type protos; --check uses a temporary one (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    proto_root: Path = args.proto_root.resolve()
    deps_dir: Path = args.deps_dir.resolve()
    try:
        if args.deps_only:
            _print_lines(f"staged {deps_dir / name}" for name in stage_dependencies(proto_root, deps_dir))
            return 0
        if args.check:
            problems = stale_files(proto_root)
            if problems:
                print("stale generated modules (run: .venv/bin/python protos/generate.py):", file=sys.stderr)
                _print_lines((f"  {line}" for line in problems), file=sys.stderr)
                return 1
            print("generated modules are up to date")
            return 0
        _print_lines(f"wrote {proto_root / name}" for name in write(proto_root, deps_dir))
        return 0
    except GenerationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
