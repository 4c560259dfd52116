"""``AuthorityAdmin`` and ``AuthorityNode``: the deployment-level services, for service and
device deployments alike (``kind``). Each handler parses its request, calls one store
operation and maps the result (:mod:`.rpc`).

- ``AuthorityAdmin`` (service-level ``requires="authority.admin"``): every operator
  operation. The runtime's capability check refuses callers whose credential's
  ``aster.role`` lacks ``authority.admin``; a caller with no credential has no attributes.
  Then every method admits the caller (:func:`.rpc.admitted`: not revoked, showing its bound
  credential), and every change carries its signed decision record (``record_json``), checked
  in the change's transaction (:mod:`.decisions`).
- ``AuthorityNode`` (public): what nodes call with their own key and no credential:
  ``fetch`` (the credentials bound to the *connecting* endpoint id), ``revocations`` (the
  deployment's revocation list: only for its own nodes, see
  :meth:`.grants.GrantStore.may_read_revocations`) and ``status``.
"""

from __future__ import annotations

from typing import Any

from aster import rpc, service

from aster_server.request import caller

from ..wire import (AcceptPlan, AdminRevoke, Checkpoint, CreateDeployment, DeploymentRef, Desired, Empty,
                    GrantChange, Page, PlanRef, Propose, ProvisionInstance, RemoveDeployment, RemovedRef, Reply,
                    SetDisabled, Upload)
from .rpc import actor, admitted, json_arg, json_args, opt, record_arg, roles, run


