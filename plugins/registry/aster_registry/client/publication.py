"""Publication actions: ``publish``, ``unpublish``, ``visibility``, ``update-service``, ``discover``."""

from __future__ import annotations

import json
from typing import Any

from aster_core.errors import AsterError, NotFoundError, UsageError
from aster_core.text import check_text, shown

from .. import rules, wire
from . import state as st
from . import tokens
from .context import Context, check, run, service_arg, signed_call


def _manifest(target: str, manifest_path: str, semver: str | None = None) -> dict[str, Any]:
    """The manifest of ``MODULE:CLASS`` (computed, with ``semver`` when given) or of a service
    named in ``manifest_path`` (as stored there)."""
    if ":" in target:
        try:
            from aster_contract.introspect import load_service
            from aster_contract.manifest import build_manifest
        except ImportError:
            raise AsterError("publishing MODULE:CLASS needs aster-contract",
                             "pip install aster-contract, or publish a service named in .aster/manifest.json") from None
        return json.loads(json.dumps(build_manifest(load_service(target), semver=semver), default=str))
    from aster_core.files import load_json

    name, _, version = target.partition("@")
    doc = load_json(manifest_path, "manifest", "make one with: aster contract gen --service MODULE:CLASS")
    manifests = doc if isinstance(doc, list) else [doc]
    found = [m for m in manifests if isinstance(m, dict) and m.get("service") == name
             and (not version or str(m.get("version")) == version)]
    if not found:
        known = ", ".join(str(m.get("service")) for m in manifests if isinstance(m, dict))
        raise NotFoundError(f"{manifest_path} has no service {target!r}",
                            f"services there: {known or 'none'}; or pass MODULE:CLASS")
    return max(found, key=lambda m: int(m.get("version") or 0))


def directory_id(manifest: dict[str, Any]) -> tuple[str, str]:
    """``(manifest_json, contract_id)`` as the registry verifies them.

    The contract id is the BLAKE3 of exactly these bytes, so the manifest is re-serialised
    the way the runtime writes it before hashing.
    """
    import blake3
    from aster.contract.manifest import ContractManifest

    try:
        text = ContractManifest.from_json(json.dumps(manifest)).to_json(indent=None)
    except Exception as exc:
        raise UsageError(f"the manifest of {manifest.get('service')!r} is not one the runtime reads ({exc})",
                         "regenerate it: aster contract gen --service MODULE:CLASS") from None
    return text, blake3.blake3(text.encode("utf-8")).hexdigest()


def _description(text: str) -> str:
    """A description: one line of at most 280 characters (the registry's rule)."""
    return check_text(text, field="--description", max_length=rules.DESCRIPTION_MAX,
                      hint="say in one shorter line what the service does")


def delegation(*, closed: bool, token_ttl: int, rate_limit: str | None, roles: tuple[str, ...]) -> dict[str, Any]:
    check(rules.check_token_ttl(token_ttl), f"--token-ttl {token_ttl}s", "e.g. --token-ttl 5m")
    if rate_limit is not None:
        check(rules.check_rate_limit(rate_limit), f"--rate-limit {rate_limit!r}", "e.g. --rate-limit 5/1h")
    for role in roles:
        check(rules.check_role(role), f"invalid role {shown(role)}", "a role is a word such as consumer or reader")
    return {"authority": "consumer", "mode": "closed" if closed else "open", "token_ttl": token_ttl,
            "rate_limit": rate_limit, "roles": sorted(set(roles)) or ["consumer"]}


