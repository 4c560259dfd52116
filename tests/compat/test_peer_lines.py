"""The lines of aster-cli 0.1.2's ``--help`` that dial a peer (``call``, ``shell PEER``, ``mcp``)
run on ours against a real AsterServer on loopback whose gate trusts a root key made and
enrolled with 0.1.2's own spellings. Each runs the installed script: they dial a peer.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from typing import Any, Iterator

import pytest

from aster_core.testing import aster_executable, run_aster
from tests.support.server import start_server

from .lines import Workspace


class Mesh:
    def __init__(self, ws: Workspace, address: str):
        self.ws, self.address = ws, address

    def run(self, *argv: str, input: str | None = None) -> subprocess.CompletedProcess:
        return run_aster(list(argv), env=self.ws.env, cwd=self.ws.dir, input=input, timeout=90)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory) -> Iterator[Mesh]:
    """A trusted-gate server; ``me.id`` (enrolled with -r/-n/-o) and ``c.cred`` (flat trust sign) admitted."""
    ws = Workspace(tmp_path_factory.mktemp("compat-peer"))
    ws.ok("trust", "keygen", "--out-key", "root.key")
    ws.ok("enroll", "node", "-r", "consumer", "-n", "me", "--root-key", "root.key", "-o", "me.id", "-q")
    ws.ok("trust", "sign", "--root-key", "root.key", "--type", "policy", "--attributes", '{"aster.role":"consumer"}',
          "--out", "c.cred")
    with start_server(("echo",), root_pubkey_file=ws.dir / "root.pub") as server:
        yield Mesh(ws, server.address)


def _ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, (done.args, done.stdout, done.stderr)
    return done.stdout


def test_call_address_method_json_with_rcan(mesh):
    out = _ok(mesh.run("call", mesh.address, "EchoService.echo", '{"text": "hi"}', "--rcan", "me.id"))
    assert json.loads(out)["text"] == "hi"


def test_call_json_rcan_credential_file_and_default_payload(mesh):
    out = _ok(mesh.run("call", "--json", "--rcan", "c.cred", mesh.address, "EchoService.echo"))
    assert json.loads(out)["text"] == ""  # JSON defaults to {}


def test_call_without_a_credential_is_denied(mesh):
    done = mesh.run("call", mesh.address, "EchoService.echo", "{}")
    assert done.returncode == 3, done.stderr  # 0.1.2 exited 1; ours: the documented "denied"
    assert done.stderr.startswith("Error: ")


def test_shell_peer_rcan_json(mesh):
    out = _ok(mesh.run("shell", mesh.address, "--rcan", "me.id", "--json", input="ls\ncd EchoService\n./echo hi\n"))
    lines = [json.loads(line) for line in out.splitlines()]
    assert any(isinstance(doc, dict) and doc.get("text") == "hi" for doc in lines), lines


def test_shell_peer_air_gapped(mesh):
    out = _ok(mesh.run("shell", mesh.address, "--rcan", "me.id", "--air-gapped", input="ls\n"))
    assert "EchoService" in out


def test_shell_air_gapped_refuses_a_registry_address(mesh):
    done = mesh.run("shell", "@alice/EchoService", "--air-gapped", input="ls\n")
    assert done.returncode == 2 and "--air-gapped" in done.stderr, done.stderr


def _mcp_tools(mesh: Mesh, *flags: str) -> list[str]:
    """Spawn ``aster mcp ADDRESS FLAGS`` over stdio, initialise, list the tools' names."""
    proc = subprocess.Popen([aster_executable(), "mcp", mesh.address, *flags], cwd=mesh.ws.dir,
                            env={**os.environ, **mesh.ws.env}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    try:
        def send(doc: dict[str, Any]) -> None:
            proc.stdin.write((json.dumps(doc) + "\n").encode())
            proc.stdin.flush()

        buf = b""

        def answer(ident: int) -> dict[str, Any]:
            nonlocal buf
            deadline = time.monotonic() + 60
            while True:
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    doc = json.loads(line)
                    if doc.get("id") == ident:
                        return doc
                left = deadline - time.monotonic()
                assert left > 0 and select.select([proc.stdout], [], [], left)[0], "no answer from aster mcp"
                chunk = os.read(proc.stdout.fileno(), 1 << 16)
                assert chunk, "aster mcp ended"
                buf += chunk

        send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "compat", "version": "0"}}})
        assert "result" in answer(1)
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
        return sorted(tool["name"] for tool in answer(2)["result"]["tools"])
    finally:
        proc.stdin.close()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_mcp_address_rcan_allow_deny_confirm(mesh):
    names = _mcp_tools(mesh, "--rcan", "me.id", "--allow", "EchoService.*", "--deny", "*fail*",
                       "--confirm", "*slow*")
    assert names and all(name.startswith("EchoService") for name in names), names
    assert not any("fail" in name for name in names) and any("slow" in name for name in names), names


def test_contract_gen_client_from_a_gated_producer_with_rcan(mesh):
    _ok(mesh.run("contract", "gen-client", "--out", "live", "--lang", "python", "--rcan", "me.id", mesh.address))
    assert any((mesh.ws.dir / "live").rglob("*.py"))
