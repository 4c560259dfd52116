"""A hostile authority (tests/support/hostile_authority.py: a real AsterServer on loopback answering
what the test scripts) gets nothing signed that the decision chain does not back: an extra role,
another endpoint, `authority.admin`, a longer expiry, a forged or truncated chain, a record signed
by a revoked or non-admin key, a rollback to an older head, a fork. Each case asserts on what
reached the authority signed (`evil.signed()`), and that the refusal is named."""

from __future__ import annotations

import json
import time

import pytest

from aster_authority.client import signing
from aster_authority.client.chain import ChainRejected
from aster_authority.client.connection import Authority
from aster_authority.client.pins import PinMismatch
from aster_core.testing import assert_clean_error, invoke

from tests.authority.chains import Chain, make_admin, serve
from tests.support.credentials import make_root_key

DEP = "payments"
DIGEST = "blake3:" + "ab" * 32
DAY = 86400


def endpoint() -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex()


class Scene:
    """A mesh root, an admin, a hostile authority and an honest chain: payments (role tasks) with
    one instance and one grantee (tasks.reader)."""

    def __init__(self, tmp_path, hostile_authority):
        self.root = make_root_key(tmp_path)
        self.admin = make_admin(self.root)
        self.evil = hostile_authority(self.root.public_hex)
        self.producer, self.consumer = endpoint(), endpoint()
        self.chain = Chain(DEP)
        self.chain.add(self.admin, "create", {"kind": "service", "roles": ["tasks"], "namespaces": ["*"],
                                              "compatibility": "strict", "review_mode": "none"})
        self.chain.add(self.admin, "accept", {"plan_id": "01PLAN", "classification": "update", "digest": DIGEST,
                                              "services": [["TaskService", 1]]})
        self.chain.add(self.admin, "instance_register", {"endpoint_id": self.producer})
        self.chain.add(self.admin, "grant_add", {"consumer": self.consumer, "roles": ["tasks.reader"]})
        self.authority_chain = Chain("@authority")
        self.now = int(time.time())

    def serve_chain(self, records=None, authority_records=None) -> None:
        serve(self.evil, {DEP: self.chain.records if records is None else records,
                          "@authority": self.authority_chain.records if authority_records is None
                          else authority_records})

    def producer_item(self, **change) -> dict:
        item = {"subject": "producer", "id": "svc_x", "endpoint_id": self.producer, "type": "producer",
                "attributes": {"aster.deployment": DEP, "aster.contract": DIGEST, "aster.role": "tasks"},
                "expires_at": self.now + 30 * DAY, "status": "missing", "reason": "no credential stored"}
        return {**item, **change}

    def consumer_item(self, **change) -> dict:
        item = {"subject": "consumer", "id": self.consumer, "endpoint_id": self.consumer, "type": "policy",
                "attributes": {"aster.role": "tasks.reader", "aster.deployment": DEP},
                "expires_at": self.now + 7 * DAY, "status": "missing", "reason": "no credential stored"}
        return {**item, **change}

    def ask(self, *items: dict) -> None:
        self.evil.answer("AuthorityAdmin.desired", {"deployment_id": DEP, "desired_version": "v", "items": list(items),
                                                    "root_pubkey": self.root.public_hex})

    def reconcile(self, **kw):
        with Authority.open(self.evil.address, None) as auth:
            return signing.reconcile(auth, DEP, root_key_file=str(self.root.key_file), **kw)

    def signed(self) -> list[dict]:
        return self.evil.signed()


@pytest.fixture
def scene(tmp_path, hostile_authority):
    return Scene(tmp_path, hostile_authority)


def signed_keys(scene: Scene) -> set[tuple]:
    return {(c["type"], c["endpoint_id"], json.dumps(c["attributes"], sort_keys=True)) for c in scene.signed()}


