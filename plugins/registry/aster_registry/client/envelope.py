"""The signed request envelope every state-changing registry call carries.

``payload_json`` is the payload ``{action, ...fields, timestamp, nonce}`` as canonical JSON
(keys sorted, separators ``,``/``:``, non-ASCII kept as UTF-8, ``None`` as ``null``);
``signature`` is the hex of a plain ed25519 signature over its UTF-8 bytes by the root key;
``signer_pubkey`` is that key's public half. ``timestamp`` is epoch seconds, ``nonce`` 32
lowercase hex characters. The server verifies the bytes it receives, never a re-encoding.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Envelope:
    payload: dict[str, Any]
    payload_json: str
    signer_pubkey: str
    signature: str


def canonical_json(payload: dict[str, Any]) -> str:
    """The signed text of a payload (byte for byte what aster-cli 0.1.2 signs)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def new_nonce() -> str:
    return secrets.token_hex(16)


def seal(action: str, fields: dict[str, Any], key: Any, *, now: int | None = None,
         nonce: str | None = None) -> Envelope:
    """Sign ``{action, **fields, timestamp, nonce}`` with ``key`` (an ``aster_trust.keys.RootKey``)."""
    payload = {"action": action, **fields, "timestamp": int(time.time()) if now is None else now,
               "nonce": nonce or new_nonce()}
    text = canonical_json(payload)
    return Envelope(payload, text, key.public_hex, key.sign(text.encode("utf-8")).hex())
