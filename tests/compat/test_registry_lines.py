"""Every registry line of aster-cli 0.1.2's ``--help``, spelled as 0.1.2 spells it (``--aster ADDR``,
``--root-key``, ``--identity-file``, ``--semver``, ``--announcements``, positional grants), runs
on ours against our registry server, with the effect each has there: one flow, as an
operator's script would run it. The installed script runs each line (they dial a peer)."""

from __future__ import annotations

import json
import time

import pytest

from aster_core.testing import run_aster
from tests.support.registry import start_registry

from .lines import REPO, Workspace

#: seconds; the server's is settable so the test waits this long, not the default minute
RESEND_COOLDOWN = 2
SERVICE = "tests.support.services:EchoService"


@pytest.mark.slow
def test_registry_lines_of_0_1_2_run_on_ours(tmp_path, smtp):
    ws = Workspace(tmp_path / "client")
    env = {**ws.env, "PYTHONPATH": str(REPO)}  # MODULE:CLASS names a test module
    with start_registry(str(tmp_path / "registry.db"), home=tmp_path / "registry", smtp=smtp,
                        env={"ASTER_REGISTRY_RESEND_COOLDOWN": str(RESEND_COOLDOWN)}) as registry:
        reg = ("--aster", registry.address)
        key = ("--root-key", "root.key")

        def ours(*argv: str, code: int = 0) -> str:
            done = run_aster(list(argv), env=env, cwd=ws.dir, timeout=90)
            assert done.returncode == code, (argv, done.returncode, done.stdout, done.stderr[-2000:])
            return done.stdout

        ours("keygen", "root", "--out", "root.key")  # a profile and its backup file, as 0.1.2's scripts begin
        assert "Reserved @alice." in ours("join", "--handle", "alice", "--email", "alice@example.com",
                                          "--announcements", *reg, *key)
        joined = time.monotonic()
        smtp.code_for("alice@example.com")  # the first code arrived; the resent one is used
        time.sleep(max(0.0, RESEND_COOLDOWN + 0.2 - (time.monotonic() - joined)))
        ours("verify", "--resend", *reg, *key)
        code = smtp.code_for("alice@example.com", after=1)
        assert "Handle @alice verified." in ours("verify", code, *reg, *key)
        status = json.loads(ours("status", *reg, *key, "--json"))
        assert status["remote"]["status"] == "verified", status
        assert "alice" in ours("whoami", *reg, *key)
        assert "alice" in ours("whoami", "--local")

        ours("enroll", "node", "-r", "producer", "-n", "api", "--root-key", "root.key", "-o", "producer.id", "-q")
        out = ours("publish", SERVICE, "--manifest", ".aster/manifest.json", "--semver", "2.1.0", *reg, *key,
                   "--identity-file", "producer.id", "--endpoint-id", "cd" * 32, "--relay", "",
                   "--endpoint-ttl", "1h", "--description", "Echoes what it is sent", "--status", "stable",
                   "--public", "--open", "--token-ttl", "10m", "--rate-limit", "5/1h", "--role", "reader",
                   "--role", "consumer")
        assert "Published @alice/EchoService." in out
        assert "EchoService" in ws.toml("producer.id")["peers"][0]["published_services"]

        found = json.loads(ours("discover", "echo", *reg, "--limit", "5", "--offset", "0", "--json"))
        assert [s["service_name"] for s in found["services"]] == ["EchoService"], found
        assert found["services"][0]["status"] == "stable"

        ours("visibility", "EchoService", "private", *reg, *key)
        assert json.loads(ours("discover", "echo", *reg, "--json"))["total"] == 0
        ours("access", "public", "EchoService", *reg, *key)
        ours("access", "private", "EchoService", *reg, *key)
        ours("access", "public", "EchoService", *reg, *key)
        assert json.loads(ours("discover", "echo", *reg, "--json"))["total"] == 1
        ours("update-service", "EchoService", "--description", "Echo, updated", "--status", "deprecated",
             "--replacement", "@alice/EchoService2", *reg, *key)
        entry = json.loads(ours("discover", "@alice", *reg, "--json"))["services"][0]
        assert (entry["description"], entry["status"]) == ("Echo, updated", "deprecated"), entry

        ours("access", "grant", "EchoService", "bob", "--role", "reader", "--scope", "handle", *reg, *key)
        ours("access", "grant", "EchoService", "dave", "--scope", "node", "--scope-node-id", "ef" * 32, *reg, *key)
        grants = json.loads(ours("access", "list", "EchoService", *reg, *key, "--json"))
        listed = grants["grants"] if isinstance(grants, dict) else grants
        assert sorted(g["consumer_handle"] for g in listed) == ["bob", "dave"], grants
        ours("access", "revoke", "EchoService", "bob", *reg, *key)
        ours("access", "delegation", "EchoService", "--closed", "--token-ttl", "5m", "--rate-limit", "1/60m",
             "--role", "reader", *reg, *key)
        assert json.loads(ours("discover", "echo", *reg, "--json"))["services"][0]["delegation_mode"] == "closed"

        # gen-client asks the registry given by --aster for the service's producer: the registry names the
        # endpoint published above (cd...cd, with no address: nothing runs there), which cannot be dialled.
        # Without --aster no registry is known at all.
        gen = ["contract", "gen-client", "@alice/EchoService", "--lang", "python", "--out", "clients",
               "--rcan", "producer.id", "--timeout", "20"]
        done = run_aster([*gen, "--aster", registry.address], env=env, cwd=ws.dir, timeout=90)
        assert done.returncode == 7 and "cannot reach @alice/EchoService" in done.stderr, (done.returncode, done.stderr)
        done = run_aster(gen, env=env, cwd=ws.dir, timeout=90)
        assert done.returncode not in (0, 7) and "registry" in done.stderr.lower(), (done.returncode, done.stderr)

        ours("unpublish", "EchoService", *reg, *key, "--identity-file", "producer.id")
        assert "EchoService" not in ws.toml("producer.id")["peers"][0].get("published_services", {})
        assert json.loads(ours("discover", "echo", *reg, "--json"))["total"] == 0
