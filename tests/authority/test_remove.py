"""Removing a deployment: what it keeps is visible (`list --removed`, `show`) and purgeable later
(`purge`), a create of the id starts a new generation (nothing of the old one comes back, and
reconcile signs none of its items) unless `--restore` brings the removed one back, and
`--purge-unused-contracts` drops the stored contracts no other deployment uses. The store
in-process and the commands against a real authority, on SQLite and PostgreSQL; the replay of
each step in-process too (one state machine: the replayed chain equals the tables' state).

One module over 400 lines on purpose: the whole removal story (store, migration, replay,
commands) reads in one place, each part under its own heading."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from aster_authority.domain import bodies, decisions, plans
from aster_authority.domain import replay as actions
from aster_authority.domain.errors import Refusal
from aster_authority.server import tables
from aster_authority.server.store import Store
from aster_core.testing import assert_clean_error

from tests.support.authority import Signed, make_admin

CONSUMER = "cd" * 32
ENDPOINT = "ab" * 32


# ── the store, in-process ─────────────────────────────────────────────────────────


class Removing(Signed):
    """:class:`Signed` plus the removal decisions, each with its record as the CLI signs it."""

    def remove(self, kind, dep, *, cascade=False, purge=False, unused=False):
        return self.decide(dep, "remove", bodies.remove_body(cascade, purge, unused), lambda record: self.store.remove(
            kind, dep, cascade=cascade, purge=purge, purge_unused_contracts=unused, actor=self.admin.actor,
            record=record))

    def purge(self, kind, dep, *, unused=False):
        return self.decide(dep, "purge", bodies.purge_body(unused), lambda record: self.store.purge(
            kind, dep, purge_unused_contracts=unused, actor=self.admin.actor, record=record))

    def restore(self, kind, dep):
        return self.decide(dep, "restore", bodies.restore_body(), lambda record: self.store.restore(
            kind, dep, actor=self.admin.actor, record=record))


@pytest.fixture
def world(database_url, manifests):
    from aster_trust.keys import generate_root_key

    root = generate_root_key()
    store = Store.open(database_url, root.public_key)
    yield store, Removing(store, make_admin(root)), root, manifests
    store.close()


def records_of(store, dep: str) -> list[dict]:
    return store.chain(dep, limit=500)["items"]


def assert_replay_matches(store, root, dep: str) -> decisions.State:
    """The stored chain verifies and replays to exactly the tables' state (None there: not existing)."""
    records = records_of(store, dep)
    decisions.verify_chain(records, root_pubkey=root.public_key)
    replayed = decisions.replay(records)
    held = store.read(lambda conn: store.state_of(conn, dep))
    if held is None:
        assert not replayed.exists
    else:
        assert replayed.as_dict() == held.as_dict()
        served = [{k: v for k, v in i.items() if k not in ("status", "reason", "current_expires_at")}
                  for i in store.desired(plans.SERVICE, dep)["items"]]
        assert replayed.desired_items(store.now(), store.policy) == served
    return replayed


def deploy_with_instance(store, signed, root, manifests, dep: str = "tasks", variant: str = "v1") -> str:
    """create, apply, accept, one provisioned instance, one grantee; the instance's endpoint."""
    from aster_enroll.identity import NodeKey
    from aster_trust import credentials

    signed.create(plans.SERVICE, dep, roles=["tasks"])
    plan = signed.apply(plans.SERVICE, dep, manifests[variant])["plan"]["plan_id"]
    signed.accept(plans.SERVICE, dep, plan, plans.UPDATE)
    node = NodeKey.generate()
    tpl = store.provision_template(plans.SERVICE, dep, node.endpoint_id)
    cred = credentials.sign(root, "producer", expires_at=tpl["expires_at"], attributes=tpl["attributes"],
                            endpoint_id=node.endpoint_id)
    signed.provision(plans.SERVICE, dep, node.endpoint_id, cred.to_dict())
    signed.grant(dep, CONSUMER, ["reader"], add=True)
    return node.endpoint_id