def test_an_honest_answer_is_signed_exactly(scene):
    scene.serve_chain()
    scene.ask(scene.producer_item(), scene.consumer_item())
    r = scene.reconcile()
    assert r["counts"] == {"current": 2, "pending": 0, "failed": 0, "refused": 0}
    assert signed_keys(scene) == {
        ("producer", scene.producer, json.dumps(scene.producer_item()["attributes"], sort_keys=True)),
        ("policy", scene.consumer, json.dumps(scene.consumer_item()["attributes"], sort_keys=True))}
    for cred in scene.signed():
        assert cred["root_pubkey"] == scene.root.public_hex


@pytest.mark.parametrize("case", ["extra role", "another endpoint", "authority.admin", "another type",
                                  "another deployment", "extra attribute"])
def test_items_the_chain_does_not_back_are_refused_and_never_signed(scene, case):
    scene.serve_chain()
    stranger = endpoint()
    bad = {
        "extra role": scene.producer_item(attributes={**scene.producer_item()["attributes"],
                                                      "aster.role": "tasks,payments.admin"}),
        "another endpoint": scene.producer_item(endpoint_id=stranger, id="svc_evil"),
        "authority.admin": scene.consumer_item(attributes={"aster.role": "authority.admin",
                                                           "aster.deployment": DEP}),
        "another type": scene.consumer_item(type="producer"),
        "another deployment": scene.consumer_item(attributes={"aster.role": "tasks.reader",
                                                              "aster.deployment": "billing"}),
        "extra attribute": scene.consumer_item(attributes={**scene.consumer_item()["attributes"],
                                                           "aster.name": "root"}),
    }[case]
    scene.ask(scene.producer_item(), bad)
    r = scene.reconcile()
    assert r["counts"]["refused"] == 1 and r["counts"]["current"] == 1
    [refused] = r["refused"]
    assert refused["reason"].startswith("not backed by a decision")
    if case == "authority.admin":
        assert "authority.admin" in refused["reason"]
    # only the backed producer credential was signed
    assert signed_keys(scene) == {("producer", scene.producer,
                                   json.dumps(scene.producer_item()["attributes"], sort_keys=True))}


def test_authority_roles_are_never_signed_even_backed_by_the_chain(scene):
    """A chain granting an authority.* role is one the rules never make: it does not replay."""
    scene.chain.add(scene.admin, "grant_add", {"consumer": scene.consumer, "roles": ["authority.admin"]})
    scene.serve_chain()
    scene.ask(scene.consumer_item(attributes={"aster.role": "authority.admin,tasks.reader", "aster.deployment": DEP}))
    with pytest.raises(ChainRejected, match="decision record 5"):
        scene.reconcile()
    assert scene.signed() == []


def test_a_longer_expiry_is_capped(scene, monkeypatch):
    scene.serve_chain()
    year_2100 = 4102444800
    scene.ask(scene.producer_item(expires_at=year_2100), scene.consumer_item(expires_at=year_2100))
    r = scene.reconcile()
    assert r["counts"]["current"] == 2
    for cred in scene.signed():
        assert cred["expires_at"] <= int(time.time()) + 30 * DAY
    assert all("capped" in row["reason"] for row in r["items"])
    # a tighter cap of this machine's
    monkeypatch.setenv("ASTER_AUTHORITY_MAX_CREDENTIAL_TTL", "3d")
    scene.ask(scene.consumer_item(expires_at=year_2100))
    before = len(scene.signed())
    scene.reconcile()
    assert scene.signed()[before]["expires_at"] <= int(time.time()) + 3 * DAY


def _forged(records: list[dict]) -> list[dict]:
    out = [dict(r) for r in records]
    out[2] = {**out[2], "body": {"endpoint_id": endpoint()}}  # another instance, the signature kept
    return out


