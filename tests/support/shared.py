"""Things made once per test run and shared by every pytest-xdist worker (wheels, pip targets).

    @pytest.fixture(scope="session")
    def wheelhouse(tmp_path_factory):
        return made_once(tmp_path_factory, "wheelhouse", lambda out: build(out))

A session fixture runs once per worker; what it makes here is made by the first worker that
asks, under a file lock, while the others wait for it and then reuse it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import Callable

import pytest


def run_temp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temp folder of this whole run: a worker's own (``.../pytest-N/popen-gw0``) has it as parent."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def made_once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], object]) -> Path:
    """``run_temp_root/name``, filled by ``make(path)`` the first time any worker asks for it."""
    root = run_temp_root(tmp_path_factory)
    target = root / name
    done = root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            make(target)  # raises: no marker, and the next worker to ask tries again
            done.touch()
    return target
