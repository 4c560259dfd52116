"""ed25519 root keys: generate, read, validate and write them (formats in docs/file-formats.md).

- Root key pair file: JSON ``{"private_key": <64 hex seed>, "public_key": <64 hex>}``, mode 0600.
- Public key file: the bare 64-hex public key (we also read ``{"public_key": ...}`` JSON,
  as the runtime does).
- In the keyring (``aster profile create``): the seed as 64 hex, under the profile's name.

Reading a key pair file and finding the key a command signs with (``--root-key FILE``, the
keyring, a key-file-only profile) are the host's, :mod:`aster_core.keyfiles` and
:mod:`aster_core.rootkey`, shared with
``aster profile import|export-key``; this module wraps them in :class:`RootKey`.

Every problem with a key is an :class:`~aster_core.errors.AsterError` carrying a hint, so the
host prints one ``Error:`` line and no traceback.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from aster_core.errors import AsterError, NotFoundError, UsageError
from aster_core.files import check_new_file, parse_json, read_text
from aster_core.keyfiles import parse_hex32, public_key_of  # noqa: F401 - the family imports them from here
from aster_core.text import whole_match

_HEX = re.compile(r"[0-9a-fA-F]+")


def parse_endpoint_id(text: str) -> str:
    """A node's EndpointId as lowercase 64 hex (the form the runtime compares)."""
    return parse_hex32(text, "endpoint id", "an endpoint id is the node's 64-hex public key, "
                       "e.g. as printed by `aster enroll node`").hex()


@dataclass(frozen=True)
class RootKey:
    """An ed25519 root key pair. ``seed`` is the 32-byte private seed."""

    seed: bytes = field(repr=False)
    public_key: bytes

    @property
    def public_hex(self) -> str:
        return self.public_key.hex()

    @cached_property
    def _private(self) -> Any:
        """The library's key object, made once: loading a seed costs more than a signature
        (measured 52 us against 32 us), and reconcile or ``dev provision --count`` sign thousands."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return Ed25519PrivateKey.from_private_bytes(self.seed)

    def sign(self, message: bytes) -> bytes:
        """Plain ed25519 (RFC 8032) signature over ``message``."""
        return self._private.sign(message)

    def to_file_json(self) -> str:
        from aster_core.keyfiles import key_file_text

        return key_file_text(self.seed, self.public_key)


def root_key_from_seed(seed: bytes) -> RootKey:
    return RootKey(seed=seed, public_key=public_key_of(seed))


def generate_root_key() -> RootKey:
    """A fresh key pair, made by the same helper `aster profile create` uses."""
    from aster_core.keyfiles import generate_root_keypair

    seed_hex, public_hex = generate_root_keypair()
    return RootKey(seed=bytes.fromhex(seed_hex), public_key=bytes.fromhex(public_hex))


def _json_with_key(text: str, path: Path, what: str, key: str, hint: str) -> dict:
    """A JSON object that holds the string ``key``, or a UsageError naming what is wrong."""
    doc = parse_json(text, f"{what} {path}", hint)
    if not isinstance(doc, dict) or not isinstance(doc.get(key), str):
        raise UsageError(f"{what} {path} has no \"{key}\"", hint)
    return doc


def load_root_key_file(path: str | os.PathLike) -> RootKey:
    """Read and check a root key pair file (the public key must match the seed)."""
    from aster_core.keyfiles import read_key_file

    seed, public = read_key_file(path)
    return RootKey(seed=seed, public_key=public)


def root_key_from_keyring(profile: str | None = None) -> tuple[RootKey, str]:
    """The root key of a profile (keyring, or the key file a key-file-only profile names);
    returns ``(key, profile name)``. Checked against the profile's ``root_pubkey``."""
    from aster_core.rootkey import resolve

    found = resolve(None, profile)
    return RootKey(seed=found.seed, public_key=found.public_key), str(found.profile)


def profile_public_key(profile: str | None = None) -> bytes:
    """A profile's root public key as recorded in config.toml (no keyring needed)."""
    from aster_core.profiles import get_profile, selected_profile_name

    name = selected_profile_name(profile)
    return parse_hex32(get_profile(name).root_pubkey, f"root_pubkey of profile {name!r}",
                       "fix config.toml or recreate the profile")


def load_public_key(source: str) -> bytes:
    """A root public key from a file (bare hex, or JSON with ``public_key``) or from 64 hex text."""
    path = Path(source).expanduser()
    if path.exists():
        return _public_key_from_file(path)
    text = source.strip()
    if whole_match(_HEX, text):
        return parse_hex32(text, "root public key", "give the 64-hex key or the path of its file")
    raise NotFoundError(f"{source!r} is neither a public key file nor 64 hex characters",
                        "pass the path of a file made by `aster trust keygen pubkey`, or the key's hex")


def _public_key_from_file(path: Path) -> bytes:
    hint = "a public key file holds the 64-hex key, as written by `aster trust keygen pubkey`"
    text = read_text(path, "public key file", "make one with `aster trust keygen pubkey --in ROOT.key --out FILE`")
    body = text.strip()
    if body.startswith("{"):
        body = _json_with_key(body, path, "public key file", "public_key", hint)["public_key"]
    return parse_hex32(body, f"the public key in {path}", hint)


def public_key_path_for(key_path: str | os.PathLike) -> Path:
    """Where the public key goes beside a key pair file: ``root.key`` -> ``root.pub``.

    Only the file name's suffix is replaced, so a dotted directory is never touched.
    """
    path = Path(key_path)
    return path.with_name(path.stem + ".pub") if path.suffix else path.with_name(path.name + ".pub")


def write_root_key(path: str | os.PathLike, key: RootKey, *, force: bool = False) -> Path:
    """Write the key pair file, mode 0600; never replaces a file unless ``force``."""
    from aster_core.files import atomic_write

    path = Path(path)
    check_new_file(path, force)
    return atomic_write(path, key.to_file_json(), mode=0o600, exclusive=not force)


def write_public_key(path: str | os.PathLike, public_key: bytes, *, force: bool = False) -> Path:
    """Write the bare-hex public key file (mode 0644); never replaces a file unless ``force``."""
    from aster_core.files import atomic_write

    path = Path(path)
    check_new_file(path, force)
    return atomic_write(path, public_key.hex() + "\n", mode=0o644, exclusive=not force)


def write_key_pair(key_path: str | os.PathLike, key: RootKey, *, force: bool = False) -> tuple[Path, Path]:
    """Write ``key_path`` and its ``.pub`` sibling; checks both before writing either."""
    key_path = Path(key_path)
    pub_path = public_key_path_for(key_path)
    if pub_path == key_path:
        raise UsageError(f"{key_path} would be both the key and its public key", "give the key file another suffix, e.g. root.key")
    check_new_file(key_path, force)
    check_new_file(pub_path, force)
    written = write_root_key(key_path, key, force=force)
    try:
        return written, write_public_key(pub_path, key.public_key, force=force)
    except AsterError:
        if not force:
            written.unlink(missing_ok=True)  # created by us a moment ago: leave nothing half-done
        raise


def resolve_root_key(root_key_file: str | os.PathLike | None, profile: str | None = None) -> tuple[RootKey, str]:
    """The signing key a command uses: ``--root-key FILE``, else the profile's keyring entry.

    Returns the key and where it came from (for summaries).
    """
    from aster_core.rootkey import resolve

    found = resolve(root_key_file, profile)
    return RootKey(seed=found.seed, public_key=found.public_key), found.source
