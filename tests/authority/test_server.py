"""The authority end to end: a real `aster authority serve` on 127.0.0.1 (SQLite and a real
PostgreSQL), the CLI as users run it, and real AsterServers admitting what it produced."""

from __future__ import annotations

import concurrent.futures
import copy
import io
import json
import hashlib
import tarfile
import time
import tomllib
from pathlib import Path

import pytest

from aster_core.testing import assert_clean_error

from tests.support.authority import AuthorityServer
from tests.support.server import start_server


DEP = "payments"


def _plan_id(result: dict) -> str:
    return result["plan"]["plan_id"]


def deploy(mesh, manifest_files, *, roles=("tasks",)) -> str:
    """create + apply v1 + accept; returns the desired version."""
    mesh.ok("svc", DEP, "create", *[a for r in roles for a in ("--role", r)])
    plan = mesh.ok("svc", DEP, "apply", "--manifest", str(manifest_files["v1"]))
    return mesh.ok("svc", DEP, "authority", "accept-update", _plan_id(plan), "--yes")["desired_version"]


def call_get(address: str, rcan: Path, cwd: Path):
    from aster_core.testing import run_aster

    return run_aster(["call", address, "TaskService.get", '{"task_id": 7}', "--rcan", str(rcan)], cwd=cwd,
                     timeout=60)


@pytest.mark.slow
def test_deploy_provision_grant_reconcile_fetch_call_revoke(mesh, manifest_files):
    deploy(mesh, manifest_files)
    # provision: signed here, registered there, written 0600
    inst = mesh.ok("svc", DEP, "provision", "--out", "inst.identity", "--root-key", str(mesh.root.key_file))
    ident = mesh.tmp / "inst.identity"
    assert ident.stat().st_mode & 0o777 == 0o600
    doc = tomllib.loads(ident.read_text())
    assert doc["node"]["endpoint_id"] == inst["endpoint_id"] and doc["peers"][0]["role"] == "producer"
    assert inst["instance_id"].startswith("svc_") and len(inst["instance_id"]) == 26
    # never overwritten without --force
    again = mesh.aster("svc", DEP, "provision", "--out", "inst.identity", "--root-key", str(mesh.root.key_file))
    assert_clean_error(again, 2, "already exists")
    assert tomllib.loads(ident.read_text()) == doc
    listed = mesh.ok("svc", DEP, "instances")
    assert [i["instance_id"] for i in listed["items"]] == [inst["instance_id"]]

    # the producer credential is one the runtime itself accepts for that node and root
    from aster.trust import EnrollmentCredential, verify_signature

    peer = doc["peers"][0]
    cred = EnrollmentCredential(endpoint_id=peer["endpoint_id"], root_pubkey=bytes.fromhex(peer["root_pubkey"]),
                                expires_at=peer["expires_at"], attributes=dict(peer["attributes"]),
                                signature=bytes.fromhex(peer["signature"]))
    assert verify_signature(cred, mesh.root.public_key)
    assert peer["attributes"]["aster.role"] == "tasks" and peer["attributes"]["aster.deployment"] == DEP

    env = {"AUTHTEST_AUTHORITY": mesh.server.address, "AUTHTEST_DEPLOYMENT": DEP, "AUTHTEST_IDENTITY": str(ident)}
    with start_server(["tests.authority.services.tasks_gated:TaskService"], root_pubkey_file=mesh.root.pubkey_file,
                      identity=ident, env=env) as producer:
        assert producer.endpoint_id == inst["endpoint_id"]  # its node key is the provisioned one
        assert producer.info["mode"] == "trusted"
        # a new consumer: the first fetch makes its key and names its endpoint id
        first = mesh.aster("authority", "fetch", "--identity", "consumer.identity")
        line = assert_clean_error(first, 4, "no credential")
        consumer = tomllib.loads((mesh.tmp / "consumer.identity").read_text())["node"]["endpoint_id"]
        assert consumer in line
        assert_clean_error(call_get(producer.address, mesh.tmp / "consumer.identity", mesh.tmp), 2)

        granted = mesh.ok("grants", "add", "--deployment", DEP, "--consumer", consumer, "--role", "tasks.reader")
        assert granted["roles"] == ["tasks.reader"] and granted["reconcile_needed"]
        rec = mesh.ok("svc", DEP, "authority", "reconcile", "--root-key", str(mesh.root.key_file))
        assert rec["counts"] == {"current": 2, "pending": 0, "failed": 0, "refused": 0}
        assert {(i["subject"], i["action"]) for i in rec["items"]} == {("producer", "kept"), ("consumer", "issued")}
        # nothing left to sign: a second reconcile needs no root key at all
        assert mesh.ok("svc", DEP, "authority", "reconcile")["counts"]["current"] == 2

        fetched = mesh.ok("authority", "fetch", "--identity", "consumer.identity")
        assert fetched["written"][0]["roles"] == ["tasks.reader"]
        reply = call_get(producer.address, mesh.tmp / "consumer.identity", mesh.tmp)
        assert reply.returncode == 0, reply.stderr
        assert json.loads(reply.stdout)["title"] == "task 7"

        # revoked: the credential still verifies, but the producer's gate refuses it
        mesh.ok("grants", "remove", "--deployment", DEP, "--consumer", consumer, "--role", "tasks.reader")
        assert mesh.ok("grants", "list", "--deployment", DEP)["items"] == []
        time.sleep(0.5)  # the gate refreshes every 0.2 s in this test
        denied = call_get(producer.address, mesh.tmp / "consumer.identity", mesh.tmp)
        assert_clean_error(denied, 3, "revoked")
        # and the authority no longer releases it
        assert_clean_error(mesh.aster("authority", "fetch", "--identity", "consumer.identity"), 4)


