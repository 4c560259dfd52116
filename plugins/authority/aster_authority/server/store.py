"""The authority's storage: tables, and every operation as one transaction.

Built on :mod:`aster_server.storage` (SQLAlchemy Core; SQLite by default, PostgreSQL for
several replicas; Alembic migrations in :mod:`aster_authority.migrations`, version table
``alembic_version_authority``). Each state change:

1. reads the deployment row (its ``version`` ULID and integer ``revision``),
2. decides with :mod:`aster_authority.plans` (pure),
3. writes the result and moves the deployment's ``revision`` with
   :func:`aster_server.storage.compare_and_swap`, all in one transaction.

Two writers racing on one deployment (two admins, two replicas on one PostgreSQL): the
second compare-and-swap finds the revision moved and nothing of its transaction is
committed. If the deployment's *version* moved (someone accepted, disabled...), an accept
is refused with "desired version changed"; other operations are retried on fresh data.

Credentials are never signed here: the operator's CLI signs and uploads them, and
:meth:`Store.upload` verifies each against the mesh root, the binding and the attributes
the desired state demands (see :meth:`Store.desired`), storing only those that match.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, TypeVar

import sqlalchemy as sa
from aster_core.errors import ExitCode, NotFoundError, UsageError

from aster_server import storage

from . import plans
from .classify import check_manifests, classify, digest
from .plans import Actor, Deployment, Plan, Refusal

T = TypeVar("T")
MIGRATIONS = "aster_authority.migrations"
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
INSTANCE_LIFETIME = 30 * 86400
GRANT_LIFETIME = 7 * 86400
RENEW_BEFORE = 2 * 86400
#: an uploaded credential may expire at most this long after the lifetime the server asks for
EXPIRY_SLACK = 3600
PRODUCER, CONSUMER = "producer", "consumer"   # credential subjects: an instance, a grantee
DEVICE = "device"                              # ... and a device (held until it is activated)
DEVICE_LIFETIME = 7 * 86400

md = sa.MetaData()
deployments = sa.Table(
    "authority_deployments", md,
    sa.Column("deployment_id", sa.String(64), primary_key=True), sa.Column("kind", sa.String(16)),
    sa.Column("version", sa.String(26)), sa.Column("revision", sa.Integer), sa.Column("namespaces", sa.Text),
    sa.Column("compatibility", sa.String(16)), sa.Column("review_mode", sa.String(16)), sa.Column("roles", sa.Text),
    sa.Column("disabled", sa.Boolean), sa.Column("desired_manifests", sa.Text),
    sa.Column("desired_digest", sa.String(80)), sa.Column("created_at", sa.BigInteger),
    sa.Column("updated_at", sa.BigInteger))
plan_rows = sa.Table(
    "authority_plans", md,
    sa.Column("plan_id", sa.String(26), primary_key=True), sa.Column("deployment_id", sa.String(64)),
    sa.Column("classification", sa.String(16)), sa.Column("state", sa.String(16)),
    sa.Column("base_version", sa.String(26)), sa.Column("manifests", sa.Text), sa.Column("digest", sa.String(80)),
    sa.Column("changes", sa.Text), sa.Column("warnings", sa.Text), sa.Column("created_at", sa.BigInteger),
    sa.Column("expires_at", sa.BigInteger), sa.Column("decided_at", sa.BigInteger),
    sa.Column("decided_by", sa.Text), sa.Column("decision_reason", sa.Text))
instances = sa.Table(
    "authority_instances", md,
    sa.Column("instance_id", sa.String(40), primary_key=True), sa.Column("deployment_id", sa.String(64)),
    sa.Column("kind", sa.String(16)), sa.Column("endpoint_id", sa.String(64)), sa.Column("state", sa.String(16)),
    sa.Column("disabled", sa.Boolean), sa.Column("public_key", sa.String(64)),
    sa.Column("activation_key", sa.String(64)), sa.Column("metadata", sa.Text),
    sa.Column("created_at", sa.BigInteger), sa.Column("renewed_at", sa.BigInteger),
    sa.Column("activated_at", sa.BigInteger), sa.Column("revoked_at", sa.BigInteger))
credentials = sa.Table(
    "authority_credentials", md,
    sa.Column("deployment_id", sa.String(64), primary_key=True),
    sa.Column("endpoint_id", sa.String(64), primary_key=True), sa.Column("subject", sa.String(16), primary_key=True),
    sa.Column("type", sa.String(16)), sa.Column("credential", sa.Text), sa.Column("attributes", sa.Text),
    sa.Column("expires_at", sa.BigInteger), sa.Column("uploaded_at", sa.BigInteger),
    sa.Column("uploaded_by", sa.String(64)))
grants = sa.Table(
    "authority_grants", md,
    sa.Column("deployment_id", sa.String(64), primary_key=True), sa.Column("consumer", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(128), primary_key=True), sa.Column("created_at", sa.BigInteger),
    sa.Column("created_by", sa.String(64)))
revocations = sa.Table(
    "authority_revocations", md,
    sa.Column("deployment_id", sa.String(64), primary_key=True),
    sa.Column("endpoint_id", sa.String(64), primary_key=True), sa.Column("reason", sa.Text),
    sa.Column("revoked_at", sa.BigInteger))
history = sa.Table(
    "authority_history", md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True), sa.Column("deployment_id", sa.String(64)),
    sa.Column("at", sa.BigInteger), sa.Column("actor", sa.Text), sa.Column("action", sa.String(40)),
    sa.Column("detail", sa.Text))
reviews = sa.Table(
    "authority_reviews", md,
    sa.Column("review_id", sa.String(26), primary_key=True), sa.Column("deployment_id", sa.String(64)),
    sa.Column("instance_id", sa.String(40)), sa.Column("state", sa.String(16)),
    sa.Column("requested_at", sa.BigInteger), sa.Column("decided_at", sa.BigInteger), sa.Column("reason", sa.Text),
    sa.Column("decided_by", sa.Text))
challenges = sa.Table(
    "authority_challenges", md,
    sa.Column("challenge", sa.String(64), primary_key=True), sa.Column("deployment_id", sa.String(64)),
    sa.Column("endpoint_id", sa.String(64)), sa.Column("expires_at", sa.BigInteger))


#: Sorted, compact, UTF-8 JSON; one encoder for every row (json.dumps builds one per call).
_j = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def instance_id_for(endpoint_id: str, kind: str = plans.SERVICE) -> str:
    """``svc_`` (or ``dev_``) + 22 characters of base64url SHA-256 of the endpoint id's 32 bytes."""
    raw = hashlib.sha256(bytes.fromhex(endpoint_id)).digest()
    return ("svc_" if kind == plans.SERVICE else "dev_") + base64.urlsafe_b64encode(raw).decode()[:22]


