"""Device deployments end to end: a real `aster authority serve` (one per dialect for the module,
SQLite and PostgreSQL), the `aster dev` CLI as operators and devices run it, and a real
AsterServer whose gate enforces the device deployment's revocation list."""

from __future__ import annotations

import csv
import json
import os
import stat
import time
import tomllib
from pathlib import Path

import pytest
import sqlalchemy as sa

from aster_core.testing import assert_clean_error

from tests.support.server import start_server

from .conftest import make_mesh

ROLE = "tasks.reader"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def dmesh(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"devices-{request.param}")
    if request.param == "sqlite":
        db = str(tmp / "authority.db")
    else:
        cluster = request.getfixturevalue("pg_cluster")
        db = cluster.create_database()
    m = make_mesh(tmp, db)
    yield m
    m.server.stop()
    if request.param == "postgresql":
        cluster.drop_database(db)


def snapshot(mesh) -> dict:
    """Every device-related row of the authority's database (challenges aside: they are spent)."""
    from aster_authority.server import tables as store
    from aster_server.storage import create_engine

    engine = create_engine(mesh.server.db)
    try:
        with engine.connect() as conn:
            out = {}
            for t in (store.instances, store.reviews, store.credentials, store.revocations, store.deployments,
                      store.history):
                out[t.name] = sorted(tuple(str(v) for v in r) for r in conn.execute(sa.select(t)))
            return out
    finally:
        engine.dispose()


def provision(mesh, dep: str, out: str, *extra: str) -> dict:
    return mesh.ok("dev", dep, "provision", "--out", out, "--root-key", str(mesh.root.key_file), *extra)


def call_get(address: str, rcan: Path, cwd: Path):
    from aster_core.testing import run_aster

    return run_aster(["call", address, "TaskService.get", '{"task_id": 7}', "--rcan", str(rcan)], cwd=cwd,
                     timeout=60)


