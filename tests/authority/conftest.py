"""Fixtures of the authority tests: manifests of TaskService as deployed, changed
compatibly and changed breakingly (made by `aster contract gen`, as operators do)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fixtures import *  # noqa: F401,F403

REPO = Path(__file__).resolve().parents[2]
SERVICES = "tests.authority.services"
VARIANTS = ("v1", "update", "migration")


@pytest.fixture(scope="session")
def manifest_files(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("manifests")
    env = dict(os.environ, PYTHONPATH=str(REPO), ASTER_RELAY_MODE="disabled", ASTER_PLUGINS="aster-contract")
    files = {}
    for name in VARIANTS:
        path = out / f"tasks_{name}.json"
        subprocess.run([str(Path(sys.executable).with_name("aster")), "contract", "gen", "--service",
                        f"{SERVICES}.tasks_{name}:TaskService", "--out", str(path)],
                       check=True, capture_output=True, env=env, cwd=REPO, timeout=60)
        files[name] = path
    return files


@pytest.fixture(scope="session")
def manifests(manifest_files) -> dict[str, list[dict]]:
    result = {}
    for name, path in manifest_files.items():
        doc = json.loads(path.read_text())
        result[name] = doc if isinstance(doc, list) else [doc]
    return result
