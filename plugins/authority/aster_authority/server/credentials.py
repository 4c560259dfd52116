"""Instances and credentials in the authority's database: the desired credentials of a
deployment, uploads (verified, then stored), service instance provisioning, the instance
list, and what a node fetches.

Credentials are never signed here: the operator's CLI signs and uploads them, and each is
checked by :mod:`aster_authority.domain.credentials` against the mesh root, the binding and
the attributes the desired state demands; only those that match are stored.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from aster_core.errors import ExitCode

from ..domain import credentials as policy
from ..domain.credentials import CONSUMER, DEVICE, PRODUCER, canonical_json
from ..domain.errors import Refusal
from ..domain.ids import PREFIX, instance_id_for
from ..domain.bodies import instance_body
from ..domain.plans import Actor, Deployment
from ..domain.replay import INSTANCE_REGISTER
from ..wire import DEFAULT_LIMIT, MAX_LIMIT
from .database import endpoint, listing, page_of
from .decisions import ChainStore
from .tables import credentials, grants, instances, revocations


class CredentialStore(ChainStore):
    """Instances and their credentials (one transaction each)."""

    # -- the desired state -------------------------------------------------------------
    def desired_items(self, conn: sa.Connection, dep: Deployment, now: int, endpoints: list[str] | None = None,
                      *, status: bool = True) -> list[dict[str, Any]]:
        """Every credential the deployment's desired state calls for, with its status
        (only those bound to ``endpoints`` when given: what an upload batch can match;
        without ``status`` the stored credentials are not read: an upload replaces them)."""
        def only(column: Any) -> list[Any]:
            return [] if endpoints is None else [column.in_(endpoints)]

        live = conn.execute(sa.select(instances.c.instance_id, instances.c.endpoint_id).where(
            instances.c.deployment_id == dep.deployment_id, instances.c.state != "revoked",
            instances.c.disabled.is_(False), *only(instances.c.endpoint_id)).order_by(instances.c.instance_id))
        granted = conn.execute(sa.select(grants.c.consumer, grants.c.role).where(
            grants.c.deployment_id == dep.deployment_id, *only(grants.c.consumer))
            .order_by(grants.c.consumer, grants.c.role))
        items = policy.desired_items(dep, [tuple(r) for r in live], [tuple(r) for r in granted], now, self.policy)
        if not status:
            return items
        c = credentials.c
        stored = {(r.endpoint_id, r.subject): (r.attributes, r.expires_at) for r in conn.execute(
            sa.select(c.endpoint_id, c.subject, c.attributes, c.expires_at).where(
                c.deployment_id == dep.deployment_id, *only(c.endpoint_id)))}
        return policy.with_status(items, stored, now, self.policy)

    def desired(self, kind: str, deployment_id: str, *, desired_version: str | None = None) -> dict[str, Any]:
        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep = self.load(conn, deployment_id, kind)
            if desired_version is not None and desired_version != dep.version:
                raise Refusal("version_changed", f"desired version changed: {dep.ref} is at {dep.version}, not "
                              f"{desired_version}", "reconcile the current version (drop --desired-version) "
                              "or review what changed")
            items = self.desired_items(conn, dep, self.now())
            return {"deployment_id": deployment_id, "desired_version": dep.version, "items": items,
                    "root_pubkey": self.root_pubkey.hex()}

        return self.read(tx)

    # -- storing verified credentials ----------------------------------------------------
    def verify_credential(self, doc: Any, item: dict[str, Any] | None, now: int) -> tuple[Any, str | None]:
        """(credential, None) when ``doc`` is exactly what ``item`` demands, else (cred or None, why not)."""
        return policy.verify(doc, item, self.root_pubkey, now, self.policy)

    def store_credentials(self, conn: sa.Connection, deployment_id: str, verified: list[tuple[dict, Any]],
                          now: int, actor: Actor | None) -> None:
        """Store verified ``(item, credential)`` pairs (a few statements for the whole batch)."""
        if not verified:
            return
        c = credentials.c
        for subject in policy.SUBJECTS:
            endpoints = [item["endpoint_id"] for item, _ in verified if item["subject"] == subject]
            if endpoints:
                conn.execute(sa.delete(credentials).where(c.deployment_id == deployment_id, c.subject == subject,
                                                          c.endpoint_id.in_(endpoints)))
        conn.execute(sa.insert(credentials), [
            dict(deployment_id=deployment_id, endpoint_id=item["endpoint_id"], subject=item["subject"], type=cred.type,
                 credential=canonical_json(cred.to_dict()), attributes=canonical_json(cred.attributes),
                 expires_at=cred.expires_at, uploaded_at=now, uploaded_by=actor.endpoint_id if actor else "")
            for item, cred in verified])
        renewed = [item["id"] for item, _ in verified if item["subject"] in (PRODUCER, DEVICE)]
        if renewed:
            conn.execute(sa.update(instances).where(instances.c.instance_id.in_(renewed)).values(renewed_at=now))
        # a fresh credential for the granted roles lifts a "roles reduced" revocation
        lifted = [item["endpoint_id"] for item, _ in verified if item["subject"] == CONSUMER]
        if lifted:
            conn.execute(sa.delete(revocations).where(revocations.c.deployment_id == deployment_id,
                                                      revocations.c.endpoint_id.in_(lifted)))

    def upload(self, kind: str, deployment_id: str, docs: list[Any], *, actor: Actor | None = None) -> dict[str, Any]:
        """Verify and store signed credentials; each is stored or refused on its own."""
        if not isinstance(docs, list) or len(docs) > MAX_LIMIT:
            raise Refusal("invalid", f"credentials: give a list of at most {MAX_LIMIT}", "upload in batches",
                          field="credentials", exit_code=ExitCode.USAGE)

        now = self.now()
        checked = [policy.admissible(doc, self.root_pubkey, now) for doc in docs]  # outside the write lock
        keys = []
        for doc in docs:
            endpoint_id = doc.get("endpoint_id") if isinstance(doc, dict) else None
            ctype = (doc.get("type") or doc.get("credential_type")) if isinstance(doc, dict) else None
            keys.append((endpoint_id, (str(endpoint_id).lower(), ctype)))

        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep = self.lock(conn, deployment_id, kind)  # uploads in flight queue here
            endpoints = sorted({key[0] for _, key in keys})
            desired = self.desired_items(conn, dep, now, endpoints, status=False)
            by_key = {(i["endpoint_id"], i["type"]): i for i in desired}
            results = []
            verified: list[tuple[dict, Any]] = []
            taken: set[tuple[str, Any]] = set()  # the desired items already matched
            for n, ((endpoint_id, key), found) in enumerate(zip(keys, checked)):
                item = by_key.get(key)
                cred, problem = policy.matches(found, item, now, self.policy)
                entry = {"index": n, "endpoint_id": endpoint_id, "subject": item["subject"] if item else None,
                         "id": item["id"] if item else None}
                if problem:
                    results.append({**entry, "status": "failed", "reason": f"credentials[{n}]: {problem}"})
                    continue
                if key in taken:
                    results.append({**entry, "status": "failed", "reason": f"credentials[{n}]: uploaded twice"})
                    continue
                taken.add(key)
                verified.append((item, cred))
                results.append({**entry, "status": "current", "expires_at": cred.expires_at})
            self.store_credentials(conn, deployment_id, verified, now, actor)
            if any(r["status"] == "current" for r in results):
                self.history(conn, deployment_id, actor, "credentials",
                             stored=sum(r["status"] == "current" for r in results),
                             failed=sum(r["status"] == "failed" for r in results))
            return {"deployment_id": deployment_id, "desired_version": dep.version, "results": results}

        return self.write(tx)

    # -- service instances ----------------------------------------------------------------
    def provision_template(self, kind: str, deployment_id: str, endpoint_id: str) -> dict[str, Any]:
        """What the operator must sign for a new instance at ``endpoint_id`` (nothing is written)."""
        endpoint_id = endpoint(endpoint_id)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep = self.load(conn, deployment_id, kind)
            self.check_provisionable(conn, dep, endpoint_id)
            return {"instance_id": instance_id_for(endpoint_id, kind), "endpoint_id": endpoint_id,
                    "type": "producer", "attributes": policy.producer_attributes(dep),
                    "expires_at": self.now() + self.policy.instance_lifetime, "desired_version": dep.version,
                    "root_pubkey": self.root_pubkey.hex()}

        return self.read(tx)

    def check_provisionable(self, conn: sa.Connection, dep: Deployment, endpoint_id: str) -> None:
        if dep.disabled:
            raise Refusal("disabled", f"{dep.ref} is disabled: cannot provision",
                          f"enable it first: aster {PREFIX[dep.kind]} {dep.deployment_id} enable")
        if not dep.desired_digest:
            raise Refusal("no_contract", f"{dep.ref} has no accepted contract yet",
                          f"apply one and accept the plan: aster {PREFIX[dep.kind]} {dep.deployment_id} apply "
                          "--manifest FILE")
        row = conn.execute(sa.select(instances).where(
            instances.c.instance_id == instance_id_for(endpoint_id, dep.kind))).first()
        if row is not None:
            raise Refusal("exists", f"endpoint {endpoint_id[:16]}... is already instance {row.instance_id} of "
                          f"deployment {row.deployment_id}", "provision with a new key (omit --instance-seed)")

    def provision(self, kind: str, deployment_id: str, endpoint_id: str, doc: Any, *,
                  actor: Actor | None = None, record: Any = None) -> dict[str, Any]:
        endpoint_id = endpoint(endpoint_id)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep = self.lock(conn, deployment_id, kind)
            self.check_provisionable(conn, dep, endpoint_id)
            self.take_record(conn, deployment_id, record, action=INSTANCE_REGISTER, body=instance_body(endpoint_id),
                             actor=actor)
            now = self.now()
            iid = instance_id_for(endpoint_id, kind)
            item = {"subject": PRODUCER, "id": iid, "endpoint_id": endpoint_id, "type": "producer",
                    "attributes": policy.producer_attributes(dep), "expires_at": now + self.policy.instance_lifetime}
            cred, problem = self.verify_credential(doc, item, now)
            if problem:
                raise Refusal("bad_credential", f"credential: {problem}", "sign it with the mesh root key for "
                              "exactly what `provision` asked (the CLI does this)", field="credential",
                              exit_code=ExitCode.DENIED)
            conn.execute(sa.insert(instances).values(instance_id=iid, deployment_id=deployment_id, kind=kind,
                                                     endpoint_id=endpoint_id, state="active", disabled=False,
                                                     metadata="{}", created_at=now, renewed_at=None))
            conn.execute(sa.delete(revocations).where(revocations.c.deployment_id == deployment_id,
                                                      revocations.c.endpoint_id == endpoint_id))
            self.store_credentials(conn, deployment_id, [(item, cred)], now, actor)
            self.history(conn, deployment_id, actor, "provision", instance_id=iid)
            return {"instance_id": iid, "endpoint_id": endpoint_id, "deployment_id": deployment_id,
                    "expires_at": cred.expires_at, "desired_version": dep.version}

        return self.write(tx)

    def instance_list(self, kind: str, deployment_id: str, *, include_disabled: bool = False, offset: int = 0,
                      limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        page = page_of(offset, limit)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            self.load(conn, deployment_id, kind)
            q = sa.select(instances, credentials.c.expires_at).select_from(instances.outerjoin(
                credentials, sa.and_(credentials.c.deployment_id == instances.c.deployment_id,
                                     credentials.c.endpoint_id == instances.c.endpoint_id,
                                     credentials.c.subject == PRODUCER))).where(
                instances.c.deployment_id == deployment_id)
            if not include_disabled:
                q = q.where(instances.c.disabled.is_(False))
            rows = conn.execute(q.order_by(instances.c.instance_id).offset(page.offset).limit(page.fetch)).all()
            return listing(page, [{"instance_id": r.instance_id, "endpoint_id": r.endpoint_id, "state": r.state,
                                   "disabled": bool(r.disabled), "created_at": r.created_at,
                                   "renewed_at": r.renewed_at, "credential_expires_at": r.expires_at} for r in rows])

        return self.read(tx)

    # -- node-facing ----------------------------------------------------------------------
    def fetch(self, endpoint_id: str) -> dict[str, Any]:
        """Every credential the authority releases to ``endpoint_id`` (proved by the connection)."""
        def tx(conn: sa.Connection) -> dict[str, Any]:
            now = self.now()
            revoked = {r.deployment_id for r in conn.execute(
                sa.select(revocations.c.deployment_id).where(revocations.c.endpoint_id == endpoint_id))}
            held = {r.deployment_id: (r.state, bool(r.disabled)) for r in conn.execute(
                sa.select(instances.c.deployment_id, instances.c.state, instances.c.disabled).where(
                    instances.c.endpoint_id == endpoint_id))}
            out = []
            for r in conn.execute(sa.select(credentials).where(credentials.c.endpoint_id == endpoint_id)
                                  .order_by(credentials.c.deployment_id, credentials.c.subject)):
                if policy.released(r.subject, r.expires_at, now, held.get(r.deployment_id),
                                   r.deployment_id in revoked):
                    out.append({"deployment_id": r.deployment_id, "subject": r.subject, "type": r.type,
                                "expires_at": r.expires_at, "credential": json.loads(r.credential)})
            return {"endpoint_id": endpoint_id, "credentials": out}

        return self.read(tx)