@pytest.mark.slow
def test_provision_activate_review_approve_call_revoke_refused(dmesh):
    m = dmesh
    created = m.ok("dev", "sensors", "create", "--review-mode", "required", "--role", ROLE)
    assert created["review_mode"] == "required" and created["roles"] == [ROLE]
    a = provision(m, "sensors", "a.bundle.json", "--name", "hall-1", "--serial-number", "SN1", "--model-number",
                  "M7", "--metadata", "site=berlin")
    b = provision(m, "sensors", "b.bundle.json", "--name", "hall-2")
    dev_a, dev_b = a["devices"][0], b["devices"][0]
    bundle = m.tmp / "a.bundle.json"
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    doc = json.loads(bundle.read_text())
    assert doc["endpoint_id"] == dev_a["endpoint_id"] and doc["deployment_id"] == "sensors"
    assert dev_a["instance_id"].startswith("dev_") and len(dev_a["instance_id"]) == 26
    # the root secret never reached the authority: it is not anywhere in its tables
    assert doc["root_secret"] not in json.dumps(snapshot(m))
    # never overwritten without --force
    again = m.aster("dev", "sensors", "provision", "--out", "a.bundle.json", "--root-key", str(m.root.key_file))
    assert_clean_error(again, 2, "already exists")
    assert json.loads(bundle.read_text()) == doc

    listed = m.ok("dev", "sensors", "instances")["items"]
    assert {i["instance_id"]: i["state"] for i in listed} == {dev_a["instance_id"]: "registered",
                                                             dev_b["instance_id"]: "registered"}
    assert all("activation_key" not in i for i in listed)
    table = m.aster("dev", "sensors", "instances", "--show-metadata", COLUMNS="240")
    assert "hall-1" in table.stdout and "SN1" in table.stdout and "site=berlin" in table.stdout
    assert "site=berlin" not in m.aster("dev", "sensors", "instances", COLUMNS="240").stdout

    # the device activates: review pending, the documented exit code 10, no credential yet
    pending = m.aster("dev", "activate", "--bundle", "a.bundle.json", "--identity", "a.identity", "--json")
    assert pending.returncode == 10, pending.stderr
    answer = json.loads(pending.stdout)
    assert answer["state"] == "pending" and answer["instance_id"] == dev_a["instance_id"]
    review = answer["review"]["review_id"]
    again = m.aster("dev", "activate", "--bundle", "a.bundle.json", "--identity", "a.identity", "--json")
    assert again.returncode == 10 and json.loads(again.stdout)["review"]["review_id"] == review  # the same review
    assert not (m.tmp / "a.identity").exists()
    reviews = m.ok("dev", "sensors", "reviews", "list", "--state", "pending")["items"]
    assert [r["review_id"] for r in reviews] == [review] and reviews[0]["metadata"]["name"] == "hall-1"
    # a reviewer (authority.review, not admin) decides; the same decision again is a no-op
    from tests.support.credentials import write_consumer_identity

    reviewer, _ = write_consumer_identity(m.root, m.tmp / "reviewer.identity", name="rev",
                                          attributes={"aster.role": "authority.review", "aster.name": "rev"})
    assert_clean_error(m.aster("dev", "sensors", "instances", "--rcan", str(reviewer)), 3, "authority.admin")
    approved = m.ok("dev", "sensors", "reviews", "approve", review, "--reason", "checked", "--rcan", str(reviewer))
    assert approved["changed"] and approved["instance_state"] == "activated"
    assert approved["review"]["decided_by"]["name"] == "rev"
    assert m.ok("dev", "sensors", "reviews", "approve", review)["changed"] is False
    assert_clean_error(m.aster("dev", "sensors", "reviews", "reject", review), 1, "already approved")

    # next activation: activated, the credential written into its identity
    done = m.ok("dev", "activate", "--bundle", "a.bundle.json", "--identity", "a.identity")
    assert done["state"] == "activated" and done["written"][0]["roles"] == [ROLE]
    ident = tomllib.loads((m.tmp / "a.identity").read_text())
    assert ident["node"]["endpoint_id"] == dev_a["endpoint_id"] and ident["peers"][0]["role"] == "consumer"
    assert stat.S_IMODE((m.tmp / "a.identity").stat().st_mode) == 0o600
    # idempotent; and renewal with the ordinary fetch
    assert m.ok("dev", "activate", "--bundle", "a.bundle.json", "--identity", "a.identity")["changed"] is False
    assert m.ok("authority", "fetch", "--identity", "a.identity")["written"][0]["deployment_id"] == "sensors"
    acts = m.ok("dev", "sensors", "activations", "list")["items"]
    assert [(x["instance_id"], x["state"]) for x in acts] == [(dev_a["instance_id"], "activated")]

    # the producer's gate reads the device list as a node of the deployment (a grantee of it): the
    # authority gives the list to no one else
    gate_identity, gate_endpoint = write_consumer_identity(m.root, m.tmp / "gate.identity", name="gate",
                                                           attributes={"aster.role": "gate"})
    m.ok("grants", "add", "--deployment", "sensors", "--consumer", gate_endpoint, "--role", "gate")
    env = {"AUTHTEST_AUTHORITY": m.server.address, "AUTHTEST_DEPLOYMENT": "sensors",
           "AUTHTEST_IDENTITY": str(gate_identity)}
    with start_server(["tests.authority.services.tasks_gated:TaskService"], root_pubkey_file=m.root.pubkey_file,
                      env=env) as producer:
        reply = call_get(producer.address, m.tmp / "a.identity", m.tmp)
        assert reply.returncode == 0, reply.stderr
        assert json.loads(reply.stdout)["title"] == "task 7"
        revoked = m.ok("dev", "sensors", "activations", "revoke", dev_a["instance_id"])
        assert revoked["changed"] and revoked["state"] == "revoked"
        assert m.ok("dev", "sensors", "activations", "revoke", dev_a["instance_id"])["changed"] is False
        time.sleep(0.5)  # the gate refreshes every 0.2 s in this test
        assert_clean_error(call_get(producer.address, m.tmp / "a.identity", m.tmp), 3, "revoked")
    # no more release, renewal or activation
    assert_clean_error(m.aster("authority", "fetch", "--identity", "a.identity"), 4, "no credential")
    rec = m.ok("dev", "sensors", "authority", "reconcile", "--dry-run")
    assert dev_a["endpoint_id"] not in {i["endpoint_id"] for i in rec["items"]}
    before = snapshot(m)
    assert_clean_error(m.aster("dev", "activate", "--bundle", "a.bundle.json", "--identity", "a.identity"), 3,
                       "revoked")
    assert snapshot(m) == before
    assert [x["state"] for x in m.ok("dev", "sensors", "activations", "list", "--state", "revoked")["items"]] == \
        ["revoked"]
    shown = m.ok("dev", "sensors", "show")
    assert shown["devices"] == {"registered": 1, "revoked": 1} and shown["pending_reviews"] == 0