def test_admin_methods_need_the_admin_role(sqlite_mesh, tmp_path):
    from tests.support.credentials import write_consumer_identity

    reader, _ = write_consumer_identity(sqlite_mesh.root, tmp_path / "reader.identity",
                                        attributes={"aster.role": "tasks.reader"})
    r = sqlite_mesh.aster("svc", "list", "--rcan", str(reader))
    assert_clean_error(r, 3, "authority.admin")
    status = sqlite_mesh.ok("authority", "status", "--rcan", str(reader))
    assert status["admin"] is False and status["caller_roles"] == ["tasks.reader"]
    assert sqlite_mesh.ok("authority", "status")["admin"] is True


@pytest.mark.slow
def test_plan_refusals_through_the_server(sqlite_mesh, manifest_files, manifests, tmp_path):
    m = sqlite_mesh
    deploy(m, manifest_files)
    m.ok("svc", "billing", "create")
    up = _plan_id(m.ok("svc", DEP, "apply", "--manifest", str(manifest_files["update"])))
    mig = _plan_id(m.ok("svc", DEP, "apply", "--manifest", str(manifest_files["migration"])))
    same = m.ok("svc", DEP, "apply", "--manifest", str(manifest_files["update"]))
    assert same["created"] is False and _plan_id(same) == up  # de-duplicated
    before = m.ok("svc", DEP, "authority", "plan", "list")

    def refused(code, *args, needles=()):
        assert_clean_error(m.aster("svc", *args), code, *needles)
        assert m.ok("svc", DEP, "authority", "plan", "list") == before

    refused(1, DEP, "authority", "accept-update", mig, "--yes", needles=("is a migration", "accept-migration"))
    refused(1, DEP, "authority", "accept-migration", up, "--acknowledgement", "x", "--yes", needles=("is an update",))
    refused(2, DEP, "authority", "accept-migration", mig, "--acknowledgement", "  ", "--yes",
            needles=("acknowledgement",))
    refused(4, "billing", "authority", "accept-update", up, "--yes", needles=("does not belong",))
    refused(4, DEP, "authority", "plan", "show", "01NOSUCHPLAN0000000000000", needles=("no plan",))
    refused(1, DEP, "authority", "accept-update", up, "--yes", "--expected-desired-version", "01OLD",
            needles=("desired version changed",))
    refused(2, DEP, "authority", "accept-update", up, "--json", needles=("--yes",))
    refused(2, DEP, "authority", "plan", "list", "--limit", "501", needles=("500",))
    # namespace enforcement names the field
    m.ok("svc", "narrow", "create", "--namespace", "Billing*")
    assert_clean_error(m.aster("svc", "narrow", "apply", "--manifest", str(manifest_files["v1"])), 3,
                       "manifests[0].service", "TaskService")
    # a bad manifest: the server-side error names the field
    bad = copy.deepcopy(manifests["v1"])
    bad[0]["version"] = "one"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    from aster_authority.client import connection as client, deployments as ops

    with client.Authority.open(m.server.address, str(m.admin_identity)) as auth:
        with pytest.raises(Exception) as info:
            ops.apply(auth, DEP, bad)
    assert "manifests[0]" in str(info.value) and info.value.exit_code == 2

    # accept the update: the migration becomes stale, shown and refused with a hint
    m.ok("svc", DEP, "authority", "accept-update", up, "--yes")
    stale = m.ok("svc", DEP, "authority", "plan", "list", "--stale")["items"]
    assert [p["plan_id"] for p in stale] == [mig] and stale[0]["stale"]
    line = assert_clean_error(m.aster("svc", DEP, "authority", "accept-migration", mig, "--acknowledgement", "x",
                                      "--yes"), 1, "stale", "desired version changed")
    assert "apply" in line
    assert_clean_error(m.aster("svc", DEP, "authority", "accept-update", up, "--yes"), 1, "accepted, not pending")
    assert m.ok("svc", DEP, "authority", "reject", mig, "--reason", "superseded")["plan"]["state"] == "rejected"
    assert_clean_error(m.aster("svc", DEP, "authority", "reject", mig), 1, "rejected, not pending")
    # the migration, re-applied, is accepted with an acknowledgement
    mig2 = _plan_id(m.ok("svc", DEP, "apply", "--manifest", str(manifest_files["migration"])))
    done = m.ok("svc", DEP, "authority", "accept-migration", mig2, "--acknowledgement", "ids become text", "--yes")
    assert done["plan"]["decision_reason"] == "ids become text"
    assert done["plan"]["decided_by"]["name"] == "ops"
    shown = m.ok("svc", DEP, "authority", "plan", "show", mig2)
    assert shown["state"] == "accepted" and shown["breaking"] >= 2
    assert [p["state"] for p in m.ok("svc", DEP, "authority", "plan", "list", "--all", "--limit", "1")["items"]] == \
        ["accepted", "accepted", "rejected", "accepted"]


