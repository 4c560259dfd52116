"""Deployments and the plan state machine. Pure.

No storage, no network, no clock: every function takes the current values (``now`` in
epoch seconds, fresh ids made by the caller) and returns new values or raises a
:class:`Refusal`. The server runs each call inside one transaction on the deployment's
row and writes the result, so what is decided here is what is committed, or nothing is.

Transitions::

    propose(deployment, manifests)      -> new pending plan | the identical pending plan |
                                           "unchanged" | an auto-accepted plan (mutable-dev)
    accept(deployment, plan, "update")  pending, fresh, not stale, an update      -> accepted
    accept(..., "migration", ack)       pending, fresh, not stale, a migration,
                                        acknowledgement given                      -> accepted
    reject(deployment, plan, reason)    pending, fresh                            -> rejected
    (time)                              pending past expires_at                   -> expired
    set_disabled(deployment, flag)      a change                                  -> new version

Every accept, enable/disable change and remove gives the deployment a new ``version``
(a ULID); a pending plan whose ``base_version`` is no longer the deployment's version is
*stale* and can only be rejected (or re-applied). Device reviews are in :mod:`.devices`.
"""

from __future__ import annotations

import fnmatch
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Iterable

from aster_core.errors import ExitCode

from .errors import Refusal, check_choice, check_note, invalid
from .ids import DEVICE, KINDS, PREFIX, SERVICE, check_deployment_id, check_namespaces, check_roles

COMPATIBILITY = ("strict", "mutable-dev")
REVIEW_MODES = ("none", "required")
UPDATE, MIGRATION = "update", "migration"
CLASSIFICATIONS = (UPDATE, MIGRATION)
PENDING, ACCEPTED, REJECTED, EXPIRED = "pending", "accepted", "rejected", "expired"
PLAN_STATES = (PENDING, ACCEPTED, REJECTED, EXPIRED)
DEFAULT_PLAN_TTL = 7 * 86400
#: what ``decided_by`` says for a plan the authority accepted itself (mutable-dev)
AUTO = {"endpoint_id": "", "name": "auto:mutable-dev"}
__all__ = ["SERVICE", "DEVICE", "KINDS", "PREFIX", "Refusal", "Actor", "Deployment", "Plan", "Proposal",
           "new_deployment", "require_enabled", "check_namespace", "propose", "check_owner", "accept", "reject",
           "set_disabled"]


# ── values ───────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Actor:
    """Who decided: the caller's endpoint id and its credential's ``aster.name``."""

    endpoint_id: str
    name: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"endpoint_id": self.endpoint_id, "name": self.name}


@dataclass(frozen=True)
class Deployment:
    deployment_id: str
    kind: str
    version: str
    created_at: int
    updated_at: int
    namespaces: tuple[str, ...] = ("*",)
    compatibility: str = "strict"
    review_mode: str = "none"
    roles: tuple[str, ...] = ()
    disabled: bool = False
    desired_manifests: list[dict[str, Any]] = field(default_factory=list)
    desired_digest: str = ""

    @property
    def ref(self) -> str:
        return f"{PREFIX[self.kind]}/{self.deployment_id}"

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["namespaces"], d["roles"] = list(self.namespaces), list(self.roles)
        d["desired_services"] = [f"{m['service']}@{m.get('version', 1)}" for m in self.desired_manifests]
        if self.kind == SERVICE:
            d.pop("review_mode")
        else:
            d.pop("compatibility")
            d.pop("namespaces")
        return d


@dataclass(frozen=True)
class Plan:
    plan_id: str
    deployment_id: str
    classification: str
    state: str
    base_version: str
    manifests: list[dict[str, Any]]
    digest: str
    changes: list[dict[str, Any]]
    warnings: list[str]
    created_at: int
    expires_at: int
    decided_at: int | None = None
    decided_by: dict[str, str] | None = None
    decision_reason: str | None = None

    def state_at(self, now: float) -> str:
        """The state as of ``now``: a pending plan past its expiry is expired."""
        return EXPIRED if self.state == PENDING and now >= self.expires_at else self.state

    def stale(self, deployment: Deployment) -> bool:
        return self.state == PENDING and self.base_version != deployment.version

    def view(self, deployment: Deployment | None, now: float, *, full: bool = True) -> dict[str, Any]:
        """What list/show return: the effective state, ``stale``, breaking changes counted."""
        if full:
            d = asdict(self)
        else:  # list rows: no deep copy of manifests and changes they do not carry
            d = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("manifests", "changes")}
            d["decided_by"] = dict(self.decided_by) if self.decided_by else self.decided_by
            d["warnings"] = list(self.warnings)
        d["state"] = self.state_at(now)
        d["stale"] = bool(deployment is not None and d["state"] == PENDING and self.stale(deployment))
        d["breaking"] = sum(1 for c in self.changes if not c.get("compatible"))
        d["services"] = [f"{m['service']}@{m.get('version', 1)}" for m in self.manifests]
        return d


