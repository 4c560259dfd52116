"""Signing bytes and signatures are the runtime's, byte for byte; checks mirror its admission."""

from __future__ import annotations

import json
import os

import pytest

from aster_core.errors import UsageError
from aster_trust import credentials, keys

ROOT = keys.root_key_from_seed(bytes(range(32)))
ENDPOINT = "0f" * 32
FUTURE = 4_102_444_800  # 2100-01-01


def _runtime_consumer(cred: credentials.Credential):
    from aster.trust import ConsumerEnrollmentCredential

    return ConsumerEnrollmentCredential(credential_type=cred.type, root_pubkey=cred.root_pubkey,
                                        expires_at=cred.expires_at, attributes=dict(cred.attributes),
                                        endpoint_id=cred.endpoint_id, nonce=cred.nonce)


def _runtime_producer(cred: credentials.Credential):
    from aster.trust import EnrollmentCredential

    return EnrollmentCredential(endpoint_id=cred.endpoint_id, root_pubkey=cred.root_pubkey,
                                expires_at=cred.expires_at, attributes=dict(cred.attributes))


CASES = [
    ("policy", None, {}),
    ("policy", ENDPOINT, {"aster.role": "reader,writer", "team": "billing"}),
    ("ott", None, {"aster.role": "consumer"}),
    ("ott", ENDPOINT, {"note": 'quote " and ünïcode ✓', "a": "1"}),
    ("producer", ENDPOINT, {"aster.role": "producer", "zone": "eu"}),
]


@pytest.mark.parametrize("kind, endpoint, attributes", CASES)
def test_byte_identical_to_the_runtime_signing_helpers(kind, endpoint, attributes):
    from aster.trust import sign_credential, verify_signature
    from aster.trust.signing import _canonical_signing_bytes

    nonce = os.urandom(32) if kind == "ott" else None
    ours = credentials.sign(ROOT, kind, expires_at=FUTURE, attributes=attributes, endpoint_id=endpoint, nonce=nonce)
    theirs = _runtime_producer(ours) if kind == "producer" else _runtime_consumer(ours)
    assert _canonical_signing_bytes(theirs) == ours.signing_bytes()
    theirs.signature = sign_credential(theirs, ROOT.seed)
    assert theirs.signature == ours.signature  # ed25519 is deterministic: same inputs, same bytes
    assert verify_signature(theirs)
    assert credentials.check(ours, trusted_root=ROOT.public_key).ok


def test_ott_gets_a_fresh_32_byte_nonce_each_time():
    a = credentials.sign(ROOT, "ott", expires_at=FUTURE)
    b = credentials.sign(ROOT, "ott", expires_at=FUTURE)
    assert len(a.nonce) == 32 and a.nonce != b.nonce
    assert credentials.sign(ROOT, "policy", expires_at=FUTURE).nonce is None


def test_runtime_loads_our_credential_file_and_verifies_it(tmp_path):
    from aster.runtime import _load_enrollment_credential
    from aster.trust import verify_signature

    cred = credentials.sign(ROOT, "ott", expires_at=FUTURE, attributes={"aster.role": "reader"})
    path = tmp_path / "c.json"
    path.write_text(cred.to_json())
    loaded = _load_enrollment_credential(str(path))
    assert loaded.credential_type == "ott" and loaded.nonce == cred.nonce
    assert verify_signature(loaded)
    assert credentials.load_credential(path) == cred


def test_producer_file_is_read_by_the_runtime_mesh_loader(tmp_path):
    from aster.trust import verify_signature
    from aster.trust.bootstrap import _load_enrollment_credential

    cred = credentials.sign(ROOT, "producer", expires_at=FUTURE, endpoint_id=ENDPOINT)
    path = tmp_path / "producer.json"
    path.write_text(cred.to_json())
    assert json.loads(path.read_text())["type"] == "producer"
    assert verify_signature(_load_enrollment_credential(str(path)))


def test_check_reports_each_failure():
    other = keys.generate_root_key()
    cred = credentials.sign(ROOT, "policy", expires_at=FUTURE, endpoint_id=ENDPOINT)
    assert credentials.check(cred, trusted_root=other.public_key).problems() == ["it is signed by another root key"]
    assert credentials.check(cred, endpoint_id="aa" * 32).problems() == ["it is bound to another endpoint"]
    assert credentials.check(cred, now=FUTURE + 1).problems() == ["it has expired"]
    tampered = credentials.Credential(cred.type, cred.root_pubkey, cred.expires_at, {"aster.role": "admin"},
                                      cred.endpoint_id, None, cred.signature)
    assert credentials.check(tampered).problems() == ["the signature does not verify"]
    unbound = credentials.sign(ROOT, "policy", expires_at=FUTURE)
    assert credentials.check(unbound, endpoint_id="aa" * 32).binding is True


def test_check_flags_an_ott_without_nonce_as_the_released_cli_wrote_it():
    cred = credentials.sign(ROOT, "policy", expires_at=FUTURE)
    broken = credentials.Credential("ott", cred.root_pubkey, cred.expires_at, {}, None, None, cred.signature)
    assert "nonce" in credentials.check(broken).problems()[0]


def test_sign_refuses_bad_values():
    with pytest.raises(UsageError):
        credentials.sign(ROOT, "producer", expires_at=FUTURE)  # producer needs an endpoint
    with pytest.raises(UsageError):
        credentials.sign(ROOT, "ott", expires_at=FUTURE, nonce=b"short")
    with pytest.raises(UsageError):
        credentials.sign(ROOT, "policy", expires_at=FUTURE, attributes={"n": 1})
    with pytest.raises(UsageError):
        credentials.sign(ROOT, "admin", expires_at=FUTURE)


def test_load_from_identity_file_needs_a_peer_when_there_are_several(tmp_path):
    import tomli_w

    a = credentials.sign(ROOT, "policy", expires_at=FUTURE, endpoint_id=ENDPOINT)
    b = credentials.sign(ROOT, "ott", expires_at=FUTURE, endpoint_id=ENDPOINT)
    peers = [{"name": n, "role": "consumer", **{k: v for k, v in c.to_dict().items() if v is not None}}
             for n, c in (("a", a), ("b", b))]
    path = tmp_path / ".aster-identity"
    path.write_text(tomli_w.dumps({"peers": peers}))
    assert credentials.load_credential(path, "b") == b
    with pytest.raises(UsageError, match="holds 2 peers: a, b") as caught:
        credentials.load_credential(path)
    assert "--peer" in caught.value.hint
