"""``DeviceAdmin``, ``DeviceReview`` and ``DeviceActivation``: what only device deployments
have, beside :mod:`.handlers` (whose ``AuthorityAdmin`` serves every deployment-level
operation of both kinds). Each handler parses, calls one :class:`.devices.DeviceStore`
operation and maps the result (:mod:`.rpc`).

- ``DeviceAdmin`` (``requires="authority.admin"``): provisioning templates, batch registration,
  the device and activation lists, revocation.
- ``DeviceReview`` (``requires=any_of("authority.admin", "authority.review")``): the review
  list and decisions, so review automation needs no admin credential.
- ``DeviceActivation`` (public): what a device calls with its identity key and no credential:
  ``challenge`` and ``activate``. The caller is the connection's proven endpoint id, never a
  field of the request.
"""

from __future__ import annotations

from typing import Any

from aster import any_of, rpc, service

from ..wire import Activate, DeviceInstance, DevicePage, DeviceRef, RegisterDevices, Reply, ReviewDecision
from .devices import DeviceStore
from .rpc import actor, admitted, json_args, opt, record_arg, run


def device_services(devices: DeviceStore) -> list[Any]:
    """The three services over one :class:`DeviceStore`."""
    admin = admitted(devices.store)

    @service(name="DeviceAdmin", version=1, requires="authority.admin")
    class DeviceAdmin:
        @rpc
        async def template(self, req: DeviceRef) -> Reply:
            return await admin(devices.template, req.deployment_id)

        @rpc
        async def register(self, req: RegisterDevices) -> Reply:
            who = actor()
            docs = json_args(req.devices_json, "devices_json")
            return await admin(devices.register, req.deployment_id, docs, actor=who,
                               record=record_arg(req.record_json))

        @rpc
        async def instances(self, req: DevicePage) -> Reply:
            return await admin(devices.instance_list, req.deployment_id, state=opt(req.state), offset=req.offset,
                               limit=req.limit)

        @rpc
        async def activations(self, req: DevicePage) -> Reply:
            return await admin(devices.activation_list, req.deployment_id, instance_id=opt(req.instance_id),
                               state=opt(req.state), offset=req.offset, limit=req.limit)

        @rpc
        async def revoke(self, req: DeviceInstance) -> Reply:
            return await admin(devices.revoke, req.deployment_id, req.instance_id, actor=actor(),
                               record=record_arg(req.record_json))

    @service(name="DeviceReview", version=1, requires=any_of("authority.admin", "authority.review"))
    class DeviceReview:
        @rpc
        async def reviews(self, req: DevicePage) -> Reply:
            return await admin(devices.review_list, req.deployment_id, instance_id=opt(req.instance_id),
                               state=opt(req.state), offset=req.offset, limit=req.limit)

        @rpc
        async def decide(self, req: ReviewDecision) -> Reply:
            return await admin(devices.decide, req.deployment_id, req.review_id, req.decision, actor=actor(),
                               reason=opt(req.reason), record=record_arg(req.record_json))

        @rpc
        async def head(self, req: DeviceRef) -> Reply:
            return await admin(devices.head, req.deployment_id)

    @service(name="DeviceActivation", version=1, public=True)
    class DeviceActivation:
        @rpc
        async def challenge(self, req: DeviceRef) -> Reply:
            return await run(devices.challenge, actor().endpoint_id, req.deployment_id)

        @rpc
        async def activate(self, req: Activate) -> Reply:
            return await run(devices.activate, actor().endpoint_id, req.deployment_id, req.challenge,
                             req.proof)

    return [DeviceAdmin(), DeviceReview(), DeviceActivation()]
