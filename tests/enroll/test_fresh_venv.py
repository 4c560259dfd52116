"""`pip install aster-core aster-trust aster-enroll` (and nothing else) gives working commands.

A fresh virtual environment gets the three distributions built from copies of their folders
(so no build output lands in the repository); their dependencies come from the package index
(or pip's cache). The test is skipped only when no index can be reached.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DISTRIBUTIONS = ("core", "plugins/trust", "plugins/enroll")
_IGNORE = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", "*.pyc")


def _index_url() -> str:
    return os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")


def _index_reachable() -> bool:
    try:
        with urllib.request.urlopen(f"{_index_url()}/pip/", timeout=15) as response:
            return response.status == 200
    except OSError:
        return False


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{cmd} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def test_core_trust_enroll_alone_work_in_a_fresh_venv(tmp_path):
    if not _index_reachable():
        pytest.skip(f"no package index reachable at {_index_url()}")
    sources = tmp_path / "src"
    for folder in DISTRIBUTIONS:
        shutil.copytree(REPO / folder, sources / folder, ignore=_IGNORE)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    bin_dir = env_dir / "bin"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHON_KEYRING_BACKEND", "PIP_REQUIRE_VIRTUALENV")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    _run([str(bin_dir / "python"), "-m", "pip", "install", "--disable-pip-version-check", "--retries", "5",
          "--timeout", "60", "-q", *(str(sources / f) for f in DISTRIBUTIONS)], tmp_path, env, timeout=900)

    listed = _run([str(bin_dir / "python"), "-m", "pip", "list", "--format", "json"], tmp_path, env).stdout
    names = {p["name"].lower() for p in json.loads(listed)}
    assert {"aster-core", "aster-trust", "aster-enroll"} <= names
    assert "aster-rpc" not in names  # the runtime is not needed on an operator's machine

    aster = str(bin_dir / "aster")
    work = tmp_path / "work"
    work.mkdir()
    _run([aster, "trust", "keygen", "root", "--out", "root.key"], work, env)
    _run([aster, "trust", "keygen", "pubkey", "--in", "root.key", "--out", "root.pub"], work, env)
    quiet = _run([aster, "enroll", "node", "--role", "consumer", "--name", "edge", "--capabilities", "reader",
                  "--root-key", "root.key", "-q"], work, env).stdout.split()
    assert quiet[0] == ".aster-identity" and len(quiet[1]) == 64
    _run([aster, "trust", "sign", "consumer", "--root-key", "root.key", "--type", "ott", "--out", "c.json"], work, env)
    _run([aster, "trust", "verify", "c.json", "--root-pubkey", "root.pub"], work, env)
    _run([aster, "trust", "verify", ".aster-identity", "--root-pubkey", "root.pub", "--endpoint-id", quiet[1]],
         work, env)

    # and the runtime (from the test environment) admits what that bare install wrote
    from aster.runtime import _credential_from_peer_entry, _load_enrollment_credential
    from aster.trust import verify_signature
    from aster.config import AsterConfig

    _, peer = AsterConfig(identity_file=str(work / ".aster-identity")).load_identity(role="consumer")
    assert verify_signature(_credential_from_peer_entry(peer))
    assert verify_signature(_load_enrollment_credential(str(work / "c.json")))
