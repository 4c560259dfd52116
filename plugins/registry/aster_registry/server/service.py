"""ProfileService, PublicationService and AccessService (all version 1): thin handlers.

Each handler parses (a signed request is opened by :func:`.protect.open_envelope`), runs one
store operation off the event loop with :func:`aster_server.request.offload` (which maps every
refusal and error to the client's status in one place), and wraps the result in the wire type
of :mod:`aster_registry.wire`. Verification mail is sent after the operation committed.
"""

# no `from __future__ import annotations`: the runtime reads the real annotation objects

from typing import Any, Callable

from aster import rpc, service

from aster_server.request import caller, offload

from .. import wire as w
from . import protect
from .mail import MailConfig, deliver
from .store import Store


class Registry:
    """The three services over one store and one mail configuration."""

    def __init__(self, store: Store, mail: MailConfig) -> None:
        self.store = store
        self.mail = mail
        self.services = [ProfileService(self), PublicationService(self), AccessService(self)]

    async def signed(self, req: w.SignedRequest, action: str, op: Callable[[protect.Envelope], Any]) -> Any:
        """Open the envelope of ``req`` for ``action`` and run ``op`` on it."""
        store = self.store

        def work() -> Any:
            return op(protect.open_envelope(req, action, now=store.clock()))

        return await offload(work)

    async def read(self, fn: Callable[..., Any], *args: Any, limit: str = "read") -> Any:
        """``fn(*args)``, counted against the caller's ``limit`` first."""
        peer = caller().endpoint_id
        hit = self.store.limits.hit_read  # counted in memory, written once a second

        def work() -> Any:
            hit(limit, peer)
            return fn(*args)

        return await offload(work)


@service(name="ProfileService", version=1)
class ProfileService:
    def __init__(self, registry: Registry) -> None:
        self.r = registry
        self.profiles = registry.store.profiles

    @rpc
    async def check_availability(self, req: w.CheckAvailabilityRequest) -> w.CheckAvailabilityResult:
        def check(handle: Any) -> tuple[bool, str]:
            return self.profiles.check_availability((protect.check_str(handle, "handle", 64) or "").removeprefix("@"))

        available, reason = await self.r.read(check, req.handle, limit="check_availability")
        return w.CheckAvailabilityResult(available=available, reason=reason)

    @rpc
    async def join(self, req: w.SignedRequest) -> w.JoinResult:
        result, mail = await self.r.signed(req, "join", self.profiles.join)
        status = await offload(deliver, self.r.mail, mail)
        return w.JoinResult(email_delivery_status=status, **result)

    @rpc
    async def verify(self, req: w.SignedRequest) -> w.VerifyResult:
        return w.VerifyResult(**await self.r.signed(req, "verify", self.profiles.verify))

    @rpc
    async def resend_verification(self, req: w.SignedRequest) -> w.ResendResult:
        result, mail = await self.r.signed(req, "resend_verification", self.profiles.resend)
        await offload(deliver, self.r.mail, mail)
        return w.ResendResult(**result)

    @rpc
    async def handle_status(self, req: w.SignedRequest) -> w.HandleStatusResult:
        return w.HandleStatusResult(**await self.r.signed(req, "handle_status", self.profiles.handle_status))

    @rpc
    async def recover(self, req: w.SignedRequest) -> w.RecoverResult:
        return w.RecoverResult(**await self.r.signed(req, "recover", self.profiles.recover))