@pytest.mark.parametrize("case, needle", [
    ("forged", "signature does not verify"),
    ("truncated at the start", "seq 2 where 1 comes next"),
    ("a record dropped", "seq 4 where 3 comes next"),
    ("relinked", "is not the hash of record"),
])
def test_a_forged_or_truncated_chain_signs_nothing(scene, case, needle):
    records = scene.chain.records
    served = {"forged": lambda: _forged(records),
              "truncated at the start": lambda: records[1:],
              "a record dropped": lambda: records[:2] + records[3:],
              "relinked": lambda: records[:3] + [{**records[3], "prev": "f" * 64}]}[case]()
    scene.serve_chain(served)
    scene.ask(scene.producer_item(), scene.consumer_item())
    with pytest.raises(ChainRejected) as caught:
        scene.reconcile()
    assert needle in caught.value.message and "nothing was signed" in caught.value.message
    assert scene.signed() == []


def test_records_of_a_non_admin_or_unbound_or_revoked_key_sign_nothing(scene):
    reader = make_admin(scene.root, roles="tasks.reader", name="reader")
    bad = scene.chain.copy()
    bad.add(reader, "grant_add", {"consumer": endpoint(), "roles": ["tasks.reader"]})
    scene.serve_chain(bad.records)
    scene.ask(scene.producer_item())
    with pytest.raises(ChainRejected, match="not authority.admin"):
        scene.reconcile()

    unbound = make_admin(scene.root, bound=False)
    bad = scene.chain.copy()
    bad.records.append(__import__("aster_authority.domain.decisions", fromlist=["x"]).make_record(
        DEP, 5, bad.head, "grant_add", {"consumer": endpoint(), "roles": ["tasks.reader"]},
        bad.records[-1]["decided_at"], unbound.endpoint_id, unbound.credential))
    from aster_authority.domain.decisions import sign_record

    bad.records[-1] = sign_record(bad.records[-1], unbound.seed)
    scene.serve_chain(bad.records)
    with pytest.raises(ChainRejected, match="bound to no endpoint"):
        scene.reconcile()

    # the admin revoked on the authority-wide chain; its later record is invalid
    other = make_admin(scene.root, name="second")
    revoked_at = scene.chain.records[-1]["decided_at"] + 10
    scene.authority_chain.add(other, "admin_revoke", {"endpoint_id": scene.admin.endpoint_id, "reason": "left"},
                              decided_at=revoked_at)
    late = scene.chain.copy()
    late.add(scene.admin, "grant_add", {"consumer": endpoint(), "roles": ["tasks.reader"]}, decided_at=revoked_at + 5)
    scene.serve_chain(late.records)
    with pytest.raises(ChainRejected, match="revoked"):
        scene.reconcile()
    assert scene.signed() == []
    # its records from before the revocation still stand
    scene.serve_chain()
    assert scene.reconcile()["counts"]["current"] == 1


def test_a_rollback_to_an_older_head_stops_with_both_heads(scene):
    scene.serve_chain()
    scene.ask(scene.producer_item())
    assert scene.reconcile()["counts"]["current"] == 1  # pins head 4
    signed_before = len(scene.signed())
    scene.serve_chain(scene.chain.records[:3])  # the grant "never happened"
    with pytest.raises(PinMismatch) as caught:
        scene.reconcile()
    err = caught.value
    assert err.kind == "rollback" and err.pinned.seq == 4 and err.found.seq == 3
    assert "seq 4" in err.message and "seq 3" in err.message
    assert len(scene.signed()) == signed_before


def test_a_fork_stops_with_both_heads(scene):
    scene.serve_chain()
    scene.ask(scene.producer_item())
    scene.reconcile()
    signed_before = len(scene.signed())
    forked = scene.chain.copy(3)
    forked.add(scene.admin, "grant_add", {"consumer": endpoint(), "roles": ["tasks.reader"]})
    forked.add(scene.admin, "grant_add", {"consumer": endpoint(), "roles": ["tasks.reader"]})
    scene.serve_chain(forked.records)
    with pytest.raises(PinMismatch) as caught:
        scene.reconcile()
    assert caught.value.kind == "fork" and caught.value.pinned.hash == scene.chain.head
    assert len(scene.signed()) == signed_before
    # the authority-wide chain is pinned too
    scene.serve_chain()
    other = make_admin(scene.root, name="second")
    scene.authority_chain.add(other, "admin_revoke", {"endpoint_id": endpoint(), "reason": "lost laptop"})
    scene.serve_chain()
    scene.reconcile()
    scene.serve_chain(authority_records=[])
    with pytest.raises(PinMismatch, match="rollback"):
        scene.reconcile()


