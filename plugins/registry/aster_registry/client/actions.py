"""One library function per registry command: check everything local first, make the remote
calls, and change local state (``config.toml``, ``.aster-identity``) only after the registry
said yes. Each returns JSON-ready data; the click modules render it.

Payloads are the ones aster-cli 0.1.2 sends, with the documented explicit
``null`` fields, so one server serves both clients.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Callable

from aster_core.errors import AsterError, NotFoundError, UsageError

from .. import rules, wire
from . import state as st
from . import tokens
from .address import RegistryAddress, registry_address
from .envelope import seal
from .session import DEFAULT_TIMEOUT, RegistrySession


class Context:
    """What every command needs: the registry, the timeout, the profile and its signing key."""

    def __init__(self, registry: str | None = None, *, root_key: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, profile: str | None = None, ends_process: bool = False):
        self._registry = registry
        #: the command ends the process after its work (see :class:`RegistrySession`)
        self.ends_process = ends_process
        self.root_key = root_key
        self.timeout = timeout
        self._profile = profile
        self._key: Any = None
        self._address: RegistryAddress | None = None

    @functools.cached_property
    def state(self) -> st.ProfileState:
        """The profile's registry state, read on first use: ``discover`` (unsigned) needs no profile."""
        return st.load(self._profile)

    @property
    def address(self) -> RegistryAddress:
        if self._address is None:
            self._address = registry_address(self._registry)
        return self._address

    def key(self) -> Any:
        """The root key that signs (``--root-key FILE`` or the profile's keyring entry)."""
        if self._key is None:
            from aster_trust.keys import load_root_key_file, root_key_from_keyring

            if self.root_key:
                self._key = load_root_key_file(self.root_key)
            else:
                self._key, _ = root_key_from_keyring(self.state.profile)
        return self._key

    def sign(self, action: str, **fields: Any) -> wire.SignedRequest:
        env = seal(action, fields, self.key())
        return wire.SignedRequest(payload_json=env.payload_json, signer_pubkey=env.signer_pubkey,
                                  signature=env.signature)

    def session(self) -> RegistrySession:
        return RegistrySession(self.address, self.timeout, ends_process=self.ends_process)


def _run(coro_fn: Callable[[], Any]) -> Any:
    from aster_connect.client import run

    return run(coro_fn())


def _bad(reason: str | None, what: str, hint: str) -> None:
    if reason is not None:
        raise UsageError(f"{what}: {reason}", hint)


def _strip_at(handle: str) -> str:
    return handle[1:] if handle.startswith("@") else handle


# ── identity: join, verify, status, recover ───────────────────────────────────


def join(ctx: Context, handle: str, email: str) -> dict[str, Any]:
    handle = _strip_at(handle.strip())
    email = email.strip()
    _bad(rules.check_handle(handle), f"invalid handle {handle!r}", "choose another handle")
    _bad(rules.check_email(email), f"invalid email {email!r}", "give the address the code should go to")
    s = ctx.state
    if s.handle == handle and s.handle_status == "verified":
        raise UsageError(f"@{handle} is already yours and verified", "see it with: aster whoami")
    ctx.key()  # no key: fail before any network

    async def go() -> Any:
        async with ctx.session() as reg:
            avail = await reg.call(wire.PROFILE, "check_availability", wire.CheckAvailabilityRequest(handle=handle))
            if not getattr(avail, "available", False):
                raise AsterError(f"@{handle} is not available: {getattr(avail, 'reason', '') or 'taken'}",
                                 "choose another handle")
            return await reg.call(wire.PROFILE, "join", ctx.sign("join", handle=handle, email=email,
                                                                   announcements=False))

    result = _run(go)
    st.update(s.profile, handle=handle, handle_status="pending", handle_claimed_at=st.now_iso(), email=email)
    return {"handle": handle, "status": "pending", "email": email,
            "code_expires_at": getattr(result, "code_expires_at", 0),
            "verification_expires_at": getattr(result, "verification_expires_at", 0),
            "email_delivery_status": getattr(result, "email_delivery_status", ""),
            "registry": ctx.address.value}


def _pending(ctx: Context) -> str:
    s = ctx.state
    if not s.handle or s.handle_status != "pending":
        detail = f"@{s.handle} is {s.handle_status}" if s.handle else "no handle has been claimed"
        raise UsageError(f"no pending verification ({detail})", "claim a handle first: aster join --handle NAME "
                         "--email ADDRESS" if not s.handle or s.handle_status != "verified" else "nothing to do")
    return s.handle