def _raw_activate(mesh, bundle_path: Path, *, deployment: str | None = None, key: bytes | None = None):
    """The activation protocol by hand: (connection, challenge, proof) with the device's identity key."""
    from aster_authority.client import activation as device_ops
    from aster_authority.client.connection import Authority
    from aster_authority.domain import devices

    bundle = device_ops.read_bundle(bundle_path)
    node = bundle_path.with_suffix(".node")
    if not node.exists():
        node.write_text(f'[node]\nsecret_key = "{device_ops.node_table(bundle)["secret_key"]}"\n')
    auth = Authority.as_node(mesh.server.address, node)
    dep = deployment or bundle.deployment_id
    challenge = auth.call("DeviceActivation", "challenge", {"deployment_id": dep})["challenge"]
    proof = devices.proof(key or bundle.keys.activation_key, devices.unb64url(challenge, "c", 32),
                          bundle.keys.endpoint_id, dep)
    return auth, {"deployment_id": dep, "challenge": challenge, "proof": devices.b64url(proof)}


def test_wrong_key_replayed_proof_other_deployment_each_refused_with_nothing_changed(dmesh, tmp_path):
    from aster_core.errors import AsterError

    m = dmesh
    m.ok("dev", "open", "create", "--role", ROLE)
    m.ok("dev", "other", "create")
    provision(m, "open", str(tmp_path / "c.bundle.json"))
    c = tmp_path / "c.bundle.json"

    before = snapshot(m)
    auth, req = _raw_activate(m, c, key=b"\x01" * 32)  # a wrong activation key
    with auth:
        with pytest.raises(AsterError) as info:
            auth.call("DeviceActivation", "activate", req)
    assert info.value.exit_code == 3 and "proof does not verify" in info.value.message
    assert snapshot(m) == before

    # a bundle edited to name another deployment: that deployment has no such device
    other = json.loads(c.read_text())
    other["deployment_id"] = "other"
    (tmp_path / "other.bundle.json").write_text(json.dumps(other))
    r = m.aster("dev", "activate", "--bundle", str(tmp_path / "other.bundle.json"), "--identity",
                str(tmp_path / "o.identity"))
    assert_clean_error(r, 4, "not a device of dev/other")
    # ... and a proof made for one deployment does not verify for another
    auth, req = _raw_activate(m, c)
    with auth:
        req["deployment_id"] = "other"
        with pytest.raises(AsterError) as info:
            auth.call("DeviceActivation", "activate", req)
    assert info.value.exit_code == 4
    assert snapshot(m) == before and not (tmp_path / "o.identity").exists()

    # a good proof activates (review_mode none) ... and replayed, it is refused
    auth, req = _raw_activate(m, c)
    with auth:
        assert auth.call("DeviceActivation", "activate", req)["state"] == "activated"
        before = snapshot(m)
        with pytest.raises(AsterError) as info:
            auth.call("DeviceActivation", "activate", req)
    assert info.value.exit_code == 3 and "unknown, used or expired" in info.value.message
    assert snapshot(m) == before


def test_batch_provision_index_and_listing(dmesh, tmp_path):
    m = dmesh
    m.ok("dev", "fleet", "create", "--role", ROLE)
    r = m.aster("dev", "fleet", "provision", "--count", "7", "--out-dir", str(tmp_path / "b"), "--name", "cam",
                "--model-number", "X1", "--root-key", str(m.root.key_file), "--json")
    assert r.returncode == 0, r.stderr
    assert "provisioned 7/7" in r.stderr
    out = json.loads(r.stdout)
    rows = list(csv.DictReader((tmp_path / "b" / "index.csv").open()))
    assert [row["instance_id"] for row in rows] == [d["instance_id"] for d in out["devices"]]
    assert [row["name"] for row in rows] == [f"cam-{n}" for n in range(1, 8)]
    for row in rows:
        bundle = tmp_path / "b" / row["bundle"]
        assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
        assert json.loads(bundle.read_text())["endpoint_id"] == row["endpoint_id"]
    page = m.ok("dev", "fleet", "instances", "--limit", "3", "--all", "--state", "registered")["items"]
    assert sorted(i["instance_id"] for i in page) == sorted(row["instance_id"] for row in rows)
    assert all(i["metadata"]["model_number"] == "X1" for i in page)
    # the index is never overwritten without --force
    again = m.aster("dev", "fleet", "provision", "--count", "2", "--out-dir", str(tmp_path / "b"), "--root-key",
                    str(m.root.key_file))
    assert_clean_error(again, 2, "index.csv", "already exists")
    assert len(m.ok("dev", "fleet", "instances", "--all")["items"]) == 7


