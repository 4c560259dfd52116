"""Fixtures for the contract tests: the CLI in a subprocess and a real server on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = "tests.contract.services"


def aster(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the installed `aster` with only this family loaded; repo root importable."""
    from aster_core.testing import run_aster

    env = {"PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return run_aster(list(args), plugins=["aster-contract"], env=env, cwd=cwd or REPO, timeout=timeout)


class ServerRefused(Exception):
    def __init__(self, stderr: str) -> None:
        super().__init__(stderr)
        self.stderr = stderr


@contextlib.contextmanager
def serving(*specs: str, cwd: Path, timeout: float = 30) -> Iterator[dict]:
    """Run tests/contract/serve.py in ``cwd`` (where the runtime looks for .aster/manifest.json)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), ASTER_RELAY_MODE="disabled", ASTER_LOG_LEVEL="warning")
    proc = subprocess.Popen([sys.executable, "-m", "tests.contract.serve", "--max-lifetime", "120", *specs],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    try:
        if not line or not line[0].strip():
            proc.kill()
            _, err = proc.communicate(timeout=10)
            raise ServerRefused(err)
        yield json.loads(line[0])
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdout, proc.stderr):
            stream.close()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty project directory for manifests and generated code."""
    path = tmp_path / "project"
    path.mkdir()
    return path
