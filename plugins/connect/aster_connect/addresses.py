"""Address forms a user may type, resolved without importing the runtime.

- ``aster1...``: a compact ticket (what ``AsterServer`` prints);
- 64 hex characters: a bare endpoint id (needs discovery to find a route);
- base64 text of a ``NodeAddr``;
- ``@handle/Service``: a service published in the registry (kind ``registry``; the
  live endpoint is looked up when :func:`aster_connect.client.connect` dials it, by
  ``aster_registry.client.resolve``);
- the ``name`` of a ``[[peers]]`` entry in ``./.aster-identity`` (or the file
  ``ASTER_IDENTITY_FILE`` names). The entry gives the address in its
  ``address`` key (a ticket, NodeAddr or endpoint id); when the entry is a
  signed credential, it is the one presented on admission.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from aster_core.errors import UsageError

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_BASE64 = re.compile(r"[A-Za-z0-9+/=_-]+")
#: Keys of a ``[[peers]]`` entry that may hold the peer's address.
ADDRESS_KEYS = ("address", "endpoint_addr", "ticket")


@dataclass(frozen=True)
class Address:
    """A resolved address: ``value`` is what the runtime dials.

    ``kind`` is ``ticket``, ``endpoint_id``, ``node_addr`` or ``peer``; for a
    peer entry that is a signed credential, ``peer`` names it (the credential
    to present) and ``identity_file`` is its file.
    """

    text: str
    value: str
    kind: str
    peer: str | None = None
    identity_file: str | None = None


def identity_path() -> Path:
    """The identity file the runtime would read: ``ASTER_IDENTITY_FILE`` or ``./.aster-identity``."""
    return Path(os.path.expanduser(os.environ.get("ASTER_IDENTITY_FILE") or ".aster-identity"))


def _literal_kind(text: str) -> str | None:
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


def resolve_address(text: str) -> Address:
    """Resolve what the user typed into an :class:`Address`, or raise UsageError."""
    text = (text or "").strip()
    if not text:
        raise UsageError("no address given", "Pass the aster1... ticket the server printed at start-up.")
    if text.startswith("@"):  # @handle/Service: resolved through the registry when dialled
        try:
            from aster_registry.client.resolve import parse
        except ImportError:
            raise UsageError(f"{text[:60]!r} names a registry service, but aster-registry is not installed",
                             "pip install aster-registry, or pass the service's aster1... ticket") from None
        parse(text)
        return Address(text, text, "registry")
    path = identity_path()
    for entry in _peer_entries(path):
        if entry.get("name") != text:
            continue
        target = next((str(entry[k]) for k in ADDRESS_KEYS if entry.get(k)), None)
        if target is None:
            raise UsageError(
                f"peer {text!r} in {path} has no address",
                "Add address = \"aster1...\" to its [[peers]] entry, or pass the ticket directly.")
        kind = _literal_kind(target)
        if kind is None:
            raise UsageError(f"peer {text!r} in {path} has an address that is not one: {target[:40]!r}",
                             "Use an aster1... ticket, a base64 NodeAddr or a 64-hex endpoint id.")
        has_credential = bool(entry.get("signature"))
        return Address(text, target, "peer", peer=text if has_credential else None,
                       identity_file=str(path) if has_credential else None)
    kind = _literal_kind(text)
    if kind is None:
        names = peer_names(path)
        known = f" Known peers in {path}: {', '.join(names)}." if names else ""
        raise UsageError(
            f"not an address: {text[:60]!r}",
            "Use an aster1... ticket, a base64 NodeAddr, a 64-hex endpoint id or a peer name from "
            f".aster-identity.{known}")
    return Address(text, text, kind)