def test_the_command_names_the_refusals_and_exits_1(scene, tmp_path):
    scene.serve_chain()
    scene.ask(scene.producer_item(),
              scene.consumer_item(attributes={"aster.role": "authority.admin", "aster.deployment": DEP}),
              scene.producer_item(endpoint_id=endpoint(), id="svc_evil"))
    env = {"ASTER_AUTHORITY_ADDR": scene.evil.address}
    out = invoke(["svc", DEP, "authority", "reconcile", "--root-key", str(scene.root.key_file), "--json"], env=env)
    assert out.returncode == 1, out.stderr
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("Error: 2 item(s)") and "not backed by a decision" in line and "Hint:" in line
    doc = json.loads(out.stdout)  # --json lists them
    assert [r["reason"].split(":")[0] for r in doc["refused"]] == ["not backed by a decision"] * 2
    assert doc["counts"]["refused"] == 2 and doc["counts"]["current"] == 1
    assert len(scene.signed()) == 1
    # the table says it too
    text = invoke(["svc", DEP, "authority", "reconcile", "--root-key", str(scene.root.key_file)], env=env)
    assert text.returncode == 1 and "refused" in text.stdout and "not backed by a decision" in text.stdout
    # a rollback is one Error line naming both heads
    scene.serve_chain(scene.chain.records[:2])
    out = invoke(["svc", DEP, "authority", "reconcile", "--root-key", str(scene.root.key_file)], env=env)
    assert_clean_error(out, 1, "rollback", "seq 4", "seq 2")


# ── the checkpoint of a deployment made before decision records ────────────────────


def _legacy(scene: Scene) -> tuple[dict, dict[str, list]]:
    """The hostile authority as an upgraded one whose payments has no record: the chain's answer
    carries the state its tables hold; a checkpoint it is sent becomes record 1."""
    from aster_authority.domain.ids import instance_id_for

    state = {"deployment_id": DEP, "kind": "service", "removed": False, "disabled": False, "roles": ["tasks"],
             "namespaces": ["*"], "compatibility": "strict", "review_mode": "none", "desired_digest": DIGEST,
             "desired_services": [["TaskService", 1]],
             "instances": {instance_id_for(scene.producer): {"endpoint_id": scene.producer, "state": "active",
                                                             "disabled": False}},
             "grants": {scene.consumer: ["tasks.reader"]}}
    chains: dict[str, list] = {DEP: [], "@authority": []}

    def chain(request: dict) -> dict:
        records = chains.get(request["deployment_id"], [])
        offset, limit = int(request.get("offset") or 0), int(request.get("limit") or 100)
        page = {"items": records[offset:offset + limit],
                "next_offset": offset + limit if offset + limit < len(records) else None}
        if not records and request["deployment_id"] == DEP:
            page.update(checkpoint_needed=True, state=state)
        return page

    def checkpoint(request: dict) -> dict:
        chains[DEP].append(json.loads(request["record_json"]))
        return {"deployment_id": DEP, "head": {"seq": 1}}

    scene.evil.answer("AuthorityAdmin.chain", chain)
    scene.evil.answer("AuthorityAdmin.checkpoint", checkpoint)
    return state, chains