def verify(ctx: Context, code: str) -> dict[str, Any]:
    handle = _pending(ctx)
    code = "".join(code.split())
    if not (len(code) == 6 and code.isdigit()):
        raise UsageError(f"a verification code is 6 digits, not {code[:12]!r}", "copy the code from the mail")

    async def go() -> Any:
        async with ctx.session() as reg:
            return await reg.call(wire.PROFILE, "verify", ctx.sign("verify", handle=handle, code=code))

    result = _run(go)
    status = getattr(result, "status", "") or "verified"
    status = status if status in st.STATUSES else "verified"
    st.update(ctx.state.profile, handle_status=status)
    return {"handle": handle, "status": status}


def resend(ctx: Context) -> dict[str, Any]:
    handle = _pending(ctx)

    async def go() -> Any:
        async with ctx.session() as reg:
            return await reg.call(wire.PROFILE, "resend_verification", ctx.sign("resend_verification", handle=handle))

    result = _run(go)
    return {"handle": handle, "resent": True, "code_expires_at": getattr(result, "code_expires_at", 0)}


_REMOTE_FIELDS = ("handle", "status", "email_masked", "display_name", "bio", "url", "registered_at",
                  "services_published", "recovery_codes_remaining")


def status(ctx: Context, *, local: bool = False) -> dict[str, Any]:
    """Local registry state, and (unless ``local``) what the registry knows of our key.

    The registry's answer replaces the local handle and status only when it names a handle:
    an unknown key (``unregistered``, empty handle) never wipes a local claim, since an
    answer naming nothing is no evidence that the claim is gone.
    """
    out: dict[str, Any] = {"local": ctx.state.as_dict()}
    if local:
        return out

    async def go() -> Any:
        async with ctx.session() as reg:
            return await reg.call(wire.PROFILE, "handle_status", ctx.sign("handle_status"))

    result = _run(go)
    remote = {name: getattr(result, name, None) for name in _REMOTE_FIELDS}
    out["registry"] = ctx.address.value
    out["remote"] = remote
    handle, remote_status = remote.get("handle") or "", remote.get("status") or ""
    if handle and remote_status in st.STATUSES:
        changes = {"handle": handle, "handle_status": remote_status}
        if remote.get("registered_at"):
            changes["handle_claimed_at"] = remote["registered_at"]
        st.update(ctx.state.profile, **changes)
        out["local"].update(changes)
    return out


def recover(ctx: Context, handle: str, code: str) -> dict[str, Any]:
    """Rebind ``handle`` to this profile's root key with one of its recovery codes."""
    handle = _strip_at(handle.strip())
    _bad(rules.check_handle(handle), f"invalid handle {handle!r}", "give the handle to recover")
    code = code.strip()
    if not code or len(code) > 128:
        raise UsageError("a recovery code is required", "use one of the codes shown at your first publish")

    async def go() -> Any:
        async with ctx.session() as reg:
            return await reg.call(wire.PROFILE, "recover", ctx.sign("recover", handle=handle, code=code))

    result = _run(go)
    status = getattr(result, "status", "") or "verified"
    st.update(ctx.state.profile, handle=handle, handle_status=status if status in st.STATUSES else "verified")
    return {"handle": handle, "status": status,
            "recovery_codes_remaining": getattr(result, "recovery_codes_remaining", 0),
            "root_pubkey": ctx.key().public_hex}


# ── publication ───────────────────────────────────────────────────────────────


def _manifest(target: str, manifest_path: str) -> dict[str, Any]:
    """The manifest of ``MODULE:CLASS`` (computed) or of a service named in ``manifest_path``."""
    if ":" in target:
        try:
            from aster_contract.introspect import load_service
            from aster_contract.manifest import build_manifest
        except ImportError:
            raise AsterError("publishing MODULE:CLASS needs aster-contract",
                             "pip install aster-contract, or publish a service named in .aster/manifest.json") from None
        return json.loads(json.dumps(build_manifest(load_service(target)), default=str))
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
    """``(manifest_json, contract_id)`` as the registry verifies them: the contract id is the BLAKE3 of exactly these bytes."""
    import blake3
    from aster.contract.manifest import ContractManifest

    try:
        text = ContractManifest.from_json(json.dumps(manifest)).to_json(indent=None)
    except Exception as exc:
        raise UsageError(f"the manifest of {manifest.get('service')!r} is not one the runtime reads ({exc})",
                         "regenerate it: aster contract gen --service MODULE:CLASS") from None
    return text, blake3.blake3(text.encode("utf-8")).hexdigest()


