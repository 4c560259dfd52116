"""The handle's actions: ``join``, ``verify`` (and ``--resend``), ``whoami``/``status``, ``recover``."""

from __future__ import annotations

from typing import Any

from aster_core.errors import AsterError, UsageError
from aster_core.text import check_text, shown

from .. import rules, wire
from . import state as st
from .context import Context, check, run, strip_at


def join(ctx: Context, handle: str, email: str, *, announcements: bool = False) -> dict[str, Any]:
    handle = strip_at(handle.strip())
    email = email.strip()
    check(rules.check_handle(handle), f"invalid handle {shown(handle)}", "choose another handle")
    check(rules.check_email(email), f"invalid email {shown(email)}", "give the address the code should go to")
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
                                                                   announcements=announcements))

    result = run(go)
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

    result = run(go)
    status = getattr(result, "status", "") or "verified"
    status = status if status in st.STATUSES else "verified"
    st.update(ctx.state.profile, handle_status=status)
    return {"handle": handle, "status": status}


def resend(ctx: Context) -> dict[str, Any]:
    handle = _pending(ctx)

    async def go() -> Any:
        async with ctx.session() as reg:
            return await reg.call(wire.PROFILE, "resend_verification", ctx.sign("resend_verification", handle=handle))

    result = run(go)
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

    result = run(go)
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
    handle = strip_at(handle.strip())
    check(rules.check_handle(handle), f"invalid handle {shown(handle)}", "give the handle to recover")
    code = code.strip()
    if not code:
        raise UsageError("a recovery code is required", "use one of the codes shown at your first publish")
    check_text(code, field="--code", max_length=64, hint="use one of the codes shown at your first publish")

    async def go() -> Any:
        async with ctx.session() as reg:
            return await reg.call(wire.PROFILE, "recover", ctx.sign("recover", handle=handle, code=code))

    result = run(go)
    status = getattr(result, "status", "") or "verified"
    st.update(ctx.state.profile, handle=handle, handle_status=status if status in st.STATUSES else "verified")
    return {"handle": handle, "status": status,
            "recovery_codes_remaining": getattr(result, "recovery_codes_remaining", 0),
            "root_pubkey": ctx.key().public_hex}