def test_a_checkpoint_is_shown_confirmed_then_signed_with_the_root_key(scene):
    from aster_authority.domain import decisions

    state, chains = _legacy(scene)
    scene.ask(scene.producer_item(), scene.consumer_item(),
              scene.consumer_item(endpoint_id=endpoint(), id="stranger"))
    env = {"ASTER_AUTHORITY_ADDR": scene.evil.address}
    args = ["svc", DEP, "authority", "reconcile", "--root-key", str(scene.root.key_file)]
    # no terminal, or --json, without --yes: exit 2 naming --yes; nothing signed, no checkpoint sent
    for extra in ([], ["--json"]):
        out = invoke(args + extra, env=env)
        assert_clean_error(out, 2, "checkpoint", "--yes")
    assert scene.evil.requests("AuthorityAdmin.checkpoint") == [] and scene.signed() == []

    out = invoke(args + ["--yes"], env={**env, "COLUMNS": "400"})
    assert out.returncode == 1, out.stderr  # the stranger is refused
    # the whole state was shown before anything was signed
    assert "no signed decision yet" in out.stdout and scene.producer in out.stdout and "tasks.reader" in out.stdout
    [record] = chains[DEP]
    assert record["action"] == "checkpoint" and record["body"] == state
    assert record["signer"] == {"endpoint_id": scene.root.public_hex, "credential": None}
    decisions.verify_chain([record], root_pubkey=scene.root.public_key)  # the root key's own signature
    # then reconcile signed exactly what the checkpoint backs
    assert signed_keys(scene) == {
        ("producer", scene.producer, json.dumps(scene.producer_item()["attributes"], sort_keys=True)),
        ("policy", scene.consumer, json.dumps(scene.consumer_item()["attributes"], sort_keys=True))}
    assert "not backed by a decision" in out.stdout

    # the chain is pinned: an authority that "loses" it again is a rollback, not a new checkpoint
    chains[DEP].clear()
    out = invoke(args + ["--yes"], env=env)
    assert_clean_error(out, 1, "rollback")
    assert len(scene.evil.requests("AuthorityAdmin.checkpoint")) == 1


def test_a_dry_run_never_signs_a_checkpoint(scene):
    _legacy(scene)
    scene.ask(scene.producer_item())
    with Authority.open(scene.evil.address, None) as auth:
        r = signing.reconcile(auth, DEP, dry_run=True)
    assert r["checkpoint_needed"] and r["counts"]["pending"] == 1 and r["counts"]["refused"] == 0
    assert r["items"][0]["action"] == "checkpoint first"
    assert scene.evil.requests("AuthorityAdmin.checkpoint") == [] and scene.signed() == []


# ── provisioning signs only what the decisions back once the registration is decided ──────


def _admin_identity(scene: Scene, tmp_path):
    from tests.support.credentials import write_consumer_identity

    path, _ = write_consumer_identity(scene.root, tmp_path / "admin.identity", name="ops",
                                      attributes={"aster.role": "authority.admin", "aster.name": "ops"})
    return path


@pytest.mark.parametrize("case", ["honest", "extra role", "authority.admin", "another deployment", "longer expiry"])
def test_svc_provision_signs_only_a_backed_producer_credential(scene, tmp_path, case):
    scene.serve_chain()
    attributes = {"aster.deployment": DEP, "aster.contract": DIGEST, "aster.role": "tasks"}
    attributes = {"honest": attributes, "longer expiry": attributes,
                  "extra role": {**attributes, "aster.role": "tasks,ops"},
                  "authority.admin": {**attributes, "aster.role": "authority.admin"},
                  "another deployment": {**attributes, "aster.deployment": "billing"}}[case]
    expires = 4102444800 if case == "longer expiry" else int(time.time()) + 30 * DAY

    def template(request: dict) -> dict:
        from aster_authority.domain.ids import instance_id_for

        return {"instance_id": instance_id_for(request["endpoint_id"]), "endpoint_id": request["endpoint_id"],
                "type": "producer", "attributes": attributes, "expires_at": expires, "desired_version": "v",
                "root_pubkey": scene.root.public_hex}

    scene.evil.answer("AuthorityAdmin.provision_template", template)
    out = invoke(["svc", DEP, "provision", "--out", str(tmp_path / "inst.identity"), "--root-key",
                  str(scene.root.key_file), "--rcan", str(_admin_identity(scene, tmp_path))],
                 env={"ASTER_AUTHORITY_ADDR": scene.evil.address})
    if case in ("honest", "longer expiry"):
        assert out.returncode == 0, out.stderr
        [cred] = scene.signed()
        assert cred["attributes"] == attributes and cred["expires_at"] <= int(time.time()) + 30 * DAY
        assert (tmp_path / "inst.identity").exists()
        return
    line = assert_clean_error(out, 1, "refused: not backed by a decision", "nothing was signed")
    assert "authority log" in line
    assert scene.signed() == [] and scene.evil.requests("AuthorityAdmin.provision") == []
    assert not (tmp_path / "inst.identity").exists()


