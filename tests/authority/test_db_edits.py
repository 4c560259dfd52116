"""Rows edited straight in a real authority's database (a SQL write, a restored backup with edits)
are never signed by the next reconcile: a grant inserted (an ordinary role, and authority.admin),
a grant's role changed, the deployment's roles changed, an instance inserted, a pending plan
flipped to accepted with its contract made the desired one. Each time the edit's items are
refused as not backed by a decision, and the credentials the authority holds (everything the
CLI ever uploaded) stay exactly what they were. SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

DEP = "payments"


def _endpoint() -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex()


class Database:
    """The authority's database, written behind its back."""

    def __init__(self, url: str):
        from aster_server.storage import create_engine

        self.engine = create_engine(url)

    def run(self, statement) -> None:
        with self.engine.begin() as conn:
            conn.execute(statement)

    def one(self, statement):
        with self.engine.connect() as conn:
            return conn.execute(statement).first()

    def signed(self) -> set[tuple]:
        """Every credential the authority holds for the deployment: all that reconcile uploaded."""
        from aster_authority.server.tables import credentials

        with self.engine.connect() as conn:
            return {tuple(r) for r in conn.execute(sa.select(
                credentials.c.endpoint_id, credentials.c.subject, credentials.c.credential).where(
                credentials.c.deployment_id == DEP))}

    def close(self) -> None:
        self.engine.dispose()


def reconcile(mesh) -> dict:
    out = mesh.aster("svc", DEP, "authority", "reconcile", "--root-key", str(mesh.root.key_file), "--json")
    assert out.returncode == 1, (out.stdout, out.stderr)
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("Error: ") and "not backed by a decision" in line
    return json.loads(out.stdout)


@pytest.mark.slow
def test_rows_edited_in_the_database_are_never_signed(mesh, manifest_files):
    from aster_authority.server.tables import contracts, deployments, grants, instances, plan_rows

    mesh.ok("svc", DEP, "create", "--role", "tasks")
    plan = mesh.ok("svc", DEP, "apply", "--manifest", str(manifest_files["v1"]))["plan"]["plan_id"]
    mesh.ok("svc", DEP, "authority", "accept-update", plan, "--yes")
    inst = mesh.ok("svc", DEP, "provision", "--out", "inst.identity", "--root-key", str(mesh.root.key_file))
    consumer = _endpoint()
    mesh.ok("grants", "add", "--deployment", DEP, "--consumer", consumer, "--role", "tasks.reader")
    first = mesh.ok("svc", DEP, "authority", "reconcile", "--root-key", str(mesh.root.key_file))
    assert first["counts"] == {"current": 2, "pending": 0, "failed": 0, "refused": 0}
    db = Database(mesh.server.db)
    try:
        signed = db.signed()
        assert len(signed) == 2

        def refused_for(result: dict) -> dict[str, str]:
            assert result["counts"]["refused"] == len(result["refused"])
            assert all(r["reason"].startswith("not backed by a decision") for r in result["refused"])
            return {r["endpoint_id"]: r["reason"] for r in result["refused"]}

        # a grant inserted, and one of authority.admin
        stranger, admin_thief = _endpoint(), _endpoint()
        for who, role in ((stranger, "tasks.reader"), (admin_thief, "authority.admin")):
            db.run(sa.insert(grants).values(deployment_id=DEP, consumer=who, role=role, created_at=0, created_by=""))
        r = reconcile(mesh)
        assert set(refused_for(r)) == {stranger, admin_thief}
        assert "authority.admin" in refused_for(r)[admin_thief]
        assert db.signed() == signed

        # the grantee's role changed, and the deployment's roles
        db.run(sa.update(grants).where(grants.c.consumer == consumer).values(role="tasks.writer"))
        db.run(sa.update(deployments).where(deployments.c.deployment_id == DEP)
               .values(roles=json.dumps(["tasks", "tasks.admin"])))
        r = reconcile(mesh)
        assert {consumer, inst["endpoint_id"]} <= set(refused_for(r))
        assert db.signed() == signed

        # an instance inserted
        intruder = _endpoint()
        db.run(sa.insert(instances).values(instance_id="svc_" + intruder[:22], deployment_id=DEP, kind="service",
                                           endpoint_id=intruder, state="active", disabled=False, metadata="{}",
                                           created_at=0, renewed_at=None))
        r = reconcile(mesh)
        assert intruder in refused_for(r)
        assert db.signed() == signed

        # put the roles back: the real instance and grantee are backed again, nothing new is signed
        db.run(sa.update(grants).where(grants.c.consumer == consumer).values(role="tasks.reader"))
        db.run(sa.update(deployments).where(deployments.c.deployment_id == DEP).values(roles=json.dumps(["tasks"])))

        # a pending plan flipped to accepted, its contract made the desired one
        pending = mesh.ok("svc", DEP, "apply", "--manifest", str(manifest_files["migration"]))["plan"]["plan_id"]
        row = db.one(sa.select(contracts.c.manifests, plan_rows.c.digest).where(plan_rows.c.plan_id == pending,
                                                                                 contracts.c.digest == plan_rows.c.digest))
        db.run(sa.update(plan_rows).where(plan_rows.c.plan_id == pending).values(state="accepted", decided_at=1))
        db.run(sa.update(deployments).where(deployments.c.deployment_id == DEP)
               .values(desired_manifests=row.manifests, desired_digest=row.digest))
        r = reconcile(mesh)
        assert inst["endpoint_id"] in refused_for(r)
        assert row.digest in refused_for(r)[inst["endpoint_id"]]
        assert db.signed() == signed
    finally:
        db.close()


