"""Every distribution builds on its own from its folder, and the meta-package names them all."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = [ROOT / "core", *sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml")),
           ROOT / "examples" / "plugin-hello"]


def test_each_distribution_builds_a_wheel_alone(tmp_path):
    # build from copies: an in-place build would leave build/ folders in the checkout
    copies = []
    for folder in FOLDERS:
        copy = tmp_path / "src" / folder.name
        shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        copies.append(copy)
    wheels_dir = tmp_path / "wheels"
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                             "--wheel-dir", str(wheels_dir), *map(str, copies)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    wheels = {w.name.split("-")[0]: w for w in wheels_dir.glob("*.whl")}
    for folder in FOLDERS:
        name = tomllib.loads((folder / "pyproject.toml").read_text())["project"]["name"].replace("-", "_")
        assert name in wheels, name
    for name, wheel in wheels.items():
        if name == "aster_core":
            continue
        with zipfile.ZipFile(wheel) as zf:
            entry_points = next(n for n in zf.namelist() if n.endswith("entry_points.txt"))
            assert "[aster.plugins.v1]" in zf.read(entry_points).decode(), name


def test_families_declare_their_core_range_and_the_meta_package_lists_them_all():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    meta_names = {d.split(">")[0].split("=")[0].split("<")[0].strip() for d in meta}
    for folder in FOLDERS[1:]:
        project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
        assert any(d.replace(" ", "").startswith("aster-core>=") for d in project["dependencies"]), folder
        if "examples" not in folder.parts:
            assert project["name"] in meta_names