def test_remove_keeps_what_list_and_show_see_and_a_new_create_starts_clean(world):
    store, signed, root, manifests = world
    endpoint = deploy_with_instance(store, signed, root, manifests)
    before = store.show(plans.SERVICE, "tasks")

    with pytest.raises(Refusal) as info:  # instances and a grantee: only with cascade, nothing stored
        signed.remove(plans.SERVICE, "tasks")
    assert info.value.code == "has_dependents"
    removed = signed.remove(plans.SERVICE, "tasks", cascade=True)
    assert removed["kept"]["plans"] == 1 and removed["kept"]["instances"] == 1 and removed["kept"]["credentials"] == 1
    assert sorted(removed["revoked"]) == sorted([endpoint, CONSUMER])

    listed = store.removed_list(plans.SERVICE)["items"]
    assert [d["deployment_id"] for d in listed] == ["tasks"]
    assert listed[0]["removed_by"] == signed.admin.actor.as_dict() and listed[0]["removed_at"] == removed["removed_at"]
    assert store.list(plans.SERVICE)["items"] == []
    assert store.removed_list(plans.DEVICE)["items"] == []  # of the other kind: not there
    shown = store.show(plans.SERVICE, "tasks")
    assert shown["removed"] and shown["removed_by"]["name"] == "ops" and shown["version"] == before["version"]
    assert shown["desired_digest"] == before["desired_digest"] and shown["kept"]["plans"] == 1
    with pytest.raises(Refusal) as info:  # everything else: no such deployment
        store.plan_list(plans.SERVICE, "tasks")
    assert info.value.code == "not_found"
    state = assert_replay_matches(store, root, "tasks")
    assert state.removed and state.desired_items(store.now(), store.policy) == []

    # a create of the id: a new generation, nothing of the old one comes back
    created = signed.create(plans.SERVICE, "tasks", roles=["other"])
    assert created["cleared"]["plans"] == 1 and created["cleared"]["instances"] == 1
    assert store.plan_list(plans.SERVICE, "tasks")["items"] == []
    assert store.instance_list(plans.SERVICE, "tasks", include_disabled=True)["items"] == []
    assert store.show(plans.SERVICE, "tasks")["desired_digest"] == ""
    assert store.removed_list(plans.SERVICE)["items"] == []
    assert store.desired(plans.SERVICE, "tasks")["items"] == []
    state = assert_replay_matches(store, root, "tasks")
    assert state.instances == {} and state.grants == {} and state.roles == ("other",)
    # the chain continues: the log still says what happened to the old generation
    assert [r["action"] for r in records_of(store, "tasks")] == [
        "create", "apply", "accept", "instance_register", "grant_add", "remove", "create"]
    # the endpoint of the old generation can be provisioned in the new one (after an accept)
    plan = signed.apply(plans.SERVICE, "tasks", manifests["v1"])["plan"]["plan_id"]
    signed.accept(plans.SERVICE, "tasks", plan, plans.UPDATE)
    tpl = store.provision_template(plans.SERVICE, "tasks", endpoint)
    from aster_trust import credentials

    cred = credentials.sign(root, "producer", expires_at=tpl["expires_at"], attributes=tpl["attributes"],
                            endpoint_id=endpoint)
    signed.provision(plans.SERVICE, "tasks", endpoint, cred.to_dict())
    assert_replay_matches(store, root, "tasks")


