"""`aster enroll node` and the `.aster-identity` file: what the runtime reads, what we keep."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
import time
import tomllib

import pytest

from aster_trust.keys import public_key_of

from tests.trust.helpers import ok


@pytest.fixture
def root(tmp_path):
    ok("trust", "keygen", "--out-key", "root.key", cwd=tmp_path)
    return tmp_path / "root.key"


def _read(path):
    return tomllib.loads(path.read_text())


def test_consumer_enrollment_is_what_the_runtime_loads(tmp_path, root):
    from aster.config import AsterConfig
    from aster.runtime import _credential_from_peer_entry
    from aster.trust import verify_signature

    ok("enroll", "node", "--role", "consumer", "--name", "analytics-consumer", "--root-key", "root.key",
       cwd=tmp_path)
    path = tmp_path / ".aster-identity"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = _read(path)
    seed = base64.b64decode(doc["node"]["secret_key"])
    assert doc["node"]["endpoint_id"] == public_key_of(seed).hex()
    secret, peer = AsterConfig(identity_file=str(path)).load_identity(role="consumer")
    assert secret == seed and peer["name"] == "analytics-consumer"
    assert peer["attributes"] == {"aster.role": "consumer"}  # the signed role is in the file
    assert peer["endpoint_id"] == doc["node"]["endpoint_id"] and "nonce" not in peer
    assert verify_signature(_credential_from_peer_entry(peer))


def test_ott_enrollment_writes_a_nonce(tmp_path, root):
    from aster.runtime import _credential_from_peer_entry
    from aster.trust import verify_signature

    ok("enroll", "node", "--role", "consumer", "--type", "ott", "--root-key", "root.key", cwd=tmp_path)
    peer = _read(tmp_path / ".aster-identity")["peers"][0]
    assert peer["type"] == "ott" and len(bytes.fromhex(peer["nonce"])) == 32
    assert verify_signature(_credential_from_peer_entry(peer))


def test_node_key_is_reused_and_peers_upserted_by_name(tmp_path, root):
    first = ok("enroll", "node", "--role", "consumer", "--name", "a", "--root-key", "root.key", "-q", cwd=tmp_path)
    second = ok("enroll", "node", "--role", "producer", "--name", "b", "--root-key", "root.key", "-q", cwd=tmp_path)
    assert first.stdout.split()[1] == second.stdout.split()[1]  # same endpoint id
    ok("enroll", "node", "--role", "consumer", "--name", "a", "--type", "ott", "--capabilities", "reader",
       "--root-key", "root.key", cwd=tmp_path)
    ok("enroll", "node", "--role", "consumer", "--name", "a", "--capabilities", "writer",
       "--root-key", "root.key", cwd=tmp_path)
    peers = _read(tmp_path / ".aster-identity")["peers"]
    assert [p["name"] for p in peers] == ["a", "b"]
    assert peers[0]["type"] == "policy" and "nonce" not in peers[0]  # the old ott nonce went with it
    assert peers[0]["attributes"] == {"aster.role": "writer"}
    assert peers[1]["type"] == "producer" and peers[1]["attributes"] == {"aster.role": "producer"}


def test_other_tables_and_keys_are_kept_and_quotes_survive(tmp_path, root):
    path = tmp_path / ".aster-identity"
    path.write_text(
        '[node]\nsecret_key = "%s"\n\n'
        '[custom]\nnote = "kept"\n\n'
        '[[peers]]\nname = "svc"\nrole = "producer"\ntype = "policy"\naster_service = "addr"\n'
        '[peers.published_services.Billing]\nproducer_token = "tok"\n' % base64.b64encode(bytes(32)).decode())
    ok("enroll", "node", "--role", "producer", "--name", "svc", "--root-key", "root.key",
       "--attr", 'motto=say "hi" \\ [ok]', "--attr", "emoji=✓", cwd=tmp_path)
    ok("enroll", "node", "--role", "consumer", "--name", 'quote"d', "--root-key", "root.key", cwd=tmp_path)
    doc = _read(path)
    assert doc["custom"] == {"note": "kept"}
    assert doc["node"]["secret_key"] == base64.b64encode(bytes(32)).decode()
    svc, quoted = doc["peers"]
    assert svc["aster_service"] == "addr" and svc["published_services"]["Billing"]["producer_token"] == "tok"
    assert svc["attributes"]["motto"] == 'say "hi" \\ [ok]' and svc["attributes"]["emoji"] == "✓"
    assert quoted["name"] == 'quote"d'
    info = json.loads(ok("trust", "inspect", ".aster-identity", "--peer", "svc", "--json", cwd=tmp_path).stdout)
    assert info["valid"] and info["endpoint_id"] == public_key_of(bytes(32)).hex()


def test_quiet_json_and_summary_outputs(tmp_path, root):
    quiet = ok("enroll", "node", "--role", "consumer", "--name", "q", "--root-key", "root.key", "-q",
               "--expires", "24h", cwd=tmp_path).stdout
    path, endpoint, expires = quiet.split()
    assert quiet.count("\n") == 1 and path == ".aster-identity" and len(endpoint) == 64
    assert expires.endswith("Z") and abs(time.mktime(time.strptime(expires, "%Y-%m-%dT%H:%M:%SZ"))
                                         - time.mktime(time.gmtime(time.time() + 86400))) < 60
    data = json.loads(ok("enroll", "node", "--role", "consumer", "--name", "j", "--capabilities", "a, b",
                         "--attr", "team=x", "--root-key", "root.key", "--json", cwd=tmp_path).stdout)
    assert data["capabilities"] == ["a", "b"] and data["attributes"] == {"aster.role": "a,b", "team": "x"}
    assert data["endpoint_id"] == endpoint and data["node_key_created"] is False
    summary = ok("enroll", "node", "--role", "consumer", "--name", "s", "--type", "ott", "--capabilities", "reader",
                 "--root-key", "root.key", "--out", "agent.id", cwd=tmp_path).stdout
    for needle in ("agent.id", "peer", "consumer (ott)", "reader", "endpoint id", "trust root", "expires",
                   "aster call", "aster shell", "--rcan agent.id"):
        assert needle in summary, needle


def test_enroll_with_the_profile_key_from_the_keyring(tmp_path):
    pub = json.loads(ok("profile", "create", "prod", "--json", cwd=tmp_path).stdout)["root_pubkey"]
    ok("enroll", "node", "--profile", "prod", "--role", "producer", "--name", "billing-producer", cwd=tmp_path)
    peer = _read(tmp_path / ".aster-identity")["peers"][0]
    assert peer["root_pubkey"] == pub and peer["role"] == "producer"


def test_concurrent_enrollments_lose_nothing(tmp_path, root):
    """Many `aster enroll node` processes at once on one file: one node key, every peer present."""
    from aster_core.testing import aster_executable

    procs = [subprocess.Popen([aster_executable(), "enroll", "node", "--role", "consumer", "--name", f"n{i}",
                               "--root-key", "root.key", "-q"], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(6)]
    results = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), results
    assert len({out.split()[1] for out, _ in results}) == 1  # every run used the same node key
    doc = _read(tmp_path / ".aster-identity")
    assert sorted(p["name"] for p in doc["peers"]) == [f"n{i}" for i in range(6)]


def test_iso_expiry_without_zone_is_utc_as_for_trust_sign(tmp_path, root):
    """The released CLI read such a time as local time in `trust sign` and as UTC in `enroll`.
    Run in a zone far from UTC: both commands give the same UTC instant."""
    from aster_core.durations import parse_expiry, to_epoch
    from aster_core.testing import run_aster

    env = {"TZ": "America/New_York"}
    when = "2099-06-30T12:00:00"
    enrolled = run_aster(["enroll", "node", "--role", "consumer", "--root-key", "root.key", "--expires", when],
                         plugins=["trust", "enroll"], cwd=tmp_path, env=env)
    signed = run_aster(["trust", "sign", "consumer", "--root-key", "root.key", "--expires", when],
                       plugins=["trust", "enroll"], cwd=tmp_path, env=env)
    assert enrolled.returncode == 0 and signed.returncode == 0, enrolled.stderr + signed.stderr
    expected = to_epoch(parse_expiry(when + "Z"))
    assert _read(tmp_path / ".aster-identity")["peers"][0]["expires_at"] == expected
    assert json.loads(signed.stdout)["expires_at"] == expected


def test_node_key_is_made_offline_without_the_runtime(tmp_path, root):
    """The released CLI started a network endpoint to learn a public key (and hung offline).
    Here the runtime cannot even be imported and every socket fails: enrollment still works."""
    import sys

    guard = ("import socket, sys\n"
             "sys.modules['aster'] = None  # importing the runtime now fails\n"
             "class NoNetwork(socket.socket):\n"
             "    def __init__(self, *a, **k):\n"
             "        raise OSError('enrollment must not use the network')\n"
             "socket.socket = NoNetwork\n"
             "from aster_core.main import main\n"
             "main(sys.argv[1:])\n")
    done = subprocess.run([sys.executable, "-c", guard, "enroll", "node", "--role", "consumer", "--root-key",
                           "root.key", "--identity", "offline.id", "-q"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    doc = _read(tmp_path / "offline.id")
    endpoint_id = public_key_of(base64.b64decode(doc["node"]["secret_key"])).hex()
    assert done.stdout.split()[1] == endpoint_id == doc["node"]["endpoint_id"]