@service(name="PublicationService", version=1)
class PublicationService:
    def __init__(self, registry: Registry) -> None:
        self.r = registry
        self.directory = registry.store.directory
        self.publications = registry.store.publications

    @rpc
    async def describe_service(self, req: w.DescribeServiceRequest) -> w.DiscoverEntry:
        return w.DiscoverEntry(**await self.r.read(self.directory.describe_service, req.handle, req.service_name))

    @rpc
    async def describe_handle(self, req: w.ListServicesRequest) -> w.DirectoryHandle:
        return w.DirectoryHandle(**await self.r.read(self.directory.describe_handle, req.handle))

    @rpc
    async def discover(self, req: w.DiscoverRequest) -> w.DiscoverResult:
        total, entries = await self.r.read(self.directory.discover, req.query, req.limit, req.offset)
        return w.DiscoverResult(total=total, services=[w.DiscoverEntry(**e) for e in entries])

    @rpc
    async def list_services(self, req: w.ListServicesRequest) -> w.ListServicesResult:
        handle, entries = await self.r.read(self.directory.list_services, req.handle)
        return w.ListServicesResult(handle=handle, services=[w.DiscoverEntry(**e) for e in entries])

    @rpc
    async def list_directory_handles(self, req: w.ListDirectoryHandlesRequest) -> w.ListDirectoryHandlesResult:
        cards = await self.r.read(self.directory.list_directory_handles, req.limit, req.offset)
        return w.ListDirectoryHandlesResult(handles=[w.DirectoryHandle(**c) for c in cards])

    @rpc
    async def get_manifest(self, req: w.GetManifestRequest) -> w.GetManifestResult:
        return w.GetManifestResult(**await self.r.read(self.directory.get_manifest,
                                                       (req.handle or "").removeprefix("@"), req.service_name))

    @rpc
    async def resolve(self, req: w.ResolveRequest) -> w.ResolveResult:
        svc, endpoints = await self.r.read(self.directory.resolve, (req.handle or "").removeprefix("@"),
                                           req.service_name)
        from aster import AsterTicket

        tickets = [AsterTicket(endpoint_id=node_id, direct_addrs=addrs).to_string() if addrs else node_id
                   for node_id, _relay, addrs in endpoints]
        return w.ResolveResult(handle=svc["handle"], service_name=svc["service_name"],
                               contract_id=svc["contract_id"], endpoints=tickets)

    @rpc
    async def publish(self, req: w.SignedRequest) -> w.PublishResult:
        return w.PublishResult(**await self.r.signed(req, "publish", self.publications.publish))

    @rpc
    async def set_visibility(self, req: w.SignedRequest) -> w.VisibilityResult:
        return w.VisibilityResult(**await self.r.signed(req, "set_visibility", self.publications.set_visibility))

    @rpc
    async def update_service(self, req: w.SignedRequest) -> w.UpdateServiceResult:
        return w.UpdateServiceResult(**await self.r.signed(req, "update_service", self.publications.update_service))

    @rpc
    async def unpublish(self, req: w.SignedRequest) -> w.UnpublishResult:
        return w.UnpublishResult(**await self.r.signed(req, "unpublish", self.publications.unpublish))

    @rpc
    async def register_endpoint(self, req: dict) -> dict:
        return await offload(self.publications.register_endpoint, req)


@service(name="AccessService", version=1)
class AccessService:
    def __init__(self, registry: Registry) -> None:
        self.r = registry
        self.access = registry.store.access

    @rpc
    async def get_delegation(self, req: w.SignedRequest) -> w.DelegationStatement:
        return w.DelegationStatement(**await self.r.signed(req, "get_delegation", self.access.get_delegation))

    @rpc
    async def get_grant(self, req: w.SignedRequest) -> w.AccessGrant:
        return w.AccessGrant(**await self.r.signed(req, "get_grant", self.access.get_grant))

    @rpc
    async def grant_access(self, req: w.SignedRequest) -> w.GrantAccessResult:
        return w.GrantAccessResult(**await self.r.signed(req, "grant_access", self.access.grant_access))

    @rpc
    async def revoke_access(self, req: w.SignedRequest) -> w.RevokeAccessResult:
        return w.RevokeAccessResult(**await self.r.signed(req, "revoke_access", self.access.revoke_access))

    @rpc
    async def list_access(self, req: w.SignedRequest) -> w.ListAccessResult:
        result = await self.r.signed(req, "list_access", self.access.list_access)
        return w.ListAccessResult(service_name=result["service_name"],
                                  grants=[w.AccessGrant(**g) for g in result["grants"]])

    @rpc
    async def update_delegation(self, req: w.SignedRequest) -> w.UpdateDelegationResult:
        result = await self.r.signed(req, "update_delegation", self.access.update_delegation)
        return w.UpdateDelegationResult(handle=result["handle"], service_name=result["service_name"],
                                        delegation=w.DelegationStatement(**result["delegation"]))
