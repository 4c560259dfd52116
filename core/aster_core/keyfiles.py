"""ed25519 root key pairs: making one and reading and writing key pair files (formats in
docs/file-formats.md). cryptography is imported only when a key is made or read, never on the
start-up path. Which key a command signs with is :mod:`aster_core.rootkey`'s.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .errors import UsageError
from .text import whole_match

_HEX = re.compile(r"[0-9a-fA-F]+")


def generate_root_keypair() -> tuple[str, str]:
    """A fresh root key pair as (seed hex, public key hex), 64 hex characters each."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return seed.hex(), pub.hex()


def public_key_of(seed: bytes) -> bytes:
    """The ed25519 public key of a 32-byte seed (also how a node's EndpointId is derived)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def parse_hex32(text: str, what: str, hint: str) -> bytes:
    """32 bytes from 64 hex characters, or a UsageError naming ``what``."""
    value = (text or "").strip()
    if not whole_match(_HEX, value):
        raise UsageError(f"{what} must be 64 hex characters (32 bytes), got text that is not hex", hint)
    if len(value) != 64:
        raise UsageError(f"{what} must be 64 hex characters (32 bytes), got {len(value)} characters", hint)
    return bytes.fromhex(value)


def key_file_text(seed: bytes, public_key: bytes) -> str:
    """The key pair file's content: ``{"private_key": <seed hex>, "public_key": <hex>}``."""
    return json.dumps({"private_key": seed.hex(), "public_key": public_key.hex()}, indent=2) + "\n"


def read_key_file(path: str | os.PathLike) -> tuple[bytes, bytes]:
    """``(seed, public key)`` from a key pair file; the public key, when stated, must match."""
    from .files import parse_json, read_text

    path = Path(path)
    hint = f"a root key file is JSON made by `aster trust keygen root --out {path}`"
    text = read_text(path, "root key file", f"create one with `aster trust keygen root --out {path}`")
    doc = parse_json(text, f"root key file {path}", hint)
    if not isinstance(doc, dict) or not isinstance(doc.get("private_key"), str):
        raise UsageError(f"root key file {path} has no \"private_key\"", hint)
    seed = parse_hex32(doc["private_key"], f"private_key in {path}", hint)
    public = public_key_of(seed)
    stated = doc.get("public_key")
    if stated is not None:
        if not isinstance(stated, str) or parse_hex32(stated, f"public_key in {path}", hint) != public:
            raise UsageError(f"root key file {path}: public_key does not belong to private_key",
                             "the file was edited or mixed up; regenerate it or restore it from backup")
    return seed, public


def write_key_file(path: str | os.PathLike, seed: bytes, public_key: bytes, *, force: bool = False,
                   exists_hint: str | None = None) -> Path:
    """Write a key pair file, mode 0600 from its creation (``filemodes.PRIVATE_FILE``); an
    existing file is refused unless ``force``, and then ``exists_hint`` says what to do
    (default: ``--force``). The folder must exist, as for every file a user names."""
    from .filemodes import PRIVATE_FILE
    from .files import atomic_write, check_new_file

    path = Path(path)
    if exists_hint is not None and not force and os.path.lexists(path):
        raise UsageError(f"{path} already exists", exists_hint)
    check_new_file(path, force)
    return atomic_write(path, key_file_text(seed, public_key), mode=PRIVATE_FILE, exclusive=not force)
