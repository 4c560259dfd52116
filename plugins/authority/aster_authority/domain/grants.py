"""Grants: which consumer endpoints hold which roles of a deployment, and what a change means
for the revocation list producers' gates enforce. Pure.

Adding roles changes nothing a gate sees until reconcile uploads the grantee's credential.
Removing some of its roles puts the grantee on the revocation list ("roles reduced") until a
credential for what is left is uploaded (its old one still carries the removed roles);
removing all of them revokes it for good and drops its stored credential.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .errors import invalid
from .ids import DEVICE, MAX_ROLES, check_roles
from .plans import Deployment

ALL_REMOVED = "grants removed"
ROLES_REDUCED = "roles reduced: a new credential is pending"


def check_grant_roles(roles: Iterable[Any]) -> tuple[str, ...]:
    checked = check_roles(roles)
    if not checked:
        raise invalid("roles", "give at least one role", "pass --role R (repeatable)")
    return checked


@dataclass(frozen=True)
class RoleChange:
    """What adding or removing ``roles`` did to a grantee holding ``held``."""

    changed: tuple[str, ...]       #: the roles actually added or removed, in the order asked
    roles: tuple[str, ...]         #: the roles it holds now, sorted
    revocation: str | None         #: the reason to put it on the revocation list, if any
    drop_credential: bool          #: its stored credential must go (nothing left to hold)

    @property
    def reconcile_needed(self) -> bool:
        return bool(self.changed and self.roles)


def change_roles(held: Iterable[str], roles: Iterable[str], *, add: bool) -> RoleChange:
    """What adding (or removing) ``roles`` does to a grantee holding ``held``; one holds at most
    :data:`~.ids.MAX_ROLES` roles of a deployment (its credential carries them all)."""
    before = set(held)
    if add:
        changed = tuple(r for r in roles if r not in before)
        after = before | set(changed)
        if len(after) > MAX_ROLES:
            raise invalid("roles", f"the grantee would hold {len(after)} roles, at most {MAX_ROLES}",
                          "remove roles it no longer needs first (aster grants remove)")
    else:
        changed = tuple(r for r in roles if r in before)
        after = before - set(changed)
    left = tuple(sorted(after))
    revocation = None
    if changed and not add:
        revocation = ROLES_REDUCED if left else ALL_REMOVED
    return RoleChange(changed, left, revocation, bool(changed and not add and not left))


def revocation_view(dep: Deployment, revoked: Iterable[dict[str, Any]], grants: Iterable[tuple[str, str]],
                    activated: Iterable[str], now: int) -> dict[str, Any]:
    """The deployment's revocation list as gates read it: revoked endpoints, and the roles each
    grantee (and, for devices, each activated device) holds now."""
    granted: dict[str, list[str]] = {}
    for consumer, role in grants:
        granted.setdefault(consumer, []).append(role)
    if dep.kind == DEVICE:  # activated devices hold the deployment's roles
        for endpoint in activated:
            granted.setdefault(endpoint, []).extend(dep.roles)
    return {"deployment_id": dep.deployment_id, "version": dep.version, "generated_at": now,
            "revoked": list(revoked), "granted": {k: sorted(v) for k, v in granted.items()}}
