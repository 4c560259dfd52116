"""Across every installed family: `--json` on each command that prints data gives clean JSON on
stdout (nothing else there), errors are one line on stderr, and an unexpected failure is one
line too, never a traceback.

The released CLI had JSON on four commands, an unparseable `shell --json`, tracebacks for
unexpected errors and some errors on stdout. One workspace (home, keyring, keys, manifests,
a real AsterServer) is shared by the cases; each case runs the installed `aster` script.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, NamedTuple

import click
import pytest

from aster_core.testing import isolated_env, run_aster

REPO = Path(__file__).resolve().parents[2]
INVENTORY = "tests.contract.services.shop:Inventory"

#: Commands that print no data, so have no --json: a shell script, a one-line switch, and the
#: servers (they print a JSON ready line and a log whatever the flags; their own tests check those).
NOT_DATA = {"completion", "profile use", "registry serve", "authority serve", "local up"}


class Workspace(NamedTuple):
    dir: Path
    env: dict[str, str]
    address: str


def _ok(ws: Workspace, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    done = run_aster(list(args), env=ws.env, cwd=ws.dir, input=input, timeout=90)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Workspace:
    from tests.support.server import start_server

    base = tmp_path_factory.mktemp("json-everywhere")
    env = {**isolated_env(base), "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    work = base / "work"
    work.mkdir()
    with start_server(("echo", "session", "v2"), max_lifetime=600) as server:
        space = Workspace(work, env, server.address)
        _ok(space, "profile", "create", "prod")
        _ok(space, "profile", "create", "doomed")
        _ok(space, "trust", "keygen", "--out-key", "root.key")
        _ok(space, "trust", "sign", "consumer", "--root-key", "root.key", "--out", "c.json")
        _ok(space, "contract", "gen", "--service", INVENTORY, "--out", "m.json")
        _ok(space, "contract", "export", "--manifest", "m.json", "-o", "exports")
        yield space


class Case(NamedTuple):
    command: str                                   # the command path, e.g. "trust keygen root"
    args: Callable[[Workspace], list[str]]
    lines: bool = False                            # one JSON document per line (streams, shell)
    input: str | None = None
    codes: tuple[int, ...] = (0,)


SHELL_SCRIPT = "pwd\nls\ncd EchoService@1\ndescribe echo\n./echo hi 2\n./count n=2\nfrobnicate\n"

CASES: dict[str, Case] = {
    "config-show": Case("config show", lambda w: ["config", "show"]),
    "config-set": Case("config set", lambda w: ["config", "set", "hello.greeting", "Hi"]),
    "config-unset": Case("config unset", lambda w: ["config", "unset", "greeting"]),
    "doctor": Case("doctor", lambda w: ["doctor"], codes=(0, 1)),      # 1 when a check fails
    "plugins": Case("plugins", lambda w: ["plugins"]),
    "profile-create": Case("profile create", lambda w: ["profile", "create", "fresh"]),
    "profile-list": Case("profile list", lambda w: ["profile", "list"]),
    "profile-show": Case("profile show", lambda w: ["profile", "show", "prod"]),
    "profile-delete": Case("profile delete", lambda w: ["profile", "delete", "doomed", "--yes"]),
    "profile-import": Case("profile import", lambda w: ["profile", "import", "imported", "--root-key", "root.key"]),
    "profile-export-key": Case("profile export-key", lambda w: ["profile", "export-key", "prod", "--out", "prod.key"]),
    "hello": Case("hello", lambda w: ["hello", "Ada"]),
    "trust-keygen-out-key": Case("trust keygen", lambda w: ["trust", "keygen", "--out-key", "k1.key"]),
    "trust-keygen-root": Case("trust keygen root", lambda w: ["trust", "keygen", "root", "--out", "k2.key"]),
    "trust-keygen-pubkey": Case("trust keygen pubkey",
                                lambda w: ["trust", "keygen", "pubkey", "--in", "root.key", "--out", "k3.pub"]),
    "trust-sign-consumer": Case("trust sign consumer",
                                lambda w: ["trust", "sign", "consumer", "--root-key", "root.key", "--attr", "a=b"]),
    "trust-sign-consumer-out": Case("trust sign consumer", lambda w: ["trust", "sign", "consumer", "--root-key",
                                                                      "root.key", "--out", "c2.json"]),
    "trust-sign-producer": Case("trust sign producer", lambda w: ["trust", "sign", "producer", "--root-key",
                                                                  "root.key", "--endpoint-id", "ab" * 32]),
    "trust-inspect": Case("trust inspect", lambda w: ["trust", "inspect", "c.json"]),
    "trust-verify": Case("trust verify", lambda w: ["trust", "verify", "c.json", "--root-pubkey", "root.pub"]),
    "trust-sign-flat": Case("trust sign", lambda w: ["trust", "sign", "--root-key", "root.key", "--type", "policy",
                                                     "--out", "flat.json"]),  # the released 0.1.2 CLI's form
    "keygen-root": Case("keygen root", lambda w: ["keygen", "root", "--out", "k4.key", "-p", "fromkeygen"]),
    "keygen-producer": Case("keygen producer", lambda w: ["keygen", "producer", "--out", "node.key"]),
    "init": Case("init", lambda w: ["init", "--ai", "--dir", "."]),  # the released 0.1.2 CLI's agent guide
    "authorize": Case("authorize", lambda w: ["authorize", "--root-key", "root.key", "--producer-id", "ab" * 32,
                                              "--out", "auth.token"]),
    "enroll-node": Case("enroll node", lambda w: ["enroll", "node", "--role", "producer", "--root-key", "root.key",
                                                  "--identity", "p.id"]),  # also warns (on stderr)
    "contract-gen": Case("contract gen", lambda w: ["contract", "gen", "--service", INVENTORY, "--out", "g.json"]),
    "contract-export": Case("contract export", lambda w: ["contract", "export", "--manifest", "m.json", "-o", "x"]),
    "contract-import": Case("contract import", lambda w: ["contract", "import", "exports/Inventory.aster.json"]),
    "contract-verify": Case("contract verify", lambda w: ["contract", "verify", "exports/Inventory.aster.json",
                                                          "--manifest", "m.json"]),
    "contract-diff": Case("contract diff", lambda w: ["contract", "diff", "m.json", "exports/Inventory.aster.json"]),
    "contract-preview": Case("contract preview", lambda w: ["contract", "preview", "--manifest", "m.json"]),
    "contract-gen-client": Case("contract gen-client", lambda w: ["contract", "gen-client", "m.json", "--out", "gc"]),
    "call-unary": Case("call", lambda w: ["call", w.address, "EchoService@1.echo", '{"text": "x"}']),
    "call-stream": Case("call", lambda w: ["call", w.address, "EchoService@1.count", '{"n": 3}'], lines=True),
    "shell": Case("shell", lambda w: ["shell", w.address], lines=True, input=SHELL_SCRIPT, codes=(2,)),  # frobnicate: 2
    "mcp-list": Case("mcp", lambda w: ["mcp", w.address, "--list"]),
}


def _data_commands() -> tuple[set[str], set[str]]:
    """(commands with --json, commands without) of everything installed, by walking the CLI."""
    from aster_core.main import build_cli

    cli = build_cli()
    ctx = click.Context(cli)
    with_json, without = set(), set()

    def walk(cmd: click.Command, path: list[str]) -> None:
        has_json = any(p.name == "as_json" for p in cmd.params)
        if isinstance(cmd, click.Group):
            if has_json:
                with_json.add(" ".join(path))
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), path + [name])
        else:
            (with_json if has_json else without).add(" ".join(path))

    walk(cli, [])
    return with_json, without


#: Families whose data commands all talk to a server of their own (a registry, an authority):
#: their JSON is read by tests/registry and tests/authority against those servers, not here.
SERVER_FAMILIES = {"aster_registry", "aster_authority", "aster_local"}  # local: tests/local


def _server_family_commands() -> set[str]:
    from aster_core.main import build_cli

    cli = build_cli()
    ctx = click.Context(cli)
    found = set()
    for name in cli.list_commands(ctx):
        cmd = cli.get_command(ctx, name)
        if (cmd.callback and cmd.callback.__module__.split(".")[0] in SERVER_FAMILIES) or \
                type(cmd).__module__.split(".")[0] in SERVER_FAMILIES:
            found.add(name)
    return found


def test_every_data_command_has_json_and_a_case_here():
    with_json, without = _data_commands()
    assert without == NOT_DATA, f"commands without --json: {sorted(without - NOT_DATA)}"
    server_family = _server_family_commands()
    with_json = {c for c in with_json if c.split()[0] not in server_family}
    covered = {case.command for case in CASES.values()}
    assert with_json <= covered, f"commands with --json but no case in this file: {sorted(with_json - covered)}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_json_output_is_clean(ws, name):
    case = CASES[name]
    if case.command not in _installed():
        pytest.skip(f"`aster {case.command}` is not installed here")
    done = run_aster(case.args(ws) + ["--json"], env=ws.env, cwd=ws.dir, input=case.input, timeout=90)
    assert done.returncode in case.codes, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert done.stdout.strip(), done.stderr
    if case.lines:
        docs = [json.loads(line) for line in done.stdout.splitlines()]
        assert docs and all(isinstance(d, (dict, list)) for d in docs)
    else:
        assert isinstance(json.loads(done.stdout), (dict, list))


_INSTALLED: set[str] = set()


def _installed() -> set[str]:
    if not _INSTALLED:
        _INSTALLED.update(_data_commands()[0])
    return _INSTALLED


# -- errors: one line on stderr, nothing on stdout, with or without --json ----------------------

BAD: dict[str, tuple[list[str], int]] = {
    "config-show-missing-file": (["config", "show", "--file", "nope.toml"], 4),
    "profile-create-bad-name": (["profile", "create", "../x"], 2),
    "profile-create-duplicate": (["profile", "create", "prod"], 2),
    "profile-show-unknown": (["profile", "show", "nope"], 4),
    "profile-delete-unknown": (["profile", "delete", "nope", "--yes"], 4),
    "profile-import-missing-file": (["profile", "import", "other", "--root-key", "nope.key"], 4),
    "profile-export-key-exists": (["profile", "export-key", "prod", "--out", "root.key"], 2),
    "trust-keygen-out-key-exists": (["trust", "keygen", "--out-key", "root.key"], 2),
    "trust-keygen-root-exists": (["trust", "keygen", "root", "--out", "root.key"], 2),
    "trust-keygen-pubkey-missing": (["trust", "keygen", "pubkey", "--in", "nope.key", "--out", "n.pub"], 4),
    "trust-sign-consumer-bad-attr": (["trust", "sign", "consumer", "--root-key", "root.key", "--attr", "x"], 2),
    "trust-sign-producer-bad-id": (["trust", "sign", "producer", "--root-key", "root.key", "--endpoint-id", "abcd"], 2),
    "trust-inspect-missing": (["trust", "inspect", "nope.json"], 4),
    "trust-verify-bad-key": (["trust", "verify", "c.json", "--root-pubkey", "abcd"], 2),
    "enroll-node-missing-key": (["enroll", "node", "--role", "consumer", "--root-key", "nope.key"], 4),
    "contract-gen-missing-module": (["contract", "gen", "--service", "no_such_module:X", "--out", "n.json"], 4),
    "contract-export-missing": (["contract", "export", "--manifest", "nope.json", "-o", "y"], 4),
    "contract-import-missing": (["contract", "import", "nope.json"], 4),
    "contract-verify-missing": (["contract", "verify", "nope.json", "--manifest", "m.json"], 4),
    "contract-diff-missing": (["contract", "diff", "nope.json", "m.json"], 4),
    "contract-preview-missing": (["contract", "preview", "--manifest", "nope.json"], 4),
    "contract-gen-client-missing": (["contract", "gen-client", "nope.json", "--out", "z"], 4),
    "call-not-json": (["call", "ADDRESS", "EchoService.echo", '{"text": '], 2),
    "call-unknown-service": (["call", "ADDRESS", "Nope.echo", "{}"], 4),
    "shell-bad-address": (["shell", "not-an-address"], 2),
    "mcp-bad-address": (["mcp", "not-an-address", "--list"], 2),
    "unknown-option": (["profile", "list", "--frobnicate"], 2),
}


@pytest.mark.parametrize("json_flag", [False, True], ids=["human", "json"])
@pytest.mark.parametrize("name", sorted(BAD))
def test_errors_are_one_line_on_stderr(ws, name, json_flag):
    args, code = BAD[name]
    args = [ws.address if a == "ADDRESS" else a for a in args] + (["--json"] if json_flag else [])
    done = run_aster(args, env=ws.env, cwd=ws.dir, input="", timeout=90)
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == "", done.stdout
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "Hint: " in errors[0], done.stderr


# -- unexpected failures (a bug in a family) are one line, not a traceback --------------------

UNEXPECTED = {
    "trust": ("aster_trust.actions", "keygen_root", ["trust", "keygen", "root", "--out", "u.key"]),
    "enroll": ("aster_enroll.cli", "enroll_node", ["enroll", "node", "--role", "consumer", "--root-key", "root.key"]),
    "contract": ("aster_contract.diff", "diff_contracts", ["contract", "diff", "m.json", "m.json", "--json"]),
    "connect": ("aster_connect.calling", "run_call", ["call", "ADDRESS", "EchoService.echo", "{}"]),
    "mcp": ("aster_mcp.cli", "list_catalog", ["mcp", "ADDRESS", "--list", "--json"]),
}

INJECT = """
import importlib, sys
module = importlib.import_module(sys.argv[1])
def broken(*args, **kwargs):
    raise RuntimeError("injected bug")
setattr(module, sys.argv[2], broken)
from aster_core.main import main
main(sys.argv[3:])
"""


@pytest.mark.parametrize("family", sorted(UNEXPECTED))
def test_an_unexpected_failure_is_one_line_not_a_traceback(ws, family):
    module, attr, args = UNEXPECTED[family]
    args = [ws.address if a == "ADDRESS" else a for a in args]
    done = subprocess.run([sys.executable, "-c", INJECT, module, attr, *args], cwd=ws.dir, capture_output=True,
                          text=True, timeout=90, env={**os.environ, **ws.env})
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "Error: unexpected RuntimeError: injected bug. "
        "Hint: run again with ASTER_DEBUG=1 for the traceback and report it"], done.stderr
    debug = subprocess.run([sys.executable, "-c", INJECT, module, attr, *args], cwd=ws.dir, capture_output=True,
                           text=True, timeout=90, env={**os.environ, **ws.env, "ASTER_DEBUG": "1"})
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "injected bug" in debug.stderr
