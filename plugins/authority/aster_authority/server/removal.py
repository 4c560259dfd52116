"""Removing a deployment and what follows: remove (its data kept, marked removed, or purged),
the removed ones listed and shown, purge later, restore, and the clean start a create on a
removed id makes. Service and device deployments alike (``kind``).

A removed deployment's row leaves ``authority_deployments`` (so every other operation answers
"no deployment") and its value goes to ``authority_removed`` with when and who; its plans,
history, instances, stored credentials, reviews and challenges stay under its id until a purge
(or a create of the id, which starts a new generation) deletes them. Its decision chain is
never deleted: a create after the remove continues it, and replay starts that generation clean
(:mod:`aster_authority.domain.replay`). The revocations remove recorded stay: producers' gates
keep refusing those endpoints until a new credential of the same deployment is uploaded.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from aster_core.errors import ExitCode
from aster_server import storage

from ..domain import replay as actions
from ..domain.bodies import purge_body, remove_body, restore_body
from ..domain.credentials import canonical_json
from ..domain.errors import Refusal
from ..domain.ids import PREFIX, SERVICE, check_deployment_id
from ..domain.plans import Actor
from ..wire import DEFAULT_LIMIT
from . import contracts
from .database import listing, page_of
from .decisions import ChainStore
from .tables import (challenges, credentials, deployment_of, deployment_values, deployments, grants, history,
                     instances, plan_rows, removed, revocations, reviews)

#: what a removed deployment keeps under its id, by the name its counts use
KEPT = (("plans", plan_rows), ("history", history), ("credentials", credentials), ("instances", instances),
        ("reviews", reviews), ("challenges", challenges))


def _unused_contracts_need_purge(purge_unused_contracts: bool, purge: bool) -> None:
    if purge_unused_contracts and not purge:
        raise Refusal("invalid", "purge_unused_contracts: only with purge (the kept plans still use their "
                      "contracts)", "add --purge, or purge the removed deployment later with "
                      "`purge --purge-unused-contracts`", field="purge_unused_contracts", exit_code=ExitCode.USAGE)


class RemovalStore(ChainStore):
    """Remove, purge, restore and the removed deployments (one transaction each)."""

    def kept_counts(self, conn: sa.Connection, deployment_id: str) -> dict[str, int]:
        return {name: conn.execute(sa.select(sa.func.count()).select_from(t).where(
            t.c.deployment_id == deployment_id)).scalar_one() for name, t in KEPT}

    def removed_row(self, conn: sa.Connection, kind: str, deployment_id: str, *, lock: bool = False) -> Any:
        """The removed deployment ``deployment_id`` of ``kind`` (None: there is none)."""
        if lock:
            row = storage.lock(conn, removed, {"deployment_id": deployment_id})
        else:
            row = conn.execute(sa.select(removed).where(removed.c.deployment_id == deployment_id)).mappings().first()
        return row if row is not None and row["kind"] == kind else None

    def removed_view(self, conn: sa.Connection, row: Any, *, counts: bool = True) -> dict[str, Any]:
        out = deployment_of({"deployment_id": row["deployment_id"], **json.loads(row["deployment"])}).as_dict()
        detail = json.loads(row["detail"])
        out.update(removed=True, removed_at=row["removed_at"], removed_by=json.loads(row["removed_by"]),
                   cascade=detail.get("cascade", False), revoked=detail.get("revoked", 0))
        if counts:
            out["kept"] = self.kept_counts(conn, row["deployment_id"])
        return out

    def clear(self, conn: sa.Connection, deployment_id: str) -> dict[str, int]:
        """Delete what a removed deployment kept (and its row in ``authority_removed``); the counts deleted."""
        counts = self.kept_counts(conn, deployment_id)
        for _, t in KEPT:
            conn.execute(sa.delete(t).where(t.c.deployment_id == deployment_id))
        conn.execute(sa.delete(removed).where(removed.c.deployment_id == deployment_id))
        return counts

    def not_removed(self, kind: str, deployment_id: str) -> Refusal:
        prefix = PREFIX.get(kind, "svc")
        return Refusal("not_found", f"no removed deployment {prefix}/{deployment_id}",
                       f"list them with `aster {prefix} list --removed`", exit_code=ExitCode.NOT_FOUND)

    # -- operations ----------------------------------------------------------------------
    def remove(self, kind: str, deployment_id: str, *, cascade: bool = False, purge: bool = False,
               purge_unused_contracts: bool = False, actor: Actor | None = None, record: Any = None) -> dict[str, Any]:
        _unused_contracts_need_purge(purge_unused_contracts, purge)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep = self.lock(conn, deployment_id, kind)
            now = self.now()
            where_dep = lambda t: t.c.deployment_id == deployment_id  # noqa: E731
            live = conn.execute(sa.select(instances.c.endpoint_id).where(
                where_dep(instances), instances.c.state != "revoked")).all()
            consumers = {r.consumer for r in conn.execute(sa.select(grants.c.consumer).where(where_dep(grants)))}
            if (live or consumers) and not cascade:
                raise Refusal("has_dependents", f"{dep.ref} has {len(live)} instance(s) and {len(consumers)} "
                              "grantee(s)", "pass --cascade to revoke them with the deployment")
            self.take_record(conn, deployment_id, record, action=actions.REMOVE,
                             body=remove_body(cascade, purge, purge_unused_contracts), actor=actor)
            revoked = sorted({r.endpoint_id for r in live} | consumers)
            for endpoint in revoked:
                conn.execute(sa.delete(revocations).where(revocations.c.deployment_id == deployment_id,
                                                          revocations.c.endpoint_id == endpoint))
                conn.execute(sa.insert(revocations).values(deployment_id=deployment_id, endpoint_id=endpoint,
                                                           reason=f"{dep.ref} removed", revoked_at=now))
            conn.execute(sa.delete(grants).where(where_dep(grants)))
            conn.execute(sa.update(instances).where(where_dep(instances)).values(state="revoked", disabled=True))
            conn.execute(sa.delete(deployments).where(deployments.c.deployment_id == deployment_id))
            out = {"deployment_id": deployment_id, "kind": kind, "removed": True, "revoked": revoked,
                   "removed_at": now, "removed_by": actor.as_dict() if actor else {}}
            if purge:
                out.update(purged=self.clear(conn, deployment_id), kept={})
            else:
                self.history(conn, deployment_id, actor, "remove", version=dep.version, cascade=cascade)
                conn.execute(sa.insert(removed).values(
                    deployment_id=deployment_id, kind=kind, deployment=canonical_json(deployment_values(dep)),
                    removed_at=now, removed_by=canonical_json(out["removed_by"]),
                    detail=canonical_json({"cascade": cascade, "revoked": len(revoked)})))
                out.update(purged={}, kept=self.kept_counts(conn, deployment_id))
            out["contracts_dropped"] = contracts.sweep(conn) if purge_unused_contracts else []
            return out

        return self.write(tx)

    def purge(self, kind: str, deployment_id: str, *, purge_unused_contracts: bool = False,
              actor: Actor | None = None, record: Any = None) -> dict[str, Any]:
        """Delete what the removed ``deployment_id`` kept (its decision chain stays)."""
        check_deployment_id(deployment_id)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            if self.removed_row(conn, kind, deployment_id, lock=True) is None:
                raise self._no_removed(conn, kind, deployment_id, "remove it first: aster {p} {id} remove")
            self.take_record(conn, deployment_id, record, action=actions.PURGE,
                             body=purge_body(purge_unused_contracts), actor=actor)
            out = {"deployment_id": deployment_id, "kind": kind, "purged": self.clear(conn, deployment_id)}
            out["contracts_dropped"] = contracts.sweep(conn) if purge_unused_contracts else []
            return out

        return self.write(tx)

    def restore(self, kind: str, deployment_id: str, *, actor: Actor | None = None,
                record: Any = None) -> dict[str, Any]:
        """Bring the removed ``deployment_id`` back as remove left it (same version, plans and
        instances; what remove revoked stays revoked, its grants stay gone)."""
        check_deployment_id(deployment_id)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            row = self.removed_row(conn, kind, deployment_id, lock=True)
            if row is None:
                raise self._no_removed(conn, kind, deployment_id, "it is live: nothing to restore (aster {p} {id} show)")
            self.take_record(conn, deployment_id, record, action=actions.RESTORE, body=restore_body(), actor=actor)
            values = json.loads(row["deployment"])
            conn.execute(sa.insert(deployments).values(deployment_id=deployment_id, **values))
            conn.execute(sa.delete(removed).where(removed.c.deployment_id == deployment_id))
            self.history(conn, deployment_id, actor, "restore", version=values["version"])
            return {**deployment_of({"deployment_id": deployment_id, **values}).as_dict(), "restored": True,
                    "removed_at": row["removed_at"]}

        try:
            return self.write(tx)
        except sa.exc.IntegrityError:  # a concurrent create or restore of the id won
            raise Refusal("exists", f"deployment {PREFIX[kind]}/{deployment_id} already exists",
                          "show it: nothing to restore") from None

    def _no_removed(self, conn: sa.Connection, kind: str, deployment_id: str, live_hint: str) -> Refusal:
        """Why there is no removed ``deployment_id``; ``live_hint`` (``{p}``: svc or dev, ``{id}``)
        when it exists and is not removed."""
        live = conn.execute(sa.select(deployments.c.kind).where(deployments.c.deployment_id == deployment_id)).first()
        if live is not None and live.kind == kind:
            prefix = PREFIX[kind]
            return Refusal("not_removed", f"{prefix}/{deployment_id} is not removed",
                           live_hint.format(p=prefix, id=deployment_id))
        return self.not_removed(kind, deployment_id)

    def removed_list(self, kind: str = SERVICE, *, offset: int = 0, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        page = page_of(offset, limit)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            rows = conn.execute(sa.select(removed).where(removed.c.kind == kind).order_by(removed.c.deployment_id)
                                .offset(page.offset).limit(page.fetch)).mappings().all()
            return listing(page, [self.removed_view(conn, r, counts=False) for r in rows])

        return self.read(tx)