@pytest.mark.slow
def test_a_deployment_made_before_decision_records_gets_a_confirmed_checkpoint(mesh, manifest_files, aster_env):
    """A database from before decision records: state in the tables, no chain. Reconcile shows the
    state, asks (here: --yes), signs a checkpoint with the root key that the authority accepts
    as record 1, then signs what it backs."""
    from aster_authority.domain import decisions
    from aster_authority.server.tables import records

    mesh.ok("svc", DEP, "create", "--role", "tasks")
    plan = mesh.ok("svc", DEP, "apply", "--manifest", str(manifest_files["v1"]))["plan"]["plan_id"]
    mesh.ok("svc", DEP, "authority", "accept-update", plan, "--yes")
    mesh.ok("svc", DEP, "provision", "--out", "inst.identity", "--root-key", str(mesh.root.key_file))
    consumer = _endpoint()
    mesh.ok("grants", "add", "--deployment", DEP, "--consumer", consumer, "--role", "tasks.reader")
    db = Database(mesh.server.db)
    try:
        db.run(sa.delete(records).where(records.c.deployment_id == DEP))  # as an older database holds none
        (aster_env / "authority" / "pins.json").unlink()  # and this machine never saw a chain of it
        signed = db.signed()
        key = str(mesh.root.key_file)
        asked = mesh.aster("svc", DEP, "authority", "reconcile", "--root-key", key, "--json")
        assert asked.returncode == 2 and "--yes" in asked.stderr and "checkpoint" in asked.stderr
        assert db.signed() == signed and db.one(sa.select(records.c.seq).where(records.c.deployment_id == DEP)) is None

        done = mesh.aster("svc", DEP, "authority", "reconcile", "--root-key", key, "--yes", COLUMNS="300")
        assert done.returncode == 0, done.stderr
        assert "no signed decision yet" in done.stdout and consumer in done.stdout
        row = db.one(sa.select(records.c.seq, records.c.action, records.c.signer, records.c.record)
                     .where(records.c.deployment_id == DEP))
        assert (row.seq, row.action, row.signer) == (1, "checkpoint", mesh.root.public_key.hex())
        decisions.verify_chain([json.loads(row.record)], root_pubkey=mesh.root.public_key)
        now = db.signed()
        assert signed < now and {e for e, _, _ in now - signed} == {consumer}
        again = mesh.ok("svc", DEP, "authority", "reconcile", "--root-key", key)
        assert again["counts"] == {"current": 2, "pending": 0, "failed": 0, "refused": 0}
    finally:
        db.close()
