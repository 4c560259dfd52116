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


# ── a real authority server on loopback ─────────────────────────────────────────

import json as _json  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

from tests.support.credentials import make_root_key, write_consumer_identity  # noqa: E402
from tests.support.postgres import database_url, pg_cluster, pg_url  # noqa: E402,F401


@dataclass
class AuthorityServer:
    """``aster authority serve`` in a subprocess (127.0.0.1 only, bounded lifetime)."""

    db: str
    root_pubkey_file: Path
    identity: Path
    log: Path
    proc: subprocess.Popen | None = None
    info: dict = field(default_factory=dict)

    @property
    def address(self) -> str:
        return self.info["address"]

    def start(self, timeout: float = 40) -> "AuthorityServer":
        cmd = [str(Path(sys.executable).with_name("aster")), "authority", "serve", "--db", self.db,
               "--root-pubkey", str(self.root_pubkey_file), "--identity", str(self.identity),
               "--bind", "127.0.0.1", "--max-lifetime", "400"]
        env = dict(os.environ, ASTER_SERVER_LOG_LEVEL="warning", ASTER_LOG_LEVEL="warning")
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                         env=env, cwd=REPO)
        deadline = time.monotonic() + timeout
        line = b""
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            if not sel.select(timeout=0.5):
                if self.proc.poll() is not None:
                    break
                continue
            chunk = self.proc.stdout.read1(4096)
            if not chunk:
                break
            line += chunk
        sel.close()
        if not line.strip():
            self.kill()
            raise RuntimeError(f"authority did not start: {self.log.read_text()[-2000:]}")
        self.info = _json.loads(line.splitlines()[0])
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


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
        return _json.loads(result.stdout)


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
