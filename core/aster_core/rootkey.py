"""ed25519 root keys: making one, reading and writing key pair files, and finding the key a
command signs with (formats in docs/file-formats.md).

:func:`resolve` is the one place every command that needs a root private key gets it from:
``--root-key FILE`` (no profile needed at all), else the selected profile's key, which is in
the OS keyring or, for a profile made with ``aster profile import --key-file-only``, in the
key file the profile refers to (said on stderr on every use). The profile's ``root_pubkey``
is checked against the key either way, so a stale key never signs for the wrong mesh.

cryptography is imported only when a key is made or read, never on the start-up path.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import AsterError, UsageError
from .text import whole_match

_HEX = re.compile(r"[0-9a-fA-F]+")
#: The ``[profiles.<name>]`` key naming the key file of a profile that uses no keyring.
KEY_FILE_FIELD = "root_key_file"


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


@dataclass(frozen=True)
class ResolvedKey:
    """A root key and where it came from."""

    seed: bytes = field(repr=False)
    public_key: bytes
    source: str            #: for summaries: the file, or "keyring (profile NAME)"
    profile: str | None    #: the profile it belongs to; None for ``--root-key FILE``


def resolve(root_key_file: str | os.PathLike | None = None, profile: str | None = None) -> ResolvedKey:
    """The root key a command signs with: ``--root-key FILE`` (needs no profile, no keyring),
    else the selected profile's (``--profile``, ``ASTER_PROFILE``, the active one) from the
    keyring or from the key file it refers to."""
    if root_key_file is not None:
        if profile is not None:
            raise UsageError("--root-key and --profile both name a root key", "give only one of them")
        seed, public = read_key_file(root_key_file)
        return ResolvedKey(seed, public, str(root_key_file), None)
    from .profiles import get_profile, selected_profile_name

    name = selected_profile_name(profile)
    prof = get_profile(name)  # no such profile (deleted, say): exit 4 saying so
    key_file = key_file_of(prof.extra)
    if key_file is not None:
        from .output import info

        info(f"Profile {name} uses the root key file {key_file} (no keyring)")
        seed, public = read_key_file(key_file)
        where, source = f"the key file {key_file} of profile {name!r}", f"{key_file} (profile {name})"
        hint = f"restore {key_file} from backup, or `aster profile import` the profile again"
    else:
        from .secrets import load_root_key

        seed = parse_hex32(load_root_key(name), f"the keyring's root key for profile {name!r}",
                           "recreate the profile or pass --root-key FILE")
        public = public_key_of(seed)
        where, source = f"the keyring's root key for profile {name!r}", f"keyring (profile {name})"
        hint = "the profile was recreated elsewhere; pass --root-key FILE"
    if prof.root_pubkey and prof.root_pubkey.lower() != public.hex():
        raise AsterError(f"{where} does not match its root_pubkey in config.toml", hint)
    return ResolvedKey(seed, public, source, name)


def key_file_of(fields: dict[str, Any]) -> str | None:
    """The key file a profile's table refers to (``root_key_file``), or None for a keyring profile."""
    value = fields.get(KEY_FILE_FIELD)
    return value if isinstance(value, str) and value else None
