"""Fixtures for the contract tests: the CLI in-process, or in a subprocess where it dials a live
peer (servers: tests.support.server.start_server)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = "tests.contract.services"


def aster(*args: str, cwd: Path | None = None, timeout: float = 60,
          process: bool = False) -> subprocess.CompletedProcess:
    """`aster ARGS` with only this family loaded and the repo root importable.

    In this process (``invoke``: the same entry point and output; what ``contract gen``
    imports from the folder it runs in is forgotten after each call) unless ``process``:
    the installed script in a subprocess, for commands that dial a live peer.
    """
    from aster_core.testing import invoke, run_aster

    if not process:
        return invoke(list(args), plugins=["aster-contract"], cwd=cwd or REPO)
    env = {"PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return run_aster(list(args), plugins=["aster-contract"], env=env, cwd=cwd or REPO, timeout=timeout)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty project directory for manifests and generated code."""
    path = tmp_path / "project"
    path.mkdir()
    return path