def test_restore_brings_the_removed_deployment_back_as_it_was(world):
    store, signed, root, manifests = world
    deploy_with_instance(store, signed, root, manifests)
    before = store.show(plans.SERVICE, "tasks")
    plans_before = store.plan_list(plans.SERVICE, "tasks")["items"]
    with pytest.raises(Refusal) as info:  # not removed: nothing to restore
        signed.restore(plans.SERVICE, "tasks")
    assert info.value.code == "not_removed"
    signed.remove(plans.SERVICE, "tasks", cascade=True)
    with pytest.raises(Refusal) as info:  # a removed service is no device deployment
        signed.restore(plans.DEVICE, "tasks")
    assert info.value.code == "not_found"

    restored = signed.restore(plans.SERVICE, "tasks")
    assert restored["restored"] and restored["version"] == before["version"]
    after = store.show(plans.SERVICE, "tasks")
    assert (after["desired_digest"], after["roles"], after["instances"]) == (
        before["desired_digest"], before["roles"], 1)
    assert [p["plan_id"] for p in store.plan_list(plans.SERVICE, "tasks")["items"]] == \
        [p["plan_id"] for p in plans_before]
    assert after["grants"] == 0  # what remove revoked stays revoked
    assert [i["state"] for i in store.instance_list(plans.SERVICE, "tasks", include_disabled=True)["items"]] == \
        ["revoked"]
    assert store.removed_list(plans.SERVICE)["items"] == []
    state = assert_replay_matches(store, root, "tasks")
    assert state.exists and state.desired_digest == before["desired_digest"]
    assert [r["action"] for r in records_of(store, "tasks")][-2:] == ["remove", "restore"]
    # and a restored deployment goes on as any other
    signed.set_disabled(plans.SERVICE, "tasks", True)
    assert_replay_matches(store, root, "tasks")


def test_purge_later_deletes_what_was_kept_and_keeps_the_chain(world):
    store, signed, root, manifests = world
    signed.create(plans.SERVICE, "tasks")
    signed.apply(plans.SERVICE, "tasks", manifests["v1"])
    with pytest.raises(Refusal) as info:  # not removed: purge says to remove it first
        signed.purge(plans.SERVICE, "tasks")
    assert info.value.code == "not_removed" and "remove" in info.value.hint
    signed.remove(plans.SERVICE, "tasks")
    head = store.chain_head("tasks")["head"]
    purged = signed.purge(plans.SERVICE, "tasks")
    assert purged["purged"]["plans"] == 1 and purged["purged"]["history"] >= 2
    assert store.removed_list(plans.SERVICE)["items"] == []
    with pytest.raises(Refusal) as info:
        store.show(plans.SERVICE, "tasks")
    assert info.value.code == "not_found"
    with pytest.raises(Refusal) as info:  # nothing left to purge or restore
        signed.purge(plans.SERVICE, "tasks")
    assert info.value.code == "not_found" and "list --removed" in info.value.hint
    with pytest.raises(Refusal) as info:
        signed.restore(plans.SERVICE, "tasks")
    assert info.value.code == "not_found"
    assert store.chain_head("tasks")["head"]["seq"] == head["seq"] + 1
    assert [r["action"] for r in records_of(store, "tasks")] == ["create", "apply", "remove", "purge"]
    assert not assert_replay_matches(store, root, "tasks").exists
    with store.engine.connect() as conn:
        for t in (tables.plan_rows, tables.history, tables.instances, tables.removed):
            assert conn.execute(sa.select(sa.func.count()).select_from(t).where(
                t.c.deployment_id == "tasks")).scalar_one() == 0
    signed.create(plans.SERVICE, "tasks")  # the id is free again; the chain goes on
    assert_replay_matches(store, root, "tasks")


