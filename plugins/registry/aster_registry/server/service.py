"""ProfileService, PublicationService and AccessService (all version 1): thin handlers.

Each handler opens the envelope (:func:`.protect.open_envelope`), runs one :class:`.store.Store`
operation off the event loop and wraps the result in the wire type of
:mod:`aster_registry.wire`. A :class:`.protect.Refused` becomes an ``RpcError`` with its
status; an unexpected error becomes INTERNAL with a generic message (the log has the rest).
"""

# no `from __future__ import annotations`: the runtime reads the real annotation objects

import asyncio
import logging
from typing import Any, Callable

from aster import RpcError, StatusCode, rpc, service

from .. import wire as w
from . import protect
from .mail import MailConfig, deliver
from .protect import Refused
from .store import Store

LOG = logging.getLogger("aster_server.registry")


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return await asyncio.to_thread(fn, *args)
    except Refused as exc:
        raise RpcError(StatusCode[exc.code], exc.message) from None
    except RpcError:
        raise
    except Exception as exc:  # noqa: BLE001 - reported as INTERNAL, logged in full
        LOG.exception("internal error in %s", getattr(fn, "__name__", fn))
        raise RpcError(StatusCode.INTERNAL, f"registry internal error ({type(exc).__name__}); see the server log") from None


def _peer() -> str:
    from aster_server.lifecycle import current_call

    ctx = current_call.get()
    return (getattr(ctx, "peer", None) or "unknown")[:64]


def _signed(store: Store, req: Any, action: str, op: Callable[[protect.Envelope], Any]) -> Any:
    env = protect.open_envelope(req, action, now=store.clock())
    return op(env)


class Registry:
    """The three services over one store and one mail configuration."""

    def __init__(self, store: Store, mail: MailConfig) -> None:
        self.store = store
        self.mail = mail
        self.services = [ProfileService(self), PublicationService(self), AccessService(self)]

    def read_limit(self, name: str = "read") -> None:
        self.store.rate(name, _peer())


@service(name="ProfileService", version=1)
class ProfileService:
    def __init__(self, registry: Registry) -> None:
        self.r = registry

    @rpc
    async def check_availability(self, req: w.CheckAvailabilityRequest) -> w.CheckAvailabilityResult:
        peer = _peer()

        def op() -> tuple[bool, str]:
            self.r.store.rate("check_availability", peer)
            handle = protect.check_str(req.handle, "handle", 64) or ""
            return self.r.store.check_availability(handle.removeprefix("@"))

        available, reason = await _call(op)
        return w.CheckAvailabilityResult(available=available, reason=reason)

    @rpc
    async def join(self, req: w.SignedRequest) -> w.JoinResult:
        result, mail = await _call(_signed, self.r.store, req, "join", self.r.store.join)
        status = await asyncio.to_thread(deliver, self.r.mail, mail)
        return w.JoinResult(email_delivery_status=status, **result)

    @rpc
    async def verify(self, req: w.SignedRequest) -> w.VerifyResult:
        return w.VerifyResult(**await _call(_signed, self.r.store, req, "verify", self.r.store.verify))

    @rpc
    async def resend_verification(self, req: w.SignedRequest) -> w.ResendResult:
        result, mail = await _call(_signed, self.r.store, req, "resend_verification", self.r.store.resend)
        await asyncio.to_thread(deliver, self.r.mail, mail)
        return w.ResendResult(**result)

    @rpc
    async def handle_status(self, req: w.SignedRequest) -> w.HandleStatusResult:
        return w.HandleStatusResult(**await _call(_signed, self.r.store, req, "handle_status",
                                                  self.r.store.handle_status))

    @rpc
    async def recover(self, req: w.SignedRequest) -> w.RecoverResult:
        return w.RecoverResult(**await _call(_signed, self.r.store, req, "recover", self.r.store.recover))