def delegation(*, closed: bool, token_ttl: int, rate_limit: str | None, roles: tuple[str, ...]) -> dict[str, Any]:
    _bad(rules.check_token_ttl(token_ttl), f"--token-ttl {token_ttl}s", "e.g. --token-ttl 5m")
    if rate_limit is not None:
        _bad(rules.check_rate_limit(rate_limit), f"--rate-limit {rate_limit!r}", "e.g. --rate-limit 5/1h")
    for role in roles:
        if not role or not role.replace("-", "").replace("_", "").replace(".", "").isalnum() or len(role) > 64:
            raise UsageError(f"invalid role {role!r}", "a role is a word such as consumer or reader")
    return {"authority": "consumer", "mode": "closed" if closed else "open", "token_ttl": token_ttl,
            "rate_limit": rate_limit, "roles": sorted(set(roles)) or ["consumer"]}


def publish(ctx: Context, target: str, *, description: str, status: str = "experimental",
            visibility: str | None = None, closed: bool = False, token_ttl: int = 300,
            rate_limit: str | None = None, roles: tuple[str, ...] = (), relay: str = "",
            endpoint_ttl: int = 300, endpoint_id: str | None = None, direct_addrs: tuple[str, ...] = (),
            identity: str | None = None, peer: str | None = None,
            manifest_path: str = ".aster/manifest.json") -> dict[str, Any]:
    from aster_core.files import check_writable_target

    handle = st.require_handle(ctx.state, verified=True)
    description = description.strip()
    if not description:
        raise UsageError("publish needs a --description", "say in a sentence what the service does")
    if len(description) > rules.DESCRIPTION_MAX:
        raise UsageError(f"the description has {len(description)} characters (at most {rules.DESCRIPTION_MAX})",
                         "shorten it")
    if not 1 <= endpoint_ttl <= 30 * 86400:
        raise UsageError(f"--endpoint-ttl {endpoint_ttl}s is out of range", "use 1s to 30d")
    producer = tokens.find_producer(tokens.identity_path(identity), peer)
    node_id = (endpoint_id or producer.endpoint_id or "").lower()
    if not rules.NODE_ID_RE.match(node_id):
        raise UsageError(f"no endpoint id: {producer.path} has no [node] endpoint_id" if not node_id
                         else f"--endpoint-id must be 64 hex characters, not {node_id[:20]!r}",
                         "pass --endpoint-id HEX or enroll this node: aster enroll node --role producer")
    check_writable_target(producer.path)
    manifest = _manifest(target, manifest_path)
    service = str(manifest.get("service", ""))
    _bad(rules.check_service_name(service), f"service name {service!r}", "rename the service class")
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

    _run(go)
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


def _signed_call(ctx: Context, service: str, method: str, **fields: Any) -> Any:
    async def go() -> Any:
        async with ctx.session() as reg:
            return await reg.call(service, method, ctx.sign(method, **fields))

    return _run(go)


def _service_arg(service: str) -> str:
    _bad(rules.check_service_name(service), f"service name {service!r}", "give the published service's name")
    return service


def unpublish(ctx: Context, service: str, *, identity: str | None = None) -> dict[str, Any]:
    handle = st.require_handle(ctx.state, verified=False)
    _service_arg(service)
    path = tokens.identity_path(identity)
    result = _signed_call(ctx, wire.PUBLICATION, "unpublish", handle=handle, service_name=service)
    removed = tokens.remove(path, service)
    st.update(ctx.state.profile, published_services=[s for s in ctx.state.published if s != service])
    return {"handle": handle, "service": service, "unpublished": bool(getattr(result, "unpublished", True)),
            "token_removed": removed, "identity_file": str(path)}


def set_visibility(ctx: Context, service: str, visibility: str) -> dict[str, Any]:
    handle = st.require_handle(ctx.state, verified=False)
    _service_arg(service)
    if visibility not in rules.VISIBILITIES:
        raise UsageError(f"visibility is public or private, not {visibility!r}", "e.g. aster visibility S private")
    result = _signed_call(ctx, wire.PUBLICATION, "set_visibility", handle=handle, service_name=service,
                          visibility=visibility)
    return {"handle": handle, "service": service, "visibility": getattr(result, "visibility", "") or visibility}