def test_svc_provision_needs_a_decision_it_may_take(scene, tmp_path):
    """Registration in a deployment the decisions disabled is not a transition the rules allow."""
    scene.chain.add(scene.admin, "disable", {})
    scene.serve_chain()
    scene.evil.answer("AuthorityAdmin.provision_template", lambda r: {
        "instance_id": "svc_x", "endpoint_id": r["endpoint_id"], "type": "producer",
        "attributes": {"aster.deployment": DEP, "aster.contract": DIGEST, "aster.role": "tasks"},
        "expires_at": int(time.time()) + DAY * 30, "root_pubkey": scene.root.public_hex})
    out = invoke(["svc", DEP, "provision", "--out", str(tmp_path / "inst.identity"), "--root-key",
                  str(scene.root.key_file)], env={"ASTER_AUTHORITY_ADDR": scene.evil.address})
    assert_clean_error(out, 1, "disabled", "nothing was signed")
    assert scene.signed() == []


@pytest.mark.parametrize("case", ["extra role", "another type", "no decision record"])
def test_dev_provision_signs_nothing_the_decisions_do_not_back(scene, tmp_path, case):
    devices = Chain("sensors")
    devices.add(scene.admin, "create", {"kind": "device", "roles": ["sensor"], "namespaces": ["*"],
                                        "compatibility": "strict", "review_mode": "none"})
    serve(scene.evil, {"sensors": [] if case == "no decision record" else devices.records, "@authority": []})
    attributes = {"aster.deployment": "sensors", "aster.role": "sensor,admin" if case == "extra role" else "sensor"}
    scene.evil.answer("DeviceAdmin.template", {
        "deployment_id": "sensors", "type": "producer" if case == "another type" else "policy",
        "attributes": attributes, "expires_at": int(time.time()) + 7 * DAY, "root_pubkey": scene.root.public_hex,
        "review_mode": "none", "max_batch": 500})
    out = invoke(["dev", "sensors", "provision", "--name", "hall", "--out", str(tmp_path / "hall.bundle.json"),
                  "--root-key", str(scene.root.key_file), "--rcan", str(_admin_identity(scene, tmp_path))],
                 env={"ASTER_AUTHORITY_ADDR": scene.evil.address})
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "nothing was signed" in out.stderr
    assert scene.signed() == [] and scene.evil.requests("DeviceAdmin.register") == []
    assert not (tmp_path / "hall.bundle.json").exists()


