"""The migrations must travel with an installed copy, not only work from a checkout."""

import tomllib
from fnmatch import fnmatch
from pathlib import Path

from alembic.script import ScriptDirectory
from setuptools import find_packages  # type: ignore[import-untyped]

from service.storage.schema import alembic_config, head_revision, migrations_directory

REPOSITORY = Path(__file__).resolve().parents[3]


def test_migration_directories_are_packages_that_setuptools_finds() -> None:
    packages = find_packages(where=str(REPOSITORY), include=["service*"])
    assert "service.storage.migrations" in packages
    assert "service.storage.migrations.versions" in packages


def test_template_is_covered_by_package_data() -> None:
    pyproject = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["*"]
    assert any(fnmatch("script.py.mako", pattern) for pattern in patterns)
    assert (migrations_directory() / "script.py.mako").is_file()


def test_revisions_form_one_linear_history() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_bases() == ["0001"]
    assert scripts.get_heads() == [head_revision()]
    revisions = list(scripts.walk_revisions())
    assert all(not isinstance(revision.down_revision, tuple) for revision in revisions)
