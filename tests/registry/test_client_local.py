"""The registry client's local parts, with no registry: address order, the signed envelope,
producer tokens in .aster-identity, profile state, argument checks before any network."""

from __future__ import annotations

import json
import tomllib

import pytest

from aster_core.errors import UsageError
from aster_core.testing import assert_clean_error, invoke, run_aster

PLUGINS = ["aster-registry", "aster-enroll", "aster-trust"]


def _ticket() -> str:
    from aster import AsterTicket

    return AsterTicket(endpoint_id="ab" * 32, direct_addrs=["127.0.0.1:4000"]).to_string()


def test_address_order(aster_env, monkeypatch):
    from aster_core.files import update_toml
    from aster_core.home import config_path, ensure_home
    from aster_registry.client.address import registry_address

    ensure_home()
    with pytest.raises(UsageError, match="no registry address"):
        registry_address(None)
    update_toml(config_path(), lambda d: d.update({"aster_service": {"enabled": True, "node_id": _ticket()}}))
    assert registry_address(None).source.startswith("config.toml")
    other = _ticket().replace("aster1", "aster1") + ""
    monkeypatch.setenv("ASTER_SERVICE_ADDR", f"  {other}  ")
    assert registry_address(None).source == "ASTER_SERVICE_ADDR"
    assert registry_address(None).value == other
    assert registry_address("ab" * 32).source == "--registry"
    monkeypatch.delenv("ASTER_SERVICE_ADDR")
    update_toml(config_path(), lambda d: d["aster_service"].update({"enabled": False}))
    with pytest.raises(UsageError, match="disabled"):
        registry_address(None)
    assert registry_address(_ticket()).source == "--registry"  # an explicit address still works
    with pytest.raises(UsageError, match="not an address"):
        registry_address("not an address!")


def test_envelope_is_canonical_and_verifies():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from aster_registry.client.envelope import seal
    from aster_trust.keys import generate_root_key

    key = generate_root_key()
    env = seal("update_service", {"handle": "alice", "description": "Grüße", "status": None}, key, now=100,
               nonce="0" * 32)
    assert env.payload_json == ('{"action":"update_service","description":"Grüße","handle":"alice",'
                                '"nonce":"' + "0" * 32 + '","status":null,"timestamp":100}')
    Ed25519PublicKey.from_public_bytes(key.public_key).verify(bytes.fromhex(env.signature),
                                                              env.payload_json.encode("utf-8"))
    assert env.signer_pubkey == key.public_hex
    fresh = seal("join", {}, key)
    assert len(fresh.payload["nonce"]) == 32 and fresh.payload["nonce"] != seal("join", {}, key).payload["nonce"]


IDENTITY = """# my producer
[node]
secret_key = "2qjr63Mmeyww/+sXeQ7WZzz5UqUlP44BslSiDZHbuvw="
endpoint_id = "765fb6c1f02bce326f2832b84e6f7293d3a9f458eb1aef9fc2d1816c7160c5a0"

[[peers]]
name = "laptop"
role = "consumer"
root_pubkey = "aa"

[[peers]]
name = "prod"
role = "producer"
root_pubkey = "aa"
attributes = { "aster.role" = "producer" }

[published_services.Old]
producer_token = "legacy"
"""


def test_tokens_go_where_the_runtime_reads_them(tmp_path):
    from aster.config import AsterConfig

    from aster_registry.client import tokens

    path = tmp_path / ".aster-identity"
    path.write_text(IDENTITY)
    producer = tokens.find_producer(path)
    assert (producer.peer, producer.endpoint_id) == ("prod", "765fb6c1f02bce326f2832b84e6f7293d3a9f458eb1aef9fc2d1816c7160c5a0")
    nasty = 'tok"en\\with\nquotes'  # a real TOML writer escapes what 0.1.2 wrote raw
    tokens.store(producer, "TaskService", nasty, "cid", "aster1registry")
    text = path.read_text()
    assert text.startswith("# my producer") and "[published_services.Old]" in text
    config = AsterConfig(identity_file=str(path))
    _, peer = config.load_identity(role="producer")  # exactly what AsterServer reads
    assert peer["aster_service"] == "aster1registry"
    assert peer["published_services"]["TaskService"] == {"producer_token": nasty, "contract_id": "cid",
                                                         "service_name": "TaskService"}
    assert tokens.stored(path, "TaskService")["producer_token"] == nasty
    assert tokens.remove(path, "TaskService") and tokens.remove(path, "Old")
    assert not tokens.remove(path, "TaskService")
    doc = tomllib.loads(path.read_text())
    assert doc["peers"][1].get("published_services", {}) == {} and doc.get("published_services", {}) == {}
    assert doc["peers"][0] == {"name": "laptop", "role": "consumer", "root_pubkey": "aa"}


