"""Read the manifests a live producer publishes, for ``gen-client ADDRESS``.

Dialling, admission and reading the producer's contract document are
aster-connect's job (:func:`aster_connect.client.connect` and
``Connection.load_schemas``); this module only waits for every advertised
service's manifest, validates it, and words failures for ``gen-client``.
aster-connect is an optional dependency (``pip install aster-contract[live]``;
the ``aster`` meta-package has it): everything else here works without it.
"""

from __future__ import annotations

import re
from typing import Any

from aster_core.errors import AsterError, UnavailableError, UsageError
from aster_core.text import whole_match

from .manifest import validate_manifest

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def is_address(text: str) -> bool:
    """True for ``aster1...`` tickets, hex endpoint ids and ``@handle/Service`` (base64 NodeAddrs are accepted too)."""
    if text.startswith("@") and "/" in text:  # @handle/Service, resolved through the registry
        return True
    return text.startswith("aster1") or whole_match(_HEX64, text)


def fetch_manifests(address: str, *, timeout: float = 15.0, rcan: str | None = None) -> list[dict[str, Any]]:
    """The validated manifests of every service ``address`` offers, in the order it lists them.

    ``rcan``: the credential to present (a credential JSON or an .aster-identity), for a
    producer whose gate admits only enrolled consumers."""
    try:
        from aster_connect.client import CallError, connect, resolve_address, run
    except ImportError:
        raise AsterError("reading a live producer needs aster-connect",
                         "pip install 'aster-contract[live]', or pass a manifest or an .aster.json export") from None

    try:
        target = resolve_address(address)
    except UsageError as exc:
        # connect's hint is kept: for a form a family resolves (``@handle/Service``) it names the family to install
        raise UsageError(f"{address[:24]}… is not an Aster address ({exc.message})",
                         exc.hint or "pass an aster1... ticket, a base64 NodeAddr or a 64-hex endpoint id") from None

    async def collect() -> list[dict[str, Any]]:
        conn = await connect(target, rcan=rcan, timeout=timeout, schemas=False)
        async with conn:
            await conn.load_schemas(timeout=timeout)
            missing = [s.name for s in conn.services if s.manifest is None]
            if missing:
                raise UnavailableError(f"manifests of {', '.join(missing)} did not sync within {timeout:g}s",
                                       "try again, or use a manifest file as SOURCE")
            return [validate_manifest(s.manifest, f"{address[:24]}…/manifests/{s.contract_id}")
                    for s in conn.services]

    try:
        return run(collect())
    except CallError as exc:
        if not isinstance(exc, UnavailableError):
            raise
        raise UnavailableError(f"cannot reach {address[:24]}…: {exc.detail}", exc.hint) from None
