"""What the deployment-level commands do (``svc`` and ``dev`` alike: ``kind``), without click:
build the request, call the authority, return its document.

Every function takes an open :class:`.connection.Authority`; lists take ``limit`` and
``all_pages`` (every page, following ``next_offset``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from aster_core.errors import UsageError

from .. import wire as w
from ..domain import bodies
from ..domain import replay as actions
from ..domain.ids import SERVICE
from ..domain.plans import MIGRATION, UPDATE
from . import known_plans, pins
from .connection import Authority
from .signer import decide, head_of

# ── deployments ──────────────────────────────────────────────────────────────────


def create(auth: Authority, deployment_id: str, *, kind: str = SERVICE, namespaces: Iterable[str] = (),
           compatibility: str = "strict", review_mode: str = "none", roles: Iterable[str] = ()) -> dict[str, Any]:
    from ..domain.plans import new_deployment

    namespaces, roles = list(namespaces), list(roles)
    # the rules' own normalization (and refusals: a reserved role stops here, before anything is signed)
    dep = new_deployment(deployment_id, kind, now=0, version="", namespaces=namespaces,
                         compatibility=compatibility, review_mode=review_mode, roles=roles)
    return decide(auth, deployment_id, actions.CREATE, bodies.create_body(dep), lambda record: auth.call(
        w.ADMIN, "create", w.CreateDeployment(kind, deployment_id, namespaces, compatibility, review_mode, roles,
                                              record)), kind=kind)


def show(auth: Authority, deployment_id: str, *, kind: str = SERVICE) -> dict[str, Any]:
    return auth.call(w.ADMIN, "show", w.DeploymentRef(kind, deployment_id))


def list_deployments(auth: Authority, *, kind: str = SERVICE, include_disabled: bool = False,
                     removed: bool = False, limit: int = w.DEFAULT_LIMIT, all_pages: bool = False) -> dict[str, Any]:
    """``removed``: the removed deployments (their data kept) instead of the live ones."""
    return auth.pages(w.ADMIN, "list", w.Page(kind, include_disabled=include_disabled, removed=removed), limit=limit,
                      all_pages=all_pages)


def set_disabled(auth: Authority, deployment_id: str, disabled: bool, *, kind: str = SERVICE) -> dict[str, Any]:
    return decide(auth, deployment_id, actions.DISABLE if disabled else actions.ENABLE, {}, lambda record: auth.call(
        w.ADMIN, "set_disabled", w.SetDisabled(kind, deployment_id, disabled, record)), kind=kind)


def remove(auth: Authority, deployment_id: str, *, kind: str = SERVICE, cascade: bool = False,
           purge: bool = False, purge_unused_contracts: bool = False) -> dict[str, Any]:
    check_purge_unused_contracts(purge_unused_contracts, purge)
    body = bodies.remove_body(cascade, purge, purge_unused_contracts)
    return decide(auth, deployment_id, actions.REMOVE, body, lambda record: auth.call(
        w.ADMIN, "remove", w.RemoveDeployment(kind, deployment_id, cascade, purge, record, purge_unused_contracts)),
        kind=kind)


def check_purge_unused_contracts(purge_unused_contracts: bool, purge: bool) -> None:
    """Refused before anything is signed: a plain remove keeps the plans that use the contracts."""
    if purge_unused_contracts and not purge:
        raise UsageError("--purge-unused-contracts needs --purge: the removed deployment's kept plans still use "
                         "their contracts", "add --purge, or later run `purge --purge-unused-contracts`")


def purge(auth: Authority, deployment_id: str, *, kind: str = SERVICE,
          purge_unused_contracts: bool = False) -> dict[str, Any]:
    """Delete what the removed ``deployment_id`` kept (a decision; its chain stays)."""
    return decide(auth, deployment_id, actions.PURGE, bodies.purge_body(purge_unused_contracts),
                  lambda record: auth.call(w.ADMIN, "purge", w.RemovedRef(kind, deployment_id, purge_unused_contracts,
                                                                          record)), kind=kind)


def restore(auth: Authority, deployment_id: str, *, kind: str = SERVICE) -> dict[str, Any]:
    """Bring the removed ``deployment_id`` back as remove left it (a decision)."""
    return decide(auth, deployment_id, actions.RESTORE, bodies.restore_body(), lambda record: auth.call(
        w.ADMIN, "restore", w.RemovedRef(kind, deployment_id, False, record)), kind=kind)


def instances(auth: Authority, deployment_id: str, *, kind: str = SERVICE, include_disabled: bool = False,
              limit: int = w.DEFAULT_LIMIT, all_pages: bool = False) -> dict[str, Any]:
    return auth.pages(w.ADMIN, "instances", w.Page(kind, deployment_id, include_disabled=include_disabled),
                      limit=limit, all_pages=all_pages)


# ── proposals and plans ──────────────────────────────────────────────────────────


def load_proposal(*, source: str | None = None, manifest: str | None = None, image: str | None = None) -> list[dict]:
    """The manifests of ``--source MODULE:CLASS`` (repeatable, comma-separated), ``--manifest PATH``
    or ``--image REF``."""
    given = [x for x in (source, manifest, image) if x]
    if len(given) != 1:
        raise UsageError("give exactly one of --source, --manifest or --image",
                         "e.g. apply --manifest .aster/manifest.json")
    if manifest:
        from aster_contract.export import load_contract_file

        return load_contract_file(Path(manifest))
    if source:
        from aster_contract.manifest import build_manifests

        return build_manifests([s.strip() for s in source.split(",") if s.strip()]).manifests
    from .images import manifests_from_image

    return manifests_from_image(image or "")


def apply(auth: Authority, deployment_id: str, manifests: list[dict], *, kind: str = SERVICE,
          ttl: int | None = None) -> dict[str, Any]:
    from ..domain.classify import check_manifests, digest

    checked = check_manifests(manifests)
    body = bodies.apply_body(digest(checked), checked)
    answer = decide(auth, deployment_id, actions.APPLY, body, lambda record: auth.call(
        w.ADMIN, "apply", w.Propose(kind, deployment_id, json.dumps(manifests), int(ttl or 0), record)), kind=kind)
    plan_id = (answer.get("plan") or {}).get("plan_id") if isinstance(answer, dict) else None
    if isinstance(plan_id, str):
        known_plans.remember(_root_hex(auth), deployment_id, plan_id, body)
    return answer


def plan_list(auth: Authority, deployment_id: str, *, kind: str = SERVICE, state: str | None = None,
              classification: str | None = None, stale: bool = False, limit: int = w.DEFAULT_LIMIT,
              all_pages: bool = False) -> dict[str, Any]:
    return auth.pages(w.ADMIN, "plan_list", w.Page(kind, deployment_id, state=state or "",
                                                   classification=classification or "", stale=stale),
                      limit=limit, all_pages=all_pages)


def plan_show(auth: Authority, deployment_id: str, plan_id: str, *, kind: str = SERVICE) -> dict[str, Any]:
    return auth.call(w.ADMIN, "plan_show", w.PlanRef(kind, deployment_id, plan_id))


def accept(auth: Authority, deployment_id: str, plan_id: str, classification: str, *, kind: str = SERVICE,
           acknowledgement: str | None = None, expected_version: str | None = None,
           plan: dict[str, Any] | None = None) -> dict[str, Any]:
    """Accept ``plan_id``; ``plan``: its ``plan_show`` answer when the caller has it (shown to the admin)."""
    if classification not in (UPDATE, MIGRATION):
        raise UsageError(f"unknown classification {classification!r}", "use update or migration")
    # the decision names what is accepted: the plan's digest and services, as this admin was shown
    # them, or as this machine proposed them (then one call: signed after the head its apply pinned)
    known = None if plan is not None and plan.get("plan_id") == plan_id else \
        known_plans.applied(_root_hex(auth), deployment_id, plan_id)
    if known is not None:
        body = bodies.accept_body_of(plan_id, classification, known["digest"], known["services"], acknowledgement)
        head = pins.pinned(_root_hex(auth), deployment_id)
    else:
        if plan is None or plan.get("plan_id") != plan_id:
            plan = plan_show(auth, deployment_id, plan_id, kind=kind)
        body = bodies.accept_body(plan_id, classification, str(plan.get("digest", "")), plan.get("manifests") or [],
                                  acknowledgement)
        head = head_of(plan)
    return decide(auth, deployment_id, actions.ACCEPT, body, lambda record: auth.call(
        w.ADMIN, "accept", w.AcceptPlan(kind, deployment_id, plan_id, classification, acknowledgement or "",
                                        expected_version or "", record)), kind=kind, head=head)


def _root_hex(auth: Authority) -> str:
    signer = getattr(auth, "signer", None)
    return str(signer.credential.get("root_pubkey", "")) if signer is not None else ""


def reject(auth: Authority, deployment_id: str, plan_id: str, *, kind: str = SERVICE,
           reason: str | None = None) -> dict[str, Any]:
    return decide(auth, deployment_id, actions.REJECT, bodies.reject_body(plan_id, reason), lambda record: auth.call(
        w.ADMIN, "reject", w.PlanRef(kind, deployment_id, plan_id, reason or "", record)), kind=kind)
