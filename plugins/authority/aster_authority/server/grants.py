"""Grants and revocation lists in the authority's database: add or remove a consumer's roles,
list grants, and the revocation list producers' gates fetch. What a change means is
:mod:`aster_authority.domain.grants`'."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import sqlalchemy as sa
from aster_core.errors import ExitCode

from ..domain import grants as rules
from ..domain.credentials import CONSUMER
from ..domain.errors import Refusal
from ..domain.ids import DEVICE, SERVICE
from ..domain.bodies import grant_body
from ..domain.plans import Actor, Deployment
from ..domain.replay import GRANT_ADD, GRANT_REMOVE
from ..wire import DEFAULT_LIMIT
from .database import endpoint, listing, page_of
from .decisions import ChainStore
from .tables import credentials, grants, instances, revocations


class GrantStore(ChainStore):
    """Grants and revocation lists (one transaction each)."""

    def grant(self, deployment_id: str, consumer: str, roles: Iterable[str], *, add: bool,
              actor: Actor | None = None, record: Any = None) -> dict[str, Any]:
        consumer = endpoint(consumer, "consumer")
        roles = rules.check_grant_roles(roles)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            self.lock(conn, deployment_id)  # changes of one deployment queue here
            self.take_record(conn, deployment_id, record, action=GRANT_ADD if add else GRANT_REMOVE,
                             body=grant_body(consumer, roles), actor=actor)
            now = self.now()
            key = (grants.c.deployment_id == deployment_id, grants.c.consumer == consumer)
            held = [r.role for r in conn.execute(sa.select(grants.c.role).where(*key))]
            change = rules.change_roles(held, roles, add=add)
            if change.changed and add:
                conn.execute(sa.insert(grants), [dict(deployment_id=deployment_id, consumer=consumer, role=role,
                                                      created_at=now, created_by=actor.endpoint_id if actor else "")
                                                 for role in change.changed])
            elif change.changed:
                conn.execute(sa.delete(grants).where(*key, grants.c.role.in_(change.changed)))
            if change.revocation:
                conn.execute(sa.delete(revocations).where(revocations.c.deployment_id == deployment_id,
                                                          revocations.c.endpoint_id == consumer))
                conn.execute(sa.insert(revocations).values(deployment_id=deployment_id, endpoint_id=consumer,
                                                           revoked_at=now, reason=change.revocation))
            if change.drop_credential:
                conn.execute(sa.delete(credentials).where(credentials.c.deployment_id == deployment_id,
                                                          credentials.c.endpoint_id == consumer,
                                                          credentials.c.subject == CONSUMER))
            if change.changed:
                self.history(conn, deployment_id, actor, "grant_add" if add else "grant_remove",
                             consumer=consumer, roles=list(change.changed))
            return {"deployment_id": deployment_id, "consumer": consumer, "changed": list(change.changed),
                    "roles": list(change.roles), "reconcile_needed": change.reconcile_needed}

        return self.write(tx)

    def grant_list(self, deployment_id: str | None = None, *, offset: int = 0,
                   limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        page = page_of(offset, limit)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            q = sa.select(grants)
            if deployment_id is not None:
                self.load(conn, deployment_id)
                q = q.where(grants.c.deployment_id == deployment_id)
            rows = conn.execute(q.order_by(grants.c.deployment_id, grants.c.consumer, grants.c.role)
                                .offset(page.offset).limit(page.fetch)).all()
            return listing(page, [{"deployment_id": r.deployment_id, "consumer": r.consumer, "role": r.role,
                                   "created_at": r.created_at} for r in rows])

        return self.read(tx)

    def revocation_list(self, deployment_id: str, *, caller: str | None = None,
                        attributes: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Revoked endpoints of a deployment, and the roles each grantee holds now: the grant map, so
        only for the deployment's own nodes (:meth:`may_read_revocations`); ``caller`` None: no check
        (in-process use)."""
        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep = self.load(conn, deployment_id)
            if caller is not None and not self.may_read_revocations(conn, dep, caller, attributes or {}):
                raise Refusal("not_a_producer", f"the revocation list of {dep.ref} is given only to its producers "
                              "(and to nodes admitted with a credential of it)",
                              "connect with the producer's node key (aster_authority.gate does: give it the "
                              "producer's identity file)", exit_code=ExitCode.DENIED)
            revoked = [{"endpoint_id": r.endpoint_id, "reason": r.reason, "revoked_at": r.revoked_at}
                       for r in conn.execute(sa.select(revocations).where(
                           revocations.c.deployment_id == deployment_id).order_by(revocations.c.endpoint_id))]
            held = [(r.consumer, r.role) for r in conn.execute(sa.select(grants.c.consumer, grants.c.role).where(
                grants.c.deployment_id == deployment_id))]
            activated = [r.endpoint_id for r in conn.execute(sa.select(instances.c.endpoint_id).where(
                instances.c.deployment_id == deployment_id, instances.c.state == "activated"))] \
                if dep.kind == DEVICE else []
            return rules.revocation_view(dep, revoked, held, activated, self.now())

        return self.read(tx)

    @staticmethod
    def may_read_revocations(conn: sa.Connection, dep: Deployment, caller: str,
                             attributes: Mapping[str, str]) -> bool:
        """Who reads a deployment's revocation list: its live instances and its grantees (the
        connection proves the endpoint), a node admitted with a credential of the deployment
        (``aster.deployment``), an admin; for a device deployment, the live producers of the mesh's
        service deployments too (devices call them: their gates enforce the device list)."""
        if attributes.get("aster.deployment") == dep.deployment_id:
            return True
        if "authority.admin" in [r.strip() for r in attributes.get("aster.role", "").split(",")]:
            return True
        if conn.execute(sa.select(grants.c.role).where(grants.c.deployment_id == dep.deployment_id,
                                                       grants.c.consumer == caller).limit(1)).first() is not None:
            return True
        i = instances.c
        live = sa.select(i.instance_id).where(i.endpoint_id == caller, i.state != "revoked", i.disabled.is_(False))
        if dep.kind == DEVICE:
            live = live.where(sa.or_(i.deployment_id == dep.deployment_id, i.kind == SERVICE))
        else:
            live = live.where(i.deployment_id == dep.deployment_id)
        return conn.execute(live.limit(1)).first() is not None
