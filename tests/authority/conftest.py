"""Fixtures of the authority tests: manifests of TaskService as deployed, changed
compatibly and changed breakingly (made by `aster contract gen`, as operators do), and a
mesh: a root key, an admin credential and a running authority (tests.support.authority)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.authority import AuthorityServer
from tests.support.credentials import make_root_key, write_consumer_identity
from tests.support.shared import made_once

REPO = Path(__file__).resolve().parents[2]
SERVICES = "tests.authority.services"
VARIANTS = ("v1", "update", "migration")


@pytest.fixture(scope="session")
def manifest_files(tmp_path_factory) -> dict[str, Path]:
    """Made once for all pytest-xdist workers."""
    env = dict(os.environ, PYTHONPATH=str(REPO), ASTER_RELAY_MODE="disabled", ASTER_PLUGINS="aster-contract")

    def generate(out: Path) -> None:
        for name in VARIANTS:
            subprocess.run([str(Path(sys.executable).with_name("aster")), "contract", "gen", "--service",
                            f"{SERVICES}.tasks_{name}:TaskService", "--out", str(out / f"tasks_{name}.json")],
                           check=True, capture_output=True, env=env, cwd=REPO, timeout=60)

    out = made_once(tmp_path_factory, "authority-manifests", generate)
    return {name: out / f"tasks_{name}.json" for name in VARIANTS}


@pytest.fixture(scope="session")
def manifests(manifest_files) -> dict[str, list[dict]]:
    result = {}
    for name, path in manifest_files.items():
        doc = json.loads(path.read_text())
        result[name] = doc if isinstance(doc, list) else [doc]
    return result


# ── a real authority server on loopback (tests.support.authority) ───────────────


@dataclass
class Mesh:
    root: object
    admin_identity: Path
    server: AuthorityServer
    tmp: Path

    def env(self, **extra: str) -> dict[str, str]:
        return {"ASTER_AUTHORITY_ADDR": self.server.address, "ASTER_AUTHORITY_CREDENTIAL": str(self.admin_identity),
                "PYTHONPATH": str(REPO), **extra}

    def aster(self, *args: str, input: str | None = None, timeout: float = 90, **env: str):
        from aster_core.testing import run_aster

        return run_aster(list(args), env=self.env(**env), input=input, cwd=self.tmp, timeout=timeout)

    def ok(self, *args: str, **kw):
        result = self.aster(*args, "--json", **kw)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return json.loads(result.stdout)


def make_mesh(tmp: Path, db: str) -> Mesh:
    root = make_root_key(tmp)
    admin, _ = write_consumer_identity(root, tmp / "admin.identity", name="ops",
                                       attributes={"aster.role": "authority.admin", "aster.name": "ops"})
    server = AuthorityServer(db, root.pubkey_file, tmp / "authority.key", tmp / "authority.log").start()
    return Mesh(root, admin, server, tmp)


@pytest.fixture
def mesh(tmp_path, database_url):
    """A root key, an admin credential and a running authority, on SQLite and on PostgreSQL."""
    m = make_mesh(tmp_path, database_url)
    yield m
    m.server.stop()


@pytest.fixture
def sqlite_mesh(tmp_path):
    m = make_mesh(tmp_path, str(tmp_path / "authority.db"))
    yield m
    m.server.stop()
