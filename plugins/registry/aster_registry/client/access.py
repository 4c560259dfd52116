"""Access actions (``aster access``): grants, and how consumer tokens are issued."""

from __future__ import annotations

from typing import Any

from aster_core.errors import NotFoundError, UsageError
from aster_core.text import shown

from .. import rules, wire
from . import state as st
from .context import Context, check, service_arg, signed_call, strip_at
from .publication import delegation


def _consumer(text: str) -> str:
    handle = strip_at(text.strip())
    check(rules.check_handle(handle), f"invalid consumer handle {shown(text)}", "give the consumer's @handle")
    return handle


def grant(ctx: Context, service: str, consumer: str, *, role: str = "consumer", scope: str = "handle",
          scope_node_id: str | None = None) -> dict[str, Any]:
    handle = st.require_handle(ctx.state, verified=True)
    service_arg(service)
    consumer = _consumer(consumer)
    delegation(closed=True, token_ttl=300, rate_limit=None, roles=(role,))  # checks the role
    if scope not in ("handle", "node"):
        raise UsageError(f"--scope is handle or node, not {scope!r}", "e.g. --scope node --scope-node-id HEX")
    if scope == "node":
        if not scope_node_id or rules.check_node_id(scope_node_id.lower()):
            raise UsageError("--scope node needs --scope-node-id (the consumer node's 64-hex endpoint id)",
                             "e.g. --scope node --scope-node-id $(aster enroll node ... --json | jq -r .endpoint_id)")
        scope_node_id = scope_node_id.lower()
    elif scope_node_id is not None:
        raise UsageError("--scope-node-id goes with --scope node", "add --scope node, or drop --scope-node-id")
    result = signed_call(ctx, wire.ACCESS, "grant_access", handle=handle, service_name=service,
                          consumer_handle=consumer, role=role, scope=scope, scope_node_id=scope_node_id)
    return {"service": service, "consumer_handle": getattr(result, "consumer_handle", "") or consumer,
            "role": getattr(result, "role", "") or role, "scope": getattr(result, "scope", "") or scope,
            "scope_node_id": scope_node_id}


def revoke(ctx: Context, service: str, consumer: str) -> dict[str, Any]:
    handle = st.require_handle(ctx.state, verified=True)
    service_arg(service)
    consumer = _consumer(consumer)
    result = signed_call(ctx, wire.ACCESS, "revoke_access", handle=handle, service_name=service,
                          consumer_handle=consumer)
    if not getattr(result, "revoked", False):
        raise NotFoundError(f"no access grant for @{consumer} on {service}", f"see the grants: aster access list {service}")
    return {"service": service, "consumer_handle": consumer, "revoked": True}


def list_access(ctx: Context, service: str) -> dict[str, Any]:
    handle = st.require_handle(ctx.state, verified=True)
    service_arg(service)
    result = signed_call(ctx, wire.ACCESS, "list_access", handle=handle, service_name=service)
    fields = ("consumer_handle", "role", "scope", "scope_node_id", "granted_at")
    return {"service": service, "grants": [{f: getattr(g, f, None) for f in fields}
                                           for g in getattr(result, "grants", [])]}


def update_delegation(ctx: Context, service: str, *, closed: bool, token_ttl: int, rate_limit: str | None,
                      roles: tuple[str, ...]) -> dict[str, Any]:
    handle = st.require_handle(ctx.state, verified=True)
    service_arg(service)
    deleg = delegation(closed=closed, token_ttl=token_ttl, rate_limit=rate_limit, roles=roles)
    result = signed_call(ctx, wire.ACCESS, "update_delegation", handle=handle, service_name=service,
                          delegation=deleg)
    got = getattr(result, "delegation", None)
    return {"service": service, "mode": getattr(got, "mode", None) or deleg["mode"], "delegation": deleg}
