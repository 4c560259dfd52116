"""Fixtures for the contract tests: the CLI in a subprocess (servers: tests.support.server.start_server)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = "tests.contract.services"


def aster(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the installed `aster` with only this family loaded; repo root importable."""
    from aster_core.testing import run_aster

    env = {"PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return run_aster(list(args), plugins=["aster-contract"], env=env, cwd=cwd or REPO, timeout=timeout)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty project directory for manifests and generated code."""
    path = tmp_path / "project"
    path.mkdir()
    return path