def test_purge_unused_contracts_keeps_what_another_deployment_uses(world):
    store, signed, root, manifests = world
    for dep in ("a", "b"):
        signed.create(plans.SERVICE, dep)
    shared_plan = signed.apply(plans.SERVICE, "a", manifests["v1"])["plan"]
    signed.apply(plans.SERVICE, "a", manifests["migration"])
    signed.apply(plans.SERVICE, "b", manifests["v1"])
    signed.accept(plans.SERVICE, "a", shared_plan["plan_id"], plans.UPDATE)

    def stored() -> set[str]:
        with store.engine.connect() as conn:
            return {r.digest for r in conn.execute(sa.select(tables.contracts.c.digest))}

    v1, mig = shared_plan["digest"], store.plan_list(plans.SERVICE, "a", state="pending")["items"][0]["digest"]
    assert stored() == {v1, mig}  # once per digest, whichever deployments' plans name it
    # without --purge the kept plans still use them: refused, nothing stored
    head = store.chain_head("a")["head"]
    with pytest.raises(Refusal) as info:
        signed.remove(plans.SERVICE, "a", unused=True)
    assert info.value.field == "purge_unused_contracts" and info.value.exit_code == 2
    assert store.chain_head("a")["head"] == head and store.show(plans.SERVICE, "a")["deployment_id"] == "a"

    removed = signed.remove(plans.SERVICE, "a", purge=True, unused=True)
    assert removed["contracts_dropped"] == [mig]  # v1 is b's too
    assert stored() == {v1}
    assert store.plan_list(plans.SERVICE, "b")["items"][0]["services"] == ["TaskService@1"]  # b's plan reads it
    # a removed deployment's kept plans count as using theirs; its purge then drops them
    signed.remove(plans.SERVICE, "b")
    signed.create(plans.SERVICE, "c")
    assert signed.remove(plans.SERVICE, "c", purge=True, unused=True)["contracts_dropped"] == []
    assert stored() == {v1}
    assert signed.purge(plans.SERVICE, "b", unused=True)["contracts_dropped"] == [v1]
    assert stored() == set()
    # without the flag a purge leaves the store alone
    signed.create(plans.SERVICE, "c")  # c's chain goes on after its purge
    signed.apply(plans.SERVICE, "c", manifests["v1"])
    signed.remove(plans.SERVICE, "c")
    assert signed.purge(plans.SERVICE, "c")["contracts_dropped"] == [] and stored() == {v1}
    assert [r["body"] for r in records_of(store, "c")][-1] == {"purge_unused_contracts": False}


def test_a_sweep_waits_for_an_apply_holding_the_contract_it_would_drop(world, database_url, monkeypatch):
    """The apply of b stops while it holds v1's row (its plan not committed yet); the purge of a,
    v1's only other user, sweeps meanwhile: it must wait for that row, then see b's plan and keep
    v1. (SQLite runs one write transaction at a time: nothing interleaves there.)"""
    import concurrent.futures
    import threading
    import time

    from aster_authority.server import contracts

    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serializes whole write transactions: no interleaving to test")
    store, signed, root, manifests = world
    signed.create(plans.SERVICE, "a")
    signed.apply(plans.SERVICE, "a", manifests["v1"])
    signed.remove(plans.SERVICE, "a")   # kept: its plan is v1's only user
    signed.create(plans.SERVICE, "b")
    held, release = threading.Event(), threading.Event()
    keep = contracts.keep

    def keep_then_wait(conn, digest, value, now):
        keep(conn, digest, value, now)
        held.set()
        assert release.wait(60)

    monkeypatch.setattr(contracts, "keep", keep_then_wait)

    def waiting_on_a_lock() -> bool:
        with store.engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                        "AND datname = current_database()")).scalar_one() > 0

    other = Removing(store, make_admin(root, name="ops2"))  # another admin: no shared signer row to queue on
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        applied = pool.submit(signed.apply, plans.SERVICE, "b", manifests["v1"])
        assert held.wait(60)
        purged = pool.submit(other.purge, plans.SERVICE, "a", unused=True)
        deadline = time.monotonic() + 60
        while not purged.done() and not waiting_on_a_lock() and time.monotonic() < deadline:
            time.sleep(0.05)
        release.set()
        applied.result()
        assert purged.result()["contracts_dropped"] == []
    assert store.plan_list(plans.SERVICE, "b")["items"][0]["services"] == ["TaskService@1"]
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(tables.contracts.c.digest)).scalars().all() == [
            store.plan_list(plans.SERVICE, "b")["items"][0]["digest"]]


