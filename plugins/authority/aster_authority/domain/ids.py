"""Names and ids: deployment kinds, ULIDs, instance ids, and the checks of ids, roles and namespaces."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import threading
import time
from typing import Any, Iterable

from .errors import invalid

SERVICE, DEVICE = "service", "device"
KINDS = (SERVICE, DEVICE)
#: the CLI prefix of each kind (``svc/payments``)
PREFIX = {SERVICE: "svc", DEVICE: "dev"}
DEPLOYMENT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
ROLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

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
    if not isinstance(value, str) or not DEPLOYMENT_ID.match(value):
        raise invalid(field_name, f"{str(value)[:70]!r} is not a deployment id",
                      "use 1-63 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter "
                      "or digit")
    return value


def check_roles(roles: Iterable[Any], field_name: str = "roles") -> tuple[str, ...]:
    out: list[str] = []
    for r in roles:
        if not isinstance(r, str) or not ROLE.match(r):
            raise invalid(field_name, f"{str(r)[:70]!r} is not a role name",
                          "a role is letters, digits, '.', '_', ':' or '-' (no commas: aster.role is a "
                          "comma-separated list)")
        if r not in out:
            out.append(r)
    return tuple(out)


def check_namespaces(patterns: Iterable[Any]) -> tuple[str, ...]:
    out = []
    for p in patterns:
        if not isinstance(p, str) or not p.strip() or len(p) > 200 or any(c.isspace() for c in p):
            raise invalid("namespaces", f"{str(p)[:70]!r} is not a service-name pattern",
                          "give a service name or a glob such as 'Payments*'")
        out.append(p)
    return tuple(dict.fromkeys(out)) or ("*",)
