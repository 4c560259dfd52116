from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.shared import made_once

FIXTURES = Path(__file__).parent / "fixture_plugins"


@pytest.fixture(scope="session")
def bad_plugins(tmp_path_factory) -> Path:
    """The fixture families installed for real (pip, entry points and all) into a
    directory that tests put on PYTHONPATH (once for all pytest-xdist workers)."""
    projects = sorted(str(p) for p in FIXTURES.iterdir() if (p / "pyproject.toml").exists())

    def install(target: Path) -> None:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                        "--target", str(target), *projects], check=True, capture_output=True, timeout=300)

    return made_once(tmp_path_factory, "plugins-site", install)