def test_expired_plan_refused(tmp_path, manifest_files):
    from .conftest import make_mesh

    m = make_mesh(tmp_path, str(tmp_path / "a.db"))
    try:
        m.ok("svc", DEP, "create")
        plan = _plan_id(m.ok("svc", DEP, "apply", "--manifest", str(manifest_files["v1"]), "--ttl", "1s"))
        time.sleep(1.2)
        assert_clean_error(m.aster("svc", DEP, "authority", "accept-update", plan, "--yes"), 1, "expired", "re-apply")
        assert m.ok("svc", DEP, "authority", "plan", "list", "--state", "expired")["items"][0]["plan_id"] == plan
        assert m.ok("svc", DEP, "show")["desired_digest"] == ""
    finally:
        m.server.stop()


def _ten_plans(mesh, manifests, tmp: Path) -> list[str]:
    ids = []
    for n in range(10):
        variant = copy.deepcopy(manifests["v1"])
        variant[0]["changelog"] = f"variant {n}"
        path = tmp / f"variant{n}.json"
        path.write_text(json.dumps(variant))
        ids.append(_plan_id(mesh.ok("svc", DEP, "apply", "--manifest", str(path))))
    return ids


def _race(mesh, ids, addresses) -> list:
    def accept(i: int):
        return mesh.aster("svc", DEP, "authority", "accept-update", ids[i], "--yes", "--json",
                          ASTER_AUTHORITY_ADDR=addresses[i % len(addresses)], timeout=120)

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        return list(pool.map(accept, range(10)))


@pytest.mark.slow
def test_ten_concurrent_accepts_exactly_one_wins(mesh, manifest_files, manifests, tmp_path):
    deploy(mesh, manifest_files)
    ids = _ten_plans(mesh, manifests, tmp_path)
    addresses = [mesh.server.address]
    replica = None
    if mesh.server.db.startswith("postgresql"):  # and a second replica on the same database
        replica = AuthorityServer(mesh.server.db, mesh.root.pubkey_file, tmp_path / "replica.key",
                                  tmp_path / "replica.log").start()
        addresses.append(replica.address)
    try:
        results = _race(mesh, ids, addresses)
    finally:
        if replica:
            replica.stop()
    winners = [r for r in results if r.returncode == 0]
    assert len(winners) == 1, [(r.returncode, r.stderr) for r in results]
    for r in results:
        if r.returncode:
            assert_clean_error(r, 1, "desired version changed")
    won = json.loads(winners[0].stdout)
    shown = mesh.ok("svc", DEP, "show")
    assert shown["version"] == won["desired_version"]
    states = [p["state"] for p in mesh.ok("svc", DEP, "authority", "plan", "list", "--all")["items"]]
    assert states.count("accepted") == 2 and states.count("pending") == 9


