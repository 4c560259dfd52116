"""Device keys, bundles, proofs and the activation/review state machines (pure), and the bad input
of every `aster dev` command before any network: one Error line, the documented exit code."""

from __future__ import annotations

import json

import pytest

from aster_core.errors import AsterError
from aster_core.testing import assert_clean_error, invoke, run_aster

from aster_authority.domain import devices, plans
from aster_authority.domain.devices import Review
from aster_authority.domain.errors import Refusal


def test_hkdf_test_vector_of_the_spec():
    keys = devices.derive(bytes(range(32)))
    assert devices.b64url(keys.identity_seed) == "qW-6_Rg3dvtDqZwNLKCo1bG335FC0lOYRYVQNjPFwAo"
    assert devices.b64url(keys.activation_key) == "ZxQvSLpJHRZBHLbvf4vO5yOlQDucaoGl7Txis_RRtlQ"
    assert devices.b64url(keys.public_key) == "QQpCMtM_tVz_xu-ppapVZQppvc49bkQwMOyyrilSmYw"


def test_the_identity_seed_is_the_node_key_the_runtime_uses():
    from aster_enroll.identity import NodeKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    keys = devices.generate()
    assert NodeKey.from_seed(keys.identity_seed).endpoint_id == keys.endpoint_id
    raw = Ed25519PrivateKey.from_private_bytes(keys.identity_seed).public_key().public_bytes_raw()
    assert raw.hex() == keys.endpoint_id
    assert devices.generate().root_secret != keys.root_secret


def test_proof_is_bound_to_challenge_device_and_deployment():
    keys = devices.generate()
    c1, c2 = b"\x01" * 32, b"\x02" * 32
    p = devices.proof(keys.activation_key, c1, keys.endpoint_id, "sensors")
    assert devices.proof_valid(keys.activation_key, c1, keys.endpoint_id, "sensors", p)
    assert not devices.proof_valid(keys.activation_key, c2, keys.endpoint_id, "sensors", p)
    assert not devices.proof_valid(keys.activation_key, c1, devices.generate().endpoint_id, "sensors", p)
    assert not devices.proof_valid(keys.activation_key, c1, keys.endpoint_id, "other", p)
    assert not devices.proof_valid(devices.generate().activation_key, c1, keys.endpoint_id, "sensors", p)


def test_bundle_round_trip_and_tampering():
    keys = devices.generate()
    doc = devices.bundle_document(keys, authority="aster1x", deployment_id="sensors", instance_id="dev_x",
                                  metadata={"name": "a"})
    b = devices.parse_bundle(json.loads(devices.bundle_json(doc)), "b.json")
    assert b.keys == keys and b.deployment_id == "sensors" and b.metadata == {"name": "a"}
    for key, value, needle in [("format", "x", "not a device provisioning bundle"),
                               ("endpoint_id", "ab" * 32, "does not give the endpoint id"),
                               ("root_secret", "abc", "32 bytes"), ("root_secret", "!!", "base64url"),
                               ("deployment_id", "Bad_Id", "deployment id"), ("authority", "", "no authority")]:
        with pytest.raises(AsterError) as info:
            devices.parse_bundle({**doc, key: value}, "b.json")
        assert info.value.exit_code == 2 and needle in info.value.message, (key, info.value.message)


@pytest.mark.parametrize("state,mode,review,outcome", [
    ("registered", "none", None, "activated"),
    ("activated", "required", "approved", "activated"),
    ("activated", "none", None, "activated"),
    ("registered", "required", None, "open_review"),
    ("registered", "required", "pending", "pending"),
    ("registered", "required", "approved", "activated"),
])
def test_activation_transitions(state, mode, review, outcome):
    assert devices.decide_activation(state, mode, review, ref="dev/x") == outcome


@pytest.mark.parametrize("state,review,code", [("revoked", "approved", "revoked"), ("revoked", None, "revoked"),
                                               ("registered", "rejected", "rejected"),
                                               ("disabled", None, "disabled")])
def test_activation_refusals(state, review, code):
    with pytest.raises(Refusal) as info:
        devices.decide_activation(state, "required", review, ref="dev/x")
    assert info.value.code == code and info.value.exit_code == 3


def test_review_state_machine():
    pending = Review("R1", "sensors", "dev_x", "pending", 100)
    actor = plans.Actor("ab" * 32, "rev")
    approved = devices.decide_review(pending, "approved", now=200, reason=" ok ", actor=actor)
    assert (approved.state, approved.decided_at, approved.reason) == ("approved", 200, "ok")
    assert approved.decided_by == {"endpoint_id": "ab" * 32, "name": "rev"}
    assert devices.decide_review(approved, "approved", now=300) is None          # idempotent
    with pytest.raises(Refusal) as info:
        devices.decide_review(approved, "rejected", now=300)                     # the other decision
    assert info.value.code == "wrong_state"
    rejected = devices.decide_review(pending, "rejected", now=200)
    assert rejected.state == "rejected" and devices.decide_review(rejected, "rejected", now=1) is None
    with pytest.raises(Refusal):
        devices.decide_review(rejected, "approved", now=300)
    with pytest.raises(Refusal) as info:
        devices.decide_review(pending, "maybe", now=1)
    assert info.value.field == "decision" and info.value.exit_code == 2