@dataclass(frozen=True)
class Proposal:
    """What :func:`propose` decided. ``plan`` is None when the proposal is the desired state."""

    plan: Plan | None
    created: bool = False       #: a new plan (False: the identical pending one was returned)
    deployment: Deployment | None = None   #: the new deployment value when auto-accepted
    unchanged: bool = False


# ── transitions ──────────────────────────────────────────────────────────────────


def new_deployment(deployment_id: str, kind: str, *, now: int, version: str, namespaces: Iterable[str] = (),
                   compatibility: str = "strict", review_mode: str = "none", roles: Iterable[str] = ()) -> Deployment:
    check_deployment_id(deployment_id)
    check_choice(kind, KINDS, "kind")
    return Deployment(deployment_id, kind, version, now, now, namespaces=check_namespaces(namespaces),
                      compatibility=check_choice(compatibility, COMPATIBILITY, "compatibility"),
                      review_mode=check_choice(review_mode, REVIEW_MODES, "review_mode"),
                      roles=check_roles(roles))


def require_enabled(dep: Deployment, doing: str) -> None:
    if dep.disabled:
        raise Refusal("disabled", f"{dep.ref} is disabled: cannot {doing}",
                      f"enable it first: aster {PREFIX[dep.kind]} {dep.deployment_id} enable")


def check_namespace(dep: Deployment, manifests: list[dict[str, Any]]) -> None:
    for i, m in enumerate(manifests):
        name = m.get("service")
        if not any(fnmatch.fnmatchcase(str(name), p) for p in dep.namespaces):
            raise Refusal("namespace", f"manifests[{i}].service: {name!r} is outside the namespaces of {dep.ref} "
                          f"({', '.join(dep.namespaces)})",
                          f"propose only services matching them, or recreate {dep.ref} with --namespace",
                          field=f"manifests[{i}].service", exit_code=ExitCode.DENIED)


def _services(manifests: list[dict[str, Any]]) -> set[tuple[str, int]]:
    return {(m["service"], int(m.get("version", 1))) for m in manifests}


def propose(dep: Deployment, manifests: list[dict[str, Any]], digest: str, *, classification: str,
            changes: list[dict[str, Any]], warnings: list[str], pending: Iterable[Plan], now: int, plan_id: str,
            new_version: str, ttl: int = DEFAULT_PLAN_TTL, actor: Actor | None = None) -> Proposal:
    """A plan for ``manifests`` (classified by the caller from the desired state).

    - the desired digest already: nothing to review (``unchanged``);
    - an identical pending proposal (same digest, same base version, not expired): that plan;
    - ``mutable-dev`` and the same set of service versions: accepted at once, kept in history;
    - otherwise a new pending plan that expires ``ttl`` seconds from now.
    """
    require_enabled(dep, "plan changes")
    if not manifests:
        raise invalid("manifests", "the proposal holds no manifest", "apply a manifest with at least one service")
    check_choice(classification, CLASSIFICATIONS, "classification")
    if ttl <= 0:
        raise invalid("ttl", f"{ttl} is not a positive number of seconds", "give a duration such as 7d")
    check_namespace(dep, manifests)
    if digest == dep.desired_digest:
        return Proposal(None, unchanged=True)
    for plan in pending:
        if (plan.deployment_id == dep.deployment_id and plan.state_at(now) == PENDING and plan.digest == digest
                and plan.base_version == dep.version):
            return Proposal(plan, created=False)
    plan = Plan(plan_id, dep.deployment_id, classification, PENDING, dep.version, list(manifests), digest,
                list(changes), list(warnings), now, now + ttl)
    if (dep.compatibility == "mutable-dev" and dep.desired_manifests
            and _services(dep.desired_manifests) == _services(manifests)):
        decided = dict(AUTO)
        if actor is not None:
            decided["endpoint_id"] = actor.endpoint_id
        plan = replace(plan, state=ACCEPTED, decided_at=now, decided_by=decided,
                       decision_reason="mutable-dev: the same service versions replaced in place")
        return Proposal(plan, created=True, deployment=_apply(dep, plan, now, new_version))
    return Proposal(plan, created=True)


