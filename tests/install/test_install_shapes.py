"""Every install shape the README promises works in a fresh venv holding nothing else.

Each venv gets only that shape's wheels (from the wheelhouse), their dependencies and the
demo's requirements (a keyring backend for a headless machine, selected explicitly, as the
suite does), installed by the function `dev.py` uses. Each runs `--help` of every command it
has (in one process of that venv: the installed script itself runs `aster --help`, `--version`,
`doctor` and the real commands) and one real command per family; the full shape runs the
guided demo itself.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import dev

from .conftest import fresh_venv

DEMO_REQUIREMENTS = [dev.REQUIREMENTS / "demo.txt"]
HOST_COMMANDS = {"profile", "config", "plugins", "doctor", "completion"}
#: hidden commands a family adds for aster-cli 0.1.2 scripts (runnable, left out of aster --help)
TRUST_ALIASES = {"keygen", "authorize"}
CONTRACT_ALIASES = {"init"}

# Every command path, then each one's --help through the host's own in-process runner
# (one interpreter start instead of one per command); failures come back as data.
_HELP_WALK = """
import json, click
from aster_core.main import build_cli
from aster_core.testing import invoke
root = build_cli(); ctx = click.Context(root); paths = []
def walk(group, prefix):
    for name in group.list_commands(ctx):
        paths.append(prefix + [name])
        cmd = group.get_command(ctx, name)
        if isinstance(cmd, click.Group):
            walk(cmd, prefix + [name])
walk(root, [])
failed = []
for path in paths:
    shown = invoke([*path, "--help"])
    if shown.returncode != 0 or "Usage: aster" not in shown.stdout:
        failed.append({"path": path, "code": shown.returncode, "stderr": shown.stderr[-2000:]})
