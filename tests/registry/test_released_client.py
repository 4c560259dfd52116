"""The unchanged released ``aster-cli 0.1.2`` against our ``aster registry serve``.

The client lives in a virtualenv of its own (with ``aster-rpc 0.1.2``; made once and cached,
see :func:`tests.support.released.released_cli`) and a home of its own (``HOME``: 0.1.2 always uses
``~/.aster``; no keyring backend, so ``join`` makes ``~/.aster/root.key`` as it does on a
headless machine). It runs every registry command the released client has; each
succeeds (the two expected refusals, a wrong code and revoking a grant twice, say so), and
``discover`` and ``access list`` decode non-empty lists.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.registry import start_registry

from tests.support.released import ROOT, released_cli

#: seconds; the server's is settable so that the test waits this long, not the default minute
RESEND_COOLDOWN = 2


@pytest.fixture(scope="module")
def old_aster() -> Path:
    return released_cli()


@pytest.mark.slow
def test_released_client_runs_every_registry_command(old_aster, tmp_path, smtp):
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    with start_registry(str(tmp_path / "registry.db"), home=tmp_path / "registry", smtp=smtp,
                        env={"ASTER_REGISTRY_RESEND_COOLDOWN": str(RESEND_COOLDOWN)}) as registry:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ASTER_", "VIRTUAL_ENV", "PYTHON"))}
        env.update({"HOME": str(home), "ASTER_RELAY_MODE": "disabled", "ASTER_SERVICE_ADDR": registry.address,
                    "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "PYTHONPATH": str(ROOT),
                    "NO_COLOR": "1", "PATH": f"{old_aster.parent}{os.pathsep}{os.environ.get('PATH', '')}"})

        def old(*argv: str, expect: int = 0, tries: int = 1) -> str:
            """Run the released client; ``tries`` > 1 only for reads (its fixed budgets are short)."""
            for attempt in range(tries):
                proc = subprocess.run([str(old_aster), *argv], cwd=work, env=env, capture_output=True, text=True,
                                      timeout=90)
                if proc.returncode == expect:
                    return proc.stdout
            assert proc.returncode == expect, (argv, proc.returncode, proc.stdout, proc.stderr[-2000:])
            return proc.stdout

        assert "Reserved @alice." in old("join", "--handle", "alice", "--email", "alice@example.com")
        joined_at = time.monotonic()  # the code was mailed before the join answered
        first = smtp.code_for("alice@example.com")
        wrong = "000000" if first != "000000" else "111111"
        assert "Error: [" in old("verify", wrong, expect=1)  # a wrong code is refused, state stays pending
        time.sleep(max(0.0, RESEND_COOLDOWN + 0.2 - (time.monotonic() - joined_at)))  # the resend cooldown
        assert "re-sent" in old("verify", "--resend")
        code = smtp.code_for("alice@example.com", after=1)
        assert "Handle @alice verified." in old("verify", code)

        status = {}
        for _ in range(5):  # 0.1.2 gives the remote part 1.5 s; a busy machine may need another go
            status = json.loads(old("status", "--json"))
            if "remote" in status:
                break
        assert status.get("remote", {}).get("status") == "verified", status
        assert status["handle_status"] == "verified"
        whoami = ""
        for _ in range(5):  # the same 1.5 s remote budget: whoami exits 0 and prints the remote part only if it made it
            whoami = old("whoami")
            if "Remote: reachable" in whoami:
                break
        assert "Remote: reachable" in whoami, whoami

        out = old("publish", "tests.support.services:EchoService", "--description", "Echoes what it is sent",
                  "--public", "--closed", "--role", "reader", "--role", "consumer", "--rate-limit", "5/1h",
                  "--token-ttl", "10m", "--relay", "", "--endpoint-ttl", "1h", "--status", "stable",
                  "--endpoint-id", "ab" * 32)
        assert "Published @alice/EchoService." in out and "Stored producer token" in out
        assert "Recovery codes:" in out

        assert "@alice/EchoService" in old("discover", "echo", tries=3)
        assert "@alice/EchoService" in old("discover", tries=3)
        assert "@alice/EchoService" in old("discover", "@alice", tries=3)
        assert "Found 0 service(s)." in old("discover", "nothing-like-this", tries=3)
        found = json.loads(old("discover", "--json", tries=3))
        assert found["total"] >= 1 and found["services"], found
        entry = found["services"][0]
        assert (entry["handle"], entry["service_name"], entry["status"]) == ("alice", "EchoService", "stable")
        assert entry["visibility"] == "public" and entry["delegation_mode"] == "closed"

        assert "Granted consumer access to @bob for EchoService (handle)." in old("access", "grant", "EchoService",
                                                                                  "bob")
        assert "(node)" in old("access", "grant", "EchoService", "dave", "--role", "reader", "--scope", "node",
                               "--scope-node-id", "cd" * 32)
        assert "EchoService: 2 grant(s)" in old("access", "list", "EchoService", tries=3)
        grants = json.loads(old("access", "list", "EchoService", "--json", tries=3))
        listed = grants["grants"] if isinstance(grants, dict) else grants
        assert sorted(g["consumer_handle"] for g in listed) == ["bob", "dave"], grants
        assert "Revoked access for @bob on EchoService." in old("access", "revoke", "EchoService", "bob")
        assert "No access grant found for @bob" in old("access", "revoke", "EchoService", "bob", expect=1)
        assert "delegation to open" in old("access", "delegation", "EchoService", "--open", "--role", "reader")
        assert "visibility to private" in old("visibility", "EchoService", "private")
        assert "visibility to public" in old("access", "public", "EchoService")
        assert "Updated @alice/EchoService." in old("update-service", "EchoService", "--description",
                                                    "Echo, updated", "--status", "deprecated")
        old("contract", "gen-client", "@alice/EchoService", "--lang", "python", "--out", str(work / "clients"))
        assert any((work / "clients").rglob("*.py"))
        out = old("unpublish", "EchoService")
        assert "Unpublished @alice/EchoService." in out
        assert "Found 0 service(s)." in old("discover", "echo", tries=3)