def check_owner(plan: Plan, deployment_id: str, what: str = "plan") -> None:
    if plan.deployment_id != deployment_id:
        raise Refusal("other_deployment", f"{what} {plan.plan_id} does not belong to deployment {deployment_id}",
                      f"list this deployment's plans with `plan list`; that {what} belongs to another deployment",
                      exit_code=ExitCode.NOT_FOUND)


def _require_pending(dep: Deployment, plan: Plan, now: int, doing: str) -> None:
    check_owner(plan, dep.deployment_id)
    state = plan.state_at(now)
    if state == EXPIRED:
        raise Refusal("expired", f"plan {plan.plan_id} expired at {_iso(plan.expires_at)}: cannot {doing} it",
                      f"re-apply the contract: aster {PREFIX[dep.kind]} {dep.deployment_id} apply ...")
    if state != PENDING:
        raise Refusal("wrong_state", f"plan {plan.plan_id} is {state}, not pending: cannot {doing} it",
                      "only pending plans can be decided; see `plan list --state pending`")


def accept(dep: Deployment, plan: Plan, classification: str, *, now: int, new_version: str, actor: Actor,
           acknowledgement: str | None = None, expected_version: str | None = None) -> tuple[Deployment, Plan]:
    """Accept ``plan`` as ``classification`` (what the operator says it is).

    Refused: a plan of another deployment, not pending, expired, stale, a classification
    other than the plan's, a migration without an acknowledgement, ``expected_version``
    not the current version, a disabled deployment.
    """
    cmd = "accept-update" if classification == UPDATE else "accept-migration"
    _require_pending(dep, plan, now, "accept")
    check_choice(classification, CLASSIFICATIONS, "classification")
    if expected_version is not None and expected_version != dep.version:
        raise Refusal("version_changed", f"desired version changed: {dep.ref} is at {dep.version}, "
                      f"not {expected_version}", "show the authority again (`authority show`) and decide on what "
                      "is current")
    if plan.stale(dep):
        raise Refusal("stale", f"plan {plan.plan_id} is stale: desired version changed from {plan.base_version} "
                      f"(when it was made) to {dep.version}",
                      f"re-apply the contract to get a plan against the current state: aster {PREFIX[dep.kind]} "
                      f"{dep.deployment_id} apply ...")
    if plan.classification != classification:
        other = "accept-migration PLAN --acknowledgement TEXT" if plan.classification == MIGRATION else \
            "accept-update PLAN"
        kind_of = {MIGRATION: "a migration", UPDATE: "an update"}
        raise Refusal("classification", f"plan {plan.plan_id} is {kind_of[plan.classification]}, "
                      f"not {kind_of[classification]}: {cmd} refuses it",
                      f"use `authority {other}`")
    ack = check_note(acknowledgement, "acknowledgement") or ""
    if classification == MIGRATION and not ack:
        raise Refusal("acknowledgement", f"plan {plan.plan_id} is a migration with "
                      f"{sum(1 for c in plan.changes if not c.get('compatible'))} breaking change(s): "
                      "an acknowledgement is required", "pass --acknowledgement TEXT saying why callers may break",
                      exit_code=ExitCode.USAGE)
    require_enabled(dep, "accept plans")
    decided = replace(plan, state=ACCEPTED, decided_at=now, decided_by=actor.as_dict(),
                      decision_reason=ack or None)
    return _apply(dep, decided, now, new_version), decided


def _apply(dep: Deployment, plan: Plan, now: int, new_version: str) -> Deployment:
    return replace(dep, version=new_version, updated_at=now, desired_manifests=list(plan.manifests),
                   desired_digest=plan.digest)


def reject(dep: Deployment, plan: Plan, *, now: int, actor: Actor, reason: str | None = None) -> Plan:
    """Reject a pending plan (stale ones too: that is how they are cleared)."""
    _require_pending(dep, plan, now, "reject")
    return replace(plan, state=REJECTED, decided_at=now, decided_by=actor.as_dict(),
                   decision_reason=check_note(reason, "reason"))


def set_disabled(dep: Deployment, disabled: bool, *, now: int, new_version: str) -> Deployment | None:
    """The deployment disabled or enabled with a new version; None when it already was."""
    if dep.disabled == disabled:
        return None
    return replace(dep, disabled=disabled, version=new_version, updated_at=now)


def _iso(epoch: int) -> str:
    from aster_core.durations import iso_utc

    return iso_utc(epoch)