@pytest.mark.slow
def test_commands_check_the_instance_and_review_belong_to_the_deployment(dmesh, tmp_path):
    m = dmesh
    m.ok("dev", "north", "create", "--review-mode", "required")
    m.ok("dev", "south", "create", "--review-mode", "required")
    d = provision(m, "north", str(tmp_path / "n.bundle.json"))["devices"][0]
    pending = m.aster("dev", "activate", "--bundle", str(tmp_path / "n.bundle.json"), "--identity",
                      str(tmp_path / "n.identity"), "--json")
    assert pending.returncode == 10
    review = json.loads(pending.stdout)["review"]["review_id"]
    before = snapshot(m)
    assert_clean_error(m.aster("dev", "south", "reviews", "approve", review), 4, "does not belong")
    assert_clean_error(m.aster("dev", "south", "activations", "revoke", d["instance_id"]), 4, "does not belong")
    assert_clean_error(m.aster("dev", "south", "reviews", "list", "--instance", d["instance_id"]), 4,
                       "does not belong")
    assert_clean_error(m.aster("dev", "north", "reviews", "approve", "01NOSUCHREVIEW000000000000"), 4, "no review")
    assert_clean_error(m.aster("dev", "north", "activations", "revoke", "dev_nosuch"), 4, "no device")
    assert_clean_error(m.aster("svc", "north", "show"), 4, "no deployment svc/north")
    assert snapshot(m) == before
    # reject, then the device is refused (exit 3), and --wait ends on the refusal too
    assert m.ok("dev", "north", "reviews", "reject", review, "--reason", "unknown site")["review"]["state"] == \
        "rejected"
    r = m.aster("dev", "activate", "--bundle", str(tmp_path / "n.bundle.json"), "--identity",
                str(tmp_path / "n.identity"), "--wait", "--timeout", "5s")
    assert_clean_error(r, 3, "rejected")
    # remove --purge takes the reviews too
    removed = m.ok("dev", "north", "remove", "-f", "--cascade", "--purge")
    assert removed["purged"]["reviews"] == 1 and removed["purged"]["instances"] == 1


def test_wait_ends_when_the_review_is_approved_and_times_out_pending(dmesh, tmp_path):
    import subprocess

    from aster_core.testing import aster_executable

    m = dmesh
    m.ok("dev", "waiting", "create", "--review-mode", "required", "--role", ROLE)
    provision(m, "waiting", str(tmp_path / "w.bundle.json"))
    # --timeout passes with the review still pending: exit 10, the same as without --wait
    r = m.aster("dev", "activate", "--bundle", str(tmp_path / "w.bundle.json"), "--identity",
                str(tmp_path / "w.identity"), "--wait", "--timeout", "1s")
    assert r.returncode == 10 and "pending" in r.stderr + r.stdout
    review = m.ok("dev", "waiting", "reviews", "list")["items"][0]["review_id"]
    env = {**os.environ, **m.env()}
    proc = subprocess.Popen([aster_executable(), "dev", "activate", "--bundle", str(tmp_path / "w.bundle.json"),
                             "--identity", str(tmp_path / "w.identity"), "--wait", "--timeout", "60s", "--json"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        assert proc.poll() is None  # still waiting
        m.ok("dev", "waiting", "reviews", "approve", review)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert json.loads(out)["state"] == "activated"
    assert tomllib.loads((tmp_path / "w.identity").read_text())["peers"][0]["attributes"]["aster.role"] == ROLE
