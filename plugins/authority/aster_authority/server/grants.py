"""Grants and revocation lists in the authority's database: add or remove a consumer's roles,
list grants, and the revocation list producers' gates fetch. What a change means is
:mod:`aster_authority.domain.grants`'."""

from __future__ import annotations

from typing import Any, Iterable

import sqlalchemy as sa

from ..domain import grants as rules
from ..domain.credentials import CONSUMER
from ..domain.ids import DEVICE
from ..domain.plans import Actor
from ..wire import DEFAULT_LIMIT
from .database import Database, endpoint, listing, page_of
from .tables import credentials, grants, instances, revocations


class GrantStore(Database):
    """Grants and revocation lists (one transaction each)."""

    def grant(self, deployment_id: str, consumer: str, roles: Iterable[str], *, add: bool,
              actor: Actor | None = None) -> dict[str, Any]:
        consumer = endpoint(consumer, "consumer")
        roles = rules.check_grant_roles(roles)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            self.lock(conn, deployment_id)  # changes of one deployment queue here
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

    def revocation_list(self, deployment_id: str) -> dict[str, Any]:
        """Revoked endpoints of a deployment, and the roles each grantee holds now."""
        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep = self.load(conn, deployment_id)
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