def test_no_producer_peer_is_refused_before_anything(tmp_path):
    from aster_registry.client import tokens

    path = tmp_path / ".aster-identity"
    with pytest.raises(UsageError, match="does not exist"):
        tokens.find_producer(path)
    path.write_text(IDENTITY.replace('role = "producer"', 'role = "consumer"'))
    with pytest.raises(UsageError, match="no producer peer"):
        tokens.find_producer(path)
    with pytest.raises(UsageError, match="not a producer"):
        tokens.find_producer(path, "laptop")


def test_rules_and_refs():
    from aster_registry import rules
    from aster_registry.client.resolve import parse

    assert rules.check_handle("alice") is None
    for bad in ("Alice", "ab", "a" * 40, "12345", "a--b", "-ab", "aster-x", "admin", "a_b"):
        assert rules.check_handle(bad), bad
    assert rules.check_email("a@b.co") is None and rules.check_email("a@b")
    assert rules.check_rate_limit("5/1h") is None and rules.check_rate_limit("5/1d")
    assert parse("@alice/TaskService") == ("alice", "TaskService")
    assert parse("@alice/TaskService@2") == ("alice", "TaskService@2")
    for bad in ("@alice", "@/S", "@Alice/S", "@alice/9x", "@alice/"):
        with pytest.raises(UsageError):
            parse(bad)


def test_wire_round_trips_nested_and_untyped():
    from aster.codec import ForyCodec

    from aster_registry import wire

    codec = ForyCodec(types=wire.all_types())
    value = wire.ListAccessResult(service_name="S", grants=[wire.AccessGrant(consumer_handle="bob", granted_at="t")])
    assert codec.decode(codec.encode(value)) == value
    assert codec.decode(codec.encode({"ok": True})) == {"ok": True}
    for service, methods in wire.METHODS.items():
        assert list(methods) == sorted(methods), service  # the runtime sorts methods: carriers come first


def _profile(env_home):
    run = invoke(["profile", "create", "dev"], plugins=[])
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("argv, code", [
    (["join", "--handle", "Alice", "--email", "a@b.co", "--registry", "ab" * 32], 2),
    (["join", "--handle", "alice", "--email", "nope", "--registry", "ab" * 32], 2),
    (["verify", "123456", "--registry", "ab" * 32], 2),               # nothing pending
    (["publish", "S", "--description", "x", "--registry", "ab" * 32], 2),  # no handle
    (["access", "grant", "S"], 2),
    (["access", "grant", "@bob", "x", "--service", "S"], 2),
    (["discover", "--limit", "0", "--registry", "ab" * 32], 2),
    (["discover"], 2),                                                 # no registry configured
    (["call", "@Bad/S.m", "{}"], 2),
])
def test_bad_input_is_one_line_before_any_network(aster_env, argv, code):
    _profile(aster_env)
    config = (aster_env / "config.toml").read_bytes()
    result = invoke(argv, plugins=[*PLUGINS, "aster-connect"])  # in-process: refused before any network
    assert_clean_error(result, code)
    assert (aster_env / "config.toml").read_bytes() == config


def test_unreachable_registry_changes_nothing(aster_env, tmp_path):
    _profile(aster_env)
    from aster import AsterTicket

    dead = AsterTicket(endpoint_id="cd" * 32, direct_addrs=["127.0.0.1:9"]).to_string()
    config = (aster_env / "config.toml").read_bytes()
    result = run_aster(["join", "--handle", "alice", "--email", "a@b.co", "--registry", dead, "--timeout", "3"],
                       plugins=PLUGINS, timeout=30)
    assert_clean_error(result, 7)
    assert (aster_env / "config.toml").read_bytes() == config


def test_doctor_reports_the_registry_address(aster_env, monkeypatch):
    _profile(aster_env)
    result = invoke(["doctor", "--json"], plugins=PLUGINS)
    checks = [c for c in json.loads(result.stdout) if c.get("check") == "registry"]
    assert checks and checks[0]["status"] == "warn", checks
    result = invoke(["doctor", "--json"], plugins=PLUGINS, env={"ASTER_SERVICE_ADDR": _ticket()})
    check = [c for c in json.loads(result.stdout) if c.get("check") == "registry"][0]
    assert check["status"] == "ok" and "ASTER_SERVICE_ADDR" in check["message"]
    result = invoke(["doctor", "--json"], plugins=PLUGINS, env={"ASTER_SERVICE_ADDR": "aster1!!"})
    check = [c for c in json.loads(result.stdout) if c.get("check") == "registry"][0]
    assert check["status"] == "fail"
