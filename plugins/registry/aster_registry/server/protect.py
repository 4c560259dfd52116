"""What the registry checks before it touches the database: the signed envelope and values.

Every refusal is an :class:`aster_server.request.Refused` carrying the status the client sees
(and the field at fault); the request layer turns it into an ``RpcError``. Nothing here
touches the database: nonce replay and rate limits are in :mod:`.database` and
:mod:`.limits`, because they must be remembered across restarts and replicas.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from aster_core.errors import UsageError
from aster_core.text import check_text
from aster_server.request import Refused, json_field

from .. import rules

#: ±seconds between the client's timestamp and ours (no more than half the nonce window).
SKEW_S = 300
#: how long a nonce is remembered
NONCE_WINDOW_S = 600

MAX_PAYLOAD = 640 * 1024
MAX_MANIFEST = 512 * 1024
MAX_DESCRIPTION = 280
MAX_EMAIL = 254
MAX_RELAY = 512
MAX_ROLES = 32
MAX_ROLE = 64
MAX_QUERY = 200
MAX_TTL = 7 * 24 * 3600
MAX_CODE = 32
MAX_MAP = 64 * 1024

HEX64 = rules.NODE_ID_RE
_HEX128 = re.compile(r"[0-9a-fA-F]{128}")
_HEX32 = re.compile(r"[0-9a-fA-F]{16,64}")

# The value rules (handle, email, service name, rate limit, choices) are the ones our client
# checks before sending: one definition in aster_registry.rules, enforced here too.
STATUSES = rules.STATUSES
VISIBILITIES = rules.VISIBILITIES
SCOPES = ("handle", "node")
MODES = ("open", "closed")
RESERVED = rules.RESERVED


def bad(message: str, field: str | None = None) -> Refused:
    return Refused("INVALID_ARGUMENT", message, field=field)


# ---------------------------------------------------------------------------- values


def handle_problem(handle: Any) -> str | None:
    """Why ``handle`` cannot be a handle, or None."""
    if not isinstance(handle, str):
        return "a handle is required"
    return rules.check_handle(handle)


def check_handle(handle: Any, what: str = "handle") -> str:
    if isinstance(handle, str) and handle.startswith("@"):
        handle = handle[1:]
    problem = handle_problem(handle)
    if problem:
        raise bad(problem if what == "handle" else f"{what}: {problem}", what)
    return handle


def check_email(email: Any) -> str:
    if not isinstance(email, str) or rules.check_email(email):
        raise bad("email must look like name@example.org (at most 254 characters)", "email")
    return email


def check_service_name(name: Any) -> str:
    if not isinstance(name, str) or rules.check_service_name(name):
        raise bad("service_name must be an identifier (letters, digits, _; at most 128)", "service_name")
    return name


def check_str(value: Any, field: str, limit: int, *, required: bool = False, nullable: bool = False) -> str | None:
    """A text field: at most ``limit`` characters, no control character (:func:`aster_core.text.check_text`)."""
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise bad(f"{field} must be a string", field)
    try:
        check_text(value, field=field, max_length=limit)
    except UsageError as exc:
        raise bad(exc.message, field) from None
    if required and not value.strip():
        raise bad(f"{field} is required", field)
    return value


def check_choice(value: Any, field: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise bad(f"{field} must be one of {', '.join(choices)}", field)
    return value


def check_int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad(f"{field} must be an integer from {low} to {high}", field)
    return value


def check_node_id(value: Any, field: str = "node_id") -> str:
    if not isinstance(value, str) or rules.check_node_id(value.lower()):
        raise bad(f"{field} must be 64 hex characters (an endpoint id)", field)
    return value.lower()


def check_replacement(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad("replacement must be @handle/Service", "replacement")
    if value == "":
        return None
    text = value.removeprefix("@")
    handle, _, service = text.partition("/")
    if handle_problem(handle) or rules.check_service_name(service):
        raise bad("replacement must be @handle/Service", "replacement")
    return f"@{handle}/{service}"


def check_delegation(value: Any) -> dict[str, Any]:
    if value is None:
        return {"authority": "consumer", "mode": "open", "token_ttl": 300, "rate_limit": None, "roles": ["consumer"]}
    if not isinstance(value, dict):
        raise bad("delegation must be an object", "delegation")
    unknown = set(value) - {"authority", "mode", "token_ttl", "rate_limit", "roles"}
    if unknown:
        raise bad(f"delegation has unknown fields: {', '.join(sorted(unknown))}", "delegation")
    if value.get("authority", "consumer") != "consumer":
        raise bad("delegation.authority must be consumer", "delegation.authority")
    mode = check_choice(value.get("mode", "open"), "delegation.mode", MODES)
    ttl = check_int(value.get("token_ttl", 300), "delegation.token_ttl", 60, 86400)
    rate = value.get("rate_limit")
    if rate is not None and (not isinstance(rate, str) or rules.check_rate_limit(rate)):
        raise bad("delegation.rate_limit must look like 10/1h or 5/30m", "delegation.rate_limit")
    roles = value.get("roles", ["consumer"])
    if not isinstance(roles, list) or not roles or len(roles) > MAX_ROLES:
        raise bad(f"delegation.roles must be a non-empty list of at most {MAX_ROLES} roles", "delegation.roles")
    for role in roles:
        check_role(role, "delegation.roles")
    return {"authority": "consumer", "mode": mode, "token_ttl": ttl, "rate_limit": rate,
            "roles": sorted(set(roles))}


def check_role(role: Any, field: str = "role") -> str:
    if rules.check_role(role):
        raise bad(f"{field}: a role is 1-64 letters, digits, and _ . : -", field)
    return role


# ---------------------------------------------------------------------------- envelope


@dataclass
class Envelope:
    payload: dict[str, Any]
    signer: str  # 64 lowercase hex
    nonce: str
    timestamp: int


def open_envelope(req: Any, action: str, *, now: float | None = None) -> Envelope:
    """Verify a ``SignedRequest`` in the documented order (docs/registry.md, "The signed
    envelope": shape, signature, action, clock, nonce shape; rate limit, nonce replay and the
    handle binding need the database). ``payload_json`` is parsed within the JSON limits
    (:func:`aster_server.request.json_field`)."""
    payload_json = getattr(req, "payload_json", None)
    signer = getattr(req, "signer_pubkey", None)
    signature = getattr(req, "signature", None)
    if not isinstance(payload_json, str) or not isinstance(signer, str) or not isinstance(signature, str):
        raise bad("a signed request needs payload_json, signer_pubkey and signature")
    if len(payload_json.encode("utf-8")) > MAX_PAYLOAD:
        raise bad(f"payload_json is larger than {MAX_PAYLOAD} bytes", "payload_json")
    if not HEX64.fullmatch(signer.lower()):
        raise bad("signer_pubkey must be 64 hex characters", "signer_pubkey")
    if not _HEX128.fullmatch(signature):
        raise bad("signature must be 128 hex characters", "signature")
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(signer)).verify(bytes.fromhex(signature),
                                                                          payload_json.encode("utf-8"))
    except (InvalidSignature, ValueError):
        raise Refused("UNAUTHENTICATED", "signature does not verify for signer_pubkey") from None
    payload = json_field(payload_json, "payload_json", max_bytes=MAX_PAYLOAD)
    if not isinstance(payload, dict):
        raise bad("payload_json must be a JSON object")
    if payload.get("action") != action:
        raise bad(f"payload action {payload.get('action')!r} does not match method {action}")
    timestamp = payload.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise bad("payload timestamp must be integer epoch seconds")
    current = time.time() if now is None else now
    if abs(timestamp - current) > SKEW_S:
        raise Refused("UNAUTHENTICATED", f"request timestamp is more than {SKEW_S} s from the registry's clock; "
                                         "check this machine's clock and retry")
    nonce = payload.get("nonce")
    if not isinstance(nonce, str) or not _HEX32.fullmatch(nonce):
        raise bad("payload nonce must be 16-64 hex characters")
    return Envelope(payload=payload, signer=signer.lower(), nonce=nonce.lower(), timestamp=timestamp)
