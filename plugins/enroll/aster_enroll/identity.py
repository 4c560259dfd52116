"""The ``.aster-identity`` file: node key and ``[[peers]]`` entries (layout in docs/file-formats.md).

The runtime reads it with ``tomllib``; we edit it in place through
:func:`aster_core.files.update_toml` (lock, atomic write, mode 0600, tomlkit), so values
holding quotes stay intact and comments and tables written by people or other tools are kept.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aster_core.errors import UsageError

from aster_trust.credentials import Credential
from aster_trust.keys import public_key_of

DEFAULT_PATH = ".aster-identity"
#: The keys of a ``[[peers]]`` entry that one enrollment owns; any other key a tool put
#: in the entry (``published_services``, ``aster_service``, ...) survives re-enrollment.
CREDENTIAL_KEYS = ("role", "type", "root_pubkey", "endpoint_id", "expires_at", "nonce", "signature", "attributes")
_FIX_HINT = "fix the file by hand or move it aside; nothing was changed"


@dataclass(frozen=True)
class NodeKey:
    """A node's 32-byte ed25519 seed and the EndpointId it gives (hex public key; no network)."""

    seed: bytes = field(repr=False)
    endpoint_id: str

    @classmethod
    def from_seed(cls, seed: bytes) -> "NodeKey":
        return cls(seed, public_key_of(seed).hex())

    @classmethod
    def generate(cls) -> "NodeKey":
        return cls.from_seed(os.urandom(32))

    def table(self) -> dict[str, str]:
        """The ``[node]`` table: what the runtime reads as the endpoint's secret key."""
        return {"secret_key": base64.b64encode(self.seed).decode("ascii"), "endpoint_id": self.endpoint_id}


def validate(doc: dict[str, Any], path: Path) -> NodeKey | None:
    """Check the parts of an identity document we touch; returns its node key, if any."""
    node = doc.get("node")
    peers = doc.get("peers", [])
    if not isinstance(peers, list) or not all(isinstance(p, dict) for p in peers):
        raise UsageError(f"{path}: 'peers' must be an array of tables ([[peers]])", _FIX_HINT)
    if node is None:
        return None
    if not isinstance(node, dict):
        raise UsageError(f"{path}: 'node' must be a table ([node])", _FIX_HINT)
    encoded = node.get("secret_key")
    if not isinstance(encoded, str):
        raise UsageError(f"{path}: [node] has no secret_key", _FIX_HINT)
    try:
        seed = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        seed = b""
    if len(seed) != 32:
        raise UsageError(f"{path}: [node] secret_key is not the base64 of a 32-byte key", _FIX_HINT)
    key = NodeKey.from_seed(seed)
    stated = node.get("endpoint_id")
    if stated is not None and str(stated).lower() != key.endpoint_id:
        raise UsageError(f"{path}: [node] endpoint_id does not belong to its secret_key", _FIX_HINT)
    return key


def read(path: Path) -> dict[str, Any]:
    """Load and validate an identity file (an absent file is an empty document)."""
    from aster_core.files import load_toml

    doc = load_toml(path)
    validate(doc, path)
    return doc


def peer_entry(name: str, role: str, cred: Credential) -> dict[str, Any]:
    """The ``[[peers]]`` entry for a credential: every signed attribute is written back."""
    entry: dict[str, Any] = {"name": name, "role": role, "type": cred.type,
                             "root_pubkey": cred.root_pubkey.hex(), "endpoint_id": cred.endpoint_id,
                             "expires_at": cred.expires_at}
    if cred.nonce is not None:
        entry["nonce"] = cred.nonce.hex()
    entry["signature"] = cred.signature.hex()
    entry["attributes"] = dict(cred.attributes)
    return entry


def upsert_peer(doc: dict[str, Any], entry: dict[str, Any]) -> bool:
    """Replace the entry with the same name (keeping keys we do not own) or append; True if replaced."""
    if "peers" not in doc:
        doc["peers"] = [entry]  # a list of tables: written as [[peers]]
        return False
    peers = doc["peers"]
    for existing in peers:
        if existing.get("name") == entry["name"]:
            for key in CREDENTIAL_KEYS:
                existing.pop(key, None)
            existing.update(entry)
            return True
    peers.append(entry)
    return False
