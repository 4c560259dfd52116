"""The device store in-process, on SQLite and PostgreSQL, with a controllable clock: renewal by
reconcile's upload, release only while activated, single-use challenges that expire, concurrent
activations opening one review, and the 0001 -> 0002 migration of an existing database."""

from __future__ import annotations

import concurrent.futures

import pytest
import sqlalchemy as sa

from aster_authority.domain import devices, plans
from aster_authority.server.devices import CHALLENGE_TTL, DeviceStore
from aster_authority.server.store import Store

from tests.support.authority import Signed, make_admin


@pytest.fixture
def world(database_url, clock):
    from aster_trust.keys import generate_root_key

    root = generate_root_key()
    store = Store.open(database_url, root.public_key, clock=clock)
    yield store, DeviceStore(store), root, clock, Signed(store, make_admin(root))
    store.close()


def register(ds: DeviceStore, root, dep: str, signed: Signed, n: int = 1) -> list[devices.DeviceKeys]:
    from aster_trust import credentials

    template = ds.template(dep)
    made = [devices.generate() for _ in range(n)]
    docs = [{"endpoint_id": k.endpoint_id, "activation_key": devices.b64url(k.activation_key), "metadata": {},
             "credential": credentials.sign(root, "policy", expires_at=template["expires_at"],
                                            attributes=template["attributes"], endpoint_id=k.endpoint_id).to_dict()}
            for k in made]
    signed.register(ds, dep, docs)
    return made


def activate(ds: DeviceStore, keys: devices.DeviceKeys, dep: str) -> dict:
    challenge = ds.challenge(keys.endpoint_id, dep)["challenge"]
    proof = devices.proof(keys.activation_key, devices.unb64url(challenge, "c", 32), keys.endpoint_id, dep)
    return ds.activate(keys.endpoint_id, dep, challenge, devices.b64url(proof))


def test_renewal_release_and_revocation(world):
    from aster_trust import credentials

    store, ds, root, clock, signed = world
    signed.create(plans.DEVICE, "meters", roles=["meter"])
    (keys,) = register(ds, root, "meters", signed)
    assert store.fetch(keys.endpoint_id)["credentials"] == []           # held until activated
    clock.now += 6 * 86400                                              # within the renewal window
    (item,) = store.desired(plans.DEVICE, "meters")["items"]
    assert (item["subject"], item["type"], item["status"]) == ("device", "policy", "expiring")
    renewed = credentials.sign(root, "policy", expires_at=item["expires_at"], attributes=item["attributes"],
                               endpoint_id=keys.endpoint_id)
    assert store.upload(plans.DEVICE, "meters", [renewed.to_dict()], actor=signed.admin.actor)["results"][0][
        "status"] == "current"
    assert activate(ds, keys, "meters")["state"] == "activated"
    (released,) = store.fetch(keys.endpoint_id)["credentials"]
    assert released["expires_at"] == renewed.expires_at and released["subject"] == "device"
    assert store.revocation_list("meters")["granted"] == {keys.endpoint_id: ["meter"]}
    iid = ds.instance_list("meters")["items"][0]["instance_id"]
    signed.revoke(ds, "meters", iid)
    assert store.fetch(keys.endpoint_id)["credentials"] == []
    assert store.desired(plans.DEVICE, "meters")["items"] == []
    listed = store.revocation_list("meters")
    assert [r["endpoint_id"] for r in listed["revoked"]] == [keys.endpoint_id] and listed["granted"] == {}


def test_challenges_are_single_use_and_expire(world):
    store, ds, root, clock, signed = world
    signed.create(plans.DEVICE, "meters")
    (keys,) = register(ds, root, "meters", signed)
    challenge = ds.challenge(keys.endpoint_id, "meters")["challenge"]
    clock.now += CHALLENGE_TTL + 1
    proof = devices.proof(keys.activation_key, devices.unb64url(challenge, "c", 32), keys.endpoint_id, "meters")
    with pytest.raises(plans.Refusal) as info:
        ds.activate(keys.endpoint_id, "meters", challenge, devices.b64url(proof))
    assert info.value.code == "bad_challenge"
    # another endpoint cannot use a device's challenge (nor get one for a deployment it is not in)
    (other,) = register(ds, root, "meters", signed)
    challenge = ds.challenge(keys.endpoint_id, "meters")["challenge"]
    proof = devices.proof(other.activation_key, devices.unb64url(challenge, "c", 32), other.endpoint_id, "meters")
    with pytest.raises(plans.Refusal) as info:
        ds.activate(other.endpoint_id, "meters", challenge, devices.b64url(proof))
    assert info.value.code == "bad_challenge"
    assert ds.instance_list("meters", state="registered")["items"][0]["state"] == "registered"


def test_concurrent_activations_open_exactly_one_review(world):
    store, ds, root, _, signed = world
    signed.create(plans.DEVICE, "gates", review_mode="required")
    (keys,) = register(ds, root, "gates", signed)
    proofs = []
    for _ in range(4):  # at most MAX_CHALLENGES outstanding per endpoint
        challenge = ds.challenge(keys.endpoint_id, "gates")["challenge"]
        proof = devices.proof(keys.activation_key, devices.unb64url(challenge, "c", 32), keys.endpoint_id, "gates")
        proofs.append((challenge, devices.b64url(proof)))
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda p: ds.activate(keys.endpoint_id, "gates", *p), proofs))
    assert {a["state"] for a in answers} == {"pending"}
    assert len({a["review"]["review_id"] for a in answers}) == 1
    assert sum(a["changed"] for a in answers) == 1
    assert len(ds.review_list("gates")["items"]) == 1


def test_register_is_all_or_none(world):
    store, ds, root, _, signed = world
    signed.create(plans.DEVICE, "meters")
    (good,) = register(ds, root, "meters", signed)
    bad = devices.generate()
    docs = [{"endpoint_id": bad.endpoint_id, "activation_key": devices.b64url(bad.activation_key),
             "credential": {"type": "policy"}}]
    with pytest.raises(plans.Refusal) as info:
        signed.register(ds, "meters", docs)
    assert info.value.field == "devices[0].credential"
    with pytest.raises(plans.Refusal) as info:   # already registered: the whole batch is refused
        signed.register(ds, "meters", [{"endpoint_id": good.endpoint_id, "activation_key": devices.b64url(
            good.activation_key), "credential": {}}])
    assert [i["endpoint_id"] for i in ds.instance_list("meters")["items"]] == [good.endpoint_id]


def test_a_0001_database_upgrades_to_0002(database_url):
    """An authority database made before devices (0001, with a service instance) keeps its rows."""
    from aster_server import storage

    from aster_authority.server.tables import MIGRATIONS

    engine = storage.create_engine(database_url)
    try:
        assert storage.upgrade(engine, MIGRATIONS, "auth0001") == "auth0001"
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO authority_instances (instance_id, deployment_id, kind, endpoint_id, "
                                 "state, disabled, metadata, created_at) VALUES ('svc_x', 'p', 'service', 'ab', "
                                 "'active', false, '{}', 1)"))
        assert storage.upgrade(engine, MIGRATIONS, "auth0002") == "auth0002"
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT instance_id, activated_at, revoked_at FROM authority_instances")).one()
            assert tuple(row) == ("svc_x", None, None)
            assert conn.execute(sa.text("SELECT count(*) FROM authority_challenges")).scalar_one() == 0
            assert "decided_by" in {c["name"] for c in sa.inspect(conn).get_columns("authority_reviews")}
    finally:
        engine.dispose()