def test_uploaded_credentials_are_verified_and_bad_ones_not_stored(sqlite_mesh, manifest_files, tmp_path):
    from aster_authority import wire
    from aster_authority.client import connection as client, deployments as ops
    from aster_trust import credentials
    from aster_trust.keys import generate_root_key, load_root_key_file

    from tests.support.credentials import write_consumer_identity

    m = sqlite_mesh
    deploy(m, manifest_files)
    _, consumer = write_consumer_identity(m.root, tmp_path / "c.identity")
    _, other = write_consumer_identity(m.root, tmp_path / "o.identity")
    m.ok("grants", "add", "--deployment", DEP, "--consumer", consumer, "--role", "tasks.reader", "--role", "x")
    root = load_root_key_file(m.root.key_file)
    with client.Authority.open(m.server.address, str(m.admin_identity)) as auth:
        item = auth.call(wire.ADMIN, "desired", {"kind": "service", "deployment_id": DEP})["items"][0]
        assert item["attributes"] == {"aster.role": "tasks.reader,x", "aster.deployment": DEP}

        def upload(signer, **changes):
            kw = dict(expires_at=item["expires_at"], attributes=item["attributes"], endpoint_id=consumer)
            kw.update(changes)
            cred = credentials.sign(signer, "policy", **kw)
            return auth.call(wire.ADMIN, "upload", {"kind": "service", "deployment_id": DEP,
                                                      "credentials_json": [cred.to_json()]})["results"][0]

        bad = {
            "root": upload(generate_root_key()),
            "binding": upload(root, endpoint_id=other),
            "attributes": upload(root, attributes={"aster.role": "tasks.reader,x,admin", "aster.deployment": DEP}),
            "expiry": upload(root, expires_at=item["expires_at"] + 30 * 86400),
        }
        for what, result in bad.items():
            assert result["status"] == "failed", (what, result)
        assert "another root key" in bad["root"]["reason"]
        assert "no instance or grant" in bad["binding"]["reason"]
        assert "attributes" in bad["attributes"]["reason"]
        # nothing was stored: still missing, and nothing is released
        assert auth.call(wire.ADMIN, "desired", {"kind": "service", "deployment_id": DEP})["items"][0]["status"] \
            == "missing"
        assert upload(root)["status"] == "current"
        # provisioning with a credential signed by another root is refused and registers nothing
        with pytest.raises(Exception) as info:
            _provision_forged(auth, tmp_path)
        assert info.value.exit_code == 3 and "another root key" in info.value.message
        assert ops.instances(auth, DEP)["items"] == []


def _provision_forged(auth, tmp_path):
    from aster_authority.wire import ADMIN
    from aster_enroll.identity import NodeKey
    from aster_trust import credentials
    from aster_trust.keys import generate_root_key

    node = NodeKey.generate()
    tpl = auth.call(ADMIN, "provision_template", {"kind": "service", "deployment_id": DEP,
                                                  "endpoint_id": node.endpoint_id})
    cred = credentials.sign(generate_root_key(), "producer", expires_at=tpl["expires_at"],
                            attributes=tpl["attributes"], endpoint_id=node.endpoint_id)
    from aster_authority.client.signer import decide

    return decide(auth, DEP, "instance_register", {"endpoint_id": node.endpoint_id}, lambda record: auth.call(
        ADMIN, "provision", {"kind": "service", "deployment_id": DEP, "endpoint_id": node.endpoint_id,
                             "credential_json": cred.to_json(), "record_json": record}))