def test_a_0004_database_moves_its_plans_manifests_to_the_contract_store(database_url, manifests):
    from aster_server import storage
    from aster_trust.keys import generate_root_key

    from aster_authority.domain.classify import digest
    from aster_authority.domain.credentials import canonical_json
    from aster_authority.server.tables import MIGRATIONS

    engine = storage.create_engine(database_url)
    try:
        assert storage.upgrade(engine, MIGRATIONS, "auth0004") == "auth0004"
        d = digest(manifests["v1"])
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO authority_deployments (deployment_id, kind, version, namespaces, compatibility, "
                "review_mode, roles, disabled, desired_manifests, desired_digest, created_at, updated_at) VALUES "
                "('old', 'service', '01J0000000000000000000000Q', '[\"*\"]', 'strict', 'none', '[]', false, '[]', '', "
                "1, 2)"))
            for n in range(2):  # two plans of one contract: stored once
                conn.execute(sa.text(
                    "INSERT INTO authority_plans (plan_id, deployment_id, classification, state, base_version, "
                    "manifests, digest, changes, warnings, created_at, expires_at) VALUES (:p, 'old', 'update', "
                    "'pending', '01J0000000000000000000000Q', :m, :d, '[]', '[]', 1, 9999999999)"),
                    {"p": f"01J000000000000000000000P{n}", "m": canonical_json(manifests["v1"]), "d": d})
        assert storage.upgrade(engine, MIGRATIONS) == "auth0005"
        with engine.connect() as conn:
            assert conn.execute(sa.select(tables.contracts.c.digest)).scalars().all() == [d]
            assert set(conn.execute(sa.select(tables.plan_rows.c.manifests)).scalars()) == {""}
        st = Store(engine, generate_root_key().public_key)
        listed = st.plan_list(plans.SERVICE, "old")["items"]
        assert [p["services"] for p in listed] == [["TaskService@1"]] * 2
        assert st.plan_show(plans.SERVICE, "old", listed[0]["plan_id"])["manifests"] == manifests["v1"]
    finally:
        engine.dispose()


# ── replay, pure ───────────────────────────────────────────────────────────────────


def _rec(dep: str, seq: int, action: str, body: dict) -> dict:
    return {"deployment_id": dep, "seq": seq, "action": action, "body": body, "decided_at": 100 + seq}


def _chain(*steps: tuple[str, dict]) -> list[dict]:
    return [_rec("tasks", n, action, body) for n, (action, body) in enumerate(steps, 1)]


CREATE = (actions.CREATE, {"kind": "service", "roles": ["tasks"], "namespaces": ["*"], "compatibility": "strict",
                           "review_mode": "none"})
ACCEPT = (actions.ACCEPT, {"plan_id": "P", "classification": "update", "digest": "blake3:" + "0" * 64,
                           "services": [["TaskService", 1]]})
REGISTER = (actions.INSTANCE_REGISTER, {"endpoint_id": ENDPOINT})
GRANT = (actions.GRANT_ADD, {"consumer": CONSUMER, "roles": ["reader"]})
REMOVE = (actions.REMOVE, {"cascade": True, "purge": False})


def test_replay_a_create_after_a_remove_starts_clean():
    from aster_authority.domain.credentials import Policy

    state = decisions.replay(_chain(CREATE, ACCEPT, REGISTER, GRANT, REMOVE, CREATE))
    assert state.exists and state.instances == {} and state.grants == {} and state.desired_digest == ""
    assert state.desired_items(1000, Policy()) == []  # nothing of the old generation is backed
    # its endpoint registers again in the new generation (after an accept)
    state = decisions.replay(_chain(CREATE, ACCEPT, REGISTER, REMOVE, CREATE, ACCEPT, REGISTER))
    items = state.desired_items(1000, Policy())
    assert [(i["subject"], i["endpoint_id"]) for i in items] == [("producer", ENDPOINT)]


