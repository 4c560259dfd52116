"""Deployments and their plans in the authority's database: create, show, list, disable,
remove; apply (a plan), plan list/show, accept, reject. Service and device deployments alike
(``kind``); the decisions are :mod:`aster_authority.domain.plans`'."""

from __future__ import annotations

import json
from typing import Any, Iterable

import sqlalchemy as sa
from aster_core.errors import ExitCode
from aster_server.jsonmemo import KeptJson, ParsedJson

from ..domain import plans
from ..domain import replay as actions
from ..domain.bodies import accept_body, apply_body, create_body, reject_body
from ..domain.classify import check_manifests, classify, digest
from ..domain.errors import Refusal, check_choice
from ..domain.ids import new_ulid
from ..domain.plans import Actor, Deployment, Plan
from ..wire import DEFAULT_LIMIT
from . import contracts
from .database import listing, page_of
from .removal import RemovalStore
from .tables import (deployment_of, deployment_values, deployments, grants, history, instances, plan_of, plan_rows,
                     plan_select, plan_values, reviews)

#: plan list reads every listed plan's stored JSON on every request: each text parsed once
_LISTED = ParsedJson()


class DeploymentStore(RemovalStore):
    """Deployments and plans (one transaction each)."""

    def get_plan(self, conn: sa.Connection, dep: Deployment, plan_id: Any) -> Plan:
        if not isinstance(plan_id, str) or not plan_id:
            raise Refusal("invalid", "plan_id: is empty", "give a plan id from `plan list`", field="plan_id",
                          exit_code=ExitCode.USAGE)
        row = conn.execute(plan_select().where(plan_rows.c.plan_id == plan_id)).first()
        if row is None:
            raise Refusal("not_found", f"no plan {plan_id}", f"list the plans of {dep.ref} with `plan list`",
                          exit_code=ExitCode.NOT_FOUND)
        plan = plan_of(row)
        plans.check_owner(plan, dep.deployment_id)
        return plan

    # -- deployments -----------------------------------------------------------------------
    def create(self, kind: str, deployment_id: str, *, namespaces: Iterable[str] = (), compatibility: str = "strict",
               review_mode: str = "none", roles: Iterable[str] = (), actor: Actor | None = None,
               record: Any = None) -> dict[str, Any]:
        now = self.now()
        dep = plans.new_deployment(deployment_id, kind, now=now, version=new_ulid(now),
                                   namespaces=namespaces, compatibility=compatibility, review_mode=review_mode,
                                   roles=roles)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            exists = conn.execute(sa.select(deployments.c.kind).where(
                deployments.c.deployment_id == deployment_id)).first()
            if exists is not None:
                raise Refusal("exists", f"deployment {plans.PREFIX[exists.kind]}/{deployment_id} already exists",
                              "pick another id, or remove it first")
            # a row that does not exist yet cannot be locked: the key refuses a concurrent create
            self.take_record(conn, deployment_id, record, action=actions.CREATE, body=create_body(dep), actor=actor)
            # a new generation: what a removed deployment of this id kept is deleted, never taken over
            cleared = {k: n for k, n in self.clear(conn, deployment_id).items() if n}
            conn.execute(sa.insert(deployments).values(deployment_id=deployment_id, **deployment_values(dep)))
            self.history(conn, deployment_id, actor, "create", version=dep.version)
            return {**dep.as_dict(), "cleared": cleared}

        try:
            return self.write(tx)
        except sa.exc.IntegrityError:  # a concurrent create of the same id won
            raise Refusal("exists", f"deployment {dep.ref} already exists", "pick another id") from None

    def show(self, kind: str, deployment_id: str) -> dict[str, Any]:
        def tx(conn: sa.Connection) -> dict[str, Any]:
            gone = self.removed_row(conn, kind, deployment_id)
            if gone is not None:  # shown as removed, with when and who, and what it keeps
                return self.removed_view(conn, gone)
            dep = self.load(conn, deployment_id, kind)
            now = self.now()
            out = dep.as_dict()
            pending = conn.execute(sa.select(plan_rows.c.base_version).where(
                plan_rows.c.deployment_id == deployment_id, plan_rows.c.state == plans.PENDING,
                plan_rows.c.expires_at > now)).all()
            out["pending_plans"] = len(pending)
            out["stale_plans"] = sum(1 for r in pending if r.base_version != dep.version)
            out["instances"] = conn.execute(sa.select(sa.func.count()).select_from(instances).where(
                instances.c.deployment_id == deployment_id)).scalar_one()
            out["grants"] = conn.execute(sa.select(sa.func.count()).select_from(grants).where(
                grants.c.deployment_id == deployment_id)).scalar_one()
            if dep.kind == plans.DEVICE:
                out["devices"] = {r.state: r.n for r in conn.execute(
                    sa.select(instances.c.state, sa.func.count().label("n")).where(
                        instances.c.deployment_id == deployment_id).group_by(instances.c.state))}
                out["pending_reviews"] = conn.execute(sa.select(sa.func.count()).select_from(reviews).where(
                    reviews.c.deployment_id == deployment_id, reviews.c.state == "pending")).scalar_one()
            out["history"] = [{"at": r.at, "actor": json.loads(r.actor), "action": r.action,
                               "detail": json.loads(r.detail)}
                              for r in conn.execute(sa.select(history).where(
                                  history.c.deployment_id == deployment_id).order_by(history.c.id.desc()).limit(10))]
            return out

        return self.read(tx)

    def list(self, kind: str, *, include_disabled: bool = False, offset: int = 0,
             limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        page = page_of(offset, limit)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            q = sa.select(deployments).where(deployments.c.kind == kind)
            if not include_disabled:
                q = q.where(deployments.c.disabled.is_(False))
            rows = conn.execute(q.order_by(deployments.c.deployment_id).offset(page.offset).limit(page.fetch))
            return listing(page, [deployment_of(r).as_dict() for r in rows.mappings()])

        return self.read(tx)

    def set_disabled(self, kind: str, deployment_id: str, disabled: bool, actor: Actor | None = None,
                     record: Any = None) -> dict[str, Any]:
        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep = self.lock(conn, deployment_id, kind)
            self.take_record(conn, deployment_id, record, action=actions.DISABLE if disabled else actions.ENABLE,
                             body={}, actor=actor)
            now = self.now()
            new = plans.set_disabled(dep, disabled, now=now, new_version=new_ulid(now))
            if new is None:
                return {**dep.as_dict(), "changed": False}
            self.save(conn, new)
            self.history(conn, deployment_id, actor, "disable" if disabled else "enable", version=new.version)
            return {**new.as_dict(), "changed": True}

        return self.write(tx)

    # -- plans -------------------------------------------------------------------------------
    def apply(self, kind: str, deployment_id: str, manifests: Any, *, actor: Actor | None = None,
              ttl: int | None = None, record: Any = None) -> dict[str, Any]:
        manifests = check_manifests(manifests)
        proposal_digest = digest(manifests)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep = self.lock(conn, deployment_id, kind)
            self.take_record(conn, deployment_id, record, action=actions.APPLY,
                             body=apply_body(proposal_digest, manifests), actor=actor)
            now = self.now()
            c = classify(dep.desired_manifests, manifests)
            pending = [plan_of(r) for r in conn.execute(plan_select().where(
                plan_rows.c.deployment_id == deployment_id, plan_rows.c.state == plans.PENDING,
                plan_rows.c.digest == proposal_digest))]
            result = plans.propose(dep, manifests, proposal_digest, classification=c.classification,
                                   changes=c.changes, warnings=c.warnings, pending=pending, now=now,
                                   plan_id=new_ulid(now), new_version=new_ulid(now),
                                   ttl=self.policy.plan_ttl if ttl is None else ttl, actor=actor)
            if result.unchanged:
                return {"unchanged": True, "plan": None, "deployment": dep.as_dict()}
            if not result.created:
                return {"unchanged": False, "created": False, "plan": result.plan.view(dep, now)}
            if result.deployment is not None:  # accepted at once (mutable-dev)
                self.save(conn, result.deployment)
            contracts.keep(conn, result.plan.digest, result.plan.manifests, now)
            conn.execute(sa.insert(plan_rows).values(**plan_values(result.plan)))
            self.history(conn, deployment_id, actor, "plan", plan_id=result.plan.plan_id,
                         classification=result.plan.classification, state=result.plan.state)
            current = result.deployment or dep
            return {"unchanged": False, "created": True, "plan": result.plan.view(current, now),
                    "auto_accepted": result.deployment is not None,
                    "desired_version": current.version}

        return self.write(tx)

    def plan_list(self, kind: str, deployment_id: str, *, state: str | None = None, classification: str | None = None,
                  stale: bool = False, offset: int = 0, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        page = page_of(offset, limit)
        if state:
            check_choice(state, plans.PLAN_STATES, "state")
        if classification:
            check_choice(classification, plans.CLASSIFICATIONS, "classification")

        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep = self.load(conn, deployment_id, kind)
            now = self.now()
            t = plan_rows.c
            q = plan_select().where(t.deployment_id == deployment_id)
            if state == plans.PENDING or stale:
                q = q.where(t.state == plans.PENDING, t.expires_at > now)
            elif state == plans.EXPIRED:
                q = q.where(sa.or_(t.state == plans.EXPIRED, sa.and_(t.state == plans.PENDING, t.expires_at <= now)))
            elif state:
                q = q.where(t.state == state)
            if stale:
                q = q.where(t.base_version != dep.version)
            if classification:
                q = q.where(t.classification == classification)
            rows = conn.execute(q.order_by(t.plan_id).offset(page.offset).limit(page.fetch)).all()
            out = listing(page, [plan_of(r, _LISTED.loads).view(dep, now, full=False) for r in rows])
            out["desired_version"] = dep.version
            return out

        # kept a second or until this server's next write (aster_server.pagecache); shared: read-only
        return self.pages.get_or_read(("plan_list", kind, deployment_id, state, classification, stale, page.offset,
                                       page.limit), lambda: self.generation, lambda: KeptJson(self.read(tx)))

    def plan_show(self, kind: str, deployment_id: str, plan_id: str) -> dict[str, Any]:
        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep = self.load(conn, deployment_id, kind)
            view = self.get_plan(conn, dep, plan_id).view(dep, self.now())
            view["desired_version"] = dep.version
            head = self.head(conn, deployment_id)  # where an accept or reject of it goes: saves the CLI a call
            view["chain_head"] = {"seq": head.seq, "hash": head.hash, "decided_at": head.decided_at}
            return view

        return self.read(tx)

    def accept(self, kind: str, deployment_id: str, plan_id: str, classification: str, *, actor: Actor,
               acknowledgement: str | None = None, expected_version: str | None = None,
               record: Any = None) -> dict[str, Any]:
        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep = self.lock(conn, deployment_id, kind)  # a concurrent accept waits here, then finds its plan stale
            plan = self.get_plan(conn, dep, plan_id)
            now = self.now()
            new_dep, decided = plans.accept(dep, plan, classification, now=now, new_version=new_ulid(now),
                                            actor=actor, acknowledgement=acknowledgement,
                                            expected_version=expected_version)
            self.take_record(conn, deployment_id, record, action=actions.ACCEPT, actor=actor, body=accept_body(
                plan.plan_id, classification, plan.digest, plan.manifests, acknowledgement))
            self.save(conn, new_dep)
            conn.execute(sa.update(plan_rows).where(plan_rows.c.plan_id == plan.plan_id).values(**plan_values(decided)))
            self.history(conn, deployment_id, actor, "accept", plan_id=plan.plan_id,
                         classification=classification, version=new_dep.version)
            return {"plan": decided.view(new_dep, now), "desired_version": new_dep.version,
                    "previous_version": dep.version, "reconcile_needed": True}

        return self.write(tx)

    def reject(self, kind: str, deployment_id: str, plan_id: str, *, actor: Actor,
               reason: str | None = None, record: Any = None) -> dict[str, Any]:
        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep = self.lock(conn, deployment_id, kind)
            plan = self.get_plan(conn, dep, plan_id)
            now = self.now()
            decided = plans.reject(dep, plan, now=now, actor=actor, reason=reason)
            self.take_record(conn, deployment_id, record, action=actions.REJECT, body=reject_body(plan.plan_id, reason),
                             actor=actor)
            conn.execute(sa.update(plan_rows).where(plan_rows.c.plan_id == plan.plan_id)
                         .values(**plan_values(decided)))
            self.history(conn, deployment_id, actor, "reject", plan_id=plan.plan_id)
            return {"plan": decided.view(dep, now)}

        return self.write(tx)

    # -- desired credentials -----------------------------------------------------------------