@pytest.mark.slow
def test_kill_during_accept_and_restart_keep_everything(sqlite_mesh, manifest_files, manifests, tmp_path):
    m = sqlite_mesh
    version = deploy(m, manifest_files)
    inst = m.ok("svc", DEP, "provision", "--out", "i.identity", "--root-key", str(m.root.key_file))
    ids = _ten_plans(m, manifests, tmp_path)
    endpoint = m.server.info["endpoint_id"]
    # kill -9 while an accept is in flight
    import subprocess
    import sys

    proc = subprocess.Popen([str(Path(sys.executable).with_name("aster")), "svc", DEP, "authority", "accept-update",
                             ids[0], "--yes", "--json"], env={**__import__("os").environ, **m.env()},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    time.sleep(0.8)
    m.server.kill()
    proc.communicate(timeout=90)
    m.server.start()
    assert m.server.info["endpoint_id"] == endpoint  # stable node key: same address
    shown = m.ok("svc", DEP, "show")
    plan = m.ok("svc", DEP, "authority", "plan", "show", ids[0])
    if plan["state"] == "accepted":  # the accept committed whole ...
        assert shown["version"] != version
        assert shown["desired_digest"] == plan["digest"]
    else:  # ... or not at all
        assert plan["state"] == "pending" and shown["version"] == version
    assert shown["instances"] == 1
    assert [i["instance_id"] for i in m.ok("svc", DEP, "instances")["items"]] == [inst["instance_id"]]
    assert len(m.ok("svc", DEP, "authority", "plan", "list", "--all")["items"]) == 11
    # and the server still decides
    fresh = _plan_id(m.ok("svc", DEP, "apply", "--manifest", str(manifest_files["update"])))
    m.ok("svc", DEP, "authority", "accept-update", fresh, "--yes")


@pytest.mark.slow
def test_list_paging_disable_enable_remove(sqlite_mesh, manifest_files):
    m = sqlite_mesh
    for n in range(5):
        m.ok("svc", f"d{n}", "create")
    page = m.ok("svc", "list", "--limit", "2")
    assert [d["deployment_id"] for d in page["items"]] == ["d0", "d1"] and page["next_offset"] == 2
    assert len(m.ok("svc", "list", "--all", "--limit", "2")["items"]) == 5
    off = m.ok("svc", "d1", "disable")
    assert off["disabled"] and off["changed"]
    assert m.ok("svc", "d1", "disable")["changed"] is False
    assert "d1" not in [d["deployment_id"] for d in m.ok("svc", "list")["items"]]
    assert "d1" in [d["deployment_id"] for d in m.ok("svc", "list", "--disabled")["items"]]
    assert_clean_error(m.aster("svc", "d1", "apply", "--manifest", str(manifest_files["v1"])), 1, "disabled")
    m.ok("svc", "d1", "enable")
    assert_clean_error(m.aster("svc", "d2", "remove", "--json"), 2, "-f")
    # an answer piped in is no person at a terminal: refused before asking, naming --yes (a wrong
    # typed answer at a real terminal: tests/core/test_prompts.py)
    assert_clean_error(m.aster("svc", "d2", "remove", input="svc/d2\n"), 2, "--yes", "no terminal")
    assert m.ok("svc", "d2", "show")["deployment_id"] == "d2"
    removed = m.ok("svc", "d2", "remove", "-f")
    assert removed["removed"] and removed["kept"]["history"] >= 1
    assert m.ok("svc", "d2", "show")["removed"]  # kept, shown as removed (tests/authority/test_remove.py)
    m.ok("svc", "d2", "purge", "-f")
    assert_clean_error(m.aster("svc", "d2", "show"), 4, "no deployment svc/d2")
    assert_clean_error(m.aster("svc", "Bad_Id", "show"), 2)


def test_apply_image_from_an_oci_layout(sqlite_mesh, manifest_files, tmp_path):
    m = sqlite_mesh
    m.ok("svc", DEP, "create")
    layout = tmp_path / "image"
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def blob(data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return f"sha256:{digest}"

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = manifest_files["v1"].read_bytes()
        info = tarfile.TarInfo("srv/contract.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    layer = blob(buf.getvalue())
    config = blob(json.dumps({"config": {"Labels": {"io.aster.contract.path": "/srv/contract.json"}}}).encode())
    manifest = blob(json.dumps({"schemaVersion": 2, "config": {"digest": config},
                                "layers": [{"digest": layer}]}).encode())
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{"digest": manifest}]}))
    plan = m.ok("svc", DEP, "apply", "--image", str(layout))
    assert plan["plan"]["services"] == ["TaskService@1"]
    archive = tmp_path / "image.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(layout, arcname=".")
    again = m.ok("svc", DEP, "apply", "--image", str(archive))
    assert again["created"] is False  # the same contract: the same pending plan
    assert_clean_error(m.aster("svc", DEP, "apply", "--image", str(tmp_path)), 2, "OCI image layout")