def test_replay_restore_and_purge():
    from aster_authority.domain.credentials import Policy

    state = decisions.replay(_chain(CREATE, ACCEPT, REGISTER, GRANT, REMOVE, (actions.RESTORE, {})))
    assert state.exists and state.desired_digest == "blake3:" + "0" * 64
    assert state.instances[next(iter(state.instances))].state == actions.REVOKED and state.grants == {}
    assert state.desired_items(1000, Policy()) == []  # what remove revoked stays revoked
    purged = decisions.replay(_chain(CREATE, REMOVE, (actions.PURGE, {"purge_unused_contracts": True})))
    assert purged.kind is None and not purged.exists
    with_purge = decisions.replay(_chain(CREATE, (actions.REMOVE, {"cascade": False, "purge": True,
                                                                   "purge_unused_contracts": True})))
    assert with_purge.as_dict() == purged.as_dict()
    assert decisions.replay(_chain(CREATE, REMOVE, (actions.PURGE, {"purge_unused_contracts": False}),
                                   CREATE)).exists

    def refused(*steps) -> decisions.ChainRefusal:
        with pytest.raises(decisions.ChainRefusal) as info:
            decisions.replay(_chain(*steps))
        return info.value

    assert refused(CREATE, (actions.RESTORE, {})).code == "transition"            # not removed
    assert refused(CREATE, REMOVE, (actions.PURGE, {"purge_unused_contracts": False}),
                   (actions.RESTORE, {})).code == "transition"                    # purged: nothing to restore
    assert refused(CREATE, (actions.PURGE, {"purge_unused_contracts": False})).code == "transition"
    assert refused(CREATE, REMOVE, (actions.RESTORE, {}), CREATE).code == "transition"   # restored: exists
    assert refused(CREATE, REMOVE, (actions.RESTORE, {"x": 1})).code == "body"
    assert refused(CREATE, REMOVE, (actions.PURGE, {})).code == "body"
    assert refused(CREATE, REMOVE, (actions.PURGE, {"purge_unused_contracts": "yes"})).code == "body"
    assert refused(CREATE, (actions.REMOVE, {"cascade": True, "purge": True,
                                             "purge_unused_contracts": 1})).code == "body"


# ── the commands against a real authority ───────────────────────────────────────────


