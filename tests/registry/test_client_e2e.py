"""Our registry client against our registry server, on SQLite and on PostgreSQL.

Every client command runs as a user runs it (the installed ``aster`` script, subprocess),
against ``aster registry serve`` on 127.0.0.1 with a real SMTP sink; the code is read out
of the delivered mail. A real producer (tests.support.serve) started where ``publish``
stored its token registers its endpoint, and ``call``/``shell``/``mcp``/``contract
gen-client`` reach it as ``@alice/EchoService``. Remote failures leave local state alone.
"""

from __future__ import annotations

import json
import time
import tomllib
from pathlib import Path

import pytest

from aster_core.testing import assert_clean_error, run_aster
from tests.support.registry import start_registry
from tests.support.server import start_server

SERVICE = "tests.support.services:EchoService"


class Client:
    """Runs our ``aster`` against one registry, in a producer directory by default."""

    def __init__(self, address: str, workdir: Path):
        self.address = address
        self.workdir = workdir
        self.env = {"ASTER_SERVICE_ADDR": address, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    def run(self, *argv: str, expect: int | None = 0, cwd: Path | None = None, profile: str | None = None,
            timeout: float = 60, stdin: str | None = None):
        args = (["--profile", profile] if profile else []) + list(argv)
        result = run_aster(args, env=self.env, cwd=cwd or self.workdir, timeout=timeout, input=stdin)
        if expect is not None:
            assert result.returncode == expect, f"aster {' '.join(argv)}: {result.returncode}\n{result.stderr}"
        return result

    def json(self, *argv: str, **kw):
        return json.loads(self.run(*argv, "--json", **kw).stdout)


@pytest.fixture
def registry(database_url, tmp_path, smtp):
    with start_registry(database_url, home=tmp_path / "registry", smtp=smtp) as proc:
        yield proc, smtp


def _config(home: Path) -> dict:
    return tomllib.loads((home / "config.toml").read_text())


def _wait_call(client: Client, cwd: Path, deadline: float = 30.0):
    """``aster call @alice/EchoService.echo`` until the producer's registration has landed."""
    end = time.monotonic() + deadline
    while True:
        result = client.run("call", "@alice/EchoService.echo", '{"text": "hi"}', "--timeout", "10", expect=None,
                            cwd=cwd)
        if result.returncode == 0 or time.monotonic() > end:
            return result
        time.sleep(0.5)


@pytest.mark.slow
def test_every_command(registry, tmp_path, aster_env):
    proc, mail = registry
    producer_dir, elsewhere = tmp_path / "producer", tmp_path / "elsewhere"
    producer_dir.mkdir()
    elsewhere.mkdir()
    c = Client(proc.address, producer_dir)
    c.run("profile", "create", "dev")

    joined = c.json("join", "--handle", "alice", "--email", "alice@example.com")
    assert joined["handle"] == "alice" and joined["status"] == "pending"
    assert _config(aster_env)["profiles"]["dev"]["handle_status"] == "pending"
    first = mail.code_for("alice@example.com")
    wrong = "000000" if first != "000000" else "111111"
    assert_clean_error(c.run("verify", wrong, expect=None), 2, "code")
    assert _config(aster_env)["profiles"]["dev"]["handle_status"] == "pending"  # refused: nothing changed
    # a resend within the 60 s cooldown is refused with the retry hint
    assert_clean_error(c.run("verify", "--resend", expect=None), 1, "RESOURCE_EXHAUSTED")
    assert c.json("verify", "--code", first)["status"] == "verified"
    me = c.json("whoami")
    assert me["remote"]["handle"] == "alice" and me["remote"]["status"] == "verified"
    assert c.json("status", "--local")["local"]["handle_status"] == "verified"

    c.run("enroll", "node", "--role", "producer", "--name", "echo-producer", "-q")
    published = c.json("publish", SERVICE, "--description", "Echoes what it is sent", "--public",
                       "--status", "stable", "--role", "consumer", "--role", "reader", "--token-ttl", "10m")
    assert published["address"] == "@alice/EchoService" and published["first_publish"] is True
    ident = tomllib.loads((producer_dir / ".aster-identity").read_text())
    peer = ident["peers"][0]
    assert peer["aster_service"] == proc.address
    token = peer["published_services"]["EchoService"]
    assert token["producer_token"] and token["contract_id"] == published["contract_id"]
    assert "EchoService" in _config(aster_env)["profiles"]["dev"]["published_services"]
    codes = published["recovery_codes"]

    found = c.json("discover", "echo")
    assert found["total"] >= 1 and any(s["service_name"] == "EchoService" and s["handle"] == "alice"
                                       for s in found["services"])
    assert [s["service_name"] for s in c.json("discover", "@alice")["services"]] == ["EchoService"]
    assert c.json("discover", "nothing-like-this")["services"] == []
    assert "EchoService" in c.run("discover", "--limit", "5").stdout

    # the producer reads .aster-identity, registers its endpoint, and is found by @handle/Service
    producer = start_server(["echo"], workdir=producer_dir, max_lifetime=120)
    try:
        called = _wait_call(c, elsewhere)
        assert called.returncode == 0, called.stderr
        assert json.loads(called.stdout)["joined"] == "hi"
        two = c.run("call", "@alice/EchoService", "EchoService.echo", '{"text": "yo"}', cwd=elsewhere)
        assert json.loads(two.stdout)["text"] == "yo"
        shell = c.run("shell", "@alice/EchoService", "--json", cwd=elsewhere, stdin="ls\n")
        assert "EchoService" in shell.stdout
        tools = c.run("mcp", "@alice/EchoService", "--list", "--json", cwd=elsewhere)
        assert "EchoService.echo" in tools.stdout
        gen = c.json("contract", "gen-client", "@alice/EchoService", "--out", str(elsewhere / "clients"),
                     cwd=elsewhere)
        assert gen["services"] == ["EchoService"]
    finally:
        producer.stop()
    assert_clean_error(c.run("call", "@alice/NoSuchService.echo", "{}", expect=None, cwd=elsewhere), 4)

    granted = c.json("access", "grant", "@bob", "--service", "EchoService", "--role", "reader")
    assert (granted["consumer_handle"], granted["role"], granted["scope"]) == ("bob", "reader", "handle")
    c.json("access", "grant", "EchoService", "carol")  # the 0.1.2 spelling
    c.json("access", "grant", "EchoService", "dave", "--scope", "node", "--scope-node-id", "ab" * 32)
    grants = c.json("access", "list", "--service", "EchoService")["grants"]
    assert sorted(g["consumer_handle"] for g in grants) == ["bob", "carol", "dave"]
    assert "@carol" in c.run("access", "list", "EchoService").stdout
    assert c.json("access", "revoke", "@bob", "--service", "EchoService")["revoked"] is True
    assert_clean_error(c.run("access", "revoke", "EchoService", "bob", expect=None), 4)
    assert c.json("access", "delegation", "EchoService", "--closed", "--rate-limit", "5/1h")["mode"] == "closed"
    assert c.json("visibility", "EchoService", "private")["visibility"] == "private"
    assert c.json("discover", "echo")["services"] == []  # private: hidden from discover...
    assert c.json("access", "public", "EchoService")["visibility"] == "public"
    c.json("access", "private", "--service", "EchoService")
    updated = c.json("update-service", "EchoService", "--description", "Echo, now stable", "--status", "stable",
                     "--replacement", "@alice/EchoServiceV2")
    assert updated["status"] == "stable"

    # recovery: a new root key takes the handle over with one of the first publish's codes
    if codes:
        c.run("profile", "create", "spare")
        rec = c.json("recover", "alice", "--code", codes[0], profile="spare")
        assert rec["handle"] == "alice" and rec["recovery_codes_remaining"] == len(codes) - 1
        assert c.json("whoami", profile="spare")["remote"]["handle"] == "alice"
        assert_clean_error(c.run("recover", "alice", "--code", codes[0], profile="spare", expect=None), 3)

    signer = "spare" if codes else None
    if signer:  # the handle now answers to the spare profile's key
        c.run("access", "list", "EchoService", profile=signer)
    before = (producer_dir / ".aster-identity").read_text()
    assert_clean_error(c.run("unpublish", "NoSuchService", expect=None, profile=signer), 4)
    assert (producer_dir / ".aster-identity").read_text() == before  # refused remotely: file untouched
    gone = c.json("unpublish", "EchoService", profile=signer)
    assert gone["unpublished"] is True and gone["token_removed"] is True
    peer = tomllib.loads((producer_dir / ".aster-identity").read_text())["peers"][0]
    assert "EchoService" not in peer.get("published_services", {})


def test_remote_refusals_change_nothing(registry, tmp_path, aster_env):
    proc, mail = registry
    c = Client(proc.address, tmp_path)
    c.run("profile", "create", "first")
    c.run("join", "--handle", "taken", "--email", "t@example.com")
    c.run("profile", "create", "second")
    before = (aster_env / "config.toml").read_bytes()
    assert_clean_error(c.run("join", "--handle", "taken", "--email", "s@example.com", profile="second",
                             expect=None), 1, "not available")
    assert (aster_env / "config.toml").read_bytes() == before
    assert _config(aster_env)["profiles"]["second"]["handle_status"] == "unregistered"
    # a handle whose verification is pending cannot publish (checked locally), nor be verified with junk
    c.run("enroll", "node", "--role", "producer", "--name", "p", "-q", profile="first")
    ident = (tmp_path / ".aster-identity").read_bytes()
    assert_clean_error(c.run("publish", SERVICE, "--description", "x", profile="first", expect=None), 2)
    assert_clean_error(c.run("verify", "999999", profile="first", expect=None), 2, "code")
    assert (tmp_path / ".aster-identity").read_bytes() == ident
    assert _config(aster_env)["profiles"]["first"]["handle_status"] == "pending"
    # a stopped registry: exit 7, one line, nothing changed
    proc.stop()
    before = (aster_env / "config.toml").read_bytes()
    assert_clean_error(c.run("verify", mail.code_for("t@example.com"), "--timeout", "3", profile="first",
                             expect=None), 7)
    assert (aster_env / "config.toml").read_bytes() == before