def test_dev_provision_never_signs_another_endpoints_backed_credential(scene, tmp_path):
    """The chain backs "reader" for a consumer it granted; the authority asks to sign exactly that for
    the new device (whose own credential is "sensor,reader"): backed for another endpoint only, refused
    (the endpoint is part of what must match, whichever items provisioning computes)."""
    consumer = "cd" * 32
    devices = Chain("sensors")
    devices.add(scene.admin, "create", {"kind": "device", "roles": ["sensor", "reader"], "namespaces": ["*"],
                                        "compatibility": "strict", "review_mode": "none"})
    devices.add(scene.admin, "grant_add", {"consumer": consumer, "roles": ["reader"]})
    serve(scene.evil, {"sensors": devices.records, "@authority": []})
    scene.evil.answer("DeviceAdmin.template", {
        "deployment_id": "sensors", "type": "policy", "attributes": {"aster.deployment": "sensors",
                                                                     "aster.role": "reader"},
        "expires_at": int(time.time()) + 7 * DAY, "root_pubkey": scene.root.public_hex,
        "review_mode": "none", "max_batch": 500})
    out = invoke(["dev", "sensors", "provision", "--name", "hall", "--out", str(tmp_path / "hall.bundle.json"),
                  "--root-key", str(scene.root.key_file), "--rcan", str(_admin_identity(scene, tmp_path))],
                 env={"ASTER_AUTHORITY_ADDR": scene.evil.address})
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "nothing was signed" in out.stderr and "sensor,reader" in out.stderr, out.stderr
    assert scene.signed() == [] and scene.evil.requests("DeviceAdmin.register") == []
    assert not (tmp_path / "hall.bundle.json").exists()


def test_a_revoked_device_is_never_signed_again(scene):
    """Device deployments replay the same way: a device the decisions revoked stays unsigned
    whatever the authority lists."""
    from aster_authority.domain.ids import instance_id_for

    kept, revoked = endpoint(), endpoint()
    devices = Chain("sensors")
    devices.add(scene.admin, "create", {"kind": "device", "roles": ["sensor"], "namespaces": ["*"],
                                        "compatibility": "strict", "review_mode": "none"})
    devices.add(scene.admin, "device_register", {"endpoints": [kept, revoked]})
    devices.add(scene.admin, "revoke", {"instance_id": instance_id_for(revoked, "device")})
    serve(scene.evil, {"sensors": devices.records, "@authority": []})
    attributes = {"aster.deployment": "sensors", "aster.role": "sensor"}
    scene.evil.answer("AuthorityAdmin.desired", {"deployment_id": "sensors", "desired_version": "v",
                                                 "root_pubkey": scene.root.public_hex, "items": [
        {"subject": "device", "id": instance_id_for(e, "device"), "endpoint_id": e, "type": "policy",
         "attributes": attributes, "expires_at": int(time.time()) + 7 * DAY, "status": "missing", "reason": ""}
        for e in (kept, revoked)]})
    with Authority.open(scene.evil.address, None) as auth:
        r = signing.reconcile(auth, "sensors", kind="device", root_key_file=str(scene.root.key_file))
    assert r["counts"]["current"] == 1 and [x["endpoint_id"] for x in r["refused"]] == [revoked]
    assert [c["endpoint_id"] for c in scene.signed()] == [kept]


def test_chain_pages_that_go_round_in_circles_sign_nothing(scene):
    scene.evil.answer("AuthorityAdmin.chain", lambda request: {"items": scene.chain.records[:1], "next_offset": 0})
    scene.ask(scene.producer_item())
    with pytest.raises(ChainRejected, match="do not follow each other"):
        scene.reconcile()
    assert scene.signed() == [] and len(scene.evil.requests("AuthorityAdmin.chain")) == 1


def test_a_checkpoint_state_granting_an_authority_role_is_never_signed(scene):
    state, chains = _legacy(scene)
    state["grants"][scene.consumer] = ["authority.admin"]
    scene.ask(scene.consumer_item(attributes={"aster.role": "authority.admin", "aster.deployment": DEP}))
    out = invoke(["svc", DEP, "authority", "reconcile", "--root-key", str(scene.root.key_file), "--yes"],
                 env={"ASTER_AUTHORITY_ADDR": scene.evil.address})
    assert_clean_error(out, 1, "not one a checkpoint can hold", "reserved")
    assert chains[DEP] == [] and scene.evil.requests("AuthorityAdmin.checkpoint") == [] and scene.signed() == []
