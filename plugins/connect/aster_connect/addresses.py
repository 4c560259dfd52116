"""Address forms a user may type, resolved without importing the runtime.

The runtime's forms, which this module knows itself:

- ``aster1...``: a compact ticket (what ``AsterServer`` prints);
- 64 hex characters: a bare endpoint id (needs discovery to find a route);
- base64 text of a ``NodeAddr``;
- the ``name`` of a ``[[peers]]`` entry in ``./.aster-identity`` (or the file
  ``ASTER_IDENTITY_FILE`` names). The entry gives the address in its
  ``address`` key (a ticket, NodeAddr or endpoint id); when the entry is a
  signed credential, it is the one presented on admission.

Every other form belongs to a family, which contributes it through the
``aster_address_resolvers`` hook (:class:`aster_core.hookspecs.AddressResolver`):
``@handle/Service``, a service published in a registry, is the registry family's.
An address that starts with a resolver's prefix is checked by that family here
(offline: :func:`resolve_address`) and turned into one of the runtime's forms when
it is dialled (:func:`dialable`). This module imports no family: a resolver's
target is imported only when an address with its prefix is used, and a prefix
is looked up only for text that cannot begin one of the runtime's forms, so
dialling a ticket never asks the host. An address of a form whose family is
not installed (or disabled) is bad input naming the family to install.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import string
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from aster_core.errors import UsageError

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_BASE64 = re.compile(r"[A-Za-z0-9+/=_-]+")
#: Keys of a ``[[peers]]`` entry that may hold the peer's address.
ADDRESS_KEYS = ("address", "endpoint_addr", "ticket")
#: characters the runtime's forms begin with: a resolver's prefix may begin with none of them,
#: so no family can take a ticket, a NodeAddr or an endpoint id
RUNTIME_CHARS = frozenset(string.ascii_letters + string.digits + "+/=_-")
#: forms of the families this project ships, by prefix: (what the form is, the distribution
#: that resolves it), so that an address of one is named with what to install
FAMILY_FORMS = {"@": ("a registry address (@handle/Service)", "aster-registry")}
_ANY_FORM = "Use an aster1... ticket, a base64 NodeAddr, a 64-hex endpoint id or a peer name from .aster-identity"


@dataclass(frozen=True)
class Address:
    """A resolved address: ``value`` is what the runtime dials.

    ``kind`` is ``ticket``, ``endpoint_id``, ``node_addr``, ``peer`` or
    ``resolver`` (a family's form, dialled once :func:`dialable` has turned it
    into one of the others; ``resolver`` is then the hook's target). For a peer
    entry that is a signed credential, ``peer`` names it (the credential to
    present) and ``identity_file`` is its file.
    """

    text: str
    value: str
    kind: str
    peer: str | None = None
    identity_file: str | None = None
    resolver: str | None = None


class FamilyResolver(NamedTuple):
    """An ``aster_address_resolvers`` contribution and the distribution that made it."""

    prefix: str
    help: str
    target: str
    distribution: str


def identity_path() -> Path:
    """The identity file the runtime would read: ``ASTER_IDENTITY_FILE`` or ``./.aster-identity``."""
    return Path(os.path.expanduser(os.environ.get("ASTER_IDENTITY_FILE") or ".aster-identity"))


def literal_kind(text: str) -> str | None:
    """``ticket``, ``endpoint_id`` or ``node_addr`` for text of one of the runtime's forms, else None."""
    if text.startswith("aster1") and len(text) > 10:
        return "ticket"
    if _HEX64.fullmatch(text):
        return "endpoint_id"
    if len(text) >= 16 and _BASE64.fullmatch(text):
        try:
            base64.b64decode(text + "=" * (-len(text) % 4), validate=False)
        except (binascii.Error, ValueError):
            return None
        return "node_addr"
    return None


def _peer_entries(path: Path) -> list[dict]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read identity file {path}: {exc}",
                         "Fix or remove the file, or pass a ticket (aster1...) as the address.") from exc
    peers = data.get("peers", [])
    return [p for p in peers if isinstance(p, dict)]


def peer_names(path: Path | None = None) -> list[str]:
    """Names of the peers in the identity file (for completion and hints)."""
    return [str(p["name"]) for p in _peer_entries(path or identity_path()) if p.get("name")]


def family_resolvers() -> list[FamilyResolver]:
    """The loaded families' address forms, longest prefix first.

    A prefix that is empty or begins like one of the runtime's forms is left
    out (it would capture tickets); of two families claiming one prefix, the
    first the host lists keeps it.
    """
    from aster_core.host import get_host

    found: dict[str, FamilyResolver] = {}
    for distribution, item in get_host().collect("aster_address_resolvers"):
        prefix = str(getattr(item, "prefix", "") or "")
        if prefix and prefix[0] not in RUNTIME_CHARS and prefix not in found:
            found[prefix] = FamilyResolver(prefix, str(item.help), str(item.target), distribution)
    return sorted(found.values(), key=lambda r: len(r.prefix), reverse=True)