def deployment_services(store: Any) -> list[Any]:
    """The two services over one :class:`.store.Store`."""
    admin = admitted(store)

    @service(name="AuthorityAdmin", version=1, requires="authority.admin")
    class AuthorityAdmin:
        @rpc
        async def create(self, req: CreateDeployment) -> Reply:
            return await admin(store.create, req.kind, req.deployment_id, namespaces=req.namespaces,
                               compatibility=req.compatibility, review_mode=req.review_mode, roles=req.roles,
                               actor=actor(), record=record_arg(req.record_json))

        @rpc
        async def show(self, req: DeploymentRef) -> Reply:
            return await admin(store.show, req.kind, req.deployment_id)

        @rpc
        async def list(self, req: Page) -> Reply:
            if req.removed:
                return await admin(store.removed_list, req.kind, offset=req.offset, limit=req.limit)
            return await admin(store.list, req.kind, include_disabled=req.include_disabled, offset=req.offset,
                               limit=req.limit)

        @rpc
        async def set_disabled(self, req: SetDisabled) -> Reply:
            return await admin(store.set_disabled, req.kind, req.deployment_id, req.disabled, actor=actor(),
                               record=record_arg(req.record_json))

        @rpc
        async def remove(self, req: RemoveDeployment) -> Reply:
            return await admin(store.remove, req.kind, req.deployment_id, cascade=req.cascade, purge=req.purge,
                               purge_unused_contracts=req.purge_unused_contracts, actor=actor(),
                               record=record_arg(req.record_json))

        @rpc
        async def restore(self, req: RemovedRef) -> Reply:
            return await admin(store.restore, req.kind, req.deployment_id, actor=actor(),
                               record=record_arg(req.record_json))

        @rpc
        async def purge(self, req: RemovedRef) -> Reply:
            return await admin(store.purge, req.kind, req.deployment_id,
                               purge_unused_contracts=req.purge_unused_contracts, actor=actor(),
                               record=record_arg(req.record_json))

        @rpc
        async def apply(self, req: Propose) -> Reply:
            who = actor()
            manifests = json_arg(req.manifests_json, "manifests_json")
            return await admin(store.apply, req.kind, req.deployment_id, manifests, actor=who,
                               ttl=req.ttl_seconds or None, record=record_arg(req.record_json))

        @rpc
        async def plan_list(self, req: Page) -> Reply:
            return await admin(store.plan_list, req.kind, req.deployment_id, state=opt(req.state),
                               classification=opt(req.classification), stale=req.stale, offset=req.offset,
                               limit=req.limit)

        @rpc
        async def plan_show(self, req: PlanRef) -> Reply:
            return await admin(store.plan_show, req.kind, req.deployment_id, req.plan_id)

        @rpc
        async def accept(self, req: AcceptPlan) -> Reply:
            return await admin(store.accept, req.kind, req.deployment_id, req.plan_id, req.classification,
                               actor=actor(), acknowledgement=opt(req.acknowledgement),
                               expected_version=opt(req.expected_version), record=record_arg(req.record_json))

        @rpc
        async def reject(self, req: PlanRef) -> Reply:
            return await admin(store.reject, req.kind, req.deployment_id, req.plan_id, actor=actor(),
                               reason=opt(req.reason), record=record_arg(req.record_json))

        @rpc
        async def desired(self, req: Desired) -> Reply:
            return await admin(store.desired, req.kind, req.deployment_id, desired_version=opt(req.desired_version))

        @rpc
        async def upload(self, req: Upload) -> Reply:
            who = actor()
            docs = json_args(req.credentials_json, "credentials_json")
            return await admin(store.upload, req.kind, req.deployment_id, docs, actor=who)

        @rpc
        async def provision_template(self, req: ProvisionInstance) -> Reply:
            return await admin(store.provision_template, req.kind, req.deployment_id, req.endpoint_id)

        @rpc
        async def provision(self, req: ProvisionInstance) -> Reply:
            who = actor()
            doc = json_arg(req.credential_json, "credential_json")
            return await admin(store.provision, req.kind, req.deployment_id, req.endpoint_id, doc, actor=who,
                               record=record_arg(req.record_json))

        @rpc
        async def instances(self, req: Page) -> Reply:
            return await admin(store.instance_list, req.kind, req.deployment_id,
                               include_disabled=req.include_disabled, offset=req.offset, limit=req.limit)

        @rpc
        async def grant_add(self, req: GrantChange) -> Reply:
            return await admin(store.grant, req.deployment_id, req.consumer, req.roles, add=True, actor=actor(),
                               record=record_arg(req.record_json))

        @rpc
        async def grant_remove(self, req: GrantChange) -> Reply:
            return await admin(store.grant, req.deployment_id, req.consumer, req.roles, add=False, actor=actor(),
                               record=record_arg(req.record_json))

        @rpc
        async def grant_list(self, req: Page) -> Reply:
            return await admin(store.grant_list, req.deployment_id or None, offset=req.offset, limit=req.limit)

        @rpc
        async def chain(self, req: Page) -> Reply:
            return await admin(store.chain, req.deployment_id, offset=req.offset, limit=req.limit)

        @rpc
        async def checkpoint(self, req: Checkpoint) -> Reply:
            return await admin(store.checkpoint, req.kind, req.deployment_id, record_arg(req.record_json),
                               actor=actor())

        @rpc
        async def admins(self, req: Page) -> Reply:
            return await admin(store.signer_list, offset=req.offset, limit=req.limit)

        @rpc
        async def admin_revoke(self, req: AdminRevoke) -> Reply:
            return await admin(store.revoke_signer, req.endpoint_id, req.reason, record_arg(req.record_json),
                               actor=actor())

    @service(name="AuthorityNode", version=1, public=True)
    class AuthorityNode:
        @rpc
        async def fetch(self, req: Empty) -> Reply:
            return await run(store.fetch, actor().endpoint_id)

        @rpc
        async def revocations(self, req: DeploymentRef) -> Reply:
            who = caller()
            return await run(store.revocation_list, req.deployment_id, caller=who.endpoint_id,
                             attributes=who.attributes)

        @rpc
        async def status(self, req: Empty) -> Reply:
            who, held = actor(), roles()

            def info() -> dict[str, Any]:
                return {"root_pubkey": store.root_pubkey.hex(), "caller": who.endpoint_id, "caller_name": who.name,
                        "caller_roles": held, "admin": "authority.admin" in held, **store.health()}

            return await run(info)

    return [AuthorityAdmin(), AuthorityNode()]
