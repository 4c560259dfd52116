"""``aster doctor``: is a registry address configured, and does it have the shape of one?

No network: a doctor run must be quick and work offline. A ticket is decoded with the
runtime's own parser when the runtime is installed.
"""

from __future__ import annotations

from aster_core.errors import AsterError
from aster_core.hookspecs import CheckResult


def check_registry() -> CheckResult:
    from .address import NO_ADDRESS_HINT, registry_address

    try:
        address = registry_address(None)
    except AsterError as exc:
        if exc.message.startswith("no registry address"):
            return CheckResult("registry", "warn", "no registry address configured (join, publish and "
                               "@handle/Service addresses need one)", NO_ADDRESS_HINT)
        return CheckResult("registry", "fail", exc.message, exc.hint)
    value = address.value
    if value.startswith("aster1"):
        try:
            import aster  # noqa: F401

            ticket = aster.AsterTicket.from_string(value)
            where = f"endpoint {ticket.endpoint_id[:12]}..., {len(list(ticket.direct_addrs))} direct address(es)"
        except ImportError:
            where = "a ticket (not decoded: aster-rpc is not installed)"
        except Exception as exc:
            return CheckResult("registry", "fail", f"the registry address from {address.source} is not a valid "
                               f"ticket ({exc})", "copy the aster1... ticket `aster registry serve` printed")
    else:
        where = "an endpoint id or NodeAddr"
    return CheckResult("registry", "ok", f"registry from {address.source}: {where}")
