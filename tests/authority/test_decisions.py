"""Decision records (pure): the record, its signature and hash chain, every refusal of
verify_record/verify_chain by name, and the replay state machine action by action, fed into the
credential policy exactly as the server feeds it."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import pytest

from aster_authority.domain import credentials as policy
from aster_authority.domain import decisions as d
from aster_authority.domain.ids import DEVICE, SERVICE, instance_id_for
from aster_authority.domain.plans import Deployment
from aster_authority.domain.replay import ChainRefusal
from aster_trust.credentials import sign
from aster_trust.keys import root_key_from_seed

NOW = 1_800_000_000
ROOT = root_key_from_seed(os.urandom(32))
OTHER_ROOT = root_key_from_seed(os.urandom(32))
DIGEST_A, DIGEST_B, DIGEST_C = ("blake3:" + c * 64 for c in "abc")


@dataclass
class Signer:
    seed: bytes
    endpoint: str
    credential: dict | None


def signer(role: str = "authority.admin", *, bound: bool = True, expires: int = NOW + 86400, root=ROOT,
           bind_to: str | None = None, name: str = "ops") -> Signer:
    seed = os.urandom(32)
    endpoint = root_key_from_seed(seed).public_hex
    cred = sign(root, "policy", expires_at=expires, attributes={"aster.role": role, "aster.name": name},
                endpoint_id=(bind_to or endpoint) if bound else None)
    return Signer(seed, endpoint, cred.to_dict())


ADMIN = signer()


def node() -> str:
    return os.urandom(32).hex()


class Chain:
    """Records of one chain, signed as the CLI signs them."""

    def __init__(self, deployment_id: str = "payments"):
        self.deployment_id = deployment_id
        self.records: list[dict] = []
        self.at = NOW

    def add(self, action: str, body: dict | None = None, who: Signer = ADMIN, at: int | None = None) -> dict:
        self.at = self.at + 1 if at is None else at
        prev = d.record_hash(self.records[-1]) if self.records else d.GENESIS
        record = d.make_record(self.deployment_id, len(self.records) + 1, prev, action, body or {}, self.at,
                               who.endpoint, who.credential)
        self.records.append(d.sign_record(record, who.seed))
        return self.records[-1]

    def state(self) -> d.State:
        d.verify_chain(self.records, root_pubkey=ROOT.public_key)
        return d.replay(self.records)


def create(chain: Chain, kind: str = SERVICE, roles=("tasks",), compatibility="strict", review_mode="none") -> None:
    chain.add("create", {"kind": kind, "roles": list(roles), "namespaces": ["Task*"], "compatibility": compatibility,
                         "review_mode": review_mode})


def accept(chain: Chain, digest: str = DIGEST_A, services=(("TaskService", 1),)) -> None:
    chain.add("accept", {"plan_id": "P" * 26, "classification": "update", "digest": digest,
                         "services": [list(s) for s in services]})


def refused(code: str, records, **kw) -> ChainRefusal:
    with pytest.raises(ChainRefusal) as info:
        d.verify_chain(records, root_pubkey=ROOT.public_key, **kw)
    assert info.value.code == code, (code, info.value.message)
    return info.value


# ── the record ──────────────────────────────────────────────────────────────────


def test_a_record_is_canonical_signed_and_chained():
    c = Chain()
    create(c)
    accept(c)
    first, second = c.records
    assert set(first) == d.FIELDS and first["seq"] == 1 and first["prev"] == d.GENESIS
    assert second["prev"] == d.record_hash(first) and len(second["prev"]) == 64
    assert first["signer"] == {"endpoint_id": ADMIN.endpoint, "credential": ADMIN.credential}
    # the signature covers the canonical bytes without it; the hash covers the signature too
    assert json.loads(d.signing_bytes(first)) == {k: v for k, v in first.items() if k != "signature"}
    assert d.record_hash(first) != d.record_hash({**first, "signature": "0" * 128})
    head = d.verify_chain(c.records, root_pubkey=ROOT.public_key)
    assert head == d.Head(2, d.record_hash(second), second["decided_at"])
    # verifying from a pinned head: only what follows it
    assert d.verify_chain(c.records[1:], root_pubkey=ROOT.public_key,
                          after=d.Head(1, d.record_hash(first), first["decided_at"])) == head
    checked = d.verify_record(first, root_pubkey=ROOT.public_key, expected_prev=d.GENESIS, expected_seq=1)
    assert checked.signer == ADMIN.endpoint and checked.signer_name == "ops" and "authority.admin" in checked.roles


def test_signing_with_a_key_that_is_not_the_signers_is_refused():
    other = signer()
    record = d.make_record("payments", 1, d.GENESIS, "disable", {}, NOW, ADMIN.endpoint, ADMIN.credential)
    with pytest.raises(ChainRefusal) as info:
        d.sign_record(record, other.seed)
    assert info.value.code == "signature"


# ── links ───────────────────────────────────────────────────────────────────────


def _three() -> Chain:
    c = Chain()
    create(c)
    accept(c)
    c.add("disable")
    return c


def test_bad_links_are_refused_by_name():
    c = _three()
    r1, r2, r3 = c.records
    assert "truncated" in refused("seq", [r2, r3]).hint                # the first record missing
    refused("seq", [r1, r3])                                           # a record dropped
    refused("seq", [r1, r3, r2])                                       # reordered
    refused("link", [r1, {**r2, "prev": "1" * 64}])                   # prev edited (signature would fail next)
    fork = Chain()
    fork.records = [r1]
    fork.at = r1["decided_at"]
    fork.add("enable")                                                 # another record 2 after the same record 1
    refused("link", [r1, r2, {**fork.records[1], "seq": 3}])
    # a record of another deployment spliced in
    other = Chain("billing")
    create(other)
    assert refused("link", [r1, {**other.records[0], "seq": 2, "prev": d.record_hash(r1)}]).code == "link"
    refused("link", other.records, deployment_id="payments")         # the chain of another deployment


def test_time_never_goes_back_along_a_chain():
    c = Chain()
    create(c)
    c.add("disable", at=NOW - 100)
    refused("time", c.records)


def test_shape_and_actions():
    c = _three()
    r1 = c.records[0]
    refused("shape", [{**r1, "extra": 1}])
    refused("shape", [{k: v for k, v in r1.items() if k != "signer"}])
    refused("shape", [{**r1, "seq": True}])
    refused("shape", [{**r1, "decided_at": 1.5}])
    refused("shape", [{**r1, "deployment_id": "Bad Id"}])
    refused("action", [{**r1, "action": "mint"}])
    refused("action", [{**r1, "action": "admin_revoke"}])              # only on the authority-wide chain
    a = Chain(d.AUTHORITY_CHAIN)
    a.add("create", {})
    refused("action", a.records)


# ── signatures, roles, bindings, expiry, revocation ─────────────────────────────


def test_a_tampered_record_or_a_forged_signature_is_refused():
    c = _three()
    r1 = c.records[0]
    refused("signature", [{**r1, "body": {**r1["body"], "roles": ["tasks", "admin"]}}])
    refused("signature", [{**r1, "signature": "ab" * 64}])
    impostor = signer()
    forged = d.sign_record({**r1, "signer": {"endpoint_id": impostor.endpoint, "credential": ADMIN.credential}},
                           impostor.seed)  # ADMIN's credential, another node's key
    refused("binding", [forged])


def test_only_admins_decide_and_reviewers_only_reviews():
    for who, code in [(signer("tasks"), "role"), (signer("authority.review"), "role"),
                      (signer("authority.adminx,consumer"), "role")]:
        c = Chain()
        create(c, DEVICE)
        c.records.clear()
        c.add("create", c_body(DEVICE), who=who)
        refused(code, c.records)
    c = Chain()
    create(c, DEVICE)
    reviewer = signer("authority.review")
    c.add("review_approve", {"review_id": "R" * 26}, who=reviewer)
    c.add("review_reject", {"review_id": "S" * 26, "reason": "unknown site"}, who=reviewer)
    d.verify_chain(c.records, root_pubkey=ROOT.public_key)
    c.add("revoke", {"instance_id": "dev_x"}, who=reviewer)
    refused("role", c.records)


def c_body(kind: str) -> dict:
    return {"kind": kind, "roles": ["t"], "namespaces": ["*"], "compatibility": "strict", "review_mode": "none"}


def test_unbound_foreign_expired_credentials_are_refused():
    cases = [(signer(bound=False), "unbound"), (signer(bind_to=node()), "binding"),
             (signer(expires=NOW - 1), "expired"), (signer(root=OTHER_ROOT), "root")]
    for who, code in cases:
        c = Chain()
        c.add("create", c_body(SERVICE), who=who, at=NOW)
        err = refused(code, c.records)
        assert err.seq == 1 and "decision record 1" in err.message
    # expiry is judged at decided_at: a credential valid then stays valid in the chain
    short = signer(expires=NOW + 10)
    c = Chain()
    c.add("create", c_body(SERVICE), who=short, at=NOW + 9)
    d.verify_chain(c.records, root_pubkey=ROOT.public_key)
    c.add("disable", who=short, at=NOW + 10)
    refused("expired", c.records)


def test_a_credential_whose_signature_was_edited_is_refused():
    who = signer()
    who.credential = {**who.credential, "attributes": {"aster.role": "authority.admin", "aster.name": "root"}}
    c = Chain()
    c.add("create", c_body(SERVICE), who=who)
    refused("root", c.records)


def test_a_revoked_signer_decides_nothing_from_its_revocation_on():
    rogue = signer(name="rogue")
    auth = Chain(d.AUTHORITY_CHAIN)
    auth.add("admin_revoke", {"endpoint_id": rogue.endpoint, "reason": "left the team"}, at=NOW + 50)
    d.verify_chain(auth.records, root_pubkey=ROOT.public_key)
    revoked = d.replay(auth.records).revoked_signers
    assert revoked == {rogue.endpoint: {"revoked_at": NOW + 50, "reason": "left the team"}}
    c = Chain()
    c.add("create", c_body(SERVICE), who=rogue, at=NOW + 10)          # before: still valid
    d.verify_chain(c.records, root_pubkey=ROOT.public_key, revoked=revoked)
    c.add("disable", who=rogue, at=NOW + 50)                           # the same second: not ordered, kept
    d.verify_chain(c.records, root_pubkey=ROOT.public_key, revoked=revoked)
    c.add("enable", who=rogue, at=NOW + 51)                            # after the revocation: refused
    err = refused("revoked", c.records, revoked=revoked)
    assert "left the team" in err.message and err.seq == 3
    # on the authority-wide chain itself: a revoked admin cannot revoke anyone afterwards
    auth.add("admin_revoke", {"endpoint_id": ADMIN.endpoint, "reason": "revenge"}, who=rogue, at=NOW + 60)
    refused("revoked", auth.records)


# ── checkpoints ─────────────────────────────────────────────────────────────────


def _state_with_everything() -> d.State:
    c = Chain()
    create(c)
    accept(c)
    c.add("instance_register", {"endpoint_id": node()})
    c.add("grant_add", {"consumer": node(), "roles": ["reader", "writer"]})
    return c.state()


def test_a_root_signed_checkpoint_starts_a_chain():
    state = _state_with_everything()
    record = d.sign_record(d.make_checkpoint(state, NOW, ROOT.public_hex), ROOT.seed)
    assert record["signer"] == {"endpoint_id": ROOT.public_hex, "credential": None}
    c = Chain()
    c.records = [record]
    c.at = NOW
    c.add("disable")
    head = d.verify_chain(c.records, root_pubkey=ROOT.public_key)
    assert head.seq == 2
    replayed = d.replay(c.records)
    assert {**replayed.as_dict(), "disabled": False} == state.as_dict() and replayed.disabled
    # an admin cannot sign one, another root cannot, and it is never a later record
    admin_signed = d.sign_record({**d.make_checkpoint(state, NOW, ADMIN.endpoint)}, ADMIN.seed)
    refused("root", [admin_signed])
    refused("root", [d.sign_record(d.make_checkpoint(state, NOW, OTHER_ROOT.public_hex), OTHER_ROOT.seed)])
    later = Chain()
    create(later)
    prev = d.record_hash(later.records[0])
    late = d.sign_record({**d.make_checkpoint(state, NOW + 5, ROOT.public_hex), "seq": 2, "prev": prev}, ROOT.seed)
    d.verify_chain(later.records + [late], root_pubkey=ROOT.public_key)  # the signature holds ...
    with pytest.raises(ChainRefusal) as info:                           # ... but the state machine refuses it
        d.replay(later.records + [late])
    assert info.value.code == "transition"
    with pytest.raises(ChainRefusal) as info:
        d.replay([d.sign_record(d.make_checkpoint(d.State("billing", kind=SERVICE), NOW, ROOT.public_hex),
                                ROOT.seed) | {"deployment_id": "payments"}])
    assert info.value.code == "body"


# ── the state machine, transition by transition ──────────────────────────────────


def test_create_then_each_service_transition():
    c = Chain()
    create(c, compatibility="mutable-dev")
    s = d.replay(c.records)
    assert (s.kind, s.roles, s.namespaces, s.compatibility, s.exists) == (SERVICE, ("tasks",), ("Task*",),
                                                                          "mutable-dev", True)
    assert s.desired_items(NOW, policy.Policy()) == []
    # the first contract is never auto-accepted
    c.add("apply", {"digest": DIGEST_A, "services": [["TaskService", 1]]})
    assert d.replay(c.records).desired_digest == ""
    accept(c, DIGEST_A)
    assert d.replay(c.records).desired_digest == DIGEST_A
    # mutable-dev, same service versions: accepted at once; other versions: a plan to review
    c.add("apply", {"digest": DIGEST_B, "services": [["TaskService", 1]]})
    assert d.replay(c.records).desired_digest == DIGEST_B
    c.add("apply", {"digest": DIGEST_C, "services": [["TaskService", 2]]})
    assert d.replay(c.records).desired_digest == DIGEST_B
    c.add("reject", {"plan_id": "P" * 26, "reason": "not now"})
    assert d.replay(c.records).desired_digest == DIGEST_B
    endpoint = node()
    c.add("instance_register", {"endpoint_id": endpoint})
    iid = instance_id_for(endpoint, SERVICE)
    assert d.replay(c.records).instances[iid].as_dict() == {"endpoint_id": endpoint, "state": "active",
                                                             "disabled": False}
    c.add("disable")
    assert d.replay(c.records).disabled
    c.add("enable")
    assert not d.replay(c.records).disabled
    consumer = node()
    c.add("grant_add", {"consumer": consumer, "roles": ["reader", "admin"]})
    assert d.replay(c.records).grants == {consumer: ("admin", "reader")}
    c.add("grant_remove", {"consumer": consumer, "roles": ["admin"]})
    assert d.replay(c.records).grants == {consumer: ("reader",)}
    s = c.state()
    items = s.desired_items(NOW, policy.Policy())
    dep = Deployment("payments", SERVICE, "v", 0, 0, roles=("tasks",), desired_digest=DIGEST_B)
    assert items == policy.desired_items(dep, [(iid, endpoint)], [(consumer, "reader")], NOW, policy.Policy())
    assert [i["type"] for i in items] == ["producer", "policy"]
    assert items[0]["attributes"]["aster.contract"] == DIGEST_B
    c.add("grant_remove", {"consumer": consumer, "roles": ["reader"]})
    assert d.replay(c.records).grants == {}


def test_strict_deployments_never_auto_accept():
    c = Chain()
    create(c)
    accept(c)
    c.add("apply", {"digest": DIGEST_B, "services": [["TaskService", 1]]})
    assert d.replay(c.records).desired_digest == DIGEST_A


def test_device_transitions_and_idempotent_registration():
    c = Chain("sensors")
    create(c, DEVICE, roles=("telemetry",), review_mode="required")
    e1, e2 = node(), node()
    c.add("device_register", {"endpoints": [e1, e2]})
    c.add("device_register", {"endpoints": [e1]})                      # the same device again: unchanged
    s = c.state()
    assert {i.state for i in s.instances.values()} == {"registered"} and len(s.instances) == 2
    c.add("review_approve", {"review_id": "R" * 26})
    c.add("revoke", {"instance_id": instance_id_for(e1, DEVICE)})
    s = c.state()
    assert s.instances[instance_id_for(e1, DEVICE)].state == "revoked"
    items = s.desired_items(NOW, policy.Policy())
    assert [(i["subject"], i["endpoint_id"], i["attributes"]) for i in items] == [
        ("device", e2, {"aster.deployment": "sensors", "aster.role": "telemetry"})]


def test_remove_needs_cascade_and_ends_every_credential():
    c = Chain()
    create(c)
    accept(c)
    c.add("instance_register", {"endpoint_id": node()})
    c.add("remove", {"cascade": False, "purge": False})
    with pytest.raises(ChainRefusal) as info:
        c.state()
    assert info.value.code == "transition"
    c.records.pop()
    c.add("grant_add", {"consumer": node(), "roles": ["r"]})
    c.add("remove", {"cascade": True, "purge": False})
    s = c.state()
    assert s.removed and not s.exists and s.grants == {} and s.desired_items(NOW, policy.Policy()) == []
    assert all(i.state == "revoked" and i.disabled for i in s.instances.values())
    # every later decision but create is refused; create starts the deployment again
    c.add("disable")
    with pytest.raises(ChainRefusal):
        c.state()
    c.records.pop()
    create(c, roles=("new",))
    s = c.state()
    assert s.exists and s.roles == ("new",) and s.desired_digest == ""


@pytest.mark.parametrize("action,body", [
    ("accept", {"plan_id": "P", "classification": "update", "digest": "sha256:x", "services": [["S", 1]]}),
    ("apply", {"digest": DIGEST_A, "services": [["S", "1"]]}),
    ("apply", {"digest": DIGEST_A}),
    ("grant_add", {"consumer": "not-hex", "roles": ["r"]}),
    ("grant_add", {"consumer": "ab" * 32, "roles": []}),
    ("grant_add", {"consumer": "ab" * 32, "roles": ["authority.admin"]}),
    ("grant_add", {"consumer": "ab" * 32, "roles": ["Authority.Review"]}),
    ("instance_register", {"endpoint_id": "AB" * 32}),
    ("remove", {"cascade": "yes", "purge": False}),
    ("disable", {"why": 1}),
])
def test_bad_bodies_are_refused(action, body):
    c = Chain()
    create(c)
    accept(c)
    c.add(action, body)
    with pytest.raises(ChainRefusal) as info:
        c.state()
    assert info.value.code == "body", info.value.message


@pytest.mark.parametrize("records", [
    lambda c: c.add("disable"),                                         # before create
    lambda c: (create(c), create(c)),                                  # created twice
    lambda c: (create(c), c.add("instance_register", {"endpoint_id": "ab" * 32})),   # no contract yet
    lambda c: (create(c), c.add("device_register", {"endpoints": ["ab" * 32]})),     # not a device deployment
    lambda c: (create(c), c.add("review_approve", {"review_id": "R"})),
    lambda c: (create(c), accept(c), c.add("disable"), c.add("apply", {"digest": DIGEST_B,
                                                                        "services": [["TaskService", 1]]})),
    lambda c: (create(c, DEVICE), c.add("revoke", {"instance_id": "dev_unknown"})),
])
def test_transitions_the_authority_never_stores_are_refused(records):
    c = Chain()
    records(c)
    with pytest.raises(ChainRefusal) as info:
        c.state()
    assert info.value.code == "transition", info.value.message


def test_reserved_roles_are_refused_as_deployment_roles():
    c = Chain()
    c.add("create", {**c_body(SERVICE), "roles": ["tasks", "authority.admin"]})
    with pytest.raises(ChainRefusal) as info:
        c.state()
    assert info.value.code == "body" and "reserved" in info.value.message


def test_state_round_trips_through_its_json():
    state = _state_with_everything()
    assert d.state_from_dict(state.as_dict()).as_dict() == state.as_dict()
    bad = state.as_dict()
    bad["instances"] = {"svc_wrong": next(iter(bad["instances"].values()))}
    with pytest.raises(ChainRefusal):
        d.state_from_dict(bad)


def test_a_copy_of_the_state_shares_nothing_a_step_changes():
    """State.copy (what replay from a state and provisioning's one step further start from) is
    deepcopy's result: stepping the copy leaves the original as it was."""
    import copy
    from dataclasses import fields

    # copy() copies the mutable fields by hand: a new field must be looked at there (and here)
    assert {f.name: f.type for f in fields(d.State) if f.type.startswith(("dict", "list", "set"))} == {
        "instances": "dict[str, Instance]", "grants": "dict[str, tuple[str, ...]]",
        "revoked_signers": "dict[str, dict[str, Any]]"}
    c = Chain("sensors")
    create(c, DEVICE, roles=("telemetry",))
    e1, e2 = node(), node()
    c.add("device_register", {"endpoints": [e1, e2]})
    c.add("grant_add", {"consumer": e2, "roles": ["telemetry"]})
    s = c.state()
    s.revoked_signers["x" * 64] = {"revoked_at": 1, "reason": "r"}
    before = s.as_dict()
    mine = s.copy()
    assert mine.as_dict() == copy.deepcopy(s).as_dict() == before and mine.revoked_signers == s.revoked_signers
    revoke = {"deployment_id": "sensors", "seq": 4, "action": "revoke", "decided_at": NOW,
              "body": {"instance_id": instance_id_for(e1, DEVICE)}}
    replayed = d.replay([revoke], mine)  # replay from a state works on its own copy
    assert replayed.instances[instance_id_for(e1, DEVICE)].state == "revoked"
    assert mine.as_dict() == before
    from aster_authority.domain.replay import step

    step(mine, revoke)
    mine.grants.clear()
    mine.revoked_signers["x" * 64]["reason"] = "changed"
    assert s.as_dict() == before and s.revoked_signers["x" * 64]["reason"] == "r"
    assert mine.instances[instance_id_for(e1, DEVICE)].state == "revoked"


def test_one_endpoints_items_are_the_whole_list_filtered():
    c = Chain("sensors")
    create(c, DEVICE, roles=("telemetry",))
    devices = [node() for _ in range(5)]
    c.add("device_register", {"endpoints": devices})
    c.add("grant_add", {"consumer": devices[1], "roles": ["telemetry"]})   # a device and a grantee at once
    c.add("grant_add", {"consumer": node(), "roles": ["telemetry"]})
    s = c.state()
    whole = s.desired_items(NOW, policy.Policy())
    for endpoint in [*devices, node()]:
        assert s.desired_items(NOW, policy.Policy(), endpoint=endpoint) == [
            i for i in whole if i["endpoint_id"] == endpoint]
    assert len(s.desired_items(NOW, policy.Policy(), endpoint=devices[1])) == 2