def _deployment(row: Any) -> Deployment:
    return Deployment(row.deployment_id, row.kind, row.version, row.created_at, row.updated_at,
                      tuple(json.loads(row.namespaces)), row.compatibility, row.review_mode,
                      tuple(json.loads(row.roles)), bool(row.disabled), json.loads(row.desired_manifests),
                      row.desired_digest)


def _plan(row: Any) -> Plan:
    return Plan(row.plan_id, row.deployment_id, row.classification, row.state, row.base_version,
                json.loads(row.manifests), row.digest, json.loads(row.changes), json.loads(row.warnings),
                row.created_at, row.expires_at, row.decided_at,
                json.loads(row.decided_by) if row.decided_by else None, row.decision_reason)


def _plan_values(p: Plan) -> dict[str, Any]:
    return {"plan_id": p.plan_id, "deployment_id": p.deployment_id, "classification": p.classification,
            "state": p.state, "base_version": p.base_version, "manifests": _j(p.manifests), "digest": p.digest,
            "changes": _j(p.changes), "warnings": _j(p.warnings), "created_at": p.created_at,
            "expires_at": p.expires_at, "decided_at": p.decided_at,
            "decided_by": _j(p.decided_by) if p.decided_by else None, "decision_reason": p.decision_reason}


def _dep_values(d: Deployment) -> dict[str, Any]:
    return {"kind": d.kind, "version": d.version, "namespaces": _j(list(d.namespaces)),
            "compatibility": d.compatibility, "review_mode": d.review_mode, "roles": _j(list(d.roles)),
            "disabled": d.disabled, "desired_manifests": _j(d.desired_manifests), "desired_digest": d.desired_digest,
            "created_at": d.created_at, "updated_at": d.updated_at}


def check_page(offset: Any, limit: Any) -> tuple[int, int]:
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise Refusal("invalid", f"offset: {offset!r} is not a non-negative integer", "start at 0",
                      field="offset", exit_code=ExitCode.USAGE)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise Refusal("invalid", f"limit: {limit!r} is not between 1 and {MAX_LIMIT}",
                      f"ask for at most {MAX_LIMIT} rows a page and follow next_offset (the CLI's --all does)",
                      field="limit", exit_code=ExitCode.USAGE)
    return offset, limit


def _page(rows: list[Any], offset: int, limit: int) -> dict[str, Any]:
    more = len(rows) > limit
    return {"items": rows[:limit], "offset": offset, "next_offset": offset + limit if more else None}


class _Retry(Exception):
    """The deployment's revision moved under us: run the transaction again on fresh data."""


@dataclass
class Policy:
    instance_lifetime: int = INSTANCE_LIFETIME
    grant_lifetime: int = GRANT_LIFETIME
    renew_before: int = RENEW_BEFORE
    plan_ttl: int = plans.DEFAULT_PLAN_TTL
    device_lifetime: int = DEVICE_LIFETIME


