"""Each wheel carries exactly its source tree, with the metadata a package index shows.

These read the files `python3 dev.py test` (and `dev.py dist`) build: sdists, and wheels
built from those sdists.
"""

from __future__ import annotations

import email
import os
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

import dev

from .conftest import wheel_of

DISTRIBUTIONS = {tomllib.loads((folder / "pyproject.toml").read_text())["project"]["name"]: folder
                 for folder in dev.distributions()}
PACKAGED = {name: folder for name, folder in DISTRIBUTIONS.items() if folder != dev.ROOT}
FAMILIES = {name: folder for name, folder in PACKAGED.items() if folder.parent.name in ("plugins", "examples")}


def source_modules(folder: Path) -> set[str]:
    """Every file of the import package a wheel must carry (modules, py.typed, data), no caches."""
    package = next(p for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    return {p.relative_to(folder).as_posix() for p in package.rglob("*")
            if p.is_file() and p.suffix != ".pyc" and "__pycache__" not in p.parts}


def wheel_files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return {n for n in zf.namelist() if ".dist-info/" not in n}


def wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_string(zf.read(name).decode())


@pytest.mark.parametrize("distribution", sorted(PACKAGED))
def test_wheel_carries_exactly_the_source_tree(wheelhouse, distribution):
    folder = PACKAGED[distribution]
    expected = source_modules(folder)
    assert any(m.count("/") >= 2 for m in expected) or distribution != "aster-core"  # a subpackage
    assert wheel_files(wheel_of(wheelhouse, distribution)) == expected


def test_meta_package_wheel_holds_no_code_and_names_every_family(wheelhouse):
    wheel = wheel_of(wheelhouse, "aster")
    assert wheel_files(wheel) == set()
    from packaging.requirements import Requirement

    requirements = {(req := Requirement(r)).name: req for r in wheel_metadata(wheel).get_all("Requires-Dist")}
    families = {name for name, folder in FAMILIES.items() if "examples" not in folder.parts}
    assert families <= set(requirements) <= set(PACKAGED)
    # `pip install aster` must be able to run `aster authority serve`: the server's dependencies are an extra
    assert requirements["aster-authority"].extras == {"server"}


@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
def test_wheel_metadata_is_complete(wheelhouse, distribution):
    meta = wheel_metadata(wheel_of(wheelhouse, distribution))
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["Description-Content-Type"] == "text/markdown"
    readme = (DISTRIBUTIONS[distribution] / "README.md").read_text()
    assert meta.get_payload().strip() == readme.strip()
    assert meta["Summary"] and meta["Author"]


@pytest.mark.parametrize("distribution", sorted(PACKAGED))
def test_sdist_holds_what_the_wheel_was_built_from(wheelhouse, distribution):
    sdist = wheel_of(wheelhouse, distribution).name.split("-py3")[0] + ".tar.gz"
    with tarfile.open(wheelhouse / sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    folder = PACKAGED[distribution]
    assert {"pyproject.toml", "README.md", "LICENSE"} <= names
    assert source_modules(folder) <= names


def test_twine_check_passes_on_every_sdist_and_wheel(wheelhouse):
    files = sorted(str(p) for p in wheelhouse.iterdir() if p.suffix in (".whl", ".gz"))
    assert len(files) == 2 * len(DISTRIBUTIONS)
    result = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *files],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == len(files)


@pytest.mark.skipif(not os.environ.get("ASTER_WHEELHOUSE"), reason="only under `dev.py test`")
@pytest.mark.parametrize("distribution", sorted(PACKAGED))
def test_the_suite_runs_against_wheel_installs(distribution):
    """Under `dev.py test` every distribution is installed from its wheel, never editable."""
    dist = metadata.distribution(distribution)
    assert '"editable": true' not in (dist.read_text("direct_url.json") or "")
    for file in dist.files:
        if file.suffix == ".py":
            located = Path(dist.locate_file(file)).resolve()
            assert dev.ROOT not in located.parents or ".venv" in located.parts, located


@pytest.mark.parametrize("distribution", sorted(FAMILIES))
def test_each_family_declares_its_core_range_and_entry_point(wheelhouse, distribution):
    wheel = wheel_of(wheelhouse, distribution)
    assert "aster-core<0.2,>=0.1" in wheel_metadata(wheel).get_all("Requires-Dist")
    with zipfile.ZipFile(wheel) as zf:
        entry_points = next(n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt"))
        assert "[aster.plugins.v1]" in zf.read(entry_points).decode()