@service(name="PublicationService", version=1)
class PublicationService:
    def __init__(self, registry: Registry) -> None:
        self.r = registry

    async def _read(self, fn: Callable[..., Any], *args: Any) -> Any:
        def op() -> Any:
            self.r.read_limit()
            return fn(*args)

        return await _call(op)

    @rpc
    async def describe_service(self, req: w.DescribeServiceRequest) -> w.DiscoverEntry:
        return w.DiscoverEntry(**await self._read(self.r.store.describe_service, req.handle, req.service_name))

    @rpc
    async def describe_handle(self, req: w.ListServicesRequest) -> w.DirectoryHandle:
        return w.DirectoryHandle(**await self._read(self.r.store.describe_handle, req.handle))

    @rpc
    async def discover(self, req: w.DiscoverRequest) -> w.DiscoverResult:
        total, entries = await self._read(self.r.store.discover, req.query, req.limit, req.offset)
        return w.DiscoverResult(total=total, services=[w.DiscoverEntry(**e) for e in entries])

    @rpc
    async def list_services(self, req: w.ListServicesRequest) -> w.ListServicesResult:
        handle, entries = await self._read(self.r.store.list_services, req.handle)
        return w.ListServicesResult(handle=handle, services=[w.DiscoverEntry(**e) for e in entries])

    @rpc
    async def list_directory_handles(self, req: w.ListDirectoryHandlesRequest) -> w.ListDirectoryHandlesResult:
        cards = await self._read(self.r.store.list_directory_handles, req.limit, req.offset)
        return w.ListDirectoryHandlesResult(handles=[w.DirectoryHandle(**c) for c in cards])

    @rpc
    async def get_manifest(self, req: w.GetManifestRequest) -> w.GetManifestResult:
        return w.GetManifestResult(**await self._read(self.r.store.get_manifest, (req.handle or "").removeprefix("@"),
                                                      req.service_name))

    @rpc
    async def resolve(self, req: w.ResolveRequest) -> w.ResolveResult:
        svc, endpoints = await self._read(self.r.store.resolve, (req.handle or "").removeprefix("@"), req.service_name)
        from aster import AsterTicket

        tickets = []
        for node_id, _relay, addrs in endpoints:
            tickets.append(AsterTicket(endpoint_id=node_id, direct_addrs=addrs).to_string() if addrs else node_id)
        return w.ResolveResult(handle=svc["handle"], service_name=svc["service_name"],
                               contract_id=svc["contract_id"], endpoints=tickets)

    @rpc
    async def publish(self, req: w.SignedRequest) -> w.PublishResult:
        return w.PublishResult(**await _call(_signed, self.r.store, req, "publish", self.r.store.publish))

    @rpc
    async def set_visibility(self, req: w.SignedRequest) -> w.VisibilityResult:
        return w.VisibilityResult(**await _call(_signed, self.r.store, req, "set_visibility",
                                                self.r.store.set_visibility))

    @rpc
    async def update_service(self, req: w.SignedRequest) -> w.UpdateServiceResult:
        return w.UpdateServiceResult(**await _call(_signed, self.r.store, req, "update_service",
                                                   self.r.store.update_service))

    @rpc
    async def unpublish(self, req: w.SignedRequest) -> w.UnpublishResult:
        return w.UnpublishResult(**await _call(_signed, self.r.store, req, "unpublish", self.r.store.unpublish))

    @rpc
    async def register_endpoint(self, req: dict) -> dict:
        if not isinstance(req, dict):
            raise RpcError(StatusCode.INVALID_ARGUMENT, "register_endpoint takes a map")
        return await _call(self.r.store.register_endpoint, req, _peer())


@service(name="AccessService", version=1)
class AccessService:
    def __init__(self, registry: Registry) -> None:
        self.r = registry

    async def _signed(self, req: Any, action: str, op: Callable[[protect.Envelope], Any]) -> Any:
        return await _call(_signed, self.r.store, req, action, op)

    @rpc
    async def get_delegation(self, req: w.SignedRequest) -> w.DelegationStatement:
        return w.DelegationStatement(**await self._signed(req, "get_delegation", self.r.store.get_delegation))

    @rpc
    async def get_grant(self, req: w.SignedRequest) -> w.AccessGrant:
        return w.AccessGrant(**await self._signed(req, "get_grant", self.r.store.get_grant))

    @rpc
    async def grant_access(self, req: w.SignedRequest) -> w.GrantAccessResult:
        return w.GrantAccessResult(**await self._signed(req, "grant_access", self.r.store.grant_access))

    @rpc
    async def revoke_access(self, req: w.SignedRequest) -> w.RevokeAccessResult:
        return w.RevokeAccessResult(**await self._signed(req, "revoke_access", self.r.store.revoke_access))

    @rpc
    async def list_access(self, req: w.SignedRequest) -> w.ListAccessResult:
        result = await self._signed(req, "list_access", self.r.store.list_access)
        return w.ListAccessResult(service_name=result["service_name"],
                                  grants=[w.AccessGrant(**g) for g in result["grants"]])

    @rpc
    async def update_delegation(self, req: w.SignedRequest) -> w.UpdateDelegationResult:
        result = await self._signed(req, "update_delegation", self.r.store.update_delegation)
        return w.UpdateDelegationResult(handle=result["handle"], service_name=result["service_name"],
                                        delegation=w.DelegationStatement(**result["delegation"]))
