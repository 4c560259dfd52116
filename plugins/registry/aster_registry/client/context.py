"""What every registry client action shares: the :class:`Context` and the steps of a call.

The actions (:mod:`.handles`, :mod:`.publication`, :mod:`.access`) are one library function
per command: each checks everything local first, makes the remote calls, and changes local
state (``config.toml``, ``.aster-identity``) only after the registry said yes, and returns
JSON-ready data; the click modules (``commands_*``) parse and render. Payloads are the ones
aster-cli 0.1.2 sends, with the documented explicit ``null`` fields, so one server serves both
clients.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from aster_core.errors import UsageError
from aster_core.text import shown

from .. import rules, wire
from . import state as st
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
        """The profile's registry state, read on first use: ``discover`` (unsigned) needs no profile.
        With ``--root-key FILE`` and no profile at all, the key's state is the registry's alone
        (:func:`.state.without_profile`: nothing is kept locally, the registry is asked)."""
        if self.root_key and self._profile is None and not st.profile_selected():
            from aster_core.errors import AsterError, ExitCode

            try:
                answer = signed_call(self, wire.PROFILE, "handle_status")
            except AsterError as exc:
                if exc.exit_code != ExitCode.NOT_FOUND:
                    raise
                answer = None  # the registry knows no handle for this key yet
            handle, status = getattr(answer, "handle", "") or "", getattr(answer, "status", "") or ""
            return st.without_profile(self.key().public_hex, handle, status if handle else "unregistered")
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
                self._key = load_root_key_file(self.root_key)  # no profile needed
            else:
                self._key, _ = root_key_from_keyring(self.state.profile)
        return self._key

    def sign(self, action: str, **fields: Any) -> wire.SignedRequest:
        env = seal(action, fields, self.key())
        return wire.SignedRequest(payload_json=env.payload_json, signer_pubkey=env.signer_pubkey,
                                  signature=env.signature)

    def session(self) -> RegistrySession:
        return RegistrySession(self.address, self.timeout, ends_process=self.ends_process)


def run(coro_fn: Callable[[], Any]) -> Any:
    """Run ``coro_fn()`` on an event loop made the way the runtime needs (its import first)."""
    from aster_connect.client import run as run_loop

    return run_loop(coro_fn())


def check(reason: str | None, what: str, hint: str) -> None:
    """A UsageError ``what: reason`` when a value rule gave a reason (``rules.check_*``)."""
    if reason is not None:
        raise UsageError(f"{what}: {reason}", hint)


def strip_at(handle: str) -> str:
    return handle[1:] if handle.startswith("@") else handle


def signed_call(ctx: Context, service: str, method: str, **fields: Any) -> Any:
    """One call of ``service.method`` with a request signed for ``method``; its decoded answer."""
    async def go() -> Any:
        async with ctx.session() as reg:
            return await reg.call(service, method, ctx.sign(method, **fields))

    return run(go)


def service_arg(service: str) -> str:
    """``service`` if it is a valid service name, else a UsageError."""
    check(rules.check_service_name(service), f"service name {shown(service)}", "give the published service's name")
    return service