print(json.dumps({"paths": paths, "failed": failed}))
"""


class Shape:
    """A fresh venv with some distributions; runs its commands as a user would."""

    def __init__(self, tmp_path: Path, wheelhouse: Path, distributions: list[str], template: Path) -> None:
        self.bin = fresh_venv(tmp_path / "venv", wheelhouse, distributions, DEMO_REQUIREMENTS, template)
        self.work = tmp_path / "work"
        self.work.mkdir()
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("PYTHONPATH", "VIRTUAL_ENV", "ASTER_WHEELHOUSE")}
        self.env["PATH"] = f"{self.bin}{os.pathsep}{self.env.get('PATH', '')}"

    def run(self, *args: str, expect: int = 0, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run([str(self.bin / args[0]), *args[1:]], cwd=self.work, env={**self.env, **(env or {})},
                                capture_output=True, text=True, timeout=timeout)
        assert result.returncode == expect, f"{args} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result

    def packages(self) -> set[str]:
        listed = self.run("python", "-m", "pip", "list", "--format", "json").stdout
        return {p["name"].lower() for p in json.loads(listed)}

    def every_help_works(self) -> list[list[str]]:
        walked = json.loads(self.run("python", "-c", _HELP_WALK).stdout)
        assert walked["failed"] == [], walked["failed"]
        assert "Usage: aster" in self.run("aster", "--help").stdout
        self.run("aster", "--version")
        self.run("aster", "doctor")
        return walked["paths"]


def top_level(paths: list[list[str]]) -> set[str]:
    return {p[0] for p in paths if len(p) == 1}


@pytest.mark.slow
def test_aster_core_alone(tmp_path, wheelhouse, empty_venv):
    shape = Shape(tmp_path, wheelhouse, ["aster-core"], empty_venv)
    assert not {p for p in shape.packages() if p.startswith("aster-") and p != "aster-core"}
    assert top_level(shape.every_help_works()) == HOST_COMMANDS
    listed = shape.run("aster", "--help").stdout
    assert "trust" not in listed and "contract" not in listed
    shape.run("aster", "profile", "create", "ops")
    assert [p["name"] for p in json.loads(shape.run("aster", "profile", "list", "--json").stdout)] == ["ops"]
    shape.run("aster", "config", "show", "--json")
    assert json.loads(shape.run("aster", "plugins", "--json").stdout) == []
    assert "_ASTER_COMPLETE" in shape.run("aster", "completion", "bash").stdout
    shape.run("aster", "trust", "keygen", "root", expect=2)  # no such command here


@pytest.mark.slow
def test_aster_core_trust_enroll_an_offline_root_key_machine(tmp_path, wheelhouse, empty_venv):
    shape = Shape(tmp_path, wheelhouse, ["aster-core", "aster-trust", "aster-enroll"], empty_venv)
    assert "aster-rpc" not in shape.packages()  # no runtime, no native transport
    assert top_level(shape.every_help_works()) == HOST_COMMANDS | {"trust", "enroll"} | TRUST_ALIASES
    shape.run("aster", "trust", "keygen", "root", "--out", "root.key")
    shape.run("aster", "trust", "keygen", "pubkey", "--in", "root.key", "--out", "root.pub")
    quiet = shape.run("aster", "enroll", "node", "--role", "consumer", "--name", "edge", "--capabilities",
                      "reader", "--root-key", "root.key", "-q").stdout.split()
    assert quiet[0] == ".aster-identity" and len(quiet[1]) == 64
    shape.run("aster", "trust", "sign", "consumer", "--root-key", "root.key", "--type", "ott", "--out", "c.json")
    shape.run("aster", "trust", "verify", "c.json", "--root-pubkey", "root.pub")

    # and the runtime (from the test environment) admits what that bare install wrote
    from aster.config import AsterConfig
    from aster.runtime import _credential_from_peer_entry, _load_enrollment_credential
    from aster.trust import verify_signature

    _, peer = AsterConfig(identity_file=str(shape.work / ".aster-identity")).load_identity(role="consumer")
    assert verify_signature(_credential_from_peer_entry(peer))
    assert verify_signature(_load_enrollment_credential(str(shape.work / "c.json")))


@pytest.mark.slow
def test_aster_core_contract_a_contract_checking_ci_job(tmp_path, wheelhouse, empty_venv):
    shape = Shape(tmp_path, wheelhouse, ["aster-core", "aster-contract"], empty_venv)
    assert "aster-connect" not in shape.packages() and "aster-mcp" not in shape.packages()
    assert top_level(shape.every_help_works()) == HOST_COMMANDS | {"contract"} | CONTRACT_ALIASES
    services = {"PYTHONPATH": str(dev.ROOT)}  # the example services live in the checkout's tests
    shape.run("aster", "contract", "gen", "--service", "tests.contract.services.shop:Inventory",
              "--out", "manifest.json", env=services)
    manifest = json.loads((shape.work / "manifest.json").read_text())
    assert manifest
    shape.run("aster", "contract", "diff", "manifest.json", "manifest.json")


@pytest.mark.slow
def test_pip_install_aster_runs_the_guided_demo(tmp_path, wheelhouse, empty_venv):
    """`pip install aster aster-hello` plus the demo's requirements is all `python3 dev.py demo` needs.

    Only the meta-package and the example plugin are named: every family comes in as the
    meta-package's dependency.
    """
    shape = Shape(tmp_path, wheelhouse, ["aster", "aster-hello"], empty_venv)
    installed = shape.packages()
    assert {"aster-core", "aster-trust", "aster-enroll", "aster-contract", "aster-connect", "aster-mcp"} <= installed
    assert not {"pytest", "twine"} & installed  # nothing test-only (jsonschema comes with mcp)
    paths = shape.every_help_works()
    assert {"trust", "enroll", "contract", "call", "shell", "mcp", "hello"} <= top_level(paths)
    demo = shape.run("python", str(dev.ROOT / "demo" / "demo.py"), env={"ASTER_DEMO_DIR": str(tmp_path / "demo")},
                     timeout=600)
    assert "all as expected" in demo.stdout
