"""Names and ids: deployment kinds, ULIDs, instance ids, and the checks of ids, roles and namespaces.

Limits (documented in the family README): a deployment id is 1-63 characters, a role 1-128, a
namespace pattern 1-200; a deployment has at most :data:`MAX_ROLES` roles and
:data:`MAX_NAMESPACES` namespace patterns, and a grantee holds at most :data:`MAX_ROLES` roles of
one. Every check is one pass over its input (roles are de-duplicated through a dict), whole
matches only, no control characters (``aster_core.text``)."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import threading
import time
from typing import Any, Iterable

from aster_core.text import control_in, shown, whole_match

from .errors import invalid

SERVICE, DEVICE = "service", "device"
KINDS = (SERVICE, DEVICE)
#: the CLI prefix of each kind (``svc/payments``)
PREFIX = {SERVICE: "svc", DEVICE: "dev"}
DEPLOYMENT_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
ROLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
#: roles that administer the authority (admins, reviewers): never a deployment's role nor a grant, so
#: no reconcile signs one
RESERVED_PREFIX = "authority."
#: roles one deployment gives its nodes, and roles one grantee may hold of a deployment
MAX_ROLES = 64
#: namespace patterns of one deployment, and the length of one
MAX_NAMESPACES = 64
MAX_NAMESPACE = 200

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_last_ulid = 0
_ulid_lock = threading.Lock()


def new_ulid(now: float | None = None) -> str:
    """A ULID: 48-bit milliseconds and 80 random bits in Crockford base32 (26 characters).

    Monotonic within a process: the store's clock has whole seconds, so ids made in one second
    would otherwise sort at random, and lists ordered by id (plans, reviews) would shuffle."""
    global _last_ulid
    ms = int((time.time() if now is None else now) * 1000)
    n = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    with _ulid_lock:
        if n <= _last_ulid:
            n = _last_ulid + 1
        _last_ulid = n
    return "".join(_CROCKFORD[(n >> (5 * i)) & 31] for i in reversed(range(26)))


def instance_id_for(endpoint_id: str, kind: str = SERVICE) -> str:
    """``svc_`` (or ``dev_``) + 22 characters of base64url SHA-256 of the endpoint id's 32 bytes."""
    raw = hashlib.sha256(bytes.fromhex(endpoint_id)).digest()
    return ("svc_" if kind == SERVICE else "dev_") + base64.urlsafe_b64encode(raw).decode()[:22]


def check_deployment_id(value: Any, field_name: str = "deployment_id") -> str:
    if not whole_match(DEPLOYMENT_ID, value):
        raise invalid(field_name, f"{shown(value)} is not a deployment id",
                      "use 1-63 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter "
                      "or digit")
    return value


def _count(values: Iterable[Any]) -> str:
    try:
        return str(len(values))  # type: ignore[arg-type]
    except TypeError:
        return "more"


def check_roles(roles: Iterable[Any], field_name: str = "roles") -> tuple[str, ...]:
    """At most :data:`MAX_ROLES` role names, each checked once, duplicates dropped (first kept)."""
    out: dict[str, None] = {}
    for n, r in enumerate(roles):
        if n == MAX_ROLES:
            raise invalid(field_name, f"{_count(roles)} roles given, at most {MAX_ROLES}",
                          "give a deployment or a grantee a few roles; a credential carries them all in one "
                          "aster.role attribute")
        if not whole_match(ROLE, r):
            raise invalid(field_name, f"{shown(r)} is not a role name",
                          "a role is 1-128 letters, digits, '.', '_', ':' or '-' (no commas: aster.role is a "
                          "comma-separated list)")
        if r.lower().startswith(RESERVED_PREFIX):
            raise invalid(field_name, f"{shown(r)} is reserved: roles under {RESERVED_PREFIX!r} administer the "
                          "authority itself", "pick another role name; admin and reviewer credentials are made "
                          "only with the root key (aster enroll node --capabilities authority.admin)")
        out[r] = None
    return tuple(out)


def check_namespaces(patterns: Iterable[Any]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for n, p in enumerate(patterns):
        if n == MAX_NAMESPACES:
            raise invalid("namespaces", f"{_count(patterns)} patterns given, at most {MAX_NAMESPACES}",
                          "use globs such as 'Payments*' to cover several services")
        if (not isinstance(p, str) or not p.strip() or len(p) > MAX_NAMESPACE or any(c.isspace() for c in p)
                or control_in(p)):
            raise invalid("namespaces", f"{shown(p)} is not a service-name pattern",
                          f"give a service name or a glob such as 'Payments*' (at most {MAX_NAMESPACE} "
                          "characters, no spaces or control characters)")
        out[p] = None
    return tuple(out) or ("*",)
