"""The credential policy: what reconcile and provisioning must sign, and whether an uploaded
credential is exactly that. Pure (the signature check is the trust library's, no I/O).

The authority never signs: the operator's CLI signs what the *desired items* below call for
and uploads it, and the server stores a credential only when it matches its item:

- each live instance of a service deployment: a **producer** credential bound to its endpoint
  with ``aster.deployment``, ``aster.contract`` (the desired digest) and ``aster.role`` (the
  deployment's roles), ``instance_lifetime`` (30 days);
- each device of a device deployment: a **policy** credential (subject ``device``) with
  ``aster.deployment`` and ``aster.role``, ``device_lifetime`` (7 days), released only once
  the device is activated;
- each grantee: one **policy** credential with ``aster.role`` = the union of its granted roles
  and ``aster.deployment``, ``grant_lifetime`` (7 days).

An item is ``current``, ``missing``, ``different`` (attributes) or ``expiring`` (within
``renew_before``, 2 days).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from .ids import DEVICE as DEVICE_KIND
from .plans import DEFAULT_PLAN_TTL, Deployment

INSTANCE_LIFETIME = 30 * 86400
GRANT_LIFETIME = 7 * 86400
DEVICE_LIFETIME = 7 * 86400
RENEW_BEFORE = 2 * 86400
#: an uploaded credential may expire at most this long after the lifetime the server asks for
EXPIRY_SLACK = 3600
#: credential subjects: an instance, a grantee, and a device (held until it is activated)
PRODUCER, CONSUMER, DEVICE = "producer", "consumer", "device"
SUBJECTS = (PRODUCER, CONSUMER, DEVICE)

#: Sorted, compact, UTF-8 JSON (one encoder: json.dumps builds one per call).
canonical_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


@dataclass
class Policy:
    """Lifetimes the authority asks for (``plan_ttl``: how long a plan stays pending)."""

    instance_lifetime: int = INSTANCE_LIFETIME
    grant_lifetime: int = GRANT_LIFETIME
    renew_before: int = RENEW_BEFORE
    plan_ttl: int = DEFAULT_PLAN_TTL
    device_lifetime: int = DEVICE_LIFETIME


def producer_attributes(dep: Deployment) -> dict[str, str]:
    attrs = {"aster.deployment": dep.deployment_id, "aster.contract": dep.desired_digest}
    if dep.roles:
        attrs["aster.role"] = ",".join(dep.roles)
    return attrs


def device_attributes(dep: Deployment) -> dict[str, str]:
    attrs = {"aster.deployment": dep.deployment_id}
    if dep.roles:
        attrs["aster.role"] = ",".join(dep.roles)
    return attrs


def instance_item(dep: Deployment, instance_id: str, endpoint_id: str, now: int, policy: Policy) -> dict[str, Any]:
    """The credential one instance (or device) of ``dep`` must hold."""
    if dep.kind == DEVICE_KIND:
        return {"subject": DEVICE, "id": instance_id, "endpoint_id": endpoint_id, "type": "policy",
                "attributes": device_attributes(dep), "expires_at": now + policy.device_lifetime}
    return {"subject": PRODUCER, "id": instance_id, "endpoint_id": endpoint_id, "type": "producer",
            "attributes": producer_attributes(dep), "expires_at": now + policy.instance_lifetime}


def desired_items(dep: Deployment, instances: Iterable[tuple[str, str]], grants: Iterable[tuple[str, str]],
                  now: int, policy: Policy) -> list[dict[str, Any]]:
    """Every credential the deployment's desired state calls for: one per live instance
    (``(instance_id, endpoint_id)``, in order), then one per grantee (``(consumer, role)`` rows)."""
    items = [instance_item(dep, iid, endpoint, now, policy) for iid, endpoint in instances]
    roles: dict[str, list[str]] = {}
    for consumer, role in grants:
        roles.setdefault(consumer, []).append(role)
    for consumer, rs in roles.items():
        items.append({"subject": CONSUMER, "id": consumer, "endpoint_id": consumer, "type": "policy",
                      "attributes": {"aster.role": ",".join(sorted(rs)), "aster.deployment": dep.deployment_id},
                      "expires_at": now + policy.grant_lifetime})
    return items


def with_status(items: list[dict[str, Any]], stored: Mapping[tuple[str, str], tuple[str, int]], now: int,
                policy: Policy) -> list[dict[str, Any]]:
    """``items`` with ``status``, ``reason`` and ``current_expires_at``, from the stored
    credentials: ``{(endpoint_id, subject): (attributes JSON, expires_at)}``."""
    for item in items:
        row = stored.get((item["endpoint_id"], item["subject"]))
        if row is None:
            item["status"], item["reason"] = "missing", "no credential stored"
        elif json.loads(row[0]) != item["attributes"]:
            item["status"], item["reason"] = "different", "attributes differ from the desired state"
        elif row[1] - now < policy.renew_before:
            item["status"], item["reason"] = "expiring", f"expires at {row[1]}"
        else:
            item["status"], item["reason"] = "current", ""
        item["current_expires_at"] = row[1] if row is not None else None
    return items


def admissible(doc: Any, root_pubkey: bytes, now: int) -> tuple[Any, str | None, str | None]:
    """Read ``doc`` and check what needs no database: structure, signature, mesh root, expiry.
    Returns (credential or None, why it cannot be read, why it is refused).

    The costly part of an upload (one ed25519 verification each; the library releases the
    GIL), so the server runs it before taking the deployment's lock."""
    from aster_core.errors import AsterError

    from aster_trust.credentials import check, credential_from_dict

    try:
        cred = credential_from_dict(doc, "credential")
    except AsterError as exc:
        return None, exc.message, None
    found = check(cred, trusted_root=root_pubkey, now=now)
    return cred, None, None if found.ok else "; ".join(found.problems())


def matches(found: tuple[Any, str | None, str | None], item: dict[str, Any] | None, now: int,
            policy: Policy) -> tuple[Any, str | None]:
    """What :func:`admissible` found, then the binding, type, attributes and expiry ``item``
    (the desired state) demands: ``(credential, None)`` when it is exactly that, else
    ``(credential or None, why not)``."""
    cred, unreadable, refused = found
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
        return cred, (f"its attributes {canonical_json(cred.attributes)} are not the desired "
                      f"{canonical_json(item['attributes'])}")
    if cred.expires_at < now + policy.renew_before:
        return cred, "it expires within the renewal window"
    if cred.expires_at > item["expires_at"] + EXPIRY_SLACK:
        return cred, f"it expires later than the authority allows ({item['expires_at']})"
    return cred, None


def verify(doc: Any, item: dict[str, Any] | None, root_pubkey: bytes, now: int,
           policy: Policy) -> tuple[Any, str | None]:
    """:func:`admissible` then :func:`matches`, for one credential."""
    return matches(admissible(doc, root_pubkey, now), item, now, policy)


def released(subject: str, expires_at: int, now: int, instance: tuple[str, bool] | None, revoked: bool) -> bool:
    """Whether a stored credential goes to the node that asks for it (``fetch``): unexpired;
    a producer's while its instance is live; a device's only once activated (never once
    revoked); a grantee's unless it is on the revocation list. ``instance``: the endpoint's
    ``(state, disabled)`` in the deployment, if it is an instance of it."""
    if expires_at <= now:
        return False
    if subject == PRODUCER:
        return instance is not None and not instance[1] and instance[0] != "revoked"
    if subject == DEVICE:
        return instance is not None and not instance[1] and instance[0] == "activated"
    return not revoked
