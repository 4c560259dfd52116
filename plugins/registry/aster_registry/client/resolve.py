"""``@handle/Service`` to a live endpoint: the one place every family resolves it.

``aster call``, ``shell``, ``mcp`` and ``contract gen-client`` take ``@alice/TaskService``
wherever an address goes. The family contributes the form through the host's
``aster_address_resolvers`` hook (:mod:`aster_registry.plugin`), naming :class:`Resolver`:
``aster_connect.addresses`` calls :meth:`Resolver.check` when it parses the address (no
network) and :meth:`Resolver.resolve` when it dials it, which asks the configured registry
(``ASTER_SERVICE_ADDR`` or ``[aster_service] node_id``) for the service's live endpoints
(``PublicationService.resolve``: only endpoints whose ``registered_at + ttl`` is still
ahead, freshest first, each an ``aster1...`` ticket) and returns the freshest.
"""

from __future__ import annotations

from aster_core.errors import NotFoundError, UsageError
from aster_core.text import shown, whole_match

from .. import rules

_REF_HINT = "write it as @handle/Service, e.g. @alice/TaskService"
#: the part of the budget resolution may take when the caller gives none
DEFAULT_TIMEOUT = 10.0


def parse(text: str) -> tuple[str, str]:
    """``@handle/Service`` -> (handle, service); UsageError when the text is malformed."""
    ref = rules.split_service_ref(text.strip())
    if ref is None:
        raise UsageError(f"not a registry address: {shown(text, 60)}", _REF_HINT)
    handle, service = ref
    reason = rules.check_handle(handle) if not whole_match(rules.HANDLE_RE, handle) else None
    if reason or rules.check_service_name(service.partition("@")[0]):
        raise UsageError(f"not a registry address: {shown(text, 60)}", _REF_HINT)
    return handle, service


def is_service_ref(text: str) -> bool:
    return rules.split_service_ref((text or "").strip()) is not None


async def resolve(text: str, *, timeout: float | None = None) -> str:
    """The ticket of the freshest live endpoint of ``@handle/Service`` (a CallError or NotFoundError if none)."""
    from .. import wire  # the runtime's types: imported only when the registry is asked
    from .address import registry_address
    from .session import RegistrySession

    handle, service = parse(text)
    base = service.partition("@")[0]
    address = registry_address(None)
    async with RegistrySession(address, timeout or DEFAULT_TIMEOUT) as reg:
        result = await reg.call(wire.PUBLICATION, "resolve", wire.ResolveRequest(handle=handle, service_name=base))
    endpoints = [e for e in (getattr(result, "endpoints", None) or []) if isinstance(e, str) and e]
    if not endpoints:
        raise NotFoundError(f"@{handle}/{base} has no live endpoint (none registered within its TTL)",
                            "start the producer where `aster publish` stored its token; it registers itself")
    return with_loopback(endpoints[0])


class Resolver:
    """What the ``aster_address_resolvers`` hook names for the ``@`` prefix."""

    @staticmethod
    def check(text: str) -> None:
        """UsageError when ``text`` is not a well-formed ``@handle/Service`` (no network)."""
        parse(text)

    @staticmethod
    async def resolve(text: str, *, timeout: float | None = None) -> str:
        """The ticket of the freshest live endpoint of ``@handle/Service``."""
        return await resolve(text, timeout=timeout)


def with_loopback(ticket: str) -> str:
    """``ticket`` plus ``127.0.0.1:PORT`` for each of its direct addresses' ports.

    A producer registers the addresses of its interfaces, which on one machine (a laptop
    running the registry, the producer and the caller; the tests; the demo) may not be
    routable while loopback is. iroh dials all addresses at once and authenticates the
    endpoint id, so an extra address can only help, never reach the wrong peer.
    """
    try:
        from aster import AsterTicket

        parsed = AsterTicket.from_string(ticket)
        direct = list(parsed.direct_addrs)
        extra = [f"127.0.0.1:{a.rsplit(':', 1)[1]}" for a in direct if ":" in a]
        merged = list(dict.fromkeys([*direct, *extra]))
        return AsterTicket(endpoint_id=parsed.endpoint_id, direct_addrs=merged).to_string()
    except Exception:
        return ticket
