"""Credentials from `aster trust sign` against a real AsterServer in trusted mode (runtime's AsterClient).

The server trusts the public key file our `keygen` wrote and hosts the harness's Vault:
``ping`` needs no role, ``read`` needs ``reader``, ``write`` ``writer`` or ``admin``, ``admin``
``admin``.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.trust.helpers import ok, outcomes, vault  # noqa: F401  (vault is a fixture)


@pytest.fixture
def signer(vault, tmp_path, monkeypatch):
    """``sign(*flags) -> path`` of a consumer credential signed by the server's root."""
    server, keydir = vault
    monkeypatch.chdir(tmp_path)  # no stray ./.aster-identity reaches the client
    counter = iter(range(1000))

    def sign(*flags: str, root: str = "root.key", kind: str = "consumer") -> str:
        out = tmp_path / f"cred-{next(counter)}.json"
        ok("trust", "sign", kind, "--root-key", str(keydir / root), *flags, "--out", str(out))
        return str(out)

    return sign


def test_no_credential_is_refused(vault, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert outcomes(vault[0].address) == "REFUSED"


@pytest.mark.parametrize("roles, expected", [
    ("reader", {"ping": "OK", "read": "OK", "write": "PERMISSION_DENIED", "admin": "PERMISSION_DENIED"}),
    ("writer", {"ping": "OK", "read": "PERMISSION_DENIED", "write": "OK", "admin": "PERMISSION_DENIED"}),
    ("reader,admin", {"ping": "OK", "read": "OK", "write": "OK", "admin": "OK"}),
    (None, {"ping": "OK", "read": "PERMISSION_DENIED", "write": "PERMISSION_DENIED", "admin": "PERMISSION_DENIED"}),
])
def test_policy_credential_is_admitted_and_roles_gate_methods(vault, signer, roles, expected):
    flags = ("--type", "policy") + (("--attr", f"aster.role={roles}") if roles else ()) + ("--attr", "team=billing")
    assert outcomes(vault[0].address, enrollment_credential_file=signer(*flags)) == expected


def test_ott_is_admitted_once_then_refused(vault, signer):
    cred = signer("--type", "ott", "--attr", "aster.role=reader")
    first = outcomes(vault[0].address, enrollment_credential_file=cred)
    assert first["read"] == "OK"
    assert outcomes(vault[0].address, enrollment_credential_file=cred) == "REFUSED"


def _flip_signature_byte(path: str) -> None:
    doc = json.load(open(path))
    sig = bytearray.fromhex(doc["signature"])
    sig[10] ^= 0x01
    doc["signature"] = sig.hex()
    json.dump(doc, open(path, "w"))


def _change_attribute_byte(path: str) -> None:
    doc = json.load(open(path))
    doc["attributes"]["aster.role"] = "admin" + doc["attributes"]["aster.role"][5:]  # reader -> admin…
    json.dump(doc, open(path, "w"))


def _bump_expiry(path: str) -> None:
    doc = json.load(open(path))
    doc["expires_at"] += 1
    json.dump(doc, open(path, "w"))


@pytest.mark.parametrize("tamper", [_flip_signature_byte, _change_attribute_byte, _bump_expiry])
def test_a_changed_credential_is_refused(vault, signer, tamper):
    cred = signer("--attr", "aster.role=readerX")
    assert outcomes(vault[0].address, enrollment_credential_file=cred) != "REFUSED"  # the untouched one works
    tamper(cred)
    assert outcomes(vault[0].address, enrollment_credential_file=cred) == "REFUSED"


def test_an_expired_credential_is_refused(vault, signer):
    cred = signer("--attr", "aster.role=reader", "--expires", "2s")
    time.sleep(2.5)
    assert outcomes(vault[0].address, enrollment_credential_file=cred) == "REFUSED"


def test_a_credential_from_another_root_is_refused(vault, signer, tmp_path):
    other = tmp_path / "other.key"
    ok("trust", "keygen", "root", "--out", str(other))
    assert outcomes(vault[0].address, enrollment_credential_file=signer("--attr", "aster.role=reader",
                                                                        root=str(other))) == "REFUSED"


def test_a_credential_bound_to_another_endpoint_is_refused(vault, signer):
    cred = signer("--attr", "aster.role=reader", "--endpoint-id", "5a" * 32)
    assert outcomes(vault[0].address, enrollment_credential_file=cred) == "REFUSED"


def test_runtime_helpers_and_ours_make_the_same_credential(vault, signer):
    """Same root, inputs and nonce: the runtime's signing helpers and `aster trust sign` agree byte for byte."""
    from aster.trust import ConsumerEnrollmentCredential, sign_credential
    from aster.trust.consumer import consumer_cred_to_json

    from aster_trust.credentials import load_credential
    from aster_trust.keys import load_root_key_file

    path = signer("--type", "ott", "--attr", "aster.role=reader,writer", "--attr", "note=ünï \"q\"",
                  "--endpoint-id", "7c" * 32)
    ours = load_credential(path)
    root = load_root_key_file(vault[1] / "root.key")
    theirs = ConsumerEnrollmentCredential(credential_type="ott", root_pubkey=root.public_key,
                                          expires_at=ours.expires_at, attributes=dict(ours.attributes),
                                          endpoint_id="7c" * 32, nonce=ours.nonce)
    theirs.signature = sign_credential(theirs, root.seed)
    assert theirs.signature == ours.signature
    from aster.runtime import _load_enrollment_credential

    assert consumer_cred_to_json(_load_enrollment_credential(path)) == consumer_cred_to_json(theirs)
