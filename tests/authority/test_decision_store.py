"""Decision records in the authority's store, in-process on SQLite and PostgreSQL: every change is
stored only with its record, a record that does not verify (or is not the caller's, not this
request's, not next in the chain, too far from the clock, by a revoked signer) is refused with
nothing stored, and replaying the stored chain gives exactly the state and the desired
credentials the tables hold (one state machine)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from aster_authority.domain import decisions, plans
from aster_authority.domain.errors import Refusal
from aster_authority.server import tables
from aster_authority.server.devices import DeviceStore
from aster_authority.server.store import Store

from tests.support.authority import Signed, make_admin, root_checkpoint

CONSUMER = "cd" * 32


@pytest.fixture
def world(database_url, manifests):
    from aster_trust.keys import generate_root_key

    root = generate_root_key()
    store = Store.open(database_url, root.public_key)
    signed = Signed(store, make_admin(root))
    yield store, signed, root, manifests
    store.close()


def everything(store) -> dict:
    """Every row of the tables a decision changes."""
    with store.engine.connect() as conn:
        return {t.name: sorted(tuple(map(str, r)) for r in conn.execute(sa.select(t)))
                for t in (tables.deployments, tables.plan_rows, tables.instances, tables.grants, tables.records,
                          tables.revocations, tables.credentials)}


def chain(store, chain_id: str) -> list[dict]:
    return store.chain(chain_id, limit=500)["items"]


def deploy(signed: Signed, manifests, dep: str = "tasks", **kw) -> None:
    signed.create(plans.SERVICE, dep, roles=["tasks"], **kw)
    plan = signed.apply(plans.SERVICE, dep, manifests["v1"])["plan"]["plan_id"]
    signed.accept(plans.SERVICE, dep, plan, plans.UPDATE)


def test_replaying_the_chain_gives_the_tables_state_and_desired_credentials(world):
    from aster_enroll.identity import NodeKey
    from aster_trust import credentials

    store, signed, root, manifests = world
    deploy(signed, manifests, compatibility="mutable-dev")
    node = NodeKey.generate()
    tpl = store.provision_template(plans.SERVICE, "tasks", node.endpoint_id)
    cred = credentials.sign(root, "producer", expires_at=tpl["expires_at"], attributes=tpl["attributes"],
                            endpoint_id=node.endpoint_id)
    signed.provision(plans.SERVICE, "tasks", node.endpoint_id, cred.to_dict())
    signed.grant("tasks", CONSUMER, ["reader", "writer"], add=True)
    signed.grant("tasks", CONSUMER, ["writer"], add=False)
    auto = signed.apply(plans.SERVICE, "tasks", manifests["update"])   # same service versions: accepted at once
    assert auto["auto_accepted"]
    signed.set_disabled(plans.SERVICE, "tasks", True)
    signed.set_disabled(plans.SERVICE, "tasks", False)

    records = chain(store, "tasks")
    assert [r["action"] for r in records] == ["create", "apply", "accept", "instance_register", "grant_add",
                                              "grant_remove", "apply", "disable", "enable"]
    head = decisions.verify_chain(records, root_pubkey=root.public_key)
    assert store.chain_head("tasks")["head"] == {"seq": head.seq, "hash": head.hash, "decided_at": head.decided_at}
    replayed = decisions.replay(records)
    assert replayed.as_dict() == store.read(lambda conn: store.state_of(conn, "tasks")).as_dict()
    now = store.now()
    served = [{k: v for k, v in i.items() if k not in ("status", "reason", "current_expires_at")}
              for i in store.desired(plans.SERVICE, "tasks")["items"]]
    assert replayed.desired_items(now, store.policy) == served
    assert [i["attributes"].get("aster.role") for i in served] == ["tasks", "reader"]

    # devices: registration (idempotent), revocation, reviews; the same equality
    ds = DeviceStore(store)
    signed.create(plans.DEVICE, "meters", roles=["meter"], review_mode="required")
    from aster_authority.domain import devices

    keys = [devices.generate() for _ in range(2)]
    tpl = ds.template("meters")
    docs = [{"endpoint_id": k.endpoint_id, "activation_key": devices.b64url(k.activation_key), "metadata": {},
             "credential": credentials.sign(root, "policy", expires_at=tpl["expires_at"],
                                            attributes=tpl["attributes"], endpoint_id=k.endpoint_id).to_dict()}
            for k in keys]
    signed.register(ds, "meters", docs)
    signed.register(ds, "meters", docs[:1])                                # "already": the same device again
    signed.revoke(ds, "meters", ds.instance_list("meters")["items"][0]["instance_id"])
    records = chain(store, "meters")
    decisions.verify_chain(records, root_pubkey=root.public_key)
    assert decisions.replay(records).as_dict() == store.read(lambda conn: store.state_of(conn, "meters")).as_dict()


def test_every_decision_needs_its_record_and_a_bad_one_stores_nothing(world):
    store, signed, root, manifests = world
    admin = signed.admin
    deploy(signed, manifests)
    before = everything(store)

    def refused(code: str, call) -> Refusal:
        with pytest.raises(Refusal) as info:
            call()
        assert info.value.code == code, (code, info.value.message)
        assert everything(store) == before
        return info.value

    body = {"consumer": CONSUMER, "roles": ["reader"]}
    grant = lambda record, actor=admin.actor, roles=("reader",): store.grant(  # noqa: E731
        "tasks", CONSUMER, list(roles), add=True, actor=actor, record=record)
    refused("no_record", lambda: grant(None))
    # signed by this admin but sent by another node
    other = make_admin(root, name="other")
    refused("binding", lambda: grant(admin.record(store, "tasks", "grant_add", body), actor=other.actor))
    # a record of another request, of another action, of another deployment
    refused("body", lambda: grant(admin.record(store, "tasks", "grant_add", {**body, "roles": ["admin"]})))
    refused("body", lambda: grant(admin.record(store, "tasks", "grant_remove", body)))
    rec = admin.record(store, "tasks", "grant_add", body)
    refused("link", lambda: grant({**rec, "deployment_id": "other"}))
    # edited after signing, signed by a key that is not the signer's, too far from the clock
    refused("signature", lambda: grant({**rec, "decided_at": rec["decided_at"] + 1}))
    refused("time", lambda: grant(admin.record(store, "tasks", "grant_add", body, at=store.now() + 3600)))
    # not next in the chain: an older head (another decision got there first)
    stale = admin.record(store, "tasks", "grant_add", body)
    signed.set_disabled(plans.SERVICE, "tasks", False)  # a no-op change, but a decision: the head moves
    before = everything(store)
    err = refused("chain_moved", lambda: grant(stale))
    assert err.message.startswith("decision chain moved")
    # a reviewer, a consumer, an unbound admin: not admins of this chain
    for who, code in ((make_admin(root, role="authority.review"), "role"), (make_admin(root, role="tasks"), "role"),
                      (make_admin(root, bound=False), "unbound")):
        refused(code, lambda: grant(who.record(store, "tasks", "grant_add", body), actor=who.actor))
    # a record by another mesh's admin
    from aster_trust.keys import generate_root_key

    foreign = make_admin(generate_root_key())
    refused("root", lambda: grant(foreign.record(store, "tasks", "grant_add", body), actor=foreign.actor))
    assert grant(admin.record(store, "tasks", "grant_add", body))["changed"] == ["reader"]


def test_reserved_roles_are_refused_with_nothing_stored(world):
    store, signed, root, manifests = world
    with pytest.raises(Refusal) as info:
        signed.create(plans.SERVICE, "evil", roles=["tasks", "authority.admin"])
    assert info.value.field == "roles" and "reserved" in info.value.message
    deploy(signed, manifests)
    before = everything(store)
    for role in ("authority.admin", "authority.review", "Authority.Anything"):
        with pytest.raises(Refusal) as info:
            signed.grant("tasks", CONSUMER, [role], add=True)
        assert "reserved" in info.value.message
    assert everything(store) == before


def test_a_revoked_admin_is_refused_at_once_and_listed(world):
    store, signed, root, manifests = world
    deploy(signed, manifests)
    rogue = make_admin(root, name="rogue")
    rogue_signed = Signed(store, rogue)
    rogue_signed.grant("tasks", CONSUMER, ["reader"], add=True)
    rec = signed.admin.record(store, decisions.AUTHORITY_CHAIN, "admin_revoke",
                              {"endpoint_id": rogue.endpoint_id, "reason": "left the team"})
    assert store.revoke_signer(rogue.endpoint_id, "left the team", rec, actor=signed.admin.actor)["revoked"]
    with pytest.raises(Refusal) as info:                     # its next decision
        rogue_signed.grant("tasks", CONSUMER, ["writer"], add=True)
    assert info.value.code == "revoked" and "left the team" in info.value.message
    from aster_trust.credentials import credential_from_dict

    with pytest.raises(Refusal) as info:                     # and any admin method at all
        store.admit(rogue.actor, ["authority.admin"], credential_from_dict(rogue.credential))
    assert info.value.code == "revoked"
    listed = {a["endpoint_id"]: a for a in store.signer_list()["items"]}
    assert listed[rogue.endpoint_id]["revoked_at"] == rec["decided_at"]
    assert listed[rogue.endpoint_id]["reason"] == "left the team" and listed[rogue.endpoint_id]["name"] == "rogue"
    assert listed[signed.admin.endpoint_id]["revoked_at"] is None
    assert listed[signed.admin.endpoint_id]["roles"] == ["authority.admin"]
    # the authority-wide chain holds the revocation, and replaying it says so
    records = chain(store, decisions.AUTHORITY_CHAIN)
    decisions.verify_chain(records, root_pubkey=root.public_key)
    assert rogue.endpoint_id in decisions.replay(records).revoked_signers
    # the rogue's records decided before the revocation stay valid in the deployment's chain
    decisions.verify_chain(chain(store, "tasks"), root_pubkey=root.public_key,
                           revoked=decisions.replay(records).revoked_signers)


def test_admission_refuses_unbound_or_foreign_credentials(world):
    from aster_trust.credentials import credential_from_dict

    store, signed, root, _ = world
    admin = signed.admin
    unbound = make_admin(root, bound=False)
    for who, shown, needle in ((admin, None, "not bound to the calling node"),
                               (unbound, unbound.credential, "bound to no endpoint"),
                               (make_admin(root), admin.credential, "not valid for the calling node")):
        with pytest.raises(Refusal) as info:
            store.admit(who.actor, ["authority.admin"], credential_from_dict(shown) if shown else None)
        assert info.value.code == "unbound" and needle in info.value.message
        assert "aster enroll node" in (info.value.hint or "") or "--rcan" in (info.value.hint or "")
    # admitted as an admin (say with an unbound credential) while showing a bound non-admin one
    consumer = make_admin(root, role="tasks")
    with pytest.raises(Refusal) as info:
        store.admit(consumer.actor, ["authority.admin"], credential_from_dict(consumer.credential))
    assert info.value.code == "unbound" and "does not hold authority.admin" in info.value.message
    store.admit(admin.actor, ["authority.admin"], credential_from_dict(admin.credential))
    assert [a["endpoint_id"] for a in store.signer_list()["items"]] == [admin.endpoint_id]


def test_a_deployment_made_before_records_starts_with_a_root_checkpoint(world):
    store, signed, root, manifests = world
    deploy(signed, manifests)
    with store.engine.begin() as conn:  # as if made before decision records: no chain
        conn.execute(sa.delete(tables.records))
    with pytest.raises(Refusal) as info:
        signed.grant("tasks", CONSUMER, ["reader"], add=True)
    assert info.value.code == "checkpoint_needed"
    head = store.chain_head("tasks")
    assert head["checkpoint_needed"] and head["state"]["desired_digest"].startswith("blake3:")
    # a checkpoint of another state, or signed by an admin, is refused
    from tests.support.authority import Admin

    state = store.read(lambda conn: store.state_of(conn, "tasks"))
    wrong = decisions.make_checkpoint(state, store.now(), root.public_hex)
    wrong["body"] = {**wrong["body"], "roles": ["tasks", "more"]}
    with pytest.raises(Refusal) as info:
        store.checkpoint(plans.SERVICE, "tasks", decisions.sign_record(wrong, root.seed))
    assert info.value.code == "body"
    as_admin = decisions.make_checkpoint(state, store.now(), signed.admin.endpoint_id)
    with pytest.raises(Refusal) as info:
        store.checkpoint(plans.SERVICE, "tasks", decisions.sign_record(as_admin, signed.admin.seed))
    assert info.value.code == "root"
    assert isinstance(signed.admin, Admin)
    assert root_checkpoint(store, plans.SERVICE, "tasks", root)["head"]["seq"] == 1
    assert signed.grant("tasks", CONSUMER, ["reader"], add=True)["changed"] == ["reader"]
    records = chain(store, "tasks")
    decisions.verify_chain(records, root_pubkey=root.public_key)
    assert decisions.replay(records).as_dict() == store.read(lambda conn: store.state_of(conn, "tasks")).as_dict()
    assert json.loads(json.dumps(records))[0]["action"] == "checkpoint"


def test_revocation_list_only_for_the_deployments_nodes(world):
    from aster_enroll.identity import NodeKey
    from aster_trust import credentials

    store, signed, root, manifests = world
    deploy(signed, manifests)
    node = NodeKey.generate()
    tpl = store.provision_template(plans.SERVICE, "tasks", node.endpoint_id)
    signed.provision(plans.SERVICE, "tasks", node.endpoint_id, credentials.sign(
        root, "producer", expires_at=tpl["expires_at"], attributes=tpl["attributes"],
        endpoint_id=node.endpoint_id).to_dict())
    stranger = NodeKey.generate().endpoint_id
    with pytest.raises(Refusal) as info:
        store.revocation_list("tasks", caller=stranger, attributes={})
    assert info.value.code == "not_a_producer" and info.value.exit_code == 3
    with pytest.raises(Refusal):  # another deployment's credential is not this one's
        store.revocation_list("tasks", caller=stranger, attributes={"aster.deployment": "other"})
    assert store.revocation_list("tasks", caller=node.endpoint_id, attributes={})["deployment_id"] == "tasks"
    assert store.revocation_list("tasks", caller=stranger, attributes={"aster.deployment": "tasks"})
    assert store.revocation_list("tasks", caller=stranger, attributes={"aster.role": "authority.admin"})
    # a device deployment's list: also the mesh's live producers (devices call them)
    signed.create(plans.DEVICE, "meters")
    assert store.revocation_list("meters", caller=node.endpoint_id, attributes={})["deployment_id"] == "meters"
    with pytest.raises(Refusal):
        store.revocation_list("meters", caller=stranger, attributes={})
