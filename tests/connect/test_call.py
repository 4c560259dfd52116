"""`aster call` as a user runs it (the installed script, in a subprocess) against real servers."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import pytest

from aster_core.testing import run_aster
from aster_core.testing import assert_clean_error

from tests.connect.conftest import parse_json_lines


def call(*args: str, input: str | None = None, cwd: str | os.PathLike | None = None):
    return run_aster(["call", *args], input=input, cwd=cwd, timeout=60)


def ok(proc):
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc.stdout


def test_unary_prints_json(server):
    out = ok(call(server.address, "EchoService@1.echo", '{"text": "hi", "times": 3, "tags": ["a"]}'))
    result = json.loads(out)
    assert result["joined"] == "hi hi hi" and result["tags"] == ["a"] and result["version"] == 1
    compact = ok(call(server.address, "EchoService@1.echo", '{"text": "x"}', "--json"))
    assert len(compact.strip().splitlines()) == 1 and json.loads(compact)["text"] == "x"


def test_node_addr_form(server):
    assert json.loads(ok(call(server.node_addr, "Greeter.greet", '{"name": "b64"}')))["version"] == 2


def test_server_stream_prints_one_line_per_item(server):
    lines = parse_json_lines(ok(call(server.address, "EchoService@1.count", '{"n": 4, "prefix": "k"}')))
    assert [item["index"] for item in lines] == [0, 1, 2, 3]
    assert lines[-1]["text"] == "k-3"


def test_client_stream_from_stdin_and_from_items(server):
    stdin = '{"value": 1}\n\n{"value": 2}\n{"value": 39}\n'
    assert json.loads(ok(call(server.address, "EchoService@1.sum", input=stdin))) == {"total": 42, "count": 3}
    items = ok(call(server.address, "EchoService@1.sum", "--items", '[{"value": 5}, {"value": 6}]'))
    assert json.loads(items) == {"total": 11, "count": 2}


def test_bidi_stream(server):
    lines = parse_json_lines(ok(call(server.address, "EchoService@1.chat", input='{"text": "a"}\n{"text": "b"}\n')))
    assert lines == [{"text": "echo: a", "seq": 1}, {"text": "echo: b", "seq": 2}]


def test_session_scoped_service_is_called_through_a_session(server):
    assert json.loads(ok(call(server.address, "CounterSession.add", '{"amount": 4}'))) == {"total": 4, "calls": 1}


def test_version_2_services(server):
    assert json.loads(ok(call(server.address, "Greeter.greet", '{"name": "Ada"}')))["message"] == "Hello, Ada! (v2)"
    newest = json.loads(ok(call(server.address, "EchoService.echo", '{"text": "up"}')))
    assert (newest["text"], newest["version"]) == ("UP", 2)


def test_bad_inputs_have_clear_errors(server):
    assert_clean_error(call(server.address, "EchoService.echo", '{"text": '), 2, "not valid JSON")
    assert_clean_error(call(server.address, "EchoService.echo", '{"times": "3"}'), 2,
                       "[INVALID_ARGUMENT]", "'times' must be int")
    assert_clean_error(call(server.address, "EchoService.echo", '{"nope": 1}'), 2, "unknown field 'nope'")
    assert_clean_error(call(server.address, "EchoService.echo", '[1, 2]'), 2, "must be a JSON object")
    assert_clean_error(call(server.address, "EchoService", "{}"), 2, "SERVICE.METHOD")
    assert_clean_error(call(server.address, "Nope.echo", "{}"), 4, "[NOT_FOUND]", "Greeter")
    assert_clean_error(call(server.address, "EchoService@1.ehco", "{}"), 4, "Did you mean EchoService@1.echo")
    assert_clean_error(call(server.address, "EchoService@1.sum", "--items", "{}"), 2, "JSON array")


def test_bad_addresses(server):
    assert_clean_error(call("not an address", "A.b", "{}"), 2, "not an address")
    assert_clean_error(call("aster1" + "0" * 40, "A.b", "{}"), 2, "not a valid address")
    assert_clean_error(call("%%%%%%%%%%%%%%%%%%%%", "A.b", "{}"), 2, "not an address")


def test_server_side_status_is_reported(server):
    assert_clean_error(call(server.address, "EchoService@1.fail", '{"code": 13, "message": "kaboom"}'), 1,
                       "[INTERNAL] kaboom")
    assert_clean_error(call(server.address, "EchoService@1.slow", '{"ms": 5000}', "--timeout", "0.5"), 7,
                       "[DEADLINE_EXCEEDED]")


def test_unreachable_peer(server_factory):
    gone = server_factory(("echo",))
    address = gone.address
    gone.stop()
    assert_clean_error(call(address, "EchoService.echo", "{}", "--timeout", "3"), 7, "[UNAVAILABLE]")


def test_a_finished_call_closes_its_connections_normally(server_factory):
    """`aster call` ends without the runtime's draining wait, but the server still hears a normal close
    (code 0) of both connections at once, not an idle timeout much later."""
    srv = server_factory(("echo",), env={"ASTER_LOG_LEVEL": "debug"})
    for _ in range(3):
        assert json.loads(ok(call(srv.address, "EchoService.echo", '{"text": "x"}', "--json")))["text"] == "x"
    deadline = time.monotonic() + 5
    while srv.stderr_text().count("closed by peer: 0") < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    log = srv.stderr_text()
    assert log.count("closed by peer: 0") == 3, log[-2000:]
    assert "timed out" not in log and "Connection error" not in log, log[-2000:]


# -- trusted mode: credentials made by the trust family ----------------------------------------

def _sign(root_key: Path, out: Path, *extra: str) -> Path:
    proc = run_aster(["trust", "sign", "consumer", "--root-key", str(root_key), "--expires", "1h",
                      "--out", str(out), *extra])
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture
def vault(trust_root, trusted_server, tmp_path):
    pub = tmp_path / "root.pub"
    assert run_aster(["trust", "keygen", "pubkey", "--in", str(trust_root), "--out", str(pub)]).returncode == 0
    return trusted_server(pub, services=("echo", "vault"))


def test_role_restricted_methods(vault, trust_root, tmp_path):
    reader = _sign(trust_root, tmp_path / "reader.json", "--attr", "aster.role=reader")
    value = json.loads(ok(call(vault.address, "Vault.read", '{"key": "greeting"}', "--rcan", str(reader))))
    assert value == {"key": "greeting", "value": "hello", "ok": True}
    assert_clean_error(call(vault.address, "Vault.write", '{"key": "k", "value": "v"}', "--rcan", str(reader)), 3,
                       "[PERMISSION_DENIED]", str(reader))
    writer = _sign(trust_root, tmp_path / "writer.json", "--attr", "aster.role=writer,reader")
    ok(call(vault.address, "Vault.write", '{"key": "k", "value": "v"}', "--rcan", str(writer)))
    assert json.loads(ok(call(vault.address, "Vault.read", '{"key": "k"}', "--rcan", str(writer))))["value"] == "v"


def test_admission_refused(vault, trust_root, tmp_path):
    assert_clean_error(call(vault.address, "Vault.ping", "{}"), 3, "[PERMISSION_DENIED]", "admission refused",
                       "Credential presented: none")
    other_root = tmp_path / "other.key"
    assert run_aster(["trust", "keygen", "root", "--out", str(other_root)]).returncode == 0
    stranger = _sign(other_root, tmp_path / "stranger.json", "--attr", "aster.role=reader")
    assert_clean_error(call(vault.address, "Vault.ping", "{}", "--rcan", str(stranger)), 3, str(stranger))
    # a missing file named on the command line is "not found", as everywhere (README's exit codes)
    assert_clean_error(call(vault.address, "Vault.ping", "{}", "--rcan", str(tmp_path / "missing.json")), 4,
                       "missing.json")


def test_identity_file_node_key_makes_an_endpoint_bound_credential_hold(vault, trust_root, tmp_path):
    import tomli_w
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    seed = os.urandom(32)
    endpoint_id = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw).hex()
    bound = _sign(trust_root, tmp_path / "bound.json", "--attr", "aster.role=reader", "--endpoint-id", endpoint_id)
    cred = json.loads(bound.read_text())
    peer = {"name": "vault-reader", "role": "consumer", **{k: v for k, v in cred.items() if v is not None}}
    identity = tmp_path / "reader.aster-identity"
    identity.write_text(tomli_w.dumps({"node": {"secret_key": base64.b64encode(seed).decode(),
                                                "endpoint_id": endpoint_id}, "peers": [peer]}))
    ok(call(vault.address, "Vault.read", '{"key": "greeting"}', "--rcan", str(identity)))
    # The same credential without its node key comes from another endpoint: refused.
    assert_clean_error(call(vault.address, "Vault.read", '{"key": "greeting"}', "--rcan", str(bound)), 3)


NESTED = {"inner": {"label": "top", "weight": 0.5},
          "children": [{"label": "a", "weight": 1.5}, {"label": "b"}, {"label": "c", "weight": -2.0}]}


def test_nested_lists_of_structs_in_a_response(server):
    """A response holding a list of messages comes back whole (the released CLI could not decode it)."""
    result = json.loads(ok(call(server.address, "EchoService@1.roundtrip", json.dumps(NESTED))))
    assert result["inner"] == {"label": "top", "weight": 0.5}
    assert result["children"] == [{"label": "a", "weight": 1.5}, {"label": "b", "weight": 0.0},
                                  {"label": "c", "weight": -2.0}]
    compact = json.loads(ok(call(server.address, "EchoService@1.roundtrip", json.dumps(NESTED), "--json")))
    assert compact == result


def test_a_self_referencing_message_is_described_and_called(server_factory):
    """The released CLI's introspection hit RecursionError on a dataclass that refers to itself.
    `Tree.count(Node)` with `Node.children: list[Node]` and `Node.parent: Node?`."""
    tree = server_factory(["tests.contract.services.recursive:Tree"])
    request = {"name": "r", "children": [{"name": "a", "children": [{"name": "b"}]}, {"name": "c"}]}
    assert json.loads(ok(call(tree.address, "Tree.count", json.dumps(request)))) == {"nodes": 4}
    proc = run_aster(["shell", tree.address, "--json"], input="cd Tree\ndescribe count\n", timeout=60)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    described = json.loads(proc.stdout)
    assert {f["name"]: f["type"] for f in described["fields"]} == {"name": "str", "children": "list[Node]",
                                                                   "parent": "Node | None"}
