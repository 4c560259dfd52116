"""Enrollment credentials: the bytes the root key signs, signing, loading and checking.

The formats and signing bytes are those of the runtime ``aster-rpc 0.1.2`` (see
docs/file-formats.md); a test compares our bytes and signatures with the runtime's own
helpers. Signatures are plain ed25519 (RFC 8032), so equal inputs give equal credentials.

- producer: utf8(endpoint id hex) || root public key || u64be(expires_at) || canonical JSON
- consumer: u8(0 policy | 1 ott) || (0x01 || utf8(endpoint id hex) | 0x00) || root public key
  || u64be(expires_at) || canonical JSON || (0x01 || 32-byte nonce | 0x00)
"""

from __future__ import annotations

import functools
import json
import os
import struct
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from aster_core.errors import NotFoundError, UsageError

from .keys import RootKey, parse_endpoint_id

PRODUCER = "producer"
POLICY = "policy"
OTT = "ott"
CONSUMER_TYPES = (POLICY, OTT)
TYPES = (PRODUCER, POLICY, OTT)
NONCE_BYTES = 32
_MAX_EPOCH = 2**64 - 1
_NOT_A_CREDENTIAL = "give a credential made by `aster trust sign` or an `.aster-identity` file"


def canonical_json(attributes: Mapping[str, str]) -> bytes:
    """Sorted keys, no whitespace, no ASCII escaping, UTF-8: what the runtime signs."""
    return json.dumps(dict(attributes), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Credential:
    """A producer, policy or ott enrollment credential.

    ``endpoint_id`` is lowercase hex or ``None`` (consumer credentials bound to no node);
    ``nonce`` is set only for ott credentials; ``signature`` is empty until signed.
    """

    type: str
    root_pubkey: bytes
    expires_at: int
    attributes: dict[str, str] = field(default_factory=dict)
    endpoint_id: str | None = None
    nonce: bytes | None = None
    signature: bytes = b""
    #: Fields the file carried outside the signed form of its type (a producer's ``nonce``,
    #: an unknown key): nothing vouches for them, so :func:`check` refuses the credential.
    unsigned: tuple[str, ...] = ()

    @property
    def is_consumer(self) -> bool:
        return self.type in CONSUMER_TYPES

    def signing_bytes(self) -> bytes:
        expiry = struct.pack(">Q", self.expires_at)
        attrs = canonical_json(self.attributes)
        if self.type == PRODUCER:
            return (self.endpoint_id or "").encode("utf-8") + self.root_pubkey + expiry + attrs
        kind = b"\x01" if self.type == OTT else b"\x00"
        binding = b"\x00" if self.endpoint_id is None else b"\x01" + self.endpoint_id.encode("utf-8")
        nonce = b"\x00" if self.nonce is None else b"\x01" + self.nonce
        return kind + binding + self.root_pubkey + expiry + attrs + nonce

    def to_dict(self) -> dict[str, Any]:
        """The credential file's JSON object (the runtime loads it as is)."""
        doc: dict[str, Any] = {"type": self.type}
        if self.type == PRODUCER:
            doc["endpoint_id"] = self.endpoint_id
        doc.update(root_pubkey=self.root_pubkey.hex(), expires_at=self.expires_at,
                   attributes=dict(self.attributes))
        if self.is_consumer:
            doc["endpoint_id"] = self.endpoint_id
            doc["nonce"] = self.nonce.hex() if self.nonce is not None else None
        doc["signature"] = self.signature.hex()
        return doc

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def roles(self) -> list[str]:
        """The roles ``aster.role`` grants (comma-separated), as the runtime's capability check reads them."""
        raw = self.attributes.get("aster.role", "")
        return [r.strip() for r in raw.split(",") if r.strip()]


def _check_attributes(attributes: Mapping[str, Any]) -> dict[str, str]:
    for key, value in attributes.items():
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise UsageError(f"attribute {key!r} must map a non-empty name to a string",
                             "the runtime only signs string attributes; quote the value")
    return dict(attributes)


def sign(root: RootKey, type: str, *, expires_at: int, attributes: Mapping[str, str] | None = None,
         endpoint_id: str | None = None, nonce: bytes | None = None) -> Credential:
    """Make and sign a credential.

    An ott credential gets a fresh random 32-byte nonce unless ``nonce`` is given (tests
    pass one to compare with the runtime); a producer credential must name its endpoint.
    """
    if type not in TYPES:
        raise UsageError(f"unknown credential type {type!r}", "use policy or ott (or producer)")
    if not 0 < expires_at <= _MAX_EPOCH:
        raise UsageError(f"expiry {expires_at} is out of range", "give a duration such as 30d")
    if endpoint_id is not None:
        endpoint_id = parse_endpoint_id(endpoint_id)
    if type == PRODUCER and endpoint_id is None:
        raise UsageError("a producer credential must be bound to an endpoint", "pass --endpoint-id HEX")
    if type == OTT:
        nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
        if len(nonce) != NONCE_BYTES:
            raise UsageError(f"an ott nonce must be {NONCE_BYTES} bytes, got {len(nonce)}", "omit it to get a fresh one")
    elif nonce is not None:
        raise UsageError(f"a {type} credential carries no nonce", "only ott credentials have one")
    unsigned = Credential(type, root.public_key, int(expires_at), _check_attributes(attributes or {}),
                          endpoint_id, nonce)
    return replace(unsigned, signature=root.sign(unsigned.signing_bytes()))


# ── loading ─────────────────────────────────────────────────────────────────────


def _hex_field(doc: Mapping[str, Any], key: str, size: int, source: str, *, optional: bool = False) -> bytes | None:
    value = doc.get(key)
    if value is None or (optional and value == ""):
        if optional:
            return None
        raise UsageError(f"{source}: missing {key!r}", _NOT_A_CREDENTIAL)
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else None
    except ValueError:
        raw = None
    if raw is None or len(raw) != size:
        raise UsageError(f"{source}: {key!r} must be {size * 2} hex characters", _NOT_A_CREDENTIAL)
    return raw


#: The keys of each type's credential JSON: what the runtime reads and (but for the type
#: itself, which picks the form) signs. See the signing bytes above.
SIGNED_FORM = {
    PRODUCER: frozenset({"type", "credential_type", "endpoint_id", "root_pubkey", "expires_at", "attributes",
                         "signature"}),
    POLICY: frozenset({"type", "credential_type", "endpoint_id", "root_pubkey", "expires_at", "attributes",
                       "nonce", "signature"}),
}
SIGNED_FORM[OTT] = SIGNED_FORM[POLICY]
#: The credential keys of an ``.aster-identity`` ``[[peers]]`` entry; other keys of an entry
#: (``name``, ``role``, keys other tools add) describe the entry, not the credential.
ENTRY_CREDENTIAL_KEYS = frozenset({"type", "credential_type", "root_pubkey", "endpoint_id", "expires_at", "nonce",
                                   "signature", "attributes"})


def unsigned_fields(doc: Mapping[str, Any], kind: str, *, entry: bool = False) -> tuple[str, ...]:
    """The keys of ``doc`` (with a value) outside ``kind``'s signed form, sorted.

    In a credential JSON every key counts; in an identity ``[[peers]]`` entry only
    credential keys do (a producer entry's ``nonce``, say)."""
    form = SIGNED_FORM[kind]
    found = []
    for key, value in doc.items():
        if value is None or key in form:
            continue
        if entry and key not in ENTRY_CREDENTIAL_KEYS:
            continue
        found.append(str(key))
    return tuple(sorted(found))


def credential_from_dict(doc: Mapping[str, Any], source: str = "credential", *, entry: bool = False) -> Credential:
    """Read a credential JSON object or (``entry``) an ``.aster-identity`` ``[[peers]]`` entry.

    Only the format is checked here; whether it is structurally admissible (an ott
    without a nonce, a field outside the signed form) is for :func:`check` to report.
    """
    if not isinstance(doc, Mapping):
        raise UsageError(f"{source} is not a JSON object", _NOT_A_CREDENTIAL)
    kind = doc.get("type") or doc.get("credential_type")
    if kind not in TYPES:
        raise UsageError(f"{source}: unknown credential type {_short(kind)}", _NOT_A_CREDENTIAL)
    other = doc.get("credential_type") if doc.get("type") else None
    if other is not None and other != kind:
        raise UsageError(f"{source}: 'type' {kind!r} and 'credential_type' {_short(other)} disagree",
                         _NOT_A_CREDENTIAL)
    expires = doc.get("expires_at")
    if isinstance(expires, bool) or not isinstance(expires, int) or not 0 <= expires <= _MAX_EPOCH:
        raise UsageError(f"{source}: 'expires_at' must be whole epoch seconds", _NOT_A_CREDENTIAL)
    attributes = doc.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        raise UsageError(f"{source}: 'attributes' must be an object", _NOT_A_CREDENTIAL)
    endpoint = doc.get("endpoint_id")
    if endpoint is not None:
        if not isinstance(endpoint, str):
            raise UsageError(f"{source}: 'endpoint_id' must be hex text", _NOT_A_CREDENTIAL)
        endpoint = parse_endpoint_id(endpoint)
    nonce = _hex_field(doc, "nonce", NONCE_BYTES, source, optional=True)
    signature = _hex_field(doc, "signature", 64, source, optional=True) or b""
    return Credential(kind, _hex_field(doc, "root_pubkey", 32, source), expires,
                      _check_attributes(attributes), endpoint, nonce, signature,
                      unsigned_fields(doc, kind, entry=entry))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def load_credential(path: str | os.PathLike, peer: str | None = None) -> Credential:
    """A credential from a JSON file, or a ``[[peers]]`` entry of an ``.aster-identity`` file.

    In an identity file ``peer`` picks the entry by name; without it the file must hold one.
    """
    from aster_core.files import load_credential_file

    path = Path(path)
    kind, doc = load_credential_file(path, "credential file", _NOT_A_CREDENTIAL)
    if kind == "json":
        if peer is not None:
            raise UsageError("--peer applies to .aster-identity files only", f"{path} holds a single credential")
        return credential_from_dict(doc, str(path))
    return credential_from_dict(_peer_entry(path, doc, peer), f"{path} peer {peer or ''}".rstrip(), entry=True)


def _peer_entry(path: Path, doc: Mapping[str, Any], name: str | None) -> Mapping[str, Any]:
    peers = doc.get("peers")
    if not isinstance(peers, list) or not peers or not all(isinstance(p, dict) for p in peers):
        raise UsageError(f"{path} has no [[peers]] entries", "enroll this node with `aster enroll node`")
    names = [str(p.get("name", "")) for p in peers]
    if name is None:
        if len(peers) == 1:
            return peers[0]
        raise UsageError(f"{path} holds {len(peers)} peers: {', '.join(names)}", "pick one with --peer NAME")
    for entry in peers:
        if entry.get("name") == name:
            return entry
    raise NotFoundError(f"{path} has no peer named {name!r}", f"its peers: {', '.join(names)}")


# ── checking ────────────────────────────────────────────────────────────────────


def signature_valid(cred: Credential) -> bool:
    """Whether the signature verifies under the credential's own root key."""
    from cryptography.exceptions import InvalidSignature

    try:
        _public_key(cred.root_pubkey).verify(cred.signature, cred.signing_bytes())
    except (InvalidSignature, ValueError):
        return False
    return True


@functools.lru_cache(maxsize=16)
def _public_key(raw: bytes) -> Any:
    """A root key as cryptography's object, made once per key: an authority verifies thousands of
    credentials under one root."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(raw)


def structure_problem(cred: Credential) -> str | None:
    """Why the credential's shape is refused (by the runtime, or because it carries
    what no signature covers), or None."""
    if cred.unsigned:
        return (f"it carries fields outside the signed form of a {cred.type} credential "
                f"({', '.join(cred.unsigned)}): nothing vouches for them")
    if cred.type == OTT and (cred.nonce is None or len(cred.nonce) != NONCE_BYTES):
        return "an ott credential must carry a 32-byte nonce"
    if cred.type == POLICY and cred.nonce is not None:
        return "a policy credential must not carry a nonce"
    if cred.type == PRODUCER and not cred.endpoint_id:
        return "a producer credential must be bound to an endpoint id"
    if not cred.signature:
        return "the credential is not signed"
    return None


@dataclass(frozen=True)
class Verification:
    """What :func:`check` found. ``None`` means "not checked" (nothing to compare with)."""

    structure: str | None
    signature: bool
    root: bool | None
    expired: bool
    binding: bool | None

    @property
    def ok(self) -> bool:
        return (self.structure is None and self.signature and self.root is not False
                and not self.expired and self.binding is not False)

    def problems(self) -> list[str]:
        found = [self.structure] if self.structure else []
        if not self.signature:
            found.append("the signature does not verify")
        if self.root is False:
            found.append("it is signed by another root key")
        if self.expired:
            found.append("it has expired")
        if self.binding is False:
            found.append("it is bound to another endpoint")
        return found


def check(cred: Credential, *, trusted_root: bytes | None = None, endpoint_id: str | None = None,
          now: float | None = None) -> Verification:
    """Run the runtime's admission checks that need no network.

    The signature is verified under the credential's own root key; ``trusted_root``
    (when given) must equal that key, as a server requires. A one-time nonce's freshness
    can only be judged by the server that consumes it.
    """
    now = time.time() if now is None else now
    binding = None
    if endpoint_id is not None:
        wanted = parse_endpoint_id(endpoint_id)
        binding = cred.endpoint_id == wanted if (cred.endpoint_id or cred.type == PRODUCER) else True
    return Verification(
        structure=structure_problem(cred),
        signature=signature_valid(cred),
        root=None if trusted_root is None else cred.root_pubkey == trusted_root,
        expired=cred.expires_at <= int(now),
        binding=binding,
    )