def publish(ctx: Context, target: str, *, description: str, status: str = "experimental",
            visibility: str | None = None, closed: bool = False, token_ttl: int = 300,
            rate_limit: str | None = None, roles: tuple[str, ...] = (), relay: str = "",
            endpoint_ttl: int = 300, endpoint_id: str | None = None, direct_addrs: tuple[str, ...] = (),
            identity: str | None = None, peer: str | None = None,
            manifest_path: str = ".aster/manifest.json", semver: str | None = None) -> dict[str, Any]:
    from aster_core.files import check_writable_target

    handle = st.require_handle(ctx.state, verified=True)
    description = description.strip()
    if not description:
        raise UsageError("publish needs a --description", "say in a sentence what the service does")
    _description(description)
    if not 1 <= endpoint_ttl <= 30 * 86400:
        raise UsageError(f"--endpoint-ttl {endpoint_ttl}s is out of range", "use 1s to 30d")
    producer = tokens.find_producer(tokens.identity_path(identity), peer)
    node_id = (endpoint_id or producer.endpoint_id or "").lower()
    if rules.check_node_id(node_id):
        raise UsageError(f"no endpoint id: {producer.path} has no [node] endpoint_id" if not node_id
                         else f"--endpoint-id must be 64 hex characters, not {node_id[:20]!r}",
                         "pass --endpoint-id HEX or enroll this node: aster enroll node --role producer")
    check_writable_target(producer.path)
    manifest = _manifest(target, manifest_path, semver)
    service = str(manifest.get("service", ""))
    check(rules.check_service_name(service), f"service name {shown(service)}", "rename the service class")
    manifest_json, contract_id = directory_id(manifest)
    deleg = delegation(closed=closed, token_ttl=token_ttl, rate_limit=rate_limit, roles=roles)
    ctx.key()
    import time

    endpoint: dict[str, Any] = {"node_id": node_id, "relay": relay, "registered_at": int(time.time()),
                                "ttl": endpoint_ttl}
    if direct_addrs:
        endpoint["direct_addrs"] = list(direct_addrs)
    registry = ctx.address.value
    outcome: dict[str, Any] = {}

    async def go() -> None:
        async with ctx.session() as reg:
            outcome["result"] = await reg.call(wire.PUBLICATION, "publish", ctx.sign(
                "publish", handle=handle, service_name=service, contract_id=contract_id,
                manifest_json=manifest_json, description=description, status=status, endpoints=[endpoint],
                delegation=deleg))
            if visibility:
                try:
                    await reg.call(wire.PUBLICATION, "set_visibility", ctx.sign(
                        "set_visibility", handle=handle, service_name=service, visibility=visibility))
                except AsterError as exc:
                    outcome["visibility_error"] = exc

    run(go)
    result = outcome["result"]
    token = str(getattr(result, "producer_token", "") or "").strip()
    if not token:
        raise AsterError("the registry accepted the publish but returned no producer token",
                         "this registry is not compatible; nothing was stored locally")
    stored_id = str(getattr(result, "contract_id", "") or contract_id)
    path = tokens.store(producer, service, token, stored_id, registry)
    st.update(ctx.state.profile, published_services=[*ctx.state.published, service])
    out = {"handle": handle, "service": service, "address": f"@{handle}/{service}", "contract_id": stored_id,
           "identity_file": str(path), "producer_peer": producer.peer, "endpoint_id": node_id,
           "visibility": visibility, "first_publish": bool(getattr(result, "first_publish", False)),
           "recovery_codes": list(getattr(result, "recovery_codes", None) or [])}
    if "visibility_error" in outcome:
        exc = outcome["visibility_error"]
        raise type(exc)(f"@{handle}/{service} was published and its token stored in {path}, but setting "
                        f"visibility failed: {exc.message}", f"retry: aster visibility {service} {visibility}")
    return out


def unpublish(ctx: Context, service: str, *, identity: str | None = None) -> dict[str, Any]:
    handle = st.require_handle(ctx.state, verified=False)
    service_arg(service)
    path = tokens.identity_path(identity)
    result = signed_call(ctx, wire.PUBLICATION, "unpublish", handle=handle, service_name=service)
    removed = tokens.remove(path, service)
    st.update(ctx.state.profile, published_services=[s for s in ctx.state.published if s != service])
    return {"handle": handle, "service": service, "unpublished": bool(getattr(result, "unpublished", True)),
            "token_removed": removed, "identity_file": str(path)}


def set_visibility(ctx: Context, service: str, visibility: str) -> dict[str, Any]:
    handle = st.require_handle(ctx.state, verified=False)
    service_arg(service)
    if visibility not in rules.VISIBILITIES:
        raise UsageError(f"visibility is public or private, not {visibility!r}", "e.g. aster visibility S private")
    result = signed_call(ctx, wire.PUBLICATION, "set_visibility", handle=handle, service_name=service,
                          visibility=visibility)
    return {"handle": handle, "service": service, "visibility": getattr(result, "visibility", "") or visibility}


def update_service(ctx: Context, service: str, *, description: str | None, status: str | None,
                   replacement: str | None) -> dict[str, Any]:
    handle = st.require_handle(ctx.state, verified=False)
    service_arg(service)
    if description is None and status is None and replacement is None:
        raise UsageError("nothing to update", "pass --description, --status or --replacement")
    if description is not None:
        _description(description)
    if replacement is not None and rules.split_service_ref(replacement) is None:
        raise UsageError(f"--replacement must be @handle/Service, not {shown(replacement)}", "e.g. @alice/TaskServiceV2")
    result = signed_call(ctx, wire.PUBLICATION, "update_service", handle=handle, service_name=service,
                          description=description, status=status, replacement=replacement)
    return {"handle": handle, "service": service,
            "description": getattr(result, "description", description),
            "status": getattr(result, "status", status), "replacement": getattr(result, "replacement", replacement)}


_ENTRY_FIELDS = ("handle", "service_name", "version", "contract_id", "description", "status", "method_count",
                 "endpoint_count", "visibility", "delegation_mode", "published_at")


def discover(ctx: Context, query: str = "", *, limit: int = wire.DEFAULT_LIMIT, offset: int = 0) -> dict[str, Any]:
    if not 1 <= limit <= wire.MAX_LIMIT:
        raise UsageError(f"--limit {limit} is out of range", f"use 1 to {wire.MAX_LIMIT}")
    if offset < 0:
        raise UsageError(f"--offset {offset} is negative", "use 0 or more")
    check_text(query, field="query", max_length=200, hint="search with fewer words, on one line")

    async def go() -> Any:
        async with ctx.session() as reg:
            return await reg.call(wire.PUBLICATION, "discover",
                                  wire.DiscoverRequest(query=query, limit=limit, offset=offset),
                                  reads=wire.DiscoverResult)

    result = run(go)
    return {"query": query, "total": getattr(result, "total", 0),
            "services": [{f: getattr(e, f, None) for f in _ENTRY_FIELDS} for e in getattr(result, "services", [])]}