class Store:
    """All reads and writes of one authority database. Thread-safe (one engine)."""

    def __init__(self, engine: sa.Engine, root_pubkey: bytes, policy: Policy | None = None,
                 clock: Callable[[], float] = time.time):
        self.engine = engine
        self.root_pubkey = root_pubkey
        self.policy = policy or Policy()
        self.clock = clock

    @classmethod
    def open(cls, url: str, root_pubkey: bytes, **kw: Any) -> "Store":
        return cls(storage.open_database(url, MIGRATIONS), root_pubkey, **kw)

    def close(self) -> None:
        self.engine.dispose()

    def _now(self) -> int:
        return int(self.clock())

    # -- plumbing ------------------------------------------------------------------------
    def _write(self, fn: Callable[[sa.Connection], T], attempts: int = 8) -> T:
        for attempt in range(attempts):
            try:
                return storage.run_transaction(self.engine, fn)
            except _Retry:
                if attempt == attempts - 1:
                    raise Refusal("busy", "the deployment kept changing while this change was made",
                                  "retry in a moment") from None
                time.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")

    def _read(self, fn: Callable[[sa.Connection], T]) -> T:
        return storage.run_transaction(self.engine, fn, write=False)

    def _load(self, conn: sa.Connection, deployment_id: Any, kind: str | None = None, *,
              lock: bool = False) -> tuple[Deployment, int]:
        """The deployment and its revision; ``lock`` holds its row until the transaction ends
        (PostgreSQL ``FOR UPDATE``; SQLite's write transaction already excludes other writers),
        so concurrent writers queue instead of failing their compare-and-swap and retrying."""
        plans.check_deployment_id(deployment_id)
        query = sa.select(deployments).where(deployments.c.deployment_id == deployment_id)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None or (kind is not None and row.kind != kind):
            prefix = plans.PREFIX.get(kind or plans.SERVICE, "svc")
            raise Refusal("not_found", f"no deployment {prefix}/{deployment_id}",
                          f"list them with `aster {prefix} list`, or create it with "
                          f"`aster {prefix} {deployment_id} create`", field="deployment_id",
                          exit_code=ExitCode.NOT_FOUND)
        return _deployment(row), row.revision

    def _swap(self, conn: sa.Connection, dep: Deployment, revision: int, new: Deployment | None = None) -> None:
        values = _dep_values(new) if new is not None else {}
        if storage.compare_and_swap(conn, deployments, {"deployment_id": dep.deployment_id}, revision, values,
                                    version_column="revision") is None:
            raise _Retry()

    def _history(self, conn: sa.Connection, deployment_id: str, actor: Actor | None, action: str,
                 **detail: Any) -> None:
        conn.execute(sa.insert(history).values(deployment_id=deployment_id, at=self._now(),
                                               actor=_j(actor.as_dict() if actor else {}), action=action,
                                               detail=_j(detail)))

    def _get_plan(self, conn: sa.Connection, dep: Deployment, plan_id: Any) -> Plan:
        if not isinstance(plan_id, str) or not plan_id:
            raise Refusal("invalid", "plan_id: is empty", "give a plan id from `plan list`", field="plan_id",
                          exit_code=ExitCode.USAGE)
        row = conn.execute(sa.select(plan_rows).where(plan_rows.c.plan_id == plan_id)).first()
        if row is None:
            raise Refusal("not_found", f"no plan {plan_id}", f"list the plans of {dep.ref} with `plan list`",
                          field="plan_id", exit_code=ExitCode.NOT_FOUND)
        plan = _plan(row)
        plans.check_owner(plan, dep.deployment_id)
        return plan

    # -- deployments -----------------------------------------------------------------------
    def create(self, kind: str, deployment_id: str, *, namespaces: Iterable[str] = (), compatibility: str = "strict",
               review_mode: str = "none", roles: Iterable[str] = (), actor: Actor | None = None) -> dict[str, Any]:
        now = self._now()
        dep = plans.new_deployment(deployment_id, kind, now=now, version=plans.new_ulid(now),
                                   namespaces=namespaces, compatibility=compatibility, review_mode=review_mode,
                                   roles=roles)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            exists = conn.execute(sa.select(deployments.c.kind).where(
                deployments.c.deployment_id == deployment_id)).first()
            if exists is not None:
                raise Refusal("exists", f"deployment {plans.PREFIX[exists.kind]}/{deployment_id} already exists",
                              "pick another id, or remove it first", field="deployment_id")
            conn.execute(sa.insert(deployments).values(deployment_id=deployment_id, revision=1, **_dep_values(dep)))
            self._history(conn, deployment_id, actor, "create", version=dep.version)
            return dep.as_dict()

        try:
            return self._write(tx)
        except sa.exc.IntegrityError:  # a concurrent create of the same id won
            raise Refusal("exists", f"deployment {dep.ref} already exists", "pick another id",
                          field="deployment_id") from None

    def show(self, kind: str, deployment_id: str) -> dict[str, Any]:
        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep, _ = self._load(conn, deployment_id, kind)
            now = self._now()
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

        return self._read(tx)

    def list(self, kind: str, *, include_disabled: bool = False, offset: int = 0,
             limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        offset, limit = check_page(offset, limit)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            q = sa.select(deployments).where(deployments.c.kind == kind)
            if not include_disabled:
                q = q.where(deployments.c.disabled.is_(False))
            rows = conn.execute(q.order_by(deployments.c.deployment_id).offset(offset).limit(limit + 1)).all()
            return _page([_deployment(r).as_dict() for r in rows], offset, limit)

        return self._read(tx)

    def set_disabled(self, kind: str, deployment_id: str, disabled: bool, actor: Actor | None = None) -> dict[str, Any]:
        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep, revision = self._load(conn, deployment_id, kind)
            now = self._now()
            new = plans.set_disabled(dep, disabled, now=now, new_version=plans.new_ulid(now))
            if new is None:
                return {**dep.as_dict(), "changed": False}
            self._swap(conn, dep, revision, new)
            self._history(conn, deployment_id, actor, "disable" if disabled else "enable", version=new.version)
            return {**new.as_dict(), "changed": True}

        return self._write(tx)

    def remove(self, kind: str, deployment_id: str, *, cascade: bool = False, purge: bool = False,
               actor: Actor | None = None) -> dict[str, Any]:
        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep, revision = self._load(conn, deployment_id, kind)
            now = self._now()
            where_dep = lambda t: t.c.deployment_id == deployment_id  # noqa: E731
            live = conn.execute(sa.select(instances.c.endpoint_id).where(
                where_dep(instances), instances.c.state != "revoked")).all()
            consumers = {r.consumer for r in conn.execute(sa.select(grants.c.consumer).where(where_dep(grants)))}
            if (live or consumers) and not cascade:
                raise Refusal("has_dependents", f"{dep.ref} has {len(live)} instance(s) and {len(consumers)} "
                              "grantee(s)", "pass --cascade to revoke them with the deployment",
                              field="cascade")
            revoked = sorted({r.endpoint_id for r in live} | consumers)
            for endpoint in revoked:
                conn.execute(sa.delete(revocations).where(revocations.c.deployment_id == deployment_id,
                                                          revocations.c.endpoint_id == endpoint))
                conn.execute(sa.insert(revocations).values(deployment_id=deployment_id, endpoint_id=endpoint,
                                                           reason=f"{dep.ref} removed", revoked_at=now))
            conn.execute(sa.delete(grants).where(where_dep(grants)))
            conn.execute(sa.update(instances).where(where_dep(instances)).values(state="revoked", disabled=True))
            counts = {name: conn.execute(sa.select(sa.func.count()).select_from(t).where(where_dep(t))).scalar_one()
                      for name, t in (("plans", plan_rows), ("history", history), ("credentials", credentials),
                                      ("instances", instances), ("reviews", reviews))}
            if purge:
                for t in (plan_rows, history, credentials, instances, reviews, challenges):
                    conn.execute(sa.delete(t).where(where_dep(t)))
            else:
                self._history(conn, deployment_id, actor, "remove", version=dep.version)
            result = conn.execute(sa.delete(deployments).where(deployments.c.deployment_id == deployment_id,
                                                               deployments.c.revision == revision))
            if result.rowcount != 1:
                raise _Retry()
            return {"deployment_id": deployment_id, "kind": kind, "removed": True, "revoked": revoked,
                    "purged": counts if purge else {}, "kept": {} if purge else counts}

        return self._write(tx)

    # -- plans -------------------------------------------------------------------------------
    def apply(self, kind: str, deployment_id: str, manifests: Any, *, actor: Actor | None = None,
              ttl: int | None = None) -> dict[str, Any]:
        manifests = check_manifests(manifests)
        proposal_digest = digest(manifests)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep, revision = self._load(conn, deployment_id, kind)
            now = self._now()
            c = classify(dep.desired_manifests, manifests)
            pending = [_plan(r) for r in conn.execute(sa.select(plan_rows).where(
                plan_rows.c.deployment_id == deployment_id, plan_rows.c.state == plans.PENDING,
                plan_rows.c.digest == proposal_digest))]
            result = plans.propose(dep, manifests, proposal_digest, classification=c.classification,
                                   changes=c.changes, warnings=c.warnings, pending=pending, now=now,
                                   plan_id=plans.new_ulid(now), new_version=plans.new_ulid(now),
                                   ttl=self.policy.plan_ttl if ttl is None else ttl, actor=actor)
            if result.unchanged:
                return {"unchanged": True, "plan": None, "deployment": dep.as_dict()}
            if not result.created:
                return {"unchanged": False, "created": False, "plan": result.plan.view(dep, now)}
            self._swap(conn, dep, revision, result.deployment)  # orders proposals: no duplicate pending plans
            conn.execute(sa.insert(plan_rows).values(**_plan_values(result.plan)))
            self._history(conn, deployment_id, actor, "plan", plan_id=result.plan.plan_id,
                          classification=result.plan.classification, state=result.plan.state)
            current = result.deployment or dep
            return {"unchanged": False, "created": True, "plan": result.plan.view(current, now),
                    "auto_accepted": result.deployment is not None,
                    "desired_version": current.version}

        return self._write(tx)

    def plan_list(self, kind: str, deployment_id: str, *, state: str | None = None, classification: str | None = None,
                  stale: bool = False, offset: int = 0, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        offset, limit = check_page(offset, limit)
        if state:
            plans.check_choice(state, plans.PLAN_STATES, "state")
        if classification:
            plans.check_choice(classification, plans.CLASSIFICATIONS, "classification")

        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep, _ = self._load(conn, deployment_id, kind)
            now = self._now()
            t = plan_rows.c
            q = sa.select(plan_rows).where(t.deployment_id == deployment_id)
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
            rows = conn.execute(q.order_by(t.plan_id).offset(offset).limit(limit + 1)).all()
            out = _page([_plan(r).view(dep, now, full=False) for r in rows], offset, limit)
            out["desired_version"] = dep.version
            return out

        return self._read(tx)

    def plan_show(self, kind: str, deployment_id: str, plan_id: str) -> dict[str, Any]:
        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep, _ = self._load(conn, deployment_id, kind)
            view = self._get_plan(conn, dep, plan_id).view(dep, self._now())
            view["desired_version"] = dep.version
            return view

        return self._read(tx)

    def accept(self, kind: str, deployment_id: str, plan_id: str, classification: str, *, actor: Actor,
               acknowledgement: str | None = None, expected_version: str | None = None) -> dict[str, Any]:
        seen: dict[str, str] = {}

        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep, revision = self._load(conn, deployment_id, kind)
            if "version" in seen and seen["version"] != dep.version:
                raise Refusal("version_changed", f"desired version changed: {dep.ref} moved from {seen['version']} "
                              f"to {dep.version} while this accept ran", "show the plan again and decide on what "
                              "is current (re-apply if it is stale)", field="expected_version")
            seen.setdefault("version", dep.version)
            plan = self._get_plan(conn, dep, plan_id)
            now = self._now()
            new_dep, decided = plans.accept(dep, plan, classification, now=now, new_version=plans.new_ulid(now),
                                            actor=actor, acknowledgement=acknowledgement,
                                            expected_version=expected_version)
            self._swap(conn, dep, revision, new_dep)
            updated = conn.execute(sa.update(plan_rows).where(plan_rows.c.plan_id == plan.plan_id,
                                                              plan_rows.c.state == plans.PENDING)
                                   .values(**_plan_values(decided)))
            if updated.rowcount != 1:
                raise _Retry()
            self._history(conn, deployment_id, actor, "accept", plan_id=plan.plan_id,
                          classification=classification, version=new_dep.version)
            return {"plan": decided.view(new_dep, now), "desired_version": new_dep.version,
                    "previous_version": dep.version, "reconcile_needed": True}

        return self._write(tx)

    def reject(self, kind: str, deployment_id: str, plan_id: str, *, actor: Actor,
               reason: str | None = None) -> dict[str, Any]:
        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep, revision = self._load(conn, deployment_id, kind)
            plan = self._get_plan(conn, dep, plan_id)
            now = self._now()
            decided = plans.reject(dep, plan, now=now, actor=actor, reason=reason)
            self._swap(conn, dep, revision)
            conn.execute(sa.update(plan_rows).where(plan_rows.c.plan_id == plan.plan_id)
                         .values(**_plan_values(decided)))
            self._history(conn, deployment_id, actor, "reject", plan_id=plan.plan_id)
            return {"plan": decided.view(dep, now)}

        return self._write(tx)

    # -- desired credentials -----------------------------------------------------------------
    def _desired(self, conn: sa.Connection, dep: Deployment, now: int, endpoints: list[str] | None = None,
                 *, status: bool = True) -> list[dict[str, Any]]:
        """Every credential the deployment's desired state calls for, with its status
        (only those bound to ``endpoints`` when given: what an upload batch can match;
        without ``status`` the stored credentials are not read: an upload replaces them)."""
        def only(column: Any) -> list[Any]:
            return [] if endpoints is None else [column.in_(endpoints)]

        items: list[dict[str, Any]] = []
        for row in conn.execute(sa.select(instances).where(instances.c.deployment_id == dep.deployment_id,
                                                            instances.c.state != "revoked",
                                                            instances.c.disabled.is_(False),
                                                            *only(instances.c.endpoint_id))
                                .order_by(instances.c.instance_id)):
            if dep.kind == plans.DEVICE:  # a device's consumer credential (held until it is activated)
                items.append({"subject": DEVICE, "id": row.instance_id, "endpoint_id": row.endpoint_id,
                              "type": "policy", "attributes": self.device_attributes(dep),
                              "expires_at": now + self.policy.device_lifetime})
                continue
            items.append({"subject": PRODUCER, "id": row.instance_id, "endpoint_id": row.endpoint_id,
                          "type": "producer", "attributes": self.producer_attributes(dep),
                          "expires_at": now + self.policy.instance_lifetime})
        roles: dict[str, list[str]] = {}
        for row in conn.execute(sa.select(grants).where(grants.c.deployment_id == dep.deployment_id,
                                                         *only(grants.c.consumer))
                                .order_by(grants.c.consumer, grants.c.role)):
            roles.setdefault(row.consumer, []).append(row.role)
        for consumer, rs in roles.items():
            items.append({"subject": CONSUMER, "id": consumer, "endpoint_id": consumer, "type": "policy",
                          "attributes": {"aster.role": ",".join(sorted(rs)), "aster.deployment": dep.deployment_id},
                          "expires_at": now + self.policy.grant_lifetime})
        if not status:
            return items
        c = credentials.c
        stored = {(r.endpoint_id, r.subject): r for r in conn.execute(
            sa.select(c.endpoint_id, c.subject, c.attributes, c.expires_at).where(
                c.deployment_id == dep.deployment_id, *only(c.endpoint_id)))}
        for item in items:
            row = stored.get((item["endpoint_id"], item["subject"]))
            if row is None:
                item["status"], item["reason"] = "missing", "no credential stored"
            elif json.loads(row.attributes) != item["attributes"]:
                item["status"], item["reason"] = "different", "attributes differ from the desired state"
            elif row.expires_at - now < self.policy.renew_before:
                item["status"], item["reason"] = "expiring", f"expires at {row.expires_at}"
            else:
                item["status"], item["reason"] = "current", ""
            item["current_expires_at"] = row.expires_at if row is not None else None
        return items

    @staticmethod
    def producer_attributes(dep: Deployment) -> dict[str, str]:
        attrs = {"aster.deployment": dep.deployment_id, "aster.contract": dep.desired_digest}
        if dep.roles:
            attrs["aster.role"] = ",".join(dep.roles)
        return attrs

    @staticmethod
    def device_attributes(dep: Deployment) -> dict[str, str]:
        attrs = {"aster.deployment": dep.deployment_id}
        if dep.roles:
            attrs["aster.role"] = ",".join(dep.roles)
        return attrs

    def desired(self, kind: str, deployment_id: str, *, desired_version: str | None = None) -> dict[str, Any]:
        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep, _ = self._load(conn, deployment_id, kind)
            if desired_version is not None and desired_version != dep.version:
                raise Refusal("version_changed", f"desired version changed: {dep.ref} is at {dep.version}, not "
                              f"{desired_version}", "reconcile the current version (drop --desired-version) "
                              "or review what changed", field="desired_version")
            items = self._desired(conn, dep, self._now())
            return {"deployment_id": deployment_id, "desired_version": dep.version, "items": items,
                    "root_pubkey": self.root_pubkey.hex()}

        return self._read(tx)

    def _verify(self, doc: Any, item: dict[str, Any] | None, now: int) -> tuple[Any, str | None]:
        """(credential, None) when ``doc`` is exactly what ``item`` demands, else (cred or None, why not)."""
        return self._matches(*self._admissible(doc, now), item, now)

    def _admissible(self, doc: Any, now: int) -> tuple[Any, str | None, str | None]:
        """Read ``doc`` and check what needs no database: structure, signature, mesh root,
        expiry. Returns (credential or None, why it cannot be read, why it is refused).

        The costly part of an upload (one ed25519 verification each; the library releases
        the GIL), so :meth:`upload` runs it before taking the write lock."""
        from aster_core.errors import AsterError

        from aster_trust.credentials import check, credential_from_dict

        try:
            cred = credential_from_dict(doc, "credential")
        except AsterError as exc:
            return None, exc.message, None
        found = check(cred, trusted_root=self.root_pubkey, now=now)
        return cred, None, None if found.ok else "; ".join(found.problems())

    def _matches(self, cred: Any, unreadable: str | None, refused: str | None, item: dict[str, Any] | None,
                 now: int) -> tuple[Any, str | None]:
        """What :meth:`_admissible` found, then the binding, type, attributes and expiry
        ``item`` (the desired state, read in the write transaction) demands."""
        if unreadable:
            return None, unreadable
        if item is None:
            return cred, f"no instance or grant of this deployment is bound to endpoint {cred.endpoint_id}"
        if refused:
            return cred, refused
        if cred.type != item["type"]:
            return cred, f"it is a {cred.type} credential, the desired state calls for {item['type']}"
        if cred.endpoint_id != item["endpoint_id"]:
            return cred, "it is bound to another endpoint"
        if dict(cred.attributes) != item["attributes"]:
            return cred, f"its attributes {_j(cred.attributes)} are not the desired {_j(item['attributes'])}"
        if cred.expires_at < now + self.policy.renew_before:
            return cred, "it expires within the renewal window"
        if cred.expires_at > item["expires_at"] + EXPIRY_SLACK:
            return cred, f"it expires later than the authority allows ({item['expires_at']})"
        return cred, None

    def _store_credentials(self, conn: sa.Connection, deployment_id: str, verified: list[tuple[dict, Any]],
                           now: int, actor: Actor | None) -> None:
        """Store verified credentials (a few statements for the whole batch)."""
        if not verified:
            return
        c = credentials.c
        for subject in (PRODUCER, CONSUMER, DEVICE):
            endpoints = [item["endpoint_id"] for item, _ in verified if item["subject"] == subject]
            if endpoints:
                conn.execute(sa.delete(credentials).where(c.deployment_id == deployment_id, c.subject == subject,
                                                          c.endpoint_id.in_(endpoints)))
        conn.execute(sa.insert(credentials), [
            dict(deployment_id=deployment_id, endpoint_id=item["endpoint_id"], subject=item["subject"], type=cred.type,
                 credential=_j(cred.to_dict()), attributes=_j(cred.attributes), expires_at=cred.expires_at,
                 uploaded_at=now, uploaded_by=actor.endpoint_id if actor else "") for item, cred in verified])
        renewed = [item["id"] for item, _ in verified if item["subject"] in (PRODUCER, DEVICE)]
        if renewed:
            conn.execute(sa.update(instances).where(instances.c.instance_id.in_(renewed)).values(renewed_at=now))
        # a fresh credential for the granted roles lifts a "roles reduced" revocation
        lifted = [item["endpoint_id"] for item, _ in verified if item["subject"] == CONSUMER]
        if lifted:
            conn.execute(sa.delete(revocations).where(revocations.c.deployment_id == deployment_id,
                                                      revocations.c.endpoint_id.in_(lifted)))

    def _store_credential(self, conn: sa.Connection, deployment_id: str, item: dict[str, Any], cred: Any,
                          now: int, actor: Actor | None) -> None:
        self._store_credentials(conn, deployment_id, [(item, cred)], now, actor)

    def upload(self, kind: str, deployment_id: str, docs: list[Any], *, actor: Actor | None = None) -> dict[str, Any]:
        """Verify and store signed credentials; each is stored or refused on its own."""
        if not isinstance(docs, list) or len(docs) > MAX_LIMIT:
            raise Refusal("invalid", f"credentials: give a list of at most {MAX_LIMIT}", "upload in batches",
                          field="credentials", exit_code=ExitCode.USAGE)

        now = self._now()
        checked = [self._admissible(doc, now) for doc in docs]  # outside the write lock
        keys = []
        for doc in docs:
            endpoint = doc.get("endpoint_id") if isinstance(doc, dict) else None
            ctype = (doc.get("type") or doc.get("credential_type")) if isinstance(doc, dict) else None
            keys.append((endpoint, (str(endpoint).lower(), ctype)))

        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep, revision = self._load(conn, deployment_id, kind, lock=True)  # uploads in flight queue here
            endpoints = sorted({key[0] for _, key in keys})
            desired = self._desired(conn, dep, now, endpoints, status=False)
            by_key = {(i["endpoint_id"], i["type"]): i for i in desired}
            results = []
            verified: list[tuple[dict, Any]] = []
            taken: set[tuple[str, Any]] = set()  # the desired items already matched
            for n, ((endpoint, key), found) in enumerate(zip(keys, checked)):
                item = by_key.get(key)
                cred, problem = self._matches(*found, item, now)
                entry = {"index": n, "endpoint_id": endpoint, "subject": item["subject"] if item else None,
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
            self._store_credentials(conn, deployment_id, verified, now, actor)
            if any(r["status"] == "current" for r in results):
                self._swap(conn, dep, revision)
                self._history(conn, deployment_id, actor, "credentials",
                              stored=sum(r["status"] == "current" for r in results),
                              failed=sum(r["status"] == "failed" for r in results))
            return {"deployment_id": deployment_id, "desired_version": dep.version, "results": results}

        return self._write(tx)

    # -- instances ----------------------------------------------------------------------------
    def provision_template(self, kind: str, deployment_id: str, endpoint_id: str) -> dict[str, Any]:
        """What the operator must sign for a new instance at ``endpoint_id`` (nothing is written)."""
        from aster_trust.keys import parse_endpoint_id

        endpoint_id = _endpoint(endpoint_id, parse_endpoint_id)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep, _ = self._load(conn, deployment_id, kind)
            self._check_provisionable(conn, dep, endpoint_id)
            return {"instance_id": instance_id_for(endpoint_id, kind), "endpoint_id": endpoint_id,
                    "type": "producer", "attributes": self.producer_attributes(dep),
                    "expires_at": self._now() + self.policy.instance_lifetime, "desired_version": dep.version,
                    "root_pubkey": self.root_pubkey.hex()}

        return self._read(tx)

    def _check_provisionable(self, conn: sa.Connection, dep: Deployment, endpoint_id: str) -> None:
        if dep.disabled:
            raise Refusal("disabled", f"{dep.ref} is disabled: cannot provision",
                          f"enable it first: aster {plans.PREFIX[dep.kind]} {dep.deployment_id} enable")
        if not dep.desired_digest:
            raise Refusal("no_contract", f"{dep.ref} has no accepted contract yet",
                          f"apply one and accept the plan: aster {plans.PREFIX[dep.kind]} {dep.deployment_id} apply "
                          "--manifest FILE")
        row = conn.execute(sa.select(instances).where(
            instances.c.instance_id == instance_id_for(endpoint_id, dep.kind))).first()
        if row is not None:
            raise Refusal("exists", f"endpoint {endpoint_id[:16]}... is already instance {row.instance_id} of "
                          f"deployment {row.deployment_id}", "provision with a new key (omit --instance-seed)",
                          field="endpoint_id")

    def provision(self, kind: str, deployment_id: str, endpoint_id: str, doc: Any, *,
                  actor: Actor | None = None) -> dict[str, Any]:
        from aster_trust.keys import parse_endpoint_id

        endpoint_id = _endpoint(endpoint_id, parse_endpoint_id)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep, revision = self._load(conn, deployment_id, kind)
            self._check_provisionable(conn, dep, endpoint_id)
            now = self._now()
            iid = instance_id_for(endpoint_id, kind)
            item = {"subject": PRODUCER, "id": iid, "endpoint_id": endpoint_id, "type": "producer",
                    "attributes": self.producer_attributes(dep), "expires_at": now + self.policy.instance_lifetime}
            cred, problem = self._verify(doc, item, now)
            if problem:
                raise Refusal("bad_credential", f"credential: {problem}", "sign it with the mesh root key for "
                              "exactly what `provision` asked (the CLI does this)", field="credential",
                              exit_code=ExitCode.DENIED)
            conn.execute(sa.insert(instances).values(instance_id=iid, deployment_id=deployment_id, kind=kind,
                                                     endpoint_id=endpoint_id, state="active", disabled=False,
                                                     metadata="{}", created_at=now, renewed_at=None))
            conn.execute(sa.delete(revocations).where(revocations.c.deployment_id == deployment_id,
                                                      revocations.c.endpoint_id == endpoint_id))
            self._store_credential(conn, deployment_id, item, cred, now, actor)
            self._swap(conn, dep, revision)
            self._history(conn, deployment_id, actor, "provision", instance_id=iid)
            return {"instance_id": iid, "endpoint_id": endpoint_id, "deployment_id": deployment_id,
                    "expires_at": cred.expires_at, "desired_version": dep.version}

        return self._write(tx)

    def instance_list(self, kind: str, deployment_id: str, *, include_disabled: bool = False, offset: int = 0,
                      limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        offset, limit = check_page(offset, limit)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            self._load(conn, deployment_id, kind)
            q = sa.select(instances, credentials.c.expires_at).select_from(instances.outerjoin(
                credentials, sa.and_(credentials.c.deployment_id == instances.c.deployment_id,
                                     credentials.c.endpoint_id == instances.c.endpoint_id,
                                     credentials.c.subject == PRODUCER))).where(
                instances.c.deployment_id == deployment_id)
            if not include_disabled:
                q = q.where(instances.c.disabled.is_(False))
            rows = conn.execute(q.order_by(instances.c.instance_id).offset(offset).limit(limit + 1)).all()
            return _page([{"instance_id": r.instance_id, "endpoint_id": r.endpoint_id, "state": r.state,
                           "disabled": bool(r.disabled), "created_at": r.created_at, "renewed_at": r.renewed_at,
                           "credential_expires_at": r.expires_at} for r in rows], offset, limit)

        return self._read(tx)

    # -- grants ---------------------------------------------------------------------------------
    def grant(self, deployment_id: str, consumer: str, roles: Iterable[str], *, add: bool,
              actor: Actor | None = None) -> dict[str, Any]:
        from aster_trust.keys import parse_endpoint_id

        consumer = _endpoint(consumer, parse_endpoint_id, "consumer")
        roles = plans.check_roles(roles)
        if not roles:
            raise Refusal("invalid", "roles: give at least one role", "pass --role R (repeatable)", field="roles",
                          exit_code=ExitCode.USAGE)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep, revision = self._load(conn, deployment_id)
            now = self._now()
            key = (grants.c.deployment_id == deployment_id, grants.c.consumer == consumer)
            changed = []
            for role in roles:
                if add:
                    stmt = _insert_ignore(conn, grants, dict(deployment_id=deployment_id, consumer=consumer,
                                                              role=role, created_at=now,
                                                              created_by=actor.endpoint_id if actor else ""))
                else:
                    stmt = sa.delete(grants).where(*key, grants.c.role == role)
                if conn.execute(stmt).rowcount:
                    changed.append(role)
            left = sorted(r.role for r in conn.execute(sa.select(grants.c.role).where(*key)))
            if changed and not add:
                # the credential it holds carries the removed roles until it expires: refuse it until
                # a new one (for what is left) is uploaded, or for good when nothing is left
                conn.execute(sa.delete(revocations).where(revocations.c.deployment_id == deployment_id,
                                                          revocations.c.endpoint_id == consumer))
                conn.execute(sa.insert(revocations).values(
                    deployment_id=deployment_id, endpoint_id=consumer, revoked_at=now,
                    reason="grants removed" if not left else "roles reduced: a new credential is pending"))
                if not left:
                    conn.execute(sa.delete(credentials).where(credentials.c.deployment_id == deployment_id,
                                                              credentials.c.endpoint_id == consumer,
                                                              credentials.c.subject == CONSUMER))
            if changed:
                self._swap(conn, dep, revision)
                self._history(conn, deployment_id, actor, "grant_add" if add else "grant_remove",
                              consumer=consumer, roles=changed)
            return {"deployment_id": deployment_id, "consumer": consumer, "changed": changed, "roles": left,
                    "reconcile_needed": bool(changed and left)}

        return self._write(tx)

    def grant_list(self, deployment_id: str | None = None, *, offset: int = 0,
                   limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        offset, limit = check_page(offset, limit)

        def tx(conn: sa.Connection) -> dict[str, Any]:
            q = sa.select(grants)
            if deployment_id is not None:
                self._load(conn, deployment_id)
                q = q.where(grants.c.deployment_id == deployment_id)
            rows = conn.execute(q.order_by(grants.c.deployment_id, grants.c.consumer, grants.c.role)
                                .offset(offset).limit(limit + 1)).all()
            return _page([{"deployment_id": r.deployment_id, "consumer": r.consumer, "role": r.role,
                           "created_at": r.created_at} for r in rows], offset, limit)

        return self._read(tx)

    # -- node-facing ---------------------------------------------------------------------------
    def fetch(self, endpoint_id: str) -> dict[str, Any]:
        """Every credential the authority releases to ``endpoint_id`` (proved by the connection)."""
        def tx(conn: sa.Connection) -> dict[str, Any]:
            now = self._now()
            out = []
            revoked = {(r.deployment_id, r.endpoint_id) for r in conn.execute(
                sa.select(revocations).where(revocations.c.endpoint_id == endpoint_id))}
            for r in conn.execute(sa.select(credentials).where(credentials.c.endpoint_id == endpoint_id)
                                  .order_by(credentials.c.deployment_id, credentials.c.subject)):
                if r.expires_at <= now:
                    continue
                if r.subject == PRODUCER:
                    inst = conn.execute(sa.select(instances).where(instances.c.deployment_id == r.deployment_id,
                                                                   instances.c.endpoint_id == endpoint_id)).first()
                    if inst is None or inst.disabled or inst.state == "revoked":
                        continue
                elif r.subject == DEVICE:  # released once activated (review approved), never once revoked
                    inst = conn.execute(sa.select(instances.c.state, instances.c.disabled).where(
                        instances.c.deployment_id == r.deployment_id, instances.c.endpoint_id == endpoint_id)).first()
                    if inst is None or inst.disabled or inst.state != "activated":
                        continue
                elif (r.deployment_id, endpoint_id) in revoked:
                    continue
                out.append({"deployment_id": r.deployment_id, "subject": r.subject, "type": r.type,
                            "expires_at": r.expires_at, "credential": json.loads(r.credential)})
            return {"endpoint_id": endpoint_id, "credentials": out}

        return self._read(tx)

    def revocation_list(self, deployment_id: str) -> dict[str, Any]:
        """Revoked endpoints of a deployment, and the roles each grantee holds now."""
        def tx(conn: sa.Connection) -> dict[str, Any]:
            dep, _ = self._load(conn, deployment_id)
            revoked = [{"endpoint_id": r.endpoint_id, "reason": r.reason, "revoked_at": r.revoked_at}
                       for r in conn.execute(sa.select(revocations).where(
                           revocations.c.deployment_id == deployment_id).order_by(revocations.c.endpoint_id))]
            granted: dict[str, list[str]] = {}
            for r in conn.execute(sa.select(grants).where(grants.c.deployment_id == deployment_id)):
                granted.setdefault(r.consumer, []).append(r.role)
            if dep.kind == plans.DEVICE:  # activated devices hold the deployment's roles
                for r in conn.execute(sa.select(instances.c.endpoint_id).where(
                        instances.c.deployment_id == deployment_id, instances.c.state == "activated")):
                    granted.setdefault(r.endpoint_id, []).extend(dep.roles)
            return {"deployment_id": deployment_id, "version": dep.version, "generated_at": self._now(),
                    "revoked": revoked, "granted": {k: sorted(v) for k, v in granted.items()}}

        return self._read(tx)

    def health(self) -> dict[str, Any]:
        info = storage.describe(self.engine)
        try:
            info["revision"] = storage.current_revision(self.engine, MIGRATIONS)
        except Exception:  # noqa: BLE001
            pass
        return {"database": info}


def _endpoint(value: Any, parse: Callable[[str], str], field_name: str = "endpoint_id") -> str:
    try:
        return parse(value if isinstance(value, str) else "")
    except UsageError as exc:
        raise Refusal("invalid", f"{field_name}: {exc.message}", exc.hint, field=field_name,
                      exit_code=ExitCode.USAGE) from None


def _insert_ignore(conn: sa.Connection, table: sa.Table, values: dict[str, Any]) -> Any:
    """INSERT that does nothing when the row exists (one statement: no read-modify-write race)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).values(**values).on_conflict_do_nothing()


__all__ = ["Store", "Policy", "MIGRATIONS", "NotFoundError"]
