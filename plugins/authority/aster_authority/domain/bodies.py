"""What each decision's body holds, computed by one function per action: the CLI calls it to
build the record it signs, the authority to build the body it expects from the request it
received. The two must be equal, or nothing is stored. Pure.

Inputs are normalized here as the rules normalize them (roles de-duplicated, namespaces
defaulted, endpoint ids lower-case, notes stripped), so a request and its record cannot
disagree on spelling alone.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from .errors import check_note
from .grants import check_grant_roles
from .plans import Deployment
from .replay import services_of_manifests


def create_body(dep: Deployment) -> dict[str, Any]:
    """From the deployment :func:`.plans.new_deployment` makes of the request."""
    return {"kind": dep.kind, "roles": list(dep.roles), "namespaces": list(dep.namespaces),
            "compatibility": dep.compatibility, "review_mode": dep.review_mode}


def apply_body(digest: str, manifests: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``digest``: :func:`.classify.digest` of the checked manifests."""
    return {"digest": digest, "services": services_of_manifests(manifests)}


def accept_body(plan_id: str, classification: str, digest: str, manifests: Iterable[Mapping[str, Any]],
                acknowledgement: str | None) -> dict[str, Any]:
    return accept_body_of(plan_id, classification, digest, services_of_manifests(manifests), acknowledgement)


def accept_body_of(plan_id: str, classification: str, digest: str, services: list[list[Any]],
                   acknowledgement: str | None) -> dict[str, Any]:
    """``services``: as the plan's apply body named them (:func:`apply_body`)."""
    body = {"plan_id": plan_id, "classification": classification, "digest": digest, "services": services}
    ack = check_note(acknowledgement, "acknowledgement")
    if ack:
        body["acknowledgement"] = ack
    return body


def _with_reason(body: dict[str, Any], reason: str | None) -> dict[str, Any]:
    note = check_note(reason, "reason")
    if note:
        body["reason"] = note
    return body


def reject_body(plan_id: str, reason: str | None) -> dict[str, Any]:
    return _with_reason({"plan_id": plan_id}, reason)


def review_body(review_id: str, reason: str | None) -> dict[str, Any]:
    return _with_reason({"review_id": review_id}, reason)


def grant_body(consumer: str, roles: Iterable[Any]) -> dict[str, Any]:
    """``consumer``: a checked endpoint id (lower-case hex)."""
    return {"consumer": consumer, "roles": list(check_grant_roles(roles))}


def instance_body(endpoint_id: str) -> dict[str, Any]:
    return {"endpoint_id": endpoint_id}


def devices_body(endpoints: Iterable[str]) -> dict[str, Any]:
    return {"endpoints": list(endpoints)}


def revoke_body(instance_id: str) -> dict[str, Any]:
    return {"instance_id": instance_id}


def remove_body(cascade: bool, purge: bool, purge_unused_contracts: bool = False) -> dict[str, Any]:
    """``purge_unused_contracts`` only when asked: records made before it existed stay valid."""
    body = {"cascade": bool(cascade), "purge": bool(purge)}
    if purge_unused_contracts:
        body["purge_unused_contracts"] = True
    return body


def purge_body(purge_unused_contracts: bool) -> dict[str, Any]:
    return {"purge_unused_contracts": bool(purge_unused_contracts)}


def restore_body() -> dict[str, Any]:
    return {}


def admin_revoke_body(endpoint_id: str, reason: str | None) -> dict[str, Any]:
    return {"endpoint_id": endpoint_id, "reason": check_note(reason, "reason") or ""}