def _family_state(distribution: str) -> str | None:
    """The host's status of ``distribution`` (``loaded``, ``disabled``, ``failed``, ...); None if not installed."""
    from aster_core.host import get_host

    for rec in get_host().records:
        if rec.distribution.replace("_", "-").lower() == distribution:
            return rec.status
    return None


def _no_resolver(text: str, prefix: str) -> UsageError:
    """The error for a family's form whose family is not there to resolve it."""
    what, distribution = FAMILY_FORMS[prefix]
    state = _family_state(distribution)
    lead = f"{text[:60]!r} is {what}, but the family that resolves it, {distribution},"
    other = "or pass the service's aster1... ticket"
    if state is None:
        return UsageError(f"{lead} is not installed", f"pip install {distribution}, {other}")
    if state == "disabled":
        return UsageError(f"{lead} is disabled",
                          f"enable {distribution} (see ASTER_PLUGINS, ASTER_DISABLE_PLUGINS, --no-plugins), {other}")
    if state in ("loaded", "shadowed"):
        return UsageError(f"{lead} resolves no such addresses in this version",
                          f"pip install --upgrade {distribution}, {other}")
    return UsageError(f"{lead} did not load ({state})",
                      f"reinstall it (pip install --force-reinstall {distribution}; `aster plugins` says why), {other}")


def _family_address(text: str) -> Address | None:
    """A family's form (checked by that family, offline); None when no family claims the text."""
    for resolver in family_resolvers():
        if text.startswith(resolver.prefix):
            from aster_core.loading import load_target

            load_target(resolver.target).check(text)
            return Address(text, text, "resolver", resolver=resolver.target)
    for prefix in FAMILY_FORMS:
        if text.startswith(prefix):
            raise _no_resolver(text, prefix)
    return None


def resolve_address(text: str) -> Address:
    """Resolve what the user typed into an :class:`Address`, or raise UsageError."""
    text = (text or "").strip()
    if not text:
        raise UsageError("no address given", "Pass the aster1... ticket the server printed at start-up.")
    if text[0] not in RUNTIME_CHARS:
        claimed = _family_address(text)
        if claimed is not None:
            return claimed
    path = identity_path()
    for entry in _peer_entries(path):
        if entry.get("name") != text:
            continue
        target = next((str(entry[k]) for k in ADDRESS_KEYS if entry.get(k)), None)
        if target is None:
            raise UsageError(
                f"peer {text!r} in {path} has no address",
                "Add address = \"aster1...\" to its [[peers]] entry, or pass the ticket directly.")
        kind = literal_kind(target)
        if kind is None:
            raise UsageError(f"peer {text!r} in {path} has an address that is not one: {target[:40]!r}",
                             "Use an aster1... ticket, a base64 NodeAddr or a 64-hex endpoint id.")
        has_credential = bool(entry.get("signature"))
        return Address(text, target, "peer", peer=text if has_credential else None,
                       identity_file=str(path) if has_credential else None)
    kind = literal_kind(text)
    if kind is None:
        names = peer_names(path)
        known = f" Known peers in {path}: {', '.join(names)}." if names else ""
        raise UsageError(f"not an address: {text[:60]!r}", f"{_ANY_FORM}.{known}")
    return Address(text, text, kind)


async def dialable(address: Address, *, timeout: float | None) -> Address:
    """``address`` in one of the runtime's forms: a family's form is resolved by its family.

    The family's ``resolve(text, timeout=...)`` may use the network within
    ``timeout`` seconds; what it returns must be a ticket, NodeAddr or endpoint id.
    """
    if address.resolver is None:
        return address
    from aster_core.errors import AsterError
    from aster_core.loading import load_target

    value = await load_target(address.resolver).resolve(address.text, timeout=timeout)
    kind = literal_kind(str(value or ""))
    if kind is None:
        raise AsterError(f"{address.text[:60]!r} resolved to something that is not an address: {str(value)[:40]!r}",
                         f"report it to the authors of {address.resolver} (`aster plugins` names its family)")
    return Address(address.text, str(value), kind)


def node_addr(address: Address) -> Any:
    """The runtime's ``NodeAddr`` for a dialable address (UsageError when it does not parse)."""
    from aster import AsterTicket, NodeAddr

    value = address.value
    try:
        if value.startswith("aster1"):
            ticket = AsterTicket.from_string(value)
            return NodeAddr(endpoint_id=ticket.endpoint_id, relay_url=None,
                            direct_addresses=list(ticket.direct_addrs))
        if len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value):
            return NodeAddr(endpoint_id=value.lower())
        raw = base64.b64decode(value + "=" * (-len(value) % 4))
        return NodeAddr.from_bytes(raw)
    except (binascii.Error, ValueError, TypeError, Exception) as exc:  # the native parsers raise their own types
        raise UsageError(f"not a valid address: {address.text[:60]!r} ({exc})",
                         "Copy the aster1... ticket the server printed at start-up.") from exc