def update_service(ctx: Context, service: str, *, description: str | None, status: str | None,
                   replacement: str | None) -> dict[str, Any]:
    handle = st.require_handle(ctx.state, verified=False)
    _service_arg(service)
    if description is None and status is None and replacement is None:
        raise UsageError("nothing to update", "pass --description, --status or --replacement")
    if description is not None and len(description) > rules.DESCRIPTION_MAX:
        raise UsageError(f"the description has {len(description)} characters (at most {rules.DESCRIPTION_MAX})",
                         "shorten it")
    if replacement is not None and rules.split_service_ref(replacement) is None:
        raise UsageError(f"--replacement must be @handle/Service, not {replacement!r}", "e.g. @alice/TaskServiceV2")
    result = _signed_call(ctx, wire.PUBLICATION, "update_service", handle=handle, service_name=service,
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
    if len(query) > 200:
        raise UsageError("the query is longer than 200 characters", "search with fewer words")

    async def go() -> Any:
        async with ctx.session() as reg:
            return await reg.call(wire.PUBLICATION, "discover",
                                  wire.DiscoverRequest(query=query, limit=limit, offset=offset))

    result = _run(go)
    return {"query": query, "total": getattr(result, "total", 0),
            "services": [{f: getattr(e, f, None) for f in _ENTRY_FIELDS} for e in getattr(result, "services", [])]}


# ── access ────────────────────────────────────────────────────────────────────


def _consumer(text: str) -> str:
    handle = _strip_at(text.strip())
    _bad(rules.check_handle(handle), f"invalid consumer handle {text!r}", "give the consumer's @handle")
    return handle


def grant(ctx: Context, service: str, consumer: str, *, role: str = "consumer", scope: str = "handle",
          scope_node_id: str | None = None) -> dict[str, Any]:
    handle = st.require_handle(ctx.state, verified=True)
    _service_arg(service)
    consumer = _consumer(consumer)
    delegation(closed=True, token_ttl=300, rate_limit=None, roles=(role,))  # checks the role
    if scope not in ("handle", "node"):
        raise UsageError(f"--scope is handle or node, not {scope!r}", "e.g. --scope node --scope-node-id HEX")
    if scope == "node":
        if not scope_node_id or not rules.NODE_ID_RE.match(scope_node_id.lower()):
            raise UsageError("--scope node needs --scope-node-id (the consumer node's 64-hex endpoint id)",
                             "e.g. --scope node --scope-node-id $(aster enroll node ... --json | jq -r .endpoint_id)")
        scope_node_id = scope_node_id.lower()
    elif scope_node_id is not None:
        raise UsageError("--scope-node-id goes with --scope node", "add --scope node, or drop --scope-node-id")
    result = _signed_call(ctx, wire.ACCESS, "grant_access", handle=handle, service_name=service,
                          consumer_handle=consumer, role=role, scope=scope, scope_node_id=scope_node_id)
    return {"service": service, "consumer_handle": getattr(result, "consumer_handle", "") or consumer,
            "role": getattr(result, "role", "") or role, "scope": getattr(result, "scope", "") or scope,
            "scope_node_id": scope_node_id}


def revoke(ctx: Context, service: str, consumer: str) -> dict[str, Any]:
    handle = st.require_handle(ctx.state, verified=True)
    _service_arg(service)
    consumer = _consumer(consumer)
    result = _signed_call(ctx, wire.ACCESS, "revoke_access", handle=handle, service_name=service,
                          consumer_handle=consumer)
    if not getattr(result, "revoked", False):
        raise NotFoundError(f"no access grant for @{consumer} on {service}", f"see the grants: aster access list {service}")
    return {"service": service, "consumer_handle": consumer, "revoked": True}


def list_access(ctx: Context, service: str) -> dict[str, Any]:
    handle = st.require_handle(ctx.state, verified=True)
    _service_arg(service)
    result = _signed_call(ctx, wire.ACCESS, "list_access", handle=handle, service_name=service)
    fields = ("consumer_handle", "role", "scope", "scope_node_id", "granted_at")
    return {"service": service, "grants": [{f: getattr(g, f, None) for f in fields}
                                           for g in getattr(result, "grants", [])]}


def update_delegation(ctx: Context, service: str, *, closed: bool, token_ttl: int, rate_limit: str | None,
                      roles: tuple[str, ...]) -> dict[str, Any]:
    handle = st.require_handle(ctx.state, verified=True)
    _service_arg(service)
    deleg = delegation(closed=closed, token_ttl=token_ttl, rate_limit=rate_limit, roles=roles)
    result = _signed_call(ctx, wire.ACCESS, "update_delegation", handle=handle, service_name=service,
                          delegation=deleg)
    got = getattr(result, "delegation", None)
    return {"service": service, "mode": getattr(got, "mode", None) or deleg["mode"], "delegation": deleg}