@pytest.mark.slow
def test_the_commands_remove_show_list_purge_restore_and_create_clean(mesh, manifest_files):
    m, key = mesh, str(mesh.root.key_file)
    m.ok("svc", "pay", "create", "--role", "tasks")
    plan = m.ok("svc", "pay", "apply", "--manifest", str(manifest_files["v1"]))["plan"]["plan_id"]
    m.ok("svc", "pay", "authority", "accept-update", plan, "--yes")
    inst = m.ok("svc", "pay", "provision", "--out", "old.identity", "--root-key", key)

    # bad input first: one Error line each, nothing changed
    assert_clean_error(m.aster("svc", "pay", "remove", "-f", "--purge-unused-contracts"), 2, "--purge")
    assert_clean_error(m.aster("svc", "pay", "purge", "-f"), 1, "not removed", "remove")
    assert_clean_error(m.aster("svc", "nope", "purge", "-f"), 4, "no removed deployment svc/nope", "list --removed")
    assert_clean_error(m.aster("svc", "pay", "create", "--restore"), 1, "not removed", "nothing to restore")
    assert_clean_error(m.aster("svc", "pay", "create", "--restore", "--role", "x"), 2, "--role", "--restore")
    assert_clean_error(m.aster("svc", "list", "--removed", "--disabled"), 2, "--removed")
    assert_clean_error(m.aster("svc", "pay", "purge", "--json"), 2, "--yes")

    removed = m.ok("svc", "pay", "remove", "-f", "--cascade")
    assert removed["kept"]["plans"] == 1 and removed["revoked"] == [inst["endpoint_id"]]
    assert [d["deployment_id"] for d in m.ok("svc", "list", "--removed")["items"]] == ["pay"]
    assert m.ok("svc", "list")["items"] == []
    shown = m.ok("svc", "pay", "show")
    assert shown["removed"] and shown["removed_by"]["name"] == "ops" and shown["kept"]["instances"] == 1
    table = m.aster("svc", "pay", "show")
    assert table.returncode == 0 and "REMOVED" in table.stdout and "removed by" in table.stdout
    assert "ops (" in table.stdout
    listed = m.aster("svc", "list", "--removed", "--wide")
    assert "pay" in listed.stdout and "ops (" in listed.stdout

    # --restore: back as it was (the plan is there again), then removed once more
    restored = m.ok("svc", "pay", "create", "--restore")
    assert restored["restored"] and [p["plan_id"] for p in m.ok("svc", "pay", "authority", "plan", "list")["items"]] \
        == [plan]
    m.ok("svc", "pay", "remove", "-f")

    # a create starts clean: no old plan, and reconcile signs nothing of the old generation
    created = m.ok("svc", "pay", "create", "--role", "tasks")
    assert created["cleared"]["plans"] == 1 and created["cleared"]["instances"] == 1
    assert m.ok("svc", "pay", "authority", "plan", "list")["items"] == []
    assert m.ok("svc", "pay", "instances", "--disabled")["items"] == []
    rec = m.ok("svc", "pay", "authority", "reconcile", "--root-key", key)
    assert rec["items"] == [] and rec["counts"]["refused"] == 0
    logged = [r["action"] for r in m.ok("svc", "pay", "authority", "log", "--all")["rows"]]
    assert logged[-4:] == ["remove", "restore", "remove", "create"]

    # purge, with the contracts no other deployment uses: b keeps v1, pay's migration is dropped
    m.ok("svc", "b", "create")
    m.ok("svc", "b", "apply", "--manifest", str(manifest_files["v1"]))
    m.ok("svc", "pay", "apply", "--manifest", str(manifest_files["v1"]))
    m.ok("svc", "pay", "apply", "--manifest", str(manifest_files["migration"]))
    m.ok("svc", "pay", "remove", "-f")
    purged = m.ok("svc", "pay", "purge", "-f", "--purge-unused-contracts")
    assert purged["purged"]["plans"] == 2 and len(purged["contracts_dropped"]) == 1
    assert m.ok("svc", "b", "authority", "plan", "list")["items"][0]["services"] == ["TaskService@1"]
    assert m.ok("svc", "list", "--removed")["items"] == []
    assert_clean_error(m.aster("svc", "pay", "show"), 4, "no deployment svc/pay")
    # gone, and its log still tells every generation
    logged = [r["action"] for r in m.ok("svc", "pay", "authority", "log", "--all")["rows"]]
    assert logged[:3] == ["create", "apply", "accept"] and logged[-4:] == ["apply", "apply", "remove", "purge"]


@pytest.mark.slow
def test_dev_remove_list_removed_and_restore(sqlite_mesh):
    m = sqlite_mesh
    m.ok("dev", "north", "create", "--review-mode", "required")
    m.ok("dev", "north", "remove", "-f")
    assert [d["deployment_id"] for d in m.ok("dev", "list", "--removed")["items"]] == ["north"]
    assert m.ok("svc", "list", "--removed")["items"] == []
    assert m.ok("dev", "north", "show")["removed"]
    assert_clean_error(m.aster("dev", "north", "create", "--restore", "--review-mode", "none"), 2, "--review-mode")
    assert m.ok("dev", "north", "create", "--restore")["review_mode"] == "required"
    assert not m.ok("dev", "north", "show").get("removed")
