"""Identities from `aster enroll node` against a real trusted-mode AsterServer (runtime's AsterClient).

The client loads the `.aster-identity` itself (node key + consumer peer), so these tests also
prove the EndpointId we compute offline is the one the runtime's endpoint presents.
"""

from __future__ import annotations

import pytest

from tests.trust.helpers import ok, outcomes, vault  # noqa: F401  (vault is a fixture)

DENIED = "PERMISSION_DENIED"


@pytest.fixture
def enroll(vault, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def run(*flags: str, identity: str = "node.id") -> str:
        ok("enroll", "node", "--role", "consumer", "--root-key", str(vault[1] / "root.key"),
           "--identity", identity, *flags)
        return str(tmp_path / identity)

    return run


def test_consumer_without_capabilities_is_admitted_as_consumer(vault, enroll):
    identity = enroll("--name", "plain")
    assert outcomes(vault[0].address, identity=identity) == {"ping": "OK", "read": DENIED, "write": DENIED,
                                                             "admin": DENIED}


@pytest.mark.parametrize("capabilities, expected", [
    ("reader", {"ping": "OK", "read": "OK", "write": DENIED, "admin": DENIED}),
    ("writer,reader", {"ping": "OK", "read": "OK", "write": "OK", "admin": DENIED}),
    ("admin", {"ping": "OK", "read": DENIED, "write": "OK", "admin": "OK"}),
])
def test_capabilities_gate_methods(vault, enroll, capabilities, expected):
    identity = enroll("--name", "capable", "--capabilities", capabilities, "--attr", 'team=say "hi"')
    assert outcomes(vault[0].address, identity=identity) == expected


def test_identity_file_given_as_the_enrollment_credential(vault, enroll):
    """ASTER_ENROLLMENT_CREDENTIAL / enrollment_credential_file pointing at the identity works too."""
    identity = enroll("--capabilities", "reader")
    assert outcomes(vault[0].address, enrollment_credential_file=identity)["read"] == "OK"


def test_reenrolling_keeps_the_node_key_and_changes_the_grant(vault, enroll):
    identity = enroll("--name", "edge", "--capabilities", "reader")
    assert outcomes(vault[0].address, identity=identity)["write"] == DENIED
    enroll("--name", "edge", "--capabilities", "writer")
    assert outcomes(vault[0].address, identity=identity)["write"] == "OK"


def test_ott_identity_is_admitted_once(vault, enroll):
    identity = enroll("--name", "once", "--type", "ott", "--capabilities", "reader")
    assert outcomes(vault[0].address, identity=identity)["read"] == "OK"
    assert outcomes(vault[0].address, identity=identity) == "REFUSED"


def test_expired_identity_is_refused(vault, enroll):
    import time

    identity = enroll("--name", "brief", "--capabilities", "reader", "--expires", "2s")
    time.sleep(2.5)
    assert outcomes(vault[0].address, identity=identity) == "REFUSED"


def test_identity_from_another_root_is_refused(vault, enroll, tmp_path):
    ok("trust", "keygen", "root", "--out", str(tmp_path / "other.key"))
    ok("enroll", "node", "--role", "consumer", "--root-key", str(tmp_path / "other.key"), "--identity", "x.id")
    assert outcomes(vault[0].address, identity=str(tmp_path / "x.id")) == "REFUSED"


def test_identity_whose_node_key_changed_is_refused(vault, enroll, tmp_path):
    """The credential is bound to the node's endpoint id: another node key cannot use it."""
    import base64
    import os
    import tomllib

    import tomli_w

    identity = enroll("--capabilities", "reader")
    doc = tomllib.loads(open(identity).read())
    doc["node"] = {"secret_key": base64.b64encode(os.urandom(32)).decode()}
    open(identity, "w").write(tomli_w.dumps(doc))
    assert outcomes(vault[0].address, identity=identity) == "REFUSED"


def test_producer_identity_gives_the_server_our_node_key_and_root(tmp_path, monkeypatch):
    """A server run with an `enroll node --role producer` identity (plus the root's public key
    file) presents the EndpointId we computed offline and admits consumers of the same root."""
    from tests.support.server import start_server

    monkeypatch.chdir(tmp_path)
    ok("trust", "keygen", "--out-key", str(tmp_path / "root.key"))
    quiet = ok("enroll", "node", "--role", "producer", "--name", "svc", "--root-key", str(tmp_path / "root.key"),
               "--identity", str(tmp_path / "producer.id"), "-q")
    assert "OPEN-GATE" in quiet.stderr and "ASTER_ROOT_PUBKEY_FILE" in quiet.stderr
    endpoint_id = quiet.stdout.split()[1]
    ok("enroll", "node", "--role", "consumer", "--capabilities", "reader", "--root-key", str(tmp_path / "root.key"),
       "--identity", str(tmp_path / "consumer.id"))
    with start_server(["vault"], identity=tmp_path / "producer.id", root_pubkey_file=tmp_path / "root.pub") as srv:
        assert srv.endpoint_id == endpoint_id
        assert srv.root_pubkey == open(tmp_path / "root.pub").read().strip()
        assert outcomes(srv.address, identity=str(tmp_path / "consumer.id"))["read"] == "OK"
        assert outcomes(srv.address) == "REFUSED"
