"""The services ``aster authority serve`` runs on an AsterServer (via :mod:`aster_server.lifecycle`).

- ``AuthorityAdmin`` (service-level ``requires="authority.admin"``): every operator
  operation. The runtime's capability check (Gate 3) refuses callers whose credential's
  ``aster.role`` lacks ``authority.admin``; a caller with no credential has no attributes.
- ``AuthorityNode`` (public): what nodes call with their own key and no credential:
  ``fetch`` (the credentials bound to the *connecting* endpoint id, ``CallContext.peer``),
  ``revocations`` (the deployment's revocation list, public like a CRL) and ``status``.

The gate is open (a node renewing an expired credential must still get in), but the server
knows the mesh root key, so any credential presented is verified against it.

Wire: requests are small typed messages; every reply is ``Reply {json: str}`` holding the
JSON document the CLI renders (nested results stay out of the runtime's JSON-mode limits).
Errors are ``RpcError``: INVALID_ARGUMENT (bad input, the message names the field),
NOT_FOUND, PERMISSION_DENIED, FAILED_PRECONDITION (refused transitions); the message is
``<what>\\nHint: <what to do>``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from aster import RpcError, StatusCode, rpc, service, wire_type
from aster_core.errors import AsterError, ExitCode

from .plans import Actor

NS = "aster.authority"
HINT_SEP = "\nHint: "


@wire_type(f"{NS}/Reply")
@dataclass
class Reply:
    json: str = ""


@wire_type(f"{NS}/Empty")
@dataclass
class Empty:
    unused: str = ""


@wire_type(f"{NS}/DeploymentRef")
@dataclass
class DeploymentRef:
    kind: str = "service"
    deployment_id: str = ""


@wire_type(f"{NS}/CreateDeployment")
@dataclass
class CreateDeployment:
    kind: str = "service"
    deployment_id: str = ""
    namespaces: list[str] = field(default_factory=list)
    compatibility: str = "strict"
    review_mode: str = "none"
    roles: list[str] = field(default_factory=list)


@wire_type(f"{NS}/SetDisabled")
@dataclass
class SetDisabled:
    kind: str = "service"
    deployment_id: str = ""
    disabled: bool = True


@wire_type(f"{NS}/RemoveDeployment")
@dataclass
class RemoveDeployment:
    kind: str = "service"
    deployment_id: str = ""
    cascade: bool = False
    purge: bool = False


@wire_type(f"{NS}/Page")
@dataclass
class Page:
    kind: str = "service"
    deployment_id: str = ""
    include_disabled: bool = False
    state: str = ""
    classification: str = ""
    stale: bool = False
    offset: int = 0
    limit: int = 100


@wire_type(f"{NS}/Propose")
@dataclass
class Propose:
    kind: str = "service"
    deployment_id: str = ""
    manifests_json: str = ""
    ttl_seconds: int = 0


@wire_type(f"{NS}/PlanRef")
@dataclass
class PlanRef:
    kind: str = "service"
    deployment_id: str = ""
    plan_id: str = ""
    reason: str = ""


@wire_type(f"{NS}/AcceptPlan")
@dataclass
class AcceptPlan:
    kind: str = "service"
    deployment_id: str = ""
    plan_id: str = ""
    classification: str = ""
    acknowledgement: str = ""
    expected_version: str = ""


@wire_type(f"{NS}/Desired")
@dataclass
class Desired:
    kind: str = "service"
    deployment_id: str = ""
    desired_version: str = ""


@wire_type(f"{NS}/Upload")
@dataclass
class Upload:
    kind: str = "service"
    deployment_id: str = ""
    credentials_json: list[str] = field(default_factory=list)


@wire_type(f"{NS}/ProvisionInstance")
@dataclass
class ProvisionInstance:
    kind: str = "service"
    deployment_id: str = ""
    endpoint_id: str = ""
    credential_json: str = ""


@wire_type(f"{NS}/GrantChange")
@dataclass
class GrantChange:
    deployment_id: str = ""
    consumer: str = ""
    roles: list[str] = field(default_factory=list)


_STATUS = {ExitCode.USAGE: StatusCode.INVALID_ARGUMENT, ExitCode.NOT_FOUND: StatusCode.NOT_FOUND,
           ExitCode.DENIED: StatusCode.PERMISSION_DENIED}


def _caller() -> tuple[Actor, dict[str, str]]:
    from aster_server.lifecycle import current_call

    ctx = current_call.get()
    if ctx is None or not ctx.peer:
        raise RpcError(StatusCode.UNAUTHENTICATED, "the connection proves no endpoint id")
    attributes = dict(ctx.attributes or {})
    return Actor(str(ctx.peer).lower(), attributes.get("aster.name", "")), attributes


def _json_arg(text: str, field_name: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise RpcError(StatusCode.INVALID_ARGUMENT, f"{field_name}: not JSON ({exc}){HINT_SEP}send a JSON document")


async def _run(fn: Callable[..., Any], *args: Any, **kw: Any) -> Reply:
    try:
        result = await asyncio.to_thread(fn, *args, **kw)
    except AsterError as exc:
        status = _STATUS.get(exc.exit_code, StatusCode.FAILED_PRECONDITION)
        raise RpcError(status, exc.message + (HINT_SEP + exc.hint if exc.hint else "")) from None
    return Reply(json=json.dumps(result, ensure_ascii=False))


def _opt(value: str) -> Optional[str]:
    return value or None


def build_services(store: Any) -> list[Any]:
    """The service instances over one :class:`aster_authority.store.Store` (and the device ones of
    :mod:`aster_authority.device_server`)."""

    @service(name="AuthorityAdmin", version=1, requires="authority.admin")
    class AuthorityAdmin:
        @rpc
        async def create(self, req: CreateDeployment) -> Reply:
            actor, _ = _caller()
            return await _run(store.create, req.kind, req.deployment_id, namespaces=req.namespaces,
                              compatibility=req.compatibility, review_mode=req.review_mode, roles=req.roles,
                              actor=actor)

        @rpc
        async def show(self, req: DeploymentRef) -> Reply:
            return await _run(store.show, req.kind, req.deployment_id)

        @rpc
        async def list(self, req: Page) -> Reply:
            return await _run(store.list, req.kind, include_disabled=req.include_disabled, offset=req.offset,
                              limit=req.limit)

        @rpc
        async def set_disabled(self, req: SetDisabled) -> Reply:
            actor, _ = _caller()
            return await _run(store.set_disabled, req.kind, req.deployment_id, req.disabled, actor=actor)

        @rpc
        async def remove(self, req: RemoveDeployment) -> Reply:
            actor, _ = _caller()
            return await _run(store.remove, req.kind, req.deployment_id, cascade=req.cascade, purge=req.purge,
                              actor=actor)

        @rpc
        async def apply(self, req: Propose) -> Reply:
            actor, _ = _caller()
            manifests = _json_arg(req.manifests_json, "manifests_json")
            return await _run(store.apply, req.kind, req.deployment_id, manifests, actor=actor,
                              ttl=req.ttl_seconds or None)

        @rpc
        async def plan_list(self, req: Page) -> Reply:
            return await _run(store.plan_list, req.kind, req.deployment_id, state=_opt(req.state),
                              classification=_opt(req.classification), stale=req.stale, offset=req.offset,
                              limit=req.limit)

        @rpc
        async def plan_show(self, req: PlanRef) -> Reply:
            return await _run(store.plan_show, req.kind, req.deployment_id, req.plan_id)

        @rpc
        async def accept(self, req: AcceptPlan) -> Reply:
            actor, _ = _caller()
            return await _run(store.accept, req.kind, req.deployment_id, req.plan_id, req.classification,
                              actor=actor, acknowledgement=_opt(req.acknowledgement),
                              expected_version=_opt(req.expected_version))

        @rpc
        async def reject(self, req: PlanRef) -> Reply:
            actor, _ = _caller()
            return await _run(store.reject, req.kind, req.deployment_id, req.plan_id, actor=actor,
                              reason=_opt(req.reason))

        @rpc
        async def desired(self, req: Desired) -> Reply:
            return await _run(store.desired, req.kind, req.deployment_id, desired_version=_opt(req.desired_version))

        @rpc
        async def upload(self, req: Upload) -> Reply:
            actor, _ = _caller()
            docs = [_json_arg(text, f"credentials_json[{i}]") for i, text in enumerate(req.credentials_json)]
            return await _run(store.upload, req.kind, req.deployment_id, docs, actor=actor)

        @rpc
        async def provision_template(self, req: ProvisionInstance) -> Reply:
            return await _run(store.provision_template, req.kind, req.deployment_id, req.endpoint_id)

        @rpc
        async def provision(self, req: ProvisionInstance) -> Reply:
            actor, _ = _caller()
            doc = _json_arg(req.credential_json, "credential_json")
            return await _run(store.provision, req.kind, req.deployment_id, req.endpoint_id, doc, actor=actor)

        @rpc
        async def instances(self, req: Page) -> Reply:
            return await _run(store.instance_list, req.kind, req.deployment_id, include_disabled=req.include_disabled,
                              offset=req.offset, limit=req.limit)

        @rpc
        async def grant_add(self, req: GrantChange) -> Reply:
            actor, _ = _caller()
            return await _run(store.grant, req.deployment_id, req.consumer, req.roles, add=True, actor=actor)

        @rpc
        async def grant_remove(self, req: GrantChange) -> Reply:
            actor, _ = _caller()
            return await _run(store.grant, req.deployment_id, req.consumer, req.roles, add=False, actor=actor)

        @rpc
        async def grant_list(self, req: Page) -> Reply:
            return await _run(store.grant_list, req.deployment_id or None, offset=req.offset, limit=req.limit)

    @service(name="AuthorityNode", version=1, public=True)
    class AuthorityNode:
        @rpc
        async def fetch(self, req: Empty) -> Reply:
            actor, _ = _caller()
            return await _run(store.fetch, actor.endpoint_id)

        @rpc
        async def revocations(self, req: DeploymentRef) -> Reply:
            return await _run(store.revocation_list, req.deployment_id)

        @rpc
        async def status(self, req: Empty) -> Reply:
            actor, attributes = _caller()
            roles = [r for r in attributes.get("aster.role", "").split(",") if r]

            def info() -> dict[str, Any]:
                return {"root_pubkey": store.root_pubkey.hex(), "caller": actor.endpoint_id,
                        "caller_name": actor.name, "caller_roles": roles, "admin": "authority.admin" in roles,
                        **store.health()}

            return await _run(info)

    from .device_server import build_device_services

    return [AuthorityAdmin(), AuthorityNode(), *build_device_services(store)]


def serve(*, db: str | None, root_pubkey: bytes, identity: str | None, advertise: list[str] | None = None,
          max_lifetime: float | None = None, plan_ttl: int | None = None) -> int:
    """Open (and migrate) the database, then run the server until SIGTERM/SIGINT."""
    from aster_server import lifecycle, storage

    from .store import Policy, Store

    home = lifecycle.state_dir("authority")
    key, key_path, _created = lifecycle.load_node_key(identity, home)
    url = db or str(home / "authority.db")
    policy = Policy()
    if plan_ttl:
        policy.plan_ttl = plan_ttl
    store = Store.open(url, root_pubkey, policy=policy)
    spec = lifecycle.ServerSpec(
        name="authority", services=build_services(store), node_key=key, allow_all_consumers=True,
        root_pubkey=root_pubkey, health=store.health, on_stop=[store.close], advertise=advertise or (),
        extra_ready={"database": storage.redact(store.engine.url), "root_pubkey": root_pubkey.hex(),
                     "node_key": str(key_path)})
    return lifecycle.run(spec, workdir=home, max_lifetime=max_lifetime)