def test_metadata_checks():
    assert devices.parse_metadata_pairs(["site=berlin", "empty="]) == {"site": "berlin"}
    for pairs in (["novalue"], ["=x"], ["bad key=x"], [f"k={'x' * 300}"]):
        with pytest.raises(AsterError) as info:
            devices.parse_metadata_pairs(pairs)
        assert info.value.exit_code == 2 and "--metadata" in info.value.message


def _bundle_file(tmp_path, **changes) -> str:
    doc = devices.bundle_document(devices.generate(), authority="aster1x", deployment_id="sensors",
                                  instance_id="dev_x", metadata={})
    (tmp_path / "b.json").write_text(json.dumps({**doc, **changes}))
    return "b.json"


@pytest.mark.parametrize("args,code,needle", [
    (["dev", "list"], 2, "no authority address"),
    (["dev", "Not_An_Id", "show"], 2, "deployment id"),
    (["dev", "sensors", "create", "--review-mode", "sometimes"], 2, "sometimes"),
    (["dev", "sensors", "instances", "--state", "asleep"], 2, "asleep"),
    (["dev", "sensors", "activations", "list", "--state", "registered"], 2, "registered"),
    (["dev", "sensors", "reviews", "list", "--state", "maybe"], 2, "maybe"),
    (["dev", "sensors", "reviews", "approve"], 2, "REVIEW"),
    (["dev", "sensors", "activations", "revoke"], 2, "INSTANCE"),
    (["dev", "sensors", "provision", "--metadata", "novalue"], 2, "--metadata"),
    (["dev", "sensors", "provision", "--count", "3"], 2, "--count and --out-dir go together"),
    (["dev", "sensors", "provision", "--count", "3", "--out-dir", "d", "--serial-number", "S"], 2,
     "--serial-number names one device"),
    (["dev", "sensors", "provision", "--count", "0", "--out-dir", "d"], 2, "--count 0"),
    (["dev", "sensors", "provision", "--count", "2", "--out-dir", "d", "--out", "x.json"], 2, "--out names one"),
    (["dev", "sensors", "provision", "--count", "two", "--out-dir", "d"], 2, "two"),
    (["dev", "activate"], 2, "--bundle"),
    (["dev", "activate", "--bundle", "missing.json"], 4, "missing.json"),
    (["dev", "activate", "--bundle", "b.json", "--timeout", "soon"], 2, "soon"),
])
def test_bad_input(args, code, needle, tmp_path):
    _bundle_file(tmp_path)
    r = invoke(args, cwd=tmp_path, env={"ASTER_AUTHORITY_ADDR": ""})  # in-process: refused before any network
    assert_clean_error(r, code, needle)
    assert not (tmp_path / "d").exists() and not (tmp_path / ".aster-identity").exists()


@pytest.mark.parametrize("change,needle", [({"format": "other"}, "not a device provisioning bundle"),
                                           ({"endpoint_id": "ab" * 32}, "does not give the endpoint id")])
def test_bad_bundles(change, needle, tmp_path):
    r = invoke(["dev", "activate", "--bundle", _bundle_file(tmp_path, **change)], cwd=tmp_path)
    assert_clean_error(r, 2, needle)
    (tmp_path / "x.json").write_text("{not json")
    assert_clean_error(invoke(["dev", "activate", "--bundle", "x.json"], cwd=tmp_path), 2, "x.json")


def test_an_identity_with_another_node_key_is_refused_before_connecting(tmp_path):
    from tests.support.credentials import make_root_key, write_consumer_identity

    write_consumer_identity(make_root_key(tmp_path), tmp_path / ".aster-identity")
    before = (tmp_path / ".aster-identity").read_text()
    r = run_aster(["dev", "activate", "--bundle", _bundle_file(tmp_path)], cwd=tmp_path)
    assert_clean_error(r, 2, "another node key")
    assert (tmp_path / ".aster-identity").read_text() == before


def test_help_texts():
    r = invoke(["dev", "--help"])
    assert r.returncode == 0 and "10 activation pending review" in r.stdout
    for args in (["dev", "x", "authority", "accept-update", "--help"], ["dev", "x", "reviews", "approve", "--help"],
                 ["dev", "activate", "--help"], ["dev", "x", "provision", "--help"]):
        assert invoke(args).returncode == 0, args
