"""The device services ``aster authority serve`` runs beside ``AuthorityAdmin``/``AuthorityNode``.

- ``DeviceAdmin`` (``requires="authority.admin"``): provisioning templates, batch registration,
  the device and activation lists, revocation.
- ``DeviceReview`` (``requires=any_of("authority.admin", "authority.review")``): the review
  list and decisions, so review automation needs no admin credential.
- ``DeviceActivation`` (public): what a device calls with its identity key and no credential:
  ``challenge`` and ``activate``. The caller is the connection's proven endpoint id
  (``CallContext.peer``), never a field of the request.

Deployment-level operations of device deployments (create, show, apply, plans, accept,
reconcile, disable, remove) are ``AuthorityAdmin``'s with ``kind = "device"``.
Replies and errors are those of :mod:`aster_authority.server`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aster import any_of, rpc, service, wire_type

from .server import NS, Reply, _caller, _json_arg, _opt, _run


@wire_type(f"{NS}/DeviceRef")
@dataclass
class DeviceRef:
    deployment_id: str = ""


@wire_type(f"{NS}/RegisterDevices")
@dataclass
class RegisterDevices:
    deployment_id: str = ""
    devices_json: list[str] = field(default_factory=list)


@wire_type(f"{NS}/DevicePage")
@dataclass
class DevicePage:
    deployment_id: str = ""
    instance_id: str = ""
    state: str = ""
    offset: int = 0
    limit: int = 100


@wire_type(f"{NS}/DeviceInstance")
@dataclass
class DeviceInstance:
    deployment_id: str = ""
    instance_id: str = ""


@wire_type(f"{NS}/ReviewDecision")
@dataclass
class ReviewDecision:
    deployment_id: str = ""
    review_id: str = ""
    decision: str = ""
    reason: str = ""


@wire_type(f"{NS}/Activate")
@dataclass
class Activate:
    deployment_id: str = ""
    challenge: str = ""
    proof: str = ""


def build_device_services(store: Any) -> list[Any]:
    from .device_store import DeviceStore

    devices = DeviceStore(store)

    @service(name="DeviceAdmin", version=1, requires="authority.admin")
    class DeviceAdmin:
        @rpc
        async def template(self, req: DeviceRef) -> Reply:
            return await _run(devices.template, req.deployment_id)

        @rpc
        async def register(self, req: RegisterDevices) -> Reply:
            actor, _ = _caller()
            docs = [_json_arg(text, f"devices_json[{i}]") for i, text in enumerate(req.devices_json)]
            return await _run(devices.register, req.deployment_id, docs, actor=actor)

        @rpc
        async def instances(self, req: DevicePage) -> Reply:
            return await _run(devices.instance_list, req.deployment_id, state=_opt(req.state), offset=req.offset,
                              limit=req.limit)

        @rpc
        async def activations(self, req: DevicePage) -> Reply:
            return await _run(devices.activation_list, req.deployment_id, instance_id=_opt(req.instance_id),
                              state=_opt(req.state), offset=req.offset, limit=req.limit)

        @rpc
        async def revoke(self, req: DeviceInstance) -> Reply:
            actor, _ = _caller()
            return await _run(devices.revoke, req.deployment_id, req.instance_id, actor=actor)

    @service(name="DeviceReview", version=1, requires=any_of("authority.admin", "authority.review"))
    class DeviceReview:
        @rpc
        async def reviews(self, req: DevicePage) -> Reply:
            return await _run(devices.review_list, req.deployment_id, instance_id=_opt(req.instance_id),
                              state=_opt(req.state), offset=req.offset, limit=req.limit)

        @rpc
        async def decide(self, req: ReviewDecision) -> Reply:
            actor, _ = _caller()
            return await _run(devices.decide, req.deployment_id, req.review_id, req.decision, actor=actor,
                              reason=_opt(req.reason))

    @service(name="DeviceActivation", version=1, public=True)
    class DeviceActivation:
        @rpc
        async def challenge(self, req: DeviceRef) -> Reply:
            actor, _ = _caller()
            return await _run(devices.challenge, actor.endpoint_id, req.deployment_id)

        @rpc
        async def activate(self, req: Activate) -> Reply:
            actor, _ = _caller()
            return await _run(devices.activate, actor.endpoint_id, req.deployment_id, req.challenge, req.proof)

    return [DeviceAdmin(), DeviceReview(), DeviceActivation()]
